package fxa_test

import (
	"crypto/ecdh"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/fixtures"
	"github.com/syncctl/syncctl/fxa"
)

func TestOnepwVectors(t *testing.T) {
	t.Parallel()
	v := fixtures.Load().Onepw7
	qs := fxa.QuickStretch(v.Email, v.Password)
	check := func(name string, got []byte, want string) {
		t.Helper()
		if hex.EncodeToString(got) != want {
			t.Errorf("%s = %x, want %s", name, got, want)
		}
	}
	check("quickStretchedPW", qs, v.QuickStretchedPW)
	check("authPW", fxa.AuthPW(qs), v.AuthPW)
	check("unwrapBkey", fxa.UnwrapBKey(qs), v.UnwrapBkey)
	verify, wrapwrap, err := fxa.ServerStretch(fixtures.Hex(v.AuthPW), fixtures.Hex(v.AuthSalt))
	if err != nil {
		t.Fatal(err)
	}
	check("verifyHash", verify, v.VerifyHash)
	check("wrapwrapKey", wrapwrap, v.WrapwrapKey)
	kf := fxa.DeriveToken(fixtures.Hex(v.KeyFetchToken), "keyFetchToken")
	check("keyFetch tokenID", kf.TokenID, v.KeyFetchTokenID)
	check("keyFetch reqHMACkey", kf.ReqHMACKey, v.KeyFetchReqHMACkey)
	check("keyRequestKey", kf.Extra, v.KeyRequestKey)
	st := fxa.DeriveToken(fixtures.Hex(v.SessionToken), "sessionToken")
	check("session tokenID", st.TokenID, v.SessionTokenID)
	check("session reqHMACkey", st.ReqHMACKey, v.SessionReqHMACkey)
	bundle := append(fixtures.Hex(v.Ciphertext), fixtures.Hex(v.MAC)...)
	kA, kB, err := fxa.UnwrapKeys(fixtures.Hex(v.KeyFetchToken), bundle, fixtures.Hex(v.UnwrapBkey))
	if err != nil {
		t.Fatal(err)
	}
	check("kA", kA, v.KA)
	check("kB", kB, v.KB)
	bundle[3] ^= 1
	if _, _, err := fxa.UnwrapKeys(fixtures.Hex(v.KeyFetchToken), bundle, fixtures.Hex(v.UnwrapBkey)); !errors.Is(err, fxa.ErrBundleMAC) {
		t.Errorf("tampered bundle: %v", err)
	}
	// kB goes on to the Sync key bundle of vector 7's DERIVED row.
	kb, _ := crypto.SyncKeyBundle(kB)
	if hex.EncodeToString(kb.EncryptionKey()) != "9103e3f241298d68d8c8048f25822cc1c1dfe1938709c8793ba2cd8b9e8d60cc" {
		t.Errorf("oldsync enc from kB: %x", kb.EncryptionKey())
	}
}

func TestScopedKeysJWEVector(t *testing.T) {
	t.Parallel()
	v := fixtures.Load().JWE6
	d, _ := base64.RawURLEncoding.DecodeString(v.D)
	priv, err := ecdh.P256().NewPrivateKey(d)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := base64.RawURLEncoding.DecodeString(v.X)
	if pub := priv.PublicKey().Bytes(); hex.EncodeToString(pub[1:33]) != hex.EncodeToString(x) {
		t.Fatalf("the vector's d does not give its x")
	}
	plain, err := fxa.DecryptJWE(v.JWE, priv)
	if err != nil || string(plain) != v.Plaintext {
		t.Fatalf("plaintext %s, %v", plain, err)
	}
	tampered := v.JWE[:len(v.JWE)-3] + strings.Map(func(r rune) rune { return r ^ 1 }, v.JWE[len(v.JWE)-3:len(v.JWE)-2]) + v.JWE[len(v.JWE)-2:]
	if _, err := fxa.DecryptJWE(tampered, priv); !errors.Is(err, fxa.ErrJWE) {
		t.Errorf("tampered tag: %v", err)
	}
}
