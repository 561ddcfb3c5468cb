// Package fxa holds the Firefox Accounts key derivations a Sync client needs: the onepw
// protocol's password stretching (quickStretch → authPW, unwrapBKey), the HKDF expansion
// of session and key-fetch tokens into Hawk credentials, unwrapping kB from the key
// bundle of /account/keys, and opening the scoped-keys JWE of the OAuth flow. They are
// checked against the published vectors; the login flow that uses them is not here yet.
package fxa

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/hkdf"
	"golang.org/x/crypto/scrypt"
)

// kw is the onepw protocol's key-wrapping namespace.
func kw(name string) string { return "identity.mozilla.com/picl/v1/" + name }

func expand(secret []byte, info string, n int) []byte {
	out := make([]byte, n)
	if _, err := io.ReadFull(hkdf.New(sha256.New, secret, nil, []byte(info)), out); err != nil {
		panic("fxa: hkdf: " + err.Error()) // cannot happen for these sizes
	}
	return out
}

// QuickStretch is PBKDF2-SHA256(password, "…/quickStretch:"+email, 1000 rounds, 32 bytes).
// The email is the one the account was created with.
func QuickStretch(email, password string) []byte {
	k, err := pbkdf2.Key(sha256.New, password, []byte(kw("quickStretch:")+email), 1000, 32)
	if err != nil {
		panic("fxa: pbkdf2: " + err.Error()) // only for invalid parameters, and ours are fixed
	}
	return k
}

// AuthPW is what the client sends to log in, derived from the stretched password.
func AuthPW(quickStretched []byte) []byte { return expand(quickStretched, kw("authPW"), 32) }

// UnwrapBKey unwraps kB from wrapKB; it never leaves the client.
func UnwrapBKey(quickStretched []byte) []byte { return expand(quickStretched, kw("unwrapBkey"), 32) }

// ServerStretch is the server's side of onepw: scrypt(authPW, authSalt), then verifyHash
// (what the server stores) and wrapwrapKey. A test double of the auth server needs it.
func ServerStretch(authPW, authSalt []byte) (verifyHash, wrapwrapKey []byte, err error) {
	big, err := scrypt.Key(authPW, authSalt, 65536, 8, 1, 32)
	if err != nil {
		return nil, nil, err
	}
	return expand(big, kw("verifyHash"), 32), expand(big, kw("wrapwrapKey"), 32), nil
}

// TokenCredentials are the Hawk credentials of an FxA token: id = hex(TokenID), key =
// ReqHMACKey; Extra is what follows (the key request key of a keyFetchToken).
type TokenCredentials struct {
	TokenID, ReqHMACKey, Extra []byte
}

// DeriveToken expands a token ("sessionToken", "keyFetchToken", …) into its credentials.
func DeriveToken(token []byte, kind string) TokenCredentials {
	size := 64
	if kind == "keyFetchToken" {
		size = 96
	}
	b := expand(token, kw(kind), size)
	return TokenCredentials{TokenID: b[:32], ReqHMACKey: b[32:64], Extra: b[64:]}
}

// ErrBundleMAC: the /account/keys bundle is not from the server that holds the token.
var ErrBundleMAC = errors.New("fxa: key bundle MAC mismatch")

// UnwrapKeys opens the /account/keys bundle (ciphertext 64 bytes || MAC 32 bytes) with the
// keyFetchToken, and unwraps kB with unwrapBKey. The MAC is checked first.
func UnwrapKeys(keyFetchToken, bundle, unwrapBKey []byte) (kA, kB []byte, err error) {
	if len(bundle) != 96 || len(unwrapBKey) != 32 {
		return nil, nil, fmt.Errorf("fxa: bundle of %d bytes, unwrapBKey of %d", len(bundle), len(unwrapBKey))
	}
	keys := expand(DeriveToken(keyFetchToken, "keyFetchToken").Extra, kw("account/keys"), 96)
	respHMACKey, respXORKey := keys[:32], keys[32:]
	ct, mac := bundle[:64], bundle[64:]
	m := hmac.New(sha256.New, respHMACKey)
	m.Write(ct)
	if !hmac.Equal(m.Sum(nil), mac) {
		return nil, nil, ErrBundleMAC
	}
	plain := make([]byte, 64)
	for i := range plain {
		plain[i] = ct[i] ^ respXORKey[i]
	}
	kB = make([]byte, 32)
	for i := range kB {
		kB[i] = plain[32+i] ^ unwrapBKey[i]
	}
	return plain[:32], kB, nil
}
