package jsonscan

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// Key reports whether the raw (still escaped) key text equals name.
func Key(raw []byte, name string) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == name
	}
	s, err := appendUnescaped(nil, raw)
	return err == nil && string(s) == name
}

// String decodes the raw text of a JSON string value (with its quotes).
// When the string has no escapes the result aliases raw and must be copied
// before raw is reused.
func String(raw []byte) ([]byte, error) {
	return unquote(raw, false)
}

// StringInPlace is String that unescapes in raw's own memory, which it overwrites: the
// result aliases raw, escapes or not. (Unescaping never lengthens a string, and each
// byte is written at or before the place it is read from.)
func StringInPlace(raw []byte) ([]byte, error) {
	return unquote(raw, true)
}

// unquote returns the string raw stands for: its inside, or when that has escapes, the
// inside unescaped into new memory, or over itself.
func unquote(raw []byte, inPlace bool) ([]byte, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, ErrSyntax
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return inner, nil
	}
	if inPlace {
		return appendUnescaped(inner[:0], inner)
	}
	return appendUnescaped(make([]byte, 0, len(inner)), inner)
}

// StringCopy is String that always returns a fresh slice, with one allocation.
func StringCopy(raw []byte) ([]byte, error) {
	s, err := String(raw)
	if err != nil || len(raw) < 2 || len(s) == 0 || &s[0] != &raw[1] {
		return s, err
	}
	return append([]byte(nil), s...), nil
}

// AppendString appends s as a quoted JSON string. Like encoding/json it escapes
// control characters, quotes and backslashes, and replaces invalid UTF-8; unlike it
// it leaves <, > and & alone, as Firefox's JSON.stringify does.
func AppendString(dst []byte, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Eight bytes at a time while none needs escaping: a record payload is base64
		// and a few quotes, and this is most of the work of serving one.
		if i = skipPlain(lookAhead(s, i), i); i+8 <= len(s) && plain[s[i]] {
			i = skipLongPlain(s, i)
		}
		if i == len(s) {
			break
		}
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, `\ufffd`...)
				i++
				start = i
				continue
			}
			// U+2028/2029 are valid JSON but break JavaScript string literals.
			if r == '\u2028' || r == '\u2029' {
				dst = append(dst, s[start:i]...)
				dst = append(dst, `\u202`...)
				dst = append(dst, "89"[r-'\u2028'])
				i += size
				start = i
				continue
			}
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			const hex = "0123456789abcdef"
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendUnescaped appends the string the JSON text s stands for (a string's content
// without its quotes, as Object's values hold it between them).
func AppendUnescaped(dst, s []byte) ([]byte, error) { return appendUnescaped(dst, s) }

func appendUnescaped(dst, s []byte) ([]byte, error) {
	for i := 0; i < len(s); {
		j := bytes.IndexByte(s[i:], '\\')
		if j < 0 {
			return append(dst, s[i:]...), nil
		}
		dst = append(dst, s[i:i+j]...)
		var err error
		if dst, i, err = unescapeAt(dst, s, i+j); err != nil {
			return nil, err
		}
	}
	return dst, nil
}

func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		h := unhex(c)
		if h < 0 {
			return 0, false
		}
		r = r<<4 | h
	}
	return r, true
}

// Hold is how StringAt holds the string it returns.
type Hold int

const (
	// Alias: data's own bytes when nothing was escaped, new memory otherwise (String).
	Alias Hold = iota
	// Copy: new memory always (StringCopy).
	Copy
	// InPlace: unescaped over data itself, which it overwrites (StringInPlace).
	InPlace
)

// smallRest: up to this many bytes left in data, an escaped string goes into memory the
// size of the rest, so that it is unescaped in the pass that finds its end. Beyond it,
// its end is found first and the memory made to fit, so that a long string in a large
// document does not keep the document's size in capacity.
const smallRest = 4 << 10

// StringAt decodes the JSON string that begins at data[i] and returns it with the index
// just past its closing quote: what String, StringCopy or StringInPlace (by hold) give
// for data[i:end], in one pass where Object's skip and then one of those are two or three
// (a record's payload is most of its bytes, and each pass over it was a tenth of reading
// a bookmark).
func StringAt(data []byte, i int, hold Hold) ([]byte, int, error) {
	if i >= len(data) || data[i] != '"' {
		return nil, 0, ErrSyntax
	}
	start := i + 1
	j := start
	var out []byte // the string up to run, once an escape was met
	run := start   // the first byte of data not yet in out
	escaped := false
	for {
		if j = skipPlain(lookAhead(data, j), j); j+8 <= len(data) && plain[data[j]] {
			j = skipLongPlain(data, j)
		}
		for j < len(data) && plain[data[j]] {
			j++
		}
		if j >= len(data) {
			return nil, 0, ErrSyntax
		}
		switch c := data[j]; {
		case c == '"':
			if escaped {
				return append(out, data[run:j]...), j + 1, nil
			}
			if hold == Copy {
				return append(make([]byte, 0, j-start), data[start:j]...), j + 1, nil
			}
			return data[start:j], j + 1, nil
		case c == '\\':
			if !escaped {
				escaped = true
				switch {
				case hold == InPlace:
					out = data[start:start]
				case len(data)-start <= smallRest:
					out = make([]byte, 0, len(data)-start)
				default:
					end, err := skipString(data, i)
					if err != nil {
						return nil, 0, err
					}
					out = make([]byte, 0, end-1-start)
				}
			}
			out = append(out, data[run:j]...)
			var err error
			if out, j, err = unescapeAt(out, data, j); err != nil {
				return nil, 0, err
			}
			run = j
		case c < 0x20:
			return nil, 0, ErrSyntax
		default:
			r, size := utf8.DecodeRune(data[j:])
			if r == utf8.RuneError && size == 1 {
				return nil, 0, ErrSyntax
			}
			j += size
		}
	}
}

// unescapeAt appends what the escape at data[j] stands for and returns the index past
// it: a lone surrogate, or one not followed by its pair, stands for U+FFFD. It reads an escape whole before writing what it
// stands for, which is never longer, so out may be data's own memory behind j.
func unescapeAt(out, data []byte, j int) ([]byte, int, error) {
	if j+1 >= len(data) {
		return nil, 0, ErrSyntax
	}
	var c byte
	switch data[j+1] {
	case '"', '\\', '/':
		c = data[j+1]
	case 'b':
		c = '\b'
	case 'f':
		c = '\f'
	case 'n':
		c = '\n'
	case 'r':
		c = '\r'
	case 't':
		c = '\t'
	case 'u':
		r, ok := hex4(data, j+2)
		if !ok {
			return nil, 0, ErrSyntax
		}
		j += 6
		if utf16.IsSurrogate(r) {
			if j+1 < len(data) && data[j] == '\\' && data[j+1] == 'u' {
				if r2, ok := hex4(data, j+2); ok {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						return utf8.AppendRune(out, dec), j + 6, nil
					}
				}
			}
			r = utf8.RuneError
		}
		return utf8.AppendRune(out, r), j, nil
	default:
		return nil, 0, ErrSyntax
	}
	return append(out, c), j + 2, nil
}

// EqualFoldASCII: key and name, of the same length, are equal but for the case of ASCII
// letters (the folding of a key to a field's name that encoding/json does and that a fast
// decoder must send to it).
func EqualFoldASCII(key []byte, name string) bool {
	if len(key) != len(name) {
		return false
	}
	for i, c := range key {
		d := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}
