package jsonscan

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

func plainByte(c byte) bool { return c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf }

// skipPlain, which AppendString and skipString trust to pass only bytes that need no
// escaping, agrees with the byte-by-byte definition: every byte value in every position,
// among plain neighbours and among random ones. Within a word it stops exactly at the
// first byte that is not plain, whatever follows it.
func TestSkipPlainAgreesWithBytes(t *testing.T) {
	check := func(b []byte) {
		want := len(b)
		for i, c := range b {
			if !plainByte(c) {
				want = i
				break
			}
		}
		if got := skipPlain(b, 0); got != want {
			t.Fatalf("skipPlain(%q) = %d, want %d", b, got, want)
		}
	}
	for pos := 0; pos < 8; pos++ {
		for c := 0; c < 256; c++ {
			b := []byte("AAAAAAAA")
			b[pos] = byte(c)
			check(b)
			b = []byte{0x7f, ' ', '!', '#', '[', ']', '~', '0'}
			b[pos] = byte(c)
			check(b)
		}
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 1_000_000; i++ {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], rnd.Uint64())
		for j := range b { // mostly printable, so that true results are common
			if rnd.IntN(4) > 0 {
				b[j] = byte(0x20 + rnd.IntN(0x60))
			}
		}
		check(b[:])
	}
}

// StringInPlace decodes every string as String does, in the string's own memory.
func FuzzStringInPlace(f *testing.F) {
	for _, s := range []string{`"plain"`, `"a\"b\\c\/d"`, `"\u00e9\ud83d\ude00\ud800x\n\t"`, `"{\"ciphertext\":\"QUJD/+==\"}"`, `"\u"`, `"é"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		want, werr := String(append([]byte(nil), raw...))
		want = append([]byte(nil), want...)
		got, gerr := StringInPlace(raw)
		if (werr == nil) != (gerr == nil) || string(got) != string(want) {
			t.Fatalf("%q: in place %q (%v), want %q (%v)", raw, got, gerr, want, werr)
		}
		if len(got) > 0 && (&got[0] != &raw[1]) {
			t.Fatalf("%q: the result does not alias raw", raw)
		}
	})
}

// StringAt gives what skipString and then String, StringCopy or StringInPlace give, in
// memory held as each holds it, for any input and with anything after the string.
func FuzzStringAt(f *testing.F) {
	for _, s := range []string{`"plain"`, `"a\"b\\c\/d",1`, `"\u00e9\ud83d\ude00\ud800x\n\t"}`, `"\ud800\u0041"`, `"\ud83d\u"`, `"{\"ciphertext\":\"QUJD/+==\"}"`, `"\u"`, `"é"`, `"x`, `"\`, `"a` + "\x01" + `"`} {
		f.Add([]byte(s))
	}
	// Runs long enough for skipLongPlain, past its window too.
	f.Add([]byte(`"` + strings.Repeat("QUJD", 150) + `\"x` + strings.Repeat("B", longWindow+9) + "é\u0041" + strings.Repeat("C", 700) + `"`))
	f.Add([]byte(`"` + strings.Repeat("Q", 9000) + "\x01" + `"`))
	f.Fuzz(func(t *testing.T, data []byte) {
		wantEnd, werr := 0, error(nil)
		if len(data) == 0 || data[0] != '"' {
			werr = ErrSyntax
		} else {
			wantEnd, werr = skipString(data, 0)
		}
		for _, hold := range []Hold{Alias, Copy, InPlace} {
			in := append([]byte(nil), data...)
			got, end, err := StringAt(in, 0, hold)
			if (err == nil) != (werr == nil) {
				t.Fatalf("%q hold %d: error %v, want %v", data, hold, err, werr)
			}
			if err != nil {
				continue
			}
			raw := append([]byte(nil), data[:wantEnd]...)
			want, _ := String(raw)
			if end != wantEnd || string(got) != string(want) {
				t.Fatalf("%q hold %d: %q to %d, want %q to %d", data, hold, got, end, want, wantEnd)
			}
			aliases := len(got) > 0 && &got[0] == &in[1]
			switch {
			case hold == Copy && aliases:
				t.Fatalf("%q: Copy aliases its input", data)
			case hold == InPlace && len(got) > 0 && !aliases:
				t.Fatalf("%q: InPlace does not alias its input", data)
			case hold == Alias && aliases != (len(got) > 0 && bytes.IndexByte(data[:end], '\\') < 0):
				t.Fatalf("%q: Alias aliases %v", data, aliases)
			}
		}
	})
}

// A long escaped string in a longer document is made to fit, not the document's size.
func TestStringAtFitsALongStringInALargeDocument(t *testing.T) {
	s := `"` + strings.Repeat(`ab\"`, 3*smallRest) + `"`
	doc := []byte(s + "," + strings.Repeat(" ", 10*smallRest))
	for _, hold := range []Hold{Alias, Copy} {
		got, end, err := StringAt(doc, 0, hold)
		if err != nil || end != len(s) || len(got) != 3*3*smallRest {
			t.Fatalf("hold %d: %d bytes to %d, %v", hold, len(got), end, err)
		}
		if cap(got) > len(s) {
			t.Errorf("hold %d: capacity %d for a %d-byte string", hold, cap(got), len(got))
		}
	}
}

// The long-run path, as the scanners call it (skipPlain on the look-ahead, then
// skipLongPlain from a plain byte), stops at the first byte that is not plain: runs of 13
// lengths from 255 bytes to 1 MB, around its word limit and window, with none or a special
// byte at 200 random places each (sometimes a second quote after it, which must not count).
// The three scanners repeat that call sequence rather than share a helper: a helper would
// be over the inlining budget, and every short string would pay a call.
func TestLongRunsStopAtTheFirstSpecialByte(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	run := func(b []byte) int {
		i := skipPlain(lookAhead(b, 0), 0)
		if i+8 <= len(b) && plain[b[i]] {
			i = skipLongPlain(b, i)
		}
		for i < len(b) && plain[b[i]] {
			i++
		}
		return i
	}
	for _, n := range []int{255, 256, 511, 512, 513, 519, 520, 1000, longWindow - 1, longWindow, longWindow + 7, 3*longWindow + 5, 1 << 20} {
		base := bytes.Repeat([]byte("QUJD"), n/4+1)[:n]
		if got := run(base); got != n {
			t.Fatalf("%d plain bytes: stopped at %d", n, got)
		}
		for range 200 {
			b := bytes.Clone(base)
			at := rnd.IntN(n)
			special := []byte{'"', '\\', 0, 0x1f, 0x80, 0xff, '\n'}[rnd.IntN(7)]
			b[at] = special
			if rnd.IntN(2) == 0 && at+1 < n { // a second one later must not matter
				b[at+1+rnd.IntN(n-at-1)] = '"'
			}
			if got := run(b); got != at {
				t.Fatalf("%d bytes, %#x at %d: stopped at %d", n, special, at, got)
			}
		}
	}
}

// The AVX2 scan stops where the byte-by-byte test does: every byte value at every place
// of runs of 32 to 100 bytes, and with the vector scan off (as on CPUs without AVX2).
// Not parallel: it switches the package's haveAVX2.
func TestWidePlainRunsStopWhereBytesDo(t *testing.T) {
	if !haveAVX2 {
		t.Skip("no AVX2 on this CPU")
	}
	for n := 32; n <= 100; n++ {
		for c := range 256 {
			for at := range n {
				b := bytes.Repeat([]byte("QUJD"), n/4+1)[:n]
				b[at] = byte(c)
				want := at
				if plain[c] {
					want = n
				}
				for _, wide := range []bool{true, false} {
					haveAVX2 = wide
					i := skipLongPlain(b, 0)
					for i < len(b) && plain[b[i]] {
						i++
					}
					haveAVX2 = true
					if i != want {
						t.Fatalf("%d bytes, %#x at %d, AVX2 %v: stopped at %d", n, c, at, wide, i)
					}
				}
			}
		}
	}
}
