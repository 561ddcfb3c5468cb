package crypto_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/fixtures"
)

// FuzzDecrypt: no input panics; nothing that is not byte-for-byte an encryption under the
// key is accepted, unless it only re-spells the same three fields (JSON escapes, key order,
// hex case, white space).
func FuzzDecrypt(f *testing.F) {
	kb, good := vector5b(f)
	c := fixtures.Load().Payloads[1]
	f.Add([]byte(good))
	f.Add([]byte(`{"ciphertext":"","IV":"","hmac":""}`))
	f.Add([]byte(fixtures.Load().Shape5f))
	f.Add([]byte(`{"IV":"\/\/8=","hmac":"` + c.HMAC + `","ciphertext":"` + c.CiphertextB64 + `"}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		clear, err := kb.Decrypt(payload)
		if err != nil {
			for _, known := range []error{crypto.ErrHMACMismatch, crypto.ErrBadPadding, crypto.ErrMalformedPayload} {
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
