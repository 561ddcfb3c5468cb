package jsonscan

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/bits"
	"unicode/utf8"
)

// ErrSyntax reports JSON text that is not well formed.
var ErrSyntax = errors.New("jsonscan: malformed JSON")

// Object calls fn for each member of the JSON object in data, in order. key is the raw
// key text without quotes (still escaped; see Key), value the raw text of the value.
// Trailing bytes other than white space are an error.
func Object(data []byte, fn func(key, value []byte) error) error {
	end, err := ObjectAt(data, skipSpace(data, 0), fn)
	if err != nil {
		return err
	}
	return trailing(data, end)
}

// ObjectAt is Object for the object that begins at data[i], with whatever follows it
// left alone: it returns the index just past the object. Elements uses it to parse an
// array's objects in the one pass that finds their ends.
func ObjectAt(data []byte, i int, fn func(key, value []byte) error) (int, error) {
	return MembersAt(data, i, func(key []byte, data []byte, i int) (int, error) {
		end, err := skipValue(data, i, 0)
		if err != nil {
			return 0, err
		}
		return end, fn(key, data[i:end])
	})
}

// Members is Object for a caller that parses values itself: fn is handed each key with
// the index of its value's first byte, parses the value (StringAt, or SkipValue for one
// it ignores) and returns the index just past it. A value is then scanned once, where
// Object's skip and then a parse are two passes.
func Members(data []byte, fn func(key []byte, data []byte, i int) (end int, err error)) error {
	end, err := MembersAt(data, skipSpace(data, 0), fn)
	if err != nil {
		return err
	}
	return trailing(data, end)
}

// MembersAt is Members for the object that begins at data[i], as ObjectAt is Object's.
func MembersAt(data []byte, i int, fn func(key []byte, data []byte, i int) (end int, err error)) (int, error) {
	if i >= len(data) || data[i] != '{' {
		return 0, ErrSyntax
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return 0, ErrSyntax
		}
		end, err := skipString(data, i)
		if err != nil {
			return 0, err
		}
		key := data[i+1 : end-1]
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return 0, ErrSyntax
		}
		i = skipSpace(data, i+1)
		if i >= len(data) {
			return 0, ErrSyntax
		}
		vend, err := fn(key, data, i)
		if err != nil {
			return 0, err
		}
		if vend <= i || vend > len(data) {
			return 0, ErrSyntax // fn's parse must have taken the value's bytes
		}
		i = skipSpace(data, vend)
		if i >= len(data) {
			return 0, ErrSyntax
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, ErrSyntax
		}
	}
}

// SkipValue returns the index just past the JSON value that begins at data[i].
func SkipValue(data []byte, i int) (int, error) { return skipValue(data, i, 0) }

// Array calls fn for the raw text of each element of the JSON array in data.
func Array(data []byte, fn func(value []byte) error) error {
	return Elements(data, func(data []byte, i int) (int, error) {
		end, err := skipValue(data, i, 0)
		if err != nil {
			return 0, err
		}
		return end, fn(data[i:end])
	})
}

// Elements walks the JSON array data, handing each element's start to fn, which parses
// the element itself and returns the index just past it: one pass over an element that
// is parsed anyway (a POST's records), where Array's skip and a parse would be two.
func Elements(data []byte, fn func(data []byte, i int) (end int, err error)) error {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return ErrSyntax
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return trailing(data, i+1)
	}
	for {
		if i >= len(data) {
			return ErrSyntax
		}
		vend, err := fn(data, i)
		if err != nil {
			return err
		}
		i = skipSpace(data, vend)
		if i >= len(data) {
			return ErrSyntax
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case ']':
			return trailing(data, i+1)
		default:
			return ErrSyntax
		}
	}
}

// Kind of a raw JSON value, by its first byte.
func Kind(value []byte) byte {
	if len(value) == 0 {
		return 0
	}
	switch c := value[0]; c {
	case '"', '{', '[', 't', 'f', 'n':
		return c
	default:
		return '0'
	}
}

func trailing(data []byte, i int) error {
	if skipSpace(data, i) != len(data) {
		return ErrSyntax
	}
	return nil
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxDepth = 512

// skipValue returns the index just past the value that starts at data[i].
func skipValue(data []byte, i, depth int) (int, error) {
	if i >= len(data) {
		return 0, ErrSyntax
	}
	if depth > maxDepth {
		return 0, ErrSyntax
	}
	switch c := data[i]; {
	case c == '"':
		return skipString(data, i)
	case c == '{':
		i = skipSpace(data, i+1)
		if i < len(data) && data[i] == '}' {
			return i + 1, nil
		}
		for {
			if i >= len(data) || data[i] != '"' {
				return 0, ErrSyntax
			}
			end, err := skipString(data, i)
			if err != nil {
				return 0, err
			}
			i = skipSpace(data, end)
			if i >= len(data) || data[i] != ':' {
				return 0, ErrSyntax
			}
			if i, err = skipValue(data, skipSpace(data, i+1), depth+1); err != nil {
				return 0, err
			}
			i = skipSpace(data, i)
			if i >= len(data) {
				return 0, ErrSyntax
			}
			if data[i] == '}' {
				return i + 1, nil
			}
			if data[i] != ',' {
				return 0, ErrSyntax
			}
			i = skipSpace(data, i+1)
		}
	case c == '[':
		i = skipSpace(data, i+1)
		if i < len(data) && data[i] == ']' {
			return i + 1, nil
		}
		for {
			var err error
			if i, err = skipValue(data, i, depth+1); err != nil {
				return 0, err
			}
			i = skipSpace(data, i)
			if i >= len(data) {
				return 0, ErrSyntax
			}
			if data[i] == ']' {
				return i + 1, nil
			}
			if data[i] != ',' {
				return 0, ErrSyntax
			}
			i = skipSpace(data, i+1)
		}
	case c == 't':
		return literal(data, i, "true")
	case c == 'f':
		return literal(data, i, "false")
	case c == 'n':
		return literal(data, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return skipNumber(data, i)
	}
	return 0, ErrSyntax
}

func literal(data []byte, i int, lit string) (int, error) {
	if len(data)-i < len(lit) || string(data[i:i+len(lit)]) != lit {
		return 0, ErrSyntax
	}
	return i + len(lit), nil
}

// skipNumber follows the JSON number grammar exactly.
func skipNumber(data []byte, i int) (int, error) {
	if data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	default:
		return 0, ErrSyntax
	}
	if i < len(data) && data[i] == '.' {
		i++
		if i >= len(data) || !isDigit(data[i]) {
			return 0, ErrSyntax
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || !isDigit(data[i]) {
			return 0, ErrSyntax
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	return i, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// plain marks the bytes a string can hold without a closer look: printable ASCII other
// than the quote and the backslash. Scanning runs of them is the hot loop of a sync.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// skipPlain skips whole 8-byte words of plain bytes: a word qualifies when no byte is
// below 0x20, at or above 0x80, a quote or a backslash (the usual SWAR zero-byte tests).
// Base64 ciphertext is all plain, so this is where a payload's bytes go by.
//
// Callers give it data cut by lookAhead, so that it stops after longAfter words at a
// plain byte, and hand such a run to skipLongPlain.
func skipPlain(data []byte, i int) int {
	for i+8 <= len(data) {
		w := binary.LittleEndian.Uint64(data[i:])
		special := (w - ones*0x20) | w
		special |= hasZero(w ^ (ones * '"'))
		special |= hasZero(w ^ (ones * '\\'))
		if m := special & highs; m != 0 {
			// The lowest flagged byte is a true one (a borrow only runs upwards from
			// a byte that is flagged itself): stop exactly there.
			return i + bits.TrailingZeros64(m)/8
		}
		i += 8
	}
	return i
}

func hasZero(w uint64) uint64 { return (w - ones) &^ w }

const (
	// longAfter: a run plain for this many words is likely long (a blob chunk's megabyte
	// of base64), and skipLongPlain takes it over. Short strings never get there; the
	// limit also keeps skipPlain small enough to be inlined.
	longAfter = 64
	// longWindow bounds how far one look ahead goes, so that a run that stops early
	// (a long text with a non-ASCII letter every few hundred bytes) wastes little.
	longWindow = 4096
)

// lookAhead is data cut aheadBytes past i: what skipPlain is given.
func lookAhead(data []byte, i int) []byte { return data[:min(len(data), i+aheadBytes)] }

// aheadBytes is longAfter words, or four words (32 bytes) where skipLongPlain scans
// with AVX2: a run longer than a short key or value then goes 32 bytes at a time (a
// record's payload, 600 bytes in the BSO, was a seventh of reading a bookmark eight
// bytes at a time).
var aheadBytes = func() int {
	if haveAVX2 {
		return 32
	}
	return 8 * longAfter
}()

// skipLongPlain is skipPlain for long runs: the quote and the backslash are found by
// bytes.IndexByte (vector instructions), and the bytes before them are tested only for
// control and non-ASCII bytes, the cheaper part of the test. It returns the index of the
// first byte that is not plain, or one at most 7 bytes before the data's end. Where the
// CPU has AVX2, one pass tests all of it 32 bytes at a time instead.
func skipLongPlain(data []byte, i int) int {
	if n, ok := plainRunWide(data, i); ok {
		return skipPlain(data, i+n) // at the byte found, or within 32 of the end
	}
	for {
		window := min(len(data), i+longWindow)
		end := window
		if q := bytes.IndexByte(data[i:window], '"'); q >= 0 {
			end = i + q
		}
		if b := bytes.IndexByte(data[i:end], '\\'); b >= 0 {
			end = i + b
		}
		for i+16 <= end {
			w0 := binary.LittleEndian.Uint64(data[i:])
			w1 := binary.LittleEndian.Uint64(data[i+8:])
			if ((w0-ones*0x20)|w0|(w1-ones*0x20)|w1)&highs != 0 {
				break
			}
			i += 16
		}
		for i+8 <= end {
			w := binary.LittleEndian.Uint64(data[i:])
			if m := ((w - ones*0x20) | w) & highs; m != 0 {
				return i + bits.TrailingZeros64(m)/8
			}
			i += 8
		}
		if end < window || window == len(data) {
			return i // at most 7 plain bytes before a quote, a backslash or the end
		}
	}
}

// skipString returns the index just past the closing quote of the string at data[i].
func skipString(data []byte, i int) (int, error) {
	i++
	for i < len(data) {
		if i = skipPlain(lookAhead(data, i), i); i+8 <= len(data) && plain[data[i]] {
			i = skipLongPlain(data, i)
		}
		for i < len(data) && plain[data[i]] {
			i++
		}
		if i >= len(data) {
			break
		}
		c := data[i]
		switch {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			if i+1 >= len(data) {
				return 0, ErrSyntax
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(data) {
					return 0, ErrSyntax
				}
				for _, h := range data[i+2 : i+6] {
					if unhex(h) < 0 {
						return 0, ErrSyntax
					}
				}
				i += 6
			default:
				return 0, ErrSyntax
			}
		case c < 0x20:
			return 0, ErrSyntax
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				return 0, ErrSyntax
			}
			i += size
		}
	}
	return 0, ErrSyntax
}

func unhex(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}
