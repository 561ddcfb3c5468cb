package fxa

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/syncctl/syncctl/crypto"
)

// Prompts ask the user for what a login may need. A nil prompt makes that step fail
// with a clear error instead.
type Prompts struct {
	TOTP        func(ctx context.Context) (string, error) // the code of an authenticator app
	EmailCode   func(ctx context.Context) (string, error) // a code Mozilla sent by email
	UnblockCode func(ctx context.Context) (string, error) // after errno 125
	// VerifyPoll bounds the wait for a verification link to be clicked (default 5 min),
	// asking every PollEvery (default 2 s).
	VerifyPoll, PollEvery time.Duration
}

// Credentials are what a login yields: enough to sync, and to refresh without the
// password. Secrets all of them.
type Credentials struct {
	Email        string    `json:"email"`
	UID          string    `json:"uid"`
	SessionToken string    `json:"sessionToken"`    // hex
	KB           string    `json:"kB,omitempty"`    // hex (password login)
	KSync        string    `json:"kSync,omitempty"` // hex, 64 bytes (OAuth login: the scoped key)
	KeyID        string    `json:"keyID"`           // X-KeyID for the tokenserver
	AccessToken  string    `json:"accessToken"`
	RefreshToken string    `json:"refreshToken"`
	Expires      time.Time `json:"expires"`
}

// SyncKey is the Sync Key Bundle of the credentials.
func (cr *Credentials) SyncKey() (*crypto.KeyBundle, error) {
	if cr.KSync != "" {
		k, err := hex.DecodeString(cr.KSync)
		if err != nil {
			return nil, err
		}
		return crypto.KSyncKeyBundle(k)
	}
	kB, err := hex.DecodeString(cr.KB)
	if err != nil {
		return nil, err
	}
	return crypto.SyncKeyBundle(kB)
}

type loginAnswer struct {
	UID                string `json:"uid"`
	SessionToken       string `json:"sessionToken"`
	KeyFetchToken      string `json:"keyFetchToken"`
	Verified           bool   `json:"verified"`
	VerificationMethod string `json:"verificationMethod"`
}

// Login runs the onepw login to the end: password stretching (the password never leaves
// this process), session verification, kB, the key rotation time, and an OAuth token for
// Sync with a refresh token.
func (c *Client) Login(ctx context.Context, email, password string, p Prompts) (*Credentials, error) {
	qs := QuickStretch(email, password)
	body := map[string]any{"email": email, "authPW": hex.EncodeToString(AuthPW(qs)), "reason": "login"}
	var ans loginAnswer
	err := c.call(ctx, "POST", "/account/login?keys=true", body, nil, &ans)
	var fe *Error
	if errors.As(err, &fe) && fe.Errno == 120 && fe.Email != "" {
		// The account was created with another spelling of the email; the salt is that.
		email = fe.Email
		qs = QuickStretch(email, password)
		body["email"], body["authPW"] = email, hex.EncodeToString(AuthPW(qs))
		err = c.call(ctx, "POST", "/account/login?keys=true", body, nil, &ans)
	}
	if errors.Is(err, ErrRequestBlocked) && p.UnblockCode != nil {
		code, perr := p.UnblockCode(ctx)
		if perr != nil {
			return nil, perr
		}
		body["unblockCode"] = code
		err = c.call(ctx, "POST", "/account/login?keys=true", body, nil, &ans)
	}
	if err != nil {
		return nil, err
	}
	sessionToken, err1 := hex.DecodeString(ans.SessionToken)
	keyFetchToken, err2 := hex.DecodeString(ans.KeyFetchToken)
	if err1 != nil || err2 != nil {
		return nil, errors.New("fxa: login answer without session or key fetch token")
	}
	session := DeriveToken(sessionToken, "sessionToken")
	if !ans.Verified {
		if err := c.verify(ctx, &session, ans.VerificationMethod, p); err != nil {
			return nil, err
		}
	}
	var keys struct {
		Bundle string `json:"bundle"`
	}
	kf := DeriveToken(keyFetchToken, "keyFetchToken")
	if err := c.call(ctx, "GET", "/account/keys", nil, &kf, &keys); err != nil {
		return nil, fmt.Errorf("fetching keys: %w", err)
	}
	bundle, err := hex.DecodeString(keys.Bundle)
	if err != nil {
		return nil, errors.New("fxa: key bundle is not hex")
	}
	_, kB, err := UnwrapKeys(keyFetchToken, bundle, UnwrapBKey(qs))
	if err != nil {
		return nil, err
	}
	var scoped map[string]struct {
		KeyRotationTimestamp int64 `json:"keyRotationTimestamp"`
	}
	if err := c.call(ctx, "POST", "/account/scoped-key-data", map[string]string{"client_id": c.Env.ClientID, "scope": OldsyncScope}, &session, &scoped); err != nil {
		return nil, fmt.Errorf("scoped key data: %w", err)
	}
	cr := &Credentials{Email: email, UID: ans.UID, SessionToken: ans.SessionToken, KB: hex.EncodeToString(kB),
		KeyID: crypto.KeyID(scoped[OldsyncScope].KeyRotationTimestamp, kB)}
	var tok oauthToken
	err = c.call(ctx, "POST", "/oauth/token", map[string]any{"grant_type": "fxa-credentials", "client_id": c.Env.ClientID,
		"scope": OldsyncScope, "access_type": "offline"}, &session, &tok)
	if err != nil {
		return nil, fmt.Errorf("oauth token: %w", err)
	}
	cr.setToken(tok, c.now())
	return cr, nil
}

// verify completes an unverified session by the method the server asked for.
func (c *Client) verify(ctx context.Context, session *TokenCredentials, method string, p Prompts) error {
	switch method {
	case "totp-2fa":
		if p.TOTP == nil {
			return fmt.Errorf("%w: the account uses two-step authentication; give the code (--totp)", ErrUnverifiedSession)
		}
		code, err := p.TOTP(ctx)
		if err != nil {
			return err
		}
		var ok struct {
			Success bool `json:"success"`
		}
		if err := c.call(ctx, "POST", "/session/verify/totp", map[string]string{"code": code}, session, &ok); err != nil {
			return err
		}
		if !ok.Success {
			return ErrWrongCode
		}
		return nil
	case "email-2fa", "email-otp", "email-captcha":
		if p.EmailCode == nil {
			return fmt.Errorf("%w: Mozilla sent a code by email; give it (--email-code)", ErrUnverifiedSession)
		}
		code, err := p.EmailCode(ctx)
		if err != nil {
			return err
		}
		return c.call(ctx, "POST", "/session/verify_code", map[string]string{"code": code}, session, nil)
	}
	// "email" (a link to click), or none given: wait for the session to become verified.
	wait := p.VerifyPoll
	if wait <= 0 {
		wait = 5 * time.Minute
	}
	deadline := c.now().Add(wait)
	for {
		var st struct {
			SessionVerified bool `json:"sessionVerified"`
			Verified        bool `json:"verified"`
		}
		if err := c.call(ctx, "GET", "/recovery_email/status", nil, session, &st); err != nil {
			return err
		}
		if st.Verified || st.SessionVerified {
			return nil
		}
		if !c.now().Before(deadline) {
			return fmt.Errorf("%w: confirm the login from the email Mozilla sent, then run login again", ErrUnverifiedSession)
		}
		every := p.PollEvery
		if every <= 0 {
			every = 2 * time.Second
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}

type oauthToken struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int64  `json:"expires_in"`
	KeysJWE      string `json:"keys_jwe"`
}

func (cr *Credentials) setToken(t oauthToken, now time.Time) {
	cr.AccessToken = t.AccessToken
	if t.RefreshToken != "" {
		cr.RefreshToken = t.RefreshToken
	}
	cr.Expires = now.Add(time.Duration(t.ExpiresIn) * time.Second)
}

// Bearer returns a valid OAuth access token, refreshing it (with the refresh token, no
// password) when it has less than a minute left. It reports whether it refreshed, so the
// caller can save the credentials.
func (c *Client) Bearer(ctx context.Context, cr *Credentials) (string, bool, error) {
	if cr.AccessToken != "" && c.now().Before(cr.Expires.Add(-time.Minute)) {
		return cr.AccessToken, false, nil
	}
	if cr.RefreshToken == "" {
		return "", false, fmt.Errorf("%w: no refresh token", ErrInvalidToken)
	}
	var tok oauthToken
	err := c.call(ctx, "POST", "/oauth/token", map[string]string{"grant_type": "refresh_token", "client_id": c.Env.ClientID,
		"refresh_token": cr.RefreshToken, "scope": OldsyncScope}, nil, &tok)
	if err != nil {
		return "", false, err
	}
	cr.setToken(tok, c.now())
	return cr.AccessToken, true, nil
}
