package fxa_test

import (
	"crypto/ecdh"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/syncctl/syncctl/fixtures"
	"github.com/syncctl/syncctl/fxa"
)

// FuzzDecryptJWE: no input panics; anything but the vector's JWE (or a re-spelling of it)
// fails with ErrJWE, since AES-GCM authenticates the header, IV and ciphertext.
func FuzzDecryptJWE(f *testing.F) {
	v := fixtures.Load().JWE6
	d, _ := base64.RawURLEncoding.DecodeString(v.D)
	priv, _ := ecdh.P256().NewPrivateKey(d)
	f.Add(v.JWE)
	f.Add("a.b.c.d.e")
	f.Add("....")
	f.Fuzz(func(t *testing.T, jwe string) {
		plain, err := fxa.DecryptJWE(jwe, priv)
		if err != nil {
			if !errors.Is(err, fxa.ErrJWE) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if string(plain) != v.Plaintext {
			t.Fatalf("accepted a forged JWE: %q", plain)
		}
	})
}
