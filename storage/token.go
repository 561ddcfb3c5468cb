package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"
)

// Token is a storage credential: the Hawk id and key and the api_endpoint they work on.
type Token struct {
	ID          string `json:"id"`
	Key         string `json:"key"`
	UID         int64  `json:"uid"`
	APIEndpoint string `json:"api_endpoint"`
	Duration    int64  `json:"duration"`
	// Expires is when the client stops using the token (fetched at + duration).
	Expires time.Time `json:"expires"`
}

// TokenSource gives the client its credential; force asks for a new one (after a 401).
type TokenSource interface {
	Token(ctx context.Context, force bool) (Token, error)
}

// StaticToken is a pre-issued credential that cannot be refreshed.
type StaticToken Token

// Token implements TokenSource.
func (s StaticToken) Token(_ context.Context, force bool) (Token, error) {
	if force {
		return Token{}, fmt.Errorf("%w: a static credential cannot be refreshed", ErrUnauthorized)
	}
	return Token(s), nil
}

// TokenServer exchanges a bearer token (an FxA OAuth token, or the embedded server's user
// secret) for storage credentials at GET <URL>/1.0/sync/1.5.
type TokenServer struct {
	URL    string
	Bearer func(ctx context.Context) (string, error)
	// KeyID is X-KeyID ("<keysChangedAt>-<b64url(clientState)>"), empty for none.
	KeyID string
	// Duration, if set, asks for a token that lasts no longer (?duration=, which a
	// tokenserver honours up to its own default).
	Duration time.Duration
	Client   *resty.Client
	Now      func() time.Time
}

// ShortLived asks for a token lasting d: the conformance runner's expired-token case.
func (ts *TokenServer) ShortLived(ctx context.Context, d time.Duration) (Token, error) {
	c := *ts
	c.Duration = d
	return c.Token(ctx, true)
}

// TokenServerError is a tokenserver refusal with its status code ("invalid-credentials", …).
type TokenServerError struct {
	Status     int
	Code       string
	RetryAfter time.Duration
}

func (e *TokenServerError) Error() string {
	return fmt.Sprintf("tokenserver: %d %s", e.Status, e.Code)
}

// Is makes 401s match ErrUnauthorized and 503s ErrUnavailable.
func (e *TokenServerError) Is(target error) bool {
	return (target == ErrUnauthorized && e.Status == 401) || (target == ErrUnavailable && e.Status == 503)
}

// Token implements TokenSource; every call asks the server.
func (ts *TokenServer) Token(ctx context.Context, _ bool) (Token, error) {
	url := strings.TrimSuffix(ts.URL, "/")
	if !strings.HasSuffix(url, "/1.0/sync/1.5") {
		url += "/1.0/sync/1.5"
	}
	bearer, err := ts.Bearer(ctx)
	if err != nil {
		return Token{}, err
	}
	c := ts.Client
	if c == nil {
		c = resty.New()
	}
	now := time.Now
	if ts.Now != nil {
		now = ts.Now
	}
	req := c.R().SetContext(ctx).SetHeader("Authorization", "Bearer "+bearer).SetHeader("Accept", "application/json")
	if ts.KeyID != "" {
		req.SetHeader("X-KeyID", ts.KeyID)
	}
	if ts.Duration > 0 {
		req.SetQueryParam("duration", strconv.FormatInt(int64(ts.Duration/time.Second), 10))
	}
	resp, err := req.Get(url)
	if err != nil {
		return Token{}, fmt.Errorf("tokenserver: %w", err)
	}
	if resp.StatusCode() != http.StatusOK {
		var body struct {
			Status string `json:"status"`
		}
		// The status alone says what went wrong; the body's code, when it is JSON,
		// only names it.
		_ = json.Unmarshal(resp.Body(), &body)
		e := &TokenServerError{Status: resp.StatusCode(), Code: body.Status}
		if s, err := strconv.Atoi(resp.Header().Get("Retry-After")); err == nil {
			e.RetryAfter = time.Duration(s) * time.Second
		}
		return Token{}, e
	}
	var t Token
	if err := json.Unmarshal(resp.Body(), &t); err != nil || t.ID == "" || t.Key == "" || t.APIEndpoint == "" {
		return Token{}, errors.New("tokenserver: malformed response")
	}
	if t.Duration <= 0 {
		t.Duration = 300
	}
	t.Expires = now().Add(time.Duration(t.Duration) * time.Second)
	return t, nil
}
