package server

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strconv"
)

// cursor is where a page ended: the last record's sort key (modified, or sortindex) and
// id. X-Weave-Next-Offset carries it, opaque to clients, so the next page starts with an
// index range scan instead of skipping the rows before it.
type cursor struct {
	key int64
	id  string
}

// String encodes the cursor URL-safely (ids may hold any printable character).
func (c cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.key, 10) + "\n" + c.id))
}

var errBadOffset = errors.New("bad offset")

func parseCursor(s string) (cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, errBadOffset
	}
	key, id, ok := bytes.Cut(raw, []byte("\n"))
	if !ok {
		return cursor{}, errBadOffset
	}
	n, err := strconv.ParseInt(string(key), 10, 64)
	if err != nil {
		return cursor{}, errBadOffset
	}
	return cursor{key: n, id: string(id)}, nil
}
