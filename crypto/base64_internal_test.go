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
