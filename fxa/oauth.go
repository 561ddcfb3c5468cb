package fxa

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// OAuthFlow is a login in the browser that never shows syncctl the password: PKCE, and an
// ephemeral P-256 key to which the server encrypts the Sync key (keys_jwe).
type OAuthFlow struct {
	URL      string // to open in a browser
	state    string
	verifier string
	key      *ecdh.PrivateKey
}

// BeginOAuth makes the authorization URL on the environment's content server.
func (c *Client) BeginOAuth(redirectURI string) (*OAuthFlow, error) {
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	b64 := base64.RawURLEncoding
	rnd := func() string {
		b := make([]byte, 32)
		rand.Read(b)
		return b64.EncodeToString(b)
	}
	f := &OAuthFlow{state: rnd(), verifier: rnd(), key: key}
	challenge := sha256.Sum256([]byte(f.verifier))
	pub := key.PublicKey().Bytes() // 0x04 || x || y
	jwk, _ := json.Marshal(map[string]string{"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(pub[1:33]), "y": b64.EncodeToString(pub[33:])})
	q := url.Values{
		"client_id": {c.Env.ClientID}, "state": {f.state}, "scope": {"profile " + OldsyncScope}, "access_type": {"offline"},
		"response_type": {"code"}, "code_challenge": {b64.EncodeToString(challenge[:])}, "code_challenge_method": {"S256"},
		"keys_jwk": {b64.EncodeToString(jwk)},
	}
	if redirectURI != "" {
		q.Set("redirect_uri", redirectURI)
	}
	f.URL = strings.TrimSuffix(c.Env.ContentURL, "/") + "/authorization?" + q.Encode()
	return f, nil
}

// ErrOAuthState: the pasted redirect is not the answer to this flow.
var ErrOAuthState = errors.New("fxa: the redirect's state does not match this login")

// CompleteOAuth takes what the browser was redirected to (or the bare code), exchanges
// the code for tokens, and opens keys_jwe with the flow's key. The Sync key arrives as
// kSync with its key id; no kB is ever seen.
func (c *Client) CompleteOAuth(ctx context.Context, f *OAuthFlow, redirect string) (*Credentials, error) {
	code := strings.TrimSpace(redirect)
	if u, err := url.Parse(code); err == nil && u.RawQuery != "" {
		q := u.Query()
		if q.Get("state") != f.state {
			return nil, ErrOAuthState
		}
		code = q.Get("code")
	}
	if code == "" {
		return nil, errors.New("fxa: no authorization code")
	}
	var tok oauthToken
	err := c.call(ctx, "POST", "/oauth/token", map[string]string{"grant_type": "authorization_code", "client_id": c.Env.ClientID,
		"code": code, "code_verifier": f.verifier}, nil, &tok)
	if err != nil {
		return nil, fmt.Errorf("oauth token: %w", err)
	}
	plain, err := DecryptJWE(tok.KeysJWE, f.key)
	if err != nil {
		return nil, err
	}
	var scoped map[string]struct {
		K   string `json:"k"`
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(plain, &scoped); err != nil {
		return nil, fmt.Errorf("%w: keys: %v", ErrJWE, err)
	}
	jwk, ok := scoped[OldsyncScope]
	kSync, err := base64.RawURLEncoding.DecodeString(jwk.K)
	if !ok || err != nil || len(kSync) != 64 {
		return nil, fmt.Errorf("%w: no oldsync key", ErrJWE)
	}
	cr := &Credentials{KSync: hex.EncodeToString(kSync), KeyID: jwk.Kid}
	cr.setToken(tok, c.now())
	return cr, nil
}
