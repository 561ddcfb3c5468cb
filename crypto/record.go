package crypto

import (
	"errors"
	"fmt"
	"io"

	"github.com/syncctl/syncctl/internal/jsonscan"
	"github.com/syncctl/syncctl/wbo"
)

// EncryptRecord returns r with its cleartext payload sealed. rnd may be nil. A cleartext
// that is not a JSON object, or whose id differs from r.ID, is refused: readers would
// refuse it too.
func (kb *KeyBundle) EncryptRecord(r wbo.Record, rnd io.Reader) (wbo.Record, error) {
	if err := checkCleartextID(r.Payload, r.ID); err != nil {
		return wbo.Record{}, fmt.Errorf("encrypt %q: %w", r.ID, err)
	}
	p, err := kb.Encrypt(r.Payload, rnd)
	if err != nil {
		return wbo.Record{}, fmt.Errorf("encrypt %q: %w", r.ID, err)
	}
	r.Payload = p
	return r, nil
}

// DecryptRecord returns r with its payload verified, decrypted and checked: the cleartext
// must be a JSON object whose id, if present, equals the envelope id (tombstones written by
// application-services carry no id).
func (kb *KeyBundle) DecryptRecord(r wbo.Record) (wbo.Record, error) {
	clear, err := kb.Decrypt(r.Payload)
	if err != nil {
		return wbo.Record{}, fmt.Errorf("decrypt %q: %w", r.ID, err)
	}
	if err := checkCleartextID(clear, r.ID); err != nil {
		return wbo.Record{}, fmt.Errorf("decrypt %q: %w", r.ID, err)
	}
	r.Payload = clear
	return r, nil
}

var errFound = errors.New("found")

// idFirst: clear begins {"id":"<id>", as Firefox writes every record, with an ASCII id
// that JSON writes as it is. scanCleartextID says the same of such a cleartext; this
// says it without a scan (a tenth of a bookmark's decryption went to it).
func idFirst(clear []byte, id string) bool {
	const head = `{"id":"`
	n := len(head) + len(id)
	if len(clear) <= n+1 || string(clear[:len(head)]) != head || string(clear[len(head):n]) != id ||
		clear[n] != '"' || clear[n+1] != ',' && clear[n+1] != '}' {
		return false
	}
	for _, c := range []byte(id) {
		if c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// checkCleartextID requires the cleartext to be a JSON object carrying the envelope's id,
// or a tombstone (application-services writes {"deleted":true} with no id). It stops at
// the id member (Firefox writes it first), leaving the rest for the engine to parse.
//
// This is also what protects the IV: storage format 5's HMAC covers the ciphertext only,
// so a changed IV decrypts to a garbled first block, and that block is `{"id":"` and the
// start of the id.
func checkCleartextID(clear []byte, id string) error {
	if idFirst(clear, id) {
		return nil
	}
	return scanCleartextID(clear, id)
}

func scanCleartextID(clear []byte, id string) error {
	err := jsonscan.Object(clear, func(key, value []byte) error {
		if !jsonscan.Key(key, "id") {
			return nil
		}
		s, err := jsonscan.String(value)
		if err != nil || string(s) != id {
			return ErrRecordIDMismatch
		}
		return errFound
	})
	switch {
	case errors.Is(err, errFound):
		return nil
	case err == nil && wbo.IsTombstone(clear):
		return nil
	case err == nil:
		return fmt.Errorf("%w: the cleartext has no id", ErrRecordIDMismatch)
	case errors.Is(err, jsonscan.ErrSyntax):
		return fmt.Errorf("%w: cleartext is not a JSON object", ErrMalformedPayload)
	}
	return err
}
