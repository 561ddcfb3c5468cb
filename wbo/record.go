package wbo

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/syncctl/syncctl/internal/jsonscan"
)

// Record is one BSO. Payload holds the bytes of the payload string: ciphertext JSON on the
// wire, cleartext JSON between the crypto middleware and an engine.
type Record struct {
	ID        string
	Modified  Timestamp
	SortIndex *int64 // nil: not set
	TTL       *int64 // seconds; write-only, servers never return it
	Payload   []byte
}

// Int returns a pointer to v, for SortIndex and TTL.
func Int(v int64) *int64 { return &v }

// Errors returned by Decode and Validate. They are wrapped with detail; test with errors.Is.
var (
	ErrMalformed       = errors.New("wbo: malformed record")
	ErrInvalidID       = errors.New("wbo: invalid id")
	ErrSortIndexRange  = errors.New("wbo: sortindex out of range")
	ErrTTLRange        = errors.New("wbo: ttl out of range")
	ErrPayloadTooLarge = errors.New("wbo: payload too large")
)

// Protocol limits (syncstorage-rs).
const (
	MaxIDLength  = 64
	MaxSortIndex = 999_999_999
	MinSortIndex = -999_999_999
	MaxTTL       = 999_999_999
	// DefaultMaxPayloadBytes is syncstorage-rs's max_record_payload_bytes.
	DefaultMaxPayloadBytes = 2_621_440
)

// Limits are the configurable parts of validation. The zero value uses the defaults.
type Limits struct {
	MaxPayloadBytes int
}

// ValidID reports whether id is 1..64 printable ASCII characters, the server's rule.
func ValidID(id string) bool {
	if len(id) == 0 || len(id) > MaxIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// Validate checks the record against the protocol's field rules.
func (r *Record) Validate(l Limits) error {
	if !ValidID(r.ID) {
		return fmt.Errorf("%w: %q", ErrInvalidID, r.ID)
	}
	if r.SortIndex != nil && (*r.SortIndex > MaxSortIndex || *r.SortIndex < MinSortIndex) {
		return fmt.Errorf("%w: %d", ErrSortIndexRange, *r.SortIndex)
	}
	if r.TTL != nil && (*r.TTL < 0 || *r.TTL > MaxTTL) {
		return fmt.Errorf("%w: %d", ErrTTLRange, *r.TTL)
	}
	max := l.MaxPayloadBytes
	if max == 0 {
		max = DefaultMaxPayloadBytes
	}
	if len(r.Payload) > max {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrPayloadTooLarge, len(r.Payload), max)
	}
	return nil
}

// Decode parses a BSO as servers send it. Unknown members are ignored (a newer server may
// add some); modified may be a number or a string. The record does not alias data.
func Decode(data []byte) (Record, error) { return decode(data, false) }

// DecodeInPlace is Decode for a caller done with data once it is done with the record:
// the payload is unescaped in data's own memory, which it overwrites, and the record's
// Payload aliases it. A blob chunk's payload is megabytes, and a copy of each is that
// much more memory to allocate, zero and collect per chunk.
func DecodeInPlace(data []byte) (Record, error) { return decode(data, true) }

func decode(data []byte, inPlace bool) (Record, error) {
	var r Record
	hold := jsonscan.Copy
	if inPlace {
		hold = jsonscan.InPlace
	}
	err := jsonscan.Members(data, func(key, data []byte, i int) (int, error) {
		// The id and the payload are decoded in the pass that finds their ends; the
		// payload is most of a record's bytes.
		switch {
		case jsonscan.Key(key, "id"):
			s, end, err := jsonscan.StringAt(data, i, jsonscan.Alias)
			if err != nil {
				return 0, fmt.Errorf("%w: id is not a string", ErrMalformed)
			}
			r.ID = string(s)
			return end, nil
		case jsonscan.Key(key, "payload"):
			s, end, err := jsonscan.StringAt(data, i, hold)
			if err != nil {
				return 0, fmt.Errorf("%w: payload is not a string", ErrMalformed)
			}
			if s == nil {
				s = []byte{}
			}
			r.Payload = s
			return end, nil
		}
		end, err := jsonscan.SkipValue(data, i)
		if err != nil {
			return 0, err
		}
		value := data[i:end]
		switch {
		case jsonscan.Key(key, "modified"):
			if jsonscan.Kind(value) == 'n' {
				return end, nil
			}
			if err := r.Modified.UnmarshalJSON(value); err != nil {
				return 0, fmt.Errorf("%w: modified %s", ErrMalformed, value)
			}
		case jsonscan.Key(key, "sortindex"):
			v, err := optionalInt(value)
			if err != nil {
				return 0, fmt.Errorf("%w: sortindex %s", ErrMalformed, value)
			}
			r.SortIndex = v
		case jsonscan.Key(key, "ttl"):
			v, err := optionalInt(value)
			if err != nil {
				return 0, fmt.Errorf("%w: ttl %s", ErrMalformed, value)
			}
			r.TTL = v
		}
		return end, nil
	})
	if err != nil {
		if errors.Is(err, jsonscan.ErrSyntax) {
			return Record{}, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		return Record{}, err
	}
	if r.ID == "" {
		return Record{}, fmt.Errorf("%w: no id", ErrMalformed)
	}
	return r, nil
}

func optionalInt(value []byte) (*int64, error) {
	if jsonscan.Kind(value) == 'n' {
		return nil, nil
	}
	v, err := strconv.ParseInt(string(value), 10, 64)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// AppendJSON appends the record as a BSO object. modified is written only when set, since
// servers ignore it on upload.
func (r *Record) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"id":`...)
	dst = jsonscan.AppendString(dst, []byte(r.ID))
	if r.Modified != 0 {
		dst = append(dst, `,"modified":`...)
		dst = r.Modified.AppendText(dst)
	}
	if r.SortIndex != nil {
		dst = append(dst, `,"sortindex":`...)
		dst = strconv.AppendInt(dst, *r.SortIndex, 10)
	}
	if r.TTL != nil {
		dst = append(dst, `,"ttl":`...)
		dst = strconv.AppendInt(dst, *r.TTL, 10)
	}
	dst = append(dst, `,"payload":`...)
	dst = jsonscan.AppendString(dst, r.Payload)
	return append(dst, '}')
}

// MarshalJSON implements json.Marshaler.
func (r Record) MarshalJSON() ([]byte, error) { return r.AppendJSON(nil), nil }

// UnmarshalJSON implements json.Unmarshaler.
func (r *Record) UnmarshalJSON(b []byte) error {
	v, err := Decode(b)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// NewGUID returns a Sync GUID: 9 random bytes as 12 URL-safe base64 characters, the
// first never "-" (a command line would read such an id as a flag; Firefox's own ids
// may still start with one, and work after "--"). rnd may be nil for crypto/rand.
func NewGUID(rnd io.Reader) string {
	if rnd == nil {
		rnd = rand.Reader
	}
	var b [9]byte
	for {
		if _, err := io.ReadFull(rnd, b[:]); err != nil {
			panic("wbo: random source failed: " + err.Error())
		}
		if b[0]>>2 != 62 { // the first character is '-' for these six bits
			return base64.RawURLEncoding.EncodeToString(b[:])
		}
	}
}
