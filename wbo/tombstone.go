package wbo

import "github.com/syncctl/syncctl/internal/jsonscan"

// Tombstone returns the cleartext record that marks id as deleted, as Firefox writes it.
func Tombstone(id string) Record {
	p := append([]byte(`{"id":`), jsonscan.AppendString(nil, []byte(id))...)
	return Record{ID: id, Payload: append(p, `,"deleted":true}`...)}
}

// IsTombstone reports whether a cleartext payload carries "deleted": true. Readers must
// accept tombstones without an id (application-services writes {"deleted":true}).
func IsTombstone(cleartext []byte) bool {
	deleted := false
	_ = jsonscan.Object(cleartext, func(key, value []byte) error {
		if jsonscan.Key(key, "deleted") {
			deleted = string(value) == "true"
		}
		return nil
	})
	return deleted
}
