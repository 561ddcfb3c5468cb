package server

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"unsafe"

	"github.com/syncctl/syncctl/internal/jsonscan"
	"github.com/syncctl/syncctl/wbo"
)

// bsoInput is one uploaded BSO with field presence kept, for partial updates: Has* says
// the field was sent, *Set that it was not null.
type bsoInput struct {
	ID                         string
	HasID                      bool
	HasPayload                 bool
	Payload                    string
	HasSortIndex, SortIndexSet bool
	SortIndex                  int64
	HasTTL, TTLSet             bool
	TTL                        int64
	// plain: Payload needs no escaping in JSON (known for large payloads only).
	plain bool
	// text: a large payload that needs escaping, as the JSON string text it was sent
	// as, without its quotes (a part of the request's body); nil if plain, or if it
	// holds U+2028 or U+2029, which the encoder escapes and the text may not.
	text []byte
}

// errInvalidBSO is a per-item failure; its text is the failure reason the client sees.
type errInvalidBSO struct{ reason string }

func (e *errInvalidBSO) Error() string { return e.reason }

func invalid(format string, a ...any) error {
	return &errInvalidBSO{reason: "invalid bso: " + fmt.Sprintf(format, a...)}
}

// errNotObject means the value is not a JSON object: the whole request is bad.
var errNotObject = errors.New("not a JSON object")

// parseBSO reads one BSO object. It returns errNotObject for a non-object, else a
// per-item *errInvalidBSO (with whatever id it could read) for bad fields.
func parseBSO(data []byte) (bsoInput, error) {
	start := len(data) - len(bytes.TrimLeft(data, " \t\r\n"))
	in, end, err := parseBSOAt(data, start)
	if err == errNotObject || len(bytes.TrimLeft(data[end:], " \t\r\n")) > 0 {
		return in, errNotObject
	}
	return in, err
}

// parseBSOAt is parseBSO for the object that begins at data[i] (an element of a POST's
// array, parsed in the pass that finds its end). end is past the object unless err is
// errNotObject.
func parseBSOAt(data []byte, i int) (in bsoInput, end int, err error) {
	if jsonscan.Kind(data[i:]) != '{' {
		return in, 0, errNotObject
	}
	var itemErr error
	end, err = jsonscan.ObjectAt(data, i, func(key, value []byte) error {
		k := key // compared without a copy unless it has escapes
		if bytes.IndexByte(key, '\\') >= 0 {
			var err error
			if k, err = jsonscan.AppendUnescaped(nil, key); err != nil {
				return err
			}
		}
		switch string(k) {
		case "id":
			s, err := jsonscan.String(value)
			if err != nil {
				itemErr = invalid("id is not a string")
				return nil
			}
			in.ID, in.HasID = string(s), true
		case "payload":
			in.HasPayload = true
			switch jsonscan.Kind(value) {
			case 'n':
				in.Payload = ""
			case '"':
				s, err := jsonscan.String(value)
				if err != nil {
					return err
				}
				if len(s) >= spillBytes {
					// Not copied: a large payload is written from the request's body,
					// which outlives every use of it (the handler releases the body
					// after it has answered). A copy of each megabyte was the server's
					// largest garbage.
					in.Payload = unsafe.String(unsafe.SliceData(s), len(s))
					// It needs no escaping if it had none (no quote, backslash or
					// control character) and no U+2028/2029 (which the encoder
					// escapes; 0xe2 begins both, and no base64).
					in.plain = len(s) == len(value)-2 && bytes.IndexByte(s, 0xe2) < 0
					if text := value[1 : len(value)-1]; !in.plain && bytes.IndexByte(text, 0xe2) < 0 {
						in.text = text
					}
				} else {
					in.Payload = string(s)
				}
			default:
				itemErr = invalid("payload is not a string")
			}
		case "sortindex":
			in.HasSortIndex = true
			if jsonscan.Kind(value) == 'n' {
				return nil
			}
			v, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || v > wbo.MaxSortIndex || v < wbo.MinSortIndex {
				itemErr = invalid("invalid sortindex %s", value)
				return nil
			}
			in.SortIndex, in.SortIndexSet = v, true
		case "ttl":
			in.HasTTL = true
			if jsonscan.Kind(value) == 'n' {
				return nil
			}
			v, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || v < 0 || v > wbo.MaxTTL {
				itemErr = invalid("invalid ttl %s", value)
				return nil
			}
			in.TTL, in.TTLSet = v, true
		case "modified", "collection":
			// Accepted and ignored: the server sets modified; the URL names the collection.
		default:
			if itemErr == nil {
				itemErr = &errInvalidBSO{reason: "unknown field " + string(k)}
			}
		}
		return nil
	})
	if err != nil {
		return in, 0, errNotObject
	}
	if itemErr != nil {
		return in, end, itemErr
	}
	if in.HasID && !wbo.ValidID(in.ID) {
		return in, end, invalid("invalid id")
	}
	return in, end, nil
}

// knownBadPayload is a client bug (an all-zero IV) that syncstorage-rs refuses in the
// crypto collection.
var knownBadPayload = regexp.MustCompile(`IV":\s*"AAAAAAAAAAAAAAAAAAAAAA=="`)

// eachBSO parses a POST body's BSOs and hands each to fn with its per-item error: a
// JSON array, each object parsed in the one pass that finds its end (a chunk's megabytes
// are scanned once, not twice), or one object per line for application/newlines. It
// reports false for a body that is neither, for an item that is not an object, or when
// fn refuses one: a 400 for the whole request.
func eachBSO(body []byte, newlines bool, fn func(in bsoInput, err error) bool) bool {
	if newlines {
		if len(body) == 0 {
			return true
		}
		for l := range bytes.SplitSeq(bytes.TrimSuffix(body, []byte("\n")), []byte("\n")) {
			l = bytes.TrimSuffix(l, []byte("\r"))
			if len(bytes.TrimSpace(l)) == 0 {
				return false
			}
			if in, err := parseBSO(l); err == errNotObject || !fn(in, err) {
				return false
			}
		}
		return true
	}
	err := jsonscan.Elements(body, func(data []byte, i int) (int, error) {
		in, end, err := parseBSOAt(data, i)
		if err == errNotObject || !fn(in, err) {
			return 0, errNotObject
		}
		return end, nil
	})
	return err == nil
}
