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
		if i = skipPlain(s, i); i == len(s) {
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
		if j := bytes.IndexByte(s[i:], '\\'); j != 0 {
			if j < 0 {
				return append(dst, s[i:]...), nil
			}
			dst = append(dst, s[i:i+j]...)
			i += j
		}
		if i+1 >= len(s) {
			return nil, ErrSyntax
		}
		switch s[i+1] {
		case '"', '\\', '/':
			dst = append(dst, s[i+1])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(s, i+2)
			if !ok {
				return nil, ErrSyntax
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(s, i+2); ok && i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						dst = utf8.AppendRune(dst, dec)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			return nil, ErrSyntax
		}
		i += 2
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
