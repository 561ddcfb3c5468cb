package crypto_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/fixtures"
	"github.com/syncctl/syncctl/wbo"
)

// FuzzDecrypt: no input panics, and no tampered payload is accepted as a record. Storage
// format 5's HMAC covers the ciphertext but not the IV, so a changed IV decrypts (to a
// garbled first block): the record-level check of the cleartext id, which fills that
// first block, is what refuses it. So the target is DecryptRecord.
func FuzzDecrypt(f *testing.F) {
	kb, good := vector5b(f)
	c := fixtures.Load().Payloads[1]
	f.Add([]byte(good))
	f.Add([]byte(`{"ciphertext":"","IV":"","hmac":""}`))
	f.Add([]byte(fixtures.Load().Shape5f))
	f.Add([]byte(`{"IV":"\/\/8=","hmac":"` + c.HMAC + `","ciphertext":"` + c.CiphertextB64 + `"}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		rec, err := kb.DecryptRecord(wbo.Record{ID: "5qRsgXWRJZXr", Payload: payload})
		clear := rec.Payload
		if err != nil {
			for _, known := range []error{crypto.ErrHMACMismatch, crypto.ErrBadPadding, crypto.ErrMalformedPayload, crypto.ErrRecordIDMismatch} {
				if errors.Is(err, known) {
					return
				}
			}
			t.Fatalf("untyped error %v", err)
		}
		// Accepted: it must be the vector's cleartext, since only the vector's ciphertext
		// carries a valid MAC under this key.
		if !bytes.Equal(clear, []byte(c.Cleartext)) {
			t.Fatalf("accepted a forged payload %q → %q", payload, clear)
		}
	})
}
