package fxa

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/syncctl/syncctl/hawk"
)

// OldsyncScope is the OAuth scope that reaches Sync.
const OldsyncScope = "https://identity.mozilla.com/apps/oldsync"

// Environment is where an account lives: the auth server (which also serves the OAuth
// routes) and the tokenserver.
type Environment struct {
	AuthURL        string // …/v1
	ContentURL     string // where a browser logs in (the OAuth flow)
	TokenServerURL string // …/1.0/sync/1.5 is appended by the storage client
	// ClientID is the OAuth client the tokens are issued to. Which public clients may use
	// the fxa-credentials grant is Mozilla's decision; syncctl defaults to Firefox
	// desktop's, as other third-party tools do.
	ClientID string
}

// Environments Mozilla documents.
var (
	Production = Environment{AuthURL: "https://api.accounts.firefox.com/v1", ContentURL: "https://accounts.firefox.com",
		TokenServerURL: "https://token.services.mozilla.com", ClientID: "5882386c6d801776"}
	Stage = Environment{AuthURL: "https://api-accounts.stage.mozaws.net/v1", ContentURL: "https://accounts.stage.mozaws.net",
		TokenServerURL: "https://token.stage.mozaws.net", ClientID: "5882386c6d801776"}
	China = Environment{AuthURL: "https://api-accounts.firefox.com.cn/v1", ContentURL: "https://accounts.firefox.com.cn",
		TokenServerURL: "https://sync.firefox.com.cn/token", ClientID: "5882386c6d801776"}
)

// Typed errors of the auth server (errno in parentheses). Test with errors.Is.
var (
	ErrUnknownAccount     = errors.New("fxa: no account with this email (102)")
	ErrWrongPassword      = errors.New("fxa: wrong password (103)")
	ErrUnverifiedAccount  = errors.New("fxa: the account's email is not verified yet (104)")
	ErrInvalidToken       = errors.New("fxa: the session is no longer valid; log in again (110)")
	ErrThrottled          = errors.New("fxa: too many attempts; wait before trying again (114)")
	ErrRequestBlocked     = errors.New("fxa: login blocked for this device: Mozilla sent an unblock code by email (125)")
	ErrInvalidUnblockCode = errors.New("fxa: wrong unblock code (127)")
	ErrUnverifiedSession  = errors.New("fxa: the session is not verified (138)")
	ErrWrongCode          = errors.New("fxa: wrong verification code")
	ErrLocked             = errors.New("fxa: the account is locked; reset its password at accounts.firefox.com")
)

// Error is an error answer of the auth server.
type Error struct {
	Status     int    `json:"code"`
	Errno      int    `json:"errno"`
	Message    string `json:"message"`
	Email      string `json:"email"`      // errno 120: the email the account was created with
	RetryAfter int    `json:"retryAfter"` // seconds, on 429
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("fxa: %d errno %d: %s", e.Status, e.Errno, e.Message)
	if known := e.sentinel(); known != nil {
		msg = known.Error()
	}
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (retry after %s)", time.Duration(e.RetryAfter)*time.Second)
	}
	return msg
}

var errnoSentinels = map[int]error{102: ErrUnknownAccount, 103: ErrWrongPassword, 104: ErrUnverifiedAccount, 110: ErrInvalidToken,
	114: ErrThrottled, 125: ErrRequestBlocked, 127: ErrInvalidUnblockCode, 138: ErrUnverifiedSession,
	121: ErrLocked, 152: ErrWrongCode, 183: ErrWrongCode}

func (e *Error) sentinel() error { return errnoSentinels[e.Errno] }

// Is maps errnos to the sentinel errors.
func (e *Error) Is(target error) bool {
	return e.sentinel() == target || (target == ErrThrottled && e.Status == http.StatusTooManyRequests)
}

// Client talks to one Firefox Accounts environment.
type Client struct {
	Env  Environment
	HTTP *http.Client
	Now  func() time.Time
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// call sends a JSON request; creds, if set, sign it with Hawk (with a payload hash, as
// fxa-auth-client does). A non-2xx answer becomes an *Error.
func (c *Client) call(ctx context.Context, method, path string, body any, creds *TokenCredentials, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return err
		}
	}
	full := strings.TrimSuffix(c.Env.AuthURL, "/") + path
	req, err := http.NewRequestWithContext(ctx, method, full, bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if creds != nil {
		u, _ := url.Parse(full)
		a := hawk.Target(method, u)
		a.TS = c.now().Unix()
		a.Nonce = hex.EncodeToString(creds.TokenID[:6]) + strconv.FormatInt(c.now().UnixNano()%1e9, 36)
		a.Hash = hawk.PayloadHash("application/json", payload)
		req.Header.Set("Authorization", hawk.Header(hex.EncodeToString(creds.TokenID), creds.ReqHMACKey, &a))
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("fxa: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		e := &Error{Status: resp.StatusCode}
		if json.Unmarshal(b, e) != nil || e.Errno == 0 {
			// Not an auth-server error body: the WAF's challenge page, a proxy…
			e.Message = strings.TrimSpace(string(b))
			if resp.StatusCode == http.StatusNotAcceptable {
				e.Errno = 125 // fxa-auth-client maps the WAF's 406 to a blocked request
			}
		}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && e.RetryAfter == 0 {
			e.RetryAfter = s
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("fxa: %s %s: bad answer: %w", method, path, err)
		}
	}
	return nil
}
