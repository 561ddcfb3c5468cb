package crypto

import (
	"bytes"
	"encoding/base64"
	"testing"

	"pgregory.net/rapid"
)

func TestAppendBase64IsTheStandardEncoding(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		prefix := rapid.SliceOfN(rapid.Byte(), 0, 5).Draw(t, "prefix")
		src := rapid.SliceOfN(rapid.Byte(), 0, 300).Draw(t, "src")
		got := appendBase64(bytes.Clone(prefix), src)
		want := base64.StdEncoding.AppendEncode(bytes.Clone(prefix), src)
		if !bytes.Equal(got, want) {
			t.Fatalf("%x:\n got %s\nwant %s", src, got, want)
		}
	})
	for n := range 64 { // every tail length, and every byte value in every position
		src := make([]byte, n)
		for b := range 256 {
			for i := range src {
				src[i] = byte(b + i*37)
			}
			if got, want := appendBase64(nil, src), base64.StdEncoding.AppendEncode(nil, src); !bytes.Equal(got, want) {
				t.Fatalf("%x: got %s, want %s", src, got, want)
			}
		}
	}
}

func BenchmarkAppendBase64(b *testing.B) {
	src := bytes.Repeat([]byte{0x5a, 0xc3, 0x17}, 112) // a bookmark's ciphertext
	buf := make([]byte, 0, 1024)
	b.Run("ours", func(b *testing.B) {
		for b.Loop() {
			buf = appendBase64(buf[:0], src)
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		for b.Loop() {
			buf = base64.StdEncoding.AppendEncode(buf[:0], src)
		}
	})
}

func TestDecodeBase64IsTheStandardDecoding(t *testing.T) {
	check := func(t interface{ Fatalf(string, ...any) }, src []byte, room int) {
		got := make([]byte, room)
		want := make([]byte, room)
		n, err := decodeBase64(got, src)
		m, errWant := base64.StdEncoding.Decode(want, src)
		if n != m || !bytes.Equal(got[:n], want[:m]) || (err == nil) != (errWant == nil) || err != nil && err.Error() != errWant.Error() {
			t.Fatalf("%q: got %x, %v; want %x, %v", src, got[:n], err, want[:m], errWant)
		}
	}
	rapid.Check(t, func(t *rapid.T) {
		raw := rapid.SliceOfN(rapid.Byte(), 0, 300).Draw(t, "raw")
		src := base64.StdEncoding.AppendEncode(nil, raw)
		// Sometimes damaged: a byte changed, a line break or padding put in.
		if len(src) > 0 && rapid.Bool().Draw(t, "damaged") {
			i := rapid.IntRange(0, len(src)-1).Draw(t, "at")
			src[i] = rapid.SampledFrom([]byte("=\r\n -_.A/+\x00\xff")).Draw(t, "byte")
		}
		check(t, src, base64.StdEncoding.DecodedLen(len(src)))
	})
	for n := range 64 { // every length, every byte value of the alphabet in every place
		raw := make([]byte, n)
		for b := range 256 {
			for i := range raw {
				raw[i] = byte(b + i*37)
			}
			src := base64.StdEncoding.AppendEncode(nil, raw)
			check(t, src, len(raw))
			check(t, src, base64.StdEncoding.DecodedLen(len(src)))
		}
	}
	for c := range 256 { // every byte in every place of an 8-character group
		for i := range 8 {
			src := []byte("QUJDREVGR0hJSktM")
			src[i] = byte(c)
			check(t, src, 12)
		}
	}
	// Every byte in every place of two 32-character groups and what follows them, with
	// room for the bytes only, and for the decoder's wide stores.
	alphabet := []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
	for c := range 256 {
		for i := range 72 {
			src := make([]byte, 72)
			for j := range src {
				src[j] = alphabet[(j*29+c)%64]
			}
			src[i] = byte(c)
			check(t, src, 54)
			check(t, src, 64)
		}
	}
}

// TestDecodeBase64WideMatchesTheGroups: the vector decoder and the eight-character
// groups agree on every input, where they stop included (haveAVX2 off is the path
// of CPUs without it).
// Not parallel: it switches the package's haveAVX2.
func TestDecodeBase64WideMatchesTheGroups(t *testing.T) {
	if !haveAVX2 {
		t.Skip("no AVX2 on this CPU")
	}
	rapid.Check(t, func(t *rapid.T) {
		raw := rapid.SliceOfN(rapid.Byte(), 0, 1000).Draw(t, "raw")
		src := base64.StdEncoding.AppendEncode(nil, raw)
		if len(src) > 0 && rapid.Bool().Draw(t, "damaged") {
			i := rapid.IntRange(0, len(src)-1).Draw(t, "at")
			src[i] = rapid.Byte().Draw(t, "byte")
		}
		room := rapid.IntRange(0, len(raw)+8).Draw(t, "room")
		wide, narrow := make([]byte, room), make([]byte, room)
		si, di := decodeBase64Groups(wide, src)
		haveAVX2 = false
		sj, dj := decodeBase64Groups(narrow, src)
		haveAVX2 = true
		// The wide decoder stops at a group of 32 with a bad character in it, or short
		// of room for its stores; the groups of eight go on from there to where they
		// alone would have stopped.
		if si != sj || di != dj || !bytes.Equal(wide[:di], narrow[:dj]) {
			t.Fatalf("%q room %d: wide read %d wrote %d (%x), groups %d %d (%x)", src, room, si, di, wide[:di], sj, dj, narrow[:dj])
		}
	})
}

func BenchmarkDecodeBase64(b *testing.B) {
	src := base64.StdEncoding.AppendEncode(nil, bytes.Repeat([]byte{0x5a, 0xc3, 0x17}, 112))
	buf := make([]byte, 400)
	b.Run("ours", func(b *testing.B) {
		for b.Loop() {
			decodeBase64(buf, src)
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		for b.Loop() {
			base64.StdEncoding.Decode(buf, src)
		}
	})
}

// FuzzDecodeBase64 holds decodeBase64 and decodeStrictBase64 to the standard library's
// decoding of any input, with any room in dst.
func FuzzDecodeBase64(f *testing.F) {
	f.Add([]byte(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("syncctl!"), 20))), 120)
	f.Add([]byte("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2\nd3h5eg=="), 60)
	f.Fuzz(func(t *testing.T, src []byte, room int) {
		if room < 0 || room > 4*len(src)+64 {
			return
		}
		want := make([]byte, max(room, base64.StdEncoding.DecodedLen(len(src))))
		m, errWant := base64.StdEncoding.Decode(want, src)
		got := make([]byte, len(want))
		n, err := decodeBase64(got, src)
		if n != m || !bytes.Equal(got[:n], want[:m]) || (err == nil) != (errWant == nil) || err != nil && err.Error() != errWant.Error() {
			t.Fatalf("%q: got %x, %v; want %x, %v", src, got[:n], err, want[:m], errWant)
		}
		n, err = decodeStrictBase64(got, src)
		lineBreak := bytes.ContainsAny(src, "\r\n")
		switch {
		case lineBreak && err == nil:
			t.Fatalf("%q: strict decoding took a line break", src)
		case !lineBreak && (n != m || !bytes.Equal(got[:n], want[:m]) || (err == nil) != (errWant == nil)):
			t.Fatalf("%q: strict got %x, %v; want %x, %v", src, got[:n], err, want[:m], errWant)
		}
	})
}
