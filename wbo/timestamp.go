package wbo

import (
	"errors"
	"strconv"
	"time"
)

// Timestamp is a server time in milliseconds since the epoch. The protocol writes it as
// seconds with two decimals; an integer keeps it exact where a float64 would drift.
type Timestamp int64

// ErrBadTimestamp reports a timestamp that is not a non-negative decimal number of seconds.
var ErrBadTimestamp = errors.New("wbo: bad timestamp")

// TimestampOf converts a time to a Timestamp, truncated to the server's 10 ms resolution.
func TimestampOf(t time.Time) Timestamp {
	ms := t.UnixMilli()
	return Timestamp(ms - ms%10)
}

// Time converts back to a time.Time.
func (t Timestamp) Time() time.Time { return time.UnixMilli(int64(t)) }

// String formats the timestamp as the protocol does: seconds with exactly two decimals.
func (t Timestamp) String() string { return string(t.AppendText(nil)) }

// AppendText appends the two-decimal form; finer precision is truncated as servers do.
func (t Timestamp) AppendText(dst []byte) []byte {
	ms := int64(t)
	if ms < 0 {
		dst = append(dst, '-')
		ms = -ms
	}
	dst = strconv.AppendInt(dst, ms/1000, 10)
	cents := (ms % 1000) / 10
	return append(dst, '.', byte('0'+cents/10), byte('0'+cents%10))
}

// MarshalJSON writes the timestamp as a JSON number with two decimals.
func (t Timestamp) MarshalJSON() ([]byte, error) { return t.AppendText(nil), nil }

// UnmarshalJSON accepts a JSON number or a JSON string holding one.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		b = b[1 : len(b)-1]
	}
	v, err := ParseTimestamp(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// ParseTimestamp parses "1234567890.12", "1234567890" or "1234567890.123" exactly; digits
// past milliseconds are dropped. Exponents, signs and non-digits are rejected.
func ParseTimestamp(s string) (Timestamp, error) {
	if s == "" || len(s) > 32 {
		return 0, ErrBadTimestamp
	}
	var secs, frac int64
	i := 0
	for ; i < len(s) && s[i] != '.'; i++ {
		c := s[i]
		if c < '0' || c > '9' || secs > (1<<53) {
			return 0, ErrBadTimestamp
		}
		secs = secs*10 + int64(c-'0')
	}
	if i == 0 {
		return 0, ErrBadTimestamp
	}
	if i < len(s) {
		digits := s[i+1:]
		if digits == "" {
			return 0, ErrBadTimestamp
		}
		for j, c := range []byte(digits) {
			if c < '0' || c > '9' {
				return 0, ErrBadTimestamp
			}
			if j < 3 {
				frac = frac*10 + int64(c-'0')
			}
		}
		for j := len(digits); j < 3; j++ {
			frac *= 10
		}
	}
	return Timestamp(secs*1000 + frac), nil
}
