package storage

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/go-resty/resty/v2"
	"github.com/rs/zerolog"

	"github.com/syncctl/syncctl/hawk"
)

// idleConnsPerHost is how many idle connections the default transport keeps to the
// server: more than the transfers a blob sync runs at once (8 by default), so each
// reuses its connection.
const idleConnsPerHost = 16

// Options configure a Client. Only Tokens is required.
type Options struct {
	Tokens TokenSource
	// HTTPClient is the transport (default: a client with a 60 s timeout that keeps
	// idleConnsPerHost idle connections).
	HTTPClient *http.Client
	// MaxRetries bounds the retries of one idempotent request (default 3).
	MaxRetries int
	// RetryBase is the first retry delay; later ones double, with ±50% jitter (default 500 ms).
	RetryBase time.Duration
	// MaxRetryWait is the longest Retry-After the client waits out inside one call; a
	// longer one ends the call with a *BackoffError (default 30 s).
	MaxRetryWait time.Duration
	// Now and Sleep are the clock; tests inject fakes.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger gets retries and server alerts; nil is silent. Tokens and bodies are never logged.
	Logger *zerolog.Logger
	// UserAgent is sent with every request.
	UserAgent string
}

// Client talks to one user's storage. It is safe for concurrent use.
type Client struct {
	opts Options
	http *resty.Client
	log  zerolog.Logger

	mu        sync.Mutex
	token     Token
	haveToken bool
	hardUntil time.Time // from Retry-After: the client refuses to call before it
	softUntil time.Time // from X-Weave-Backoff: advisory, for the session to honour
	alert     string
	quotaKB   *float64
}

// New returns a client.
func New(opts Options) *Client {
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 3
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = 500 * time.Millisecond
	}
	if opts.MaxRetryWait <= 0 {
		opts.MaxRetryWait = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = sleepCtx
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "syncctl"
	}
	hc := opts.HTTPClient
	if hc == nil {
		// net/http keeps 2 idle connections per host by default: a pull or push running 8
		// transfers closed the other 6 after each request and opened new ones (253 TCP
		// connections for one 594-file pull, counted with strace).
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = idleConnsPerHost
		hc = &http.Client{Timeout: 60 * time.Second, Transport: t}
	}
	c := &Client{opts: opts, http: resty.NewWithClient(hc), log: zerolog.Nop()}
	if opts.Logger != nil {
		c.log = *opts.Logger
	}
	return c
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Signals are what the server asked of us so far.
type Signals struct {
	// Backoff is the X-Weave-Backoff deadline: finish the minimum, then sync no more
	// before it. The client does not enforce it itself; the session does.
	Backoff time.Time
	// RetryAfter is the Retry-After deadline; the client refuses calls before it.
	RetryAfter time.Time
	// Alert is the last X-Weave-Alert (free text or JSON with code, message, url).
	Alert string
	// QuotaRemainingKB is the last X-Weave-Quota-Remaining, nil when never sent.
	QuotaRemainingKB *float64
}

// Signals returns the server's signals seen so far.
func (c *Client) Signals() Signals {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Signals{Backoff: c.softUntil, RetryAfter: c.hardUntil, Alert: c.alert, QuotaRemainingKB: c.quotaKB}
}

// Token returns the credential in use, fetching one first if needed.
func (c *Client) Token(ctx context.Context) (Token, error) { return c.currentToken(ctx, false) }

// currentToken returns the token, refreshing it when forced or within a minute (or a
// tenth of its life) of expiry. A refreshed token on another api_endpoint is a node
// reassignment: the caller's sync state no longer describes the server.
func (c *Client) currentToken(ctx context.Context, force bool) (Token, error) {
	c.mu.Lock()
	tok, have := c.token, c.haveToken
	c.mu.Unlock()
	margin := min(time.Minute, time.Duration(tok.Duration)*time.Second/10)
	if have && !force && (tok.Expires.IsZero() || c.opts.Now().Before(tok.Expires.Add(-margin))) {
		return tok, nil
	}
	fresh, err := c.opts.Tokens.Token(ctx, force)
	if err != nil {
		return Token{}, err
	}
	c.mu.Lock()
	c.token, c.haveToken = fresh, true
	c.mu.Unlock()
	if have && fresh.APIEndpoint != tok.APIEndpoint {
		return fresh, fmt.Errorf("%w: %s → %s", ErrNodeReassigned, tok.APIEndpoint, fresh.APIEndpoint)
	}
	return fresh, nil
}

// call is one API request; path is relative to the api_endpoint and carries its query.
type call struct {
	method      string
	path        string
	body        []byte
	contentType string
	header      map[string]string
	// stream leaves a 2xx body unread for the caller (who must close it).
	stream bool
}

type reply struct {
	status int
	header http.Header
	body   []byte
	raw    io.ReadCloser
}

func idempotent(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodPut || method == http.MethodDelete
}

// do sends a call with the client's policies: honour Retry-After, refresh the token
// once on 401, retry idempotent requests on network errors and 5xx/409/429 a bounded
// number of times with jittered backoff, and turn failures into typed errors.
func (c *Client) do(ctx context.Context, cl call) (*reply, error) {
	refreshed := false
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := c.checkBackoff(); err != nil {
			return nil, err
		}
		tok, err := c.currentToken(ctx, false)
		if err != nil {
			return nil, err
		}
		rep, err := c.send(ctx, tok, cl)
		if err != nil {
			if ctx.Err() != nil || !idempotent(cl.method) || attempt >= c.opts.MaxRetries {
				return nil, err
			}
			if err := c.pause(ctx, attempt, 0); err != nil {
				return nil, err
			}
			continue
		}
		retryAfter := c.observe(rep)
		switch {
		case rep.status < 300 || rep.status == http.StatusNotModified:
			return rep, nil
		case rep.status == http.StatusUnauthorized && !refreshed:
			refreshed = true
			c.log.Info().Msg("storage: 401, refreshing the token")
			if _, err := c.currentToken(ctx, true); err != nil {
				return nil, err
			}
			continue
		case retryable(rep.status) && idempotent(cl.method) && attempt < c.opts.MaxRetries:
			if retryAfter > c.opts.MaxRetryWait {
				return nil, c.backoffError(rep, cl)
			}
			if err := c.pause(ctx, attempt, retryAfter); err != nil {
				return nil, err
			}
			continue
		}
		herr := c.httpError(rep, cl, tok)
		if retryAfter > 0 {
			return nil, c.backoffError(rep, cl)
		}
		return nil, herr
	}
}

func retryable(status int) bool {
	return status == 409 || status == 429 || status == 500 || status == 502 || status == 503 || status == 504
}

func (c *Client) send(ctx context.Context, tok Token, cl call) (*reply, error) {
	full := tok.APIEndpoint + cl.path
	u, err := url.Parse(full)
	if err != nil {
		return nil, fmt.Errorf("storage: bad URL %q: %w", full, err)
	}
	a := hawk.Target(cl.method, u)
	a.TS = c.opts.Now().Unix()
	a.Nonce = strconv.FormatUint(rand.Uint64(), 36)
	r := c.http.R().SetContext(ctx).SetDoNotParseResponse(true).
		SetHeader("Authorization", hawk.Header(tok.ID, []byte(tok.Key), &a)).
		SetHeader("User-Agent", c.opts.UserAgent)
	for k, v := range cl.header {
		r.SetHeader(k, v)
	}
	if cl.body != nil {
		ct := cl.contentType
		if ct == "" {
			ct = "application/json"
		}
		// A reader, not the bytes: resty copies a []byte body twice (into its buffer, and
		// that again into the request); net/http takes a *bytes.Reader's length as the
		// Content-Length. A new reader per attempt, so a retry sends the body whole.
		r.SetHeader("Content-Type", ct).SetBody(bytes.NewReader(cl.body))
	}
	resp, err := r.Execute(cl.method, full)
	if err != nil {
		return nil, fmt.Errorf("storage: %s %s: %w", cl.method, cl.path, err)
	}
	rep := &reply{status: resp.StatusCode(), header: resp.Header(), raw: resp.RawBody()}
	if cl.stream && rep.status < 300 {
		return rep, nil
	}
	defer rep.raw.Close()
	rep.body, err = io.ReadAll(io.LimitReader(rep.raw, 64<<20))
	rep.raw = nil
	if err != nil {
		return nil, fmt.Errorf("storage: %s %s: reading body: %w", cl.method, cl.path, err)
	}
	return rep, nil
}

// observe records the server's signals and returns the response's Retry-After.
func (c *Client) observe(rep *reply) time.Duration {
	now := c.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := seconds(rep.header.Get("X-Weave-Backoff")); s > 0 {
		if until := now.Add(s); until.After(c.softUntil) {
			c.softUntil = until
		}
		c.log.Warn().Dur("backoff", s).Msg("storage: server asked for backoff")
	}
	var retryAfter time.Duration
	if rep.status >= 400 {
		if retryAfter = seconds(rep.header.Get("Retry-After")); retryAfter > 0 {
			if until := now.Add(retryAfter); until.After(c.hardUntil) {
				c.hardUntil = until
			}
		}
	}
	if a := rep.header.Get("X-Weave-Alert"); a != "" {
		c.alert = a
		c.log.Warn().Str("alert", a).Msg("storage: server alert")
	}
	if q, err := strconv.ParseFloat(rep.header.Get("X-Weave-Quota-Remaining"), 64); err == nil {
		c.quotaKB = &q
	}
	return retryAfter
}

func seconds(v string) time.Duration {
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n * float64(time.Second))
}

// checkBackoff refuses to call before a Retry-After deadline.
func (c *Client) checkBackoff() error {
	c.mu.Lock()
	until := c.hardUntil
	c.mu.Unlock()
	if c.opts.Now().Before(until) {
		return &BackoffError{Until: until}
	}
	return nil
}

// pause waits before a retry: Retry-After when the server gave one, else RetryBase
// doubling per attempt with ±50% jitter, so clients do not retry in lockstep.
func (c *Client) pause(ctx context.Context, attempt int, retryAfter time.Duration) error {
	d := retryAfter
	if d == 0 {
		d = c.opts.RetryBase << attempt
		d = time.Duration(float64(d) * (0.5 + rand.Float64()))
	}
	c.log.Info().Int("attempt", attempt+1).Dur("wait", d).Msg("storage: retrying")
	if err := c.opts.Sleep(ctx, d); err != nil {
		return err
	}
	return nil
}

func (c *Client) httpError(rep *reply, cl call, tok Token) *HTTPError {
	return &HTTPError{
		Method: cl.method, URL: tok.APIEndpoint + cl.path, Status: rep.status,
		WeaveCode: parseWeaveCode(rep.body), Body: string(rep.body), RetryAfter: seconds(rep.header.Get("Retry-After")),
	}
}

func (c *Client) backoffError(rep *reply, cl call) error {
	c.mu.Lock()
	until := c.hardUntil
	tok := c.token
	c.mu.Unlock()
	return &BackoffError{Until: until, Cause: c.httpError(rep, cl, tok)}
}
