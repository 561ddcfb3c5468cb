package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncctl/syncctl/hawk"
	"github.com/syncctl/syncctl/internal/pgtest"
	"github.com/syncctl/syncctl/server"
)

// startServer runs the real server on 127.0.0.1 with two users.
func startServer(t testing.TB, opts server.Options) (*server.Server, *httptest.Server) {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.Database == "" {
		opts.Database = pgtest.For(t, opts.DataDir) // "": SQLite in the data dir
	}
	if opts.Users == nil {
		opts.Users = map[string]string{"alice": "alice-secret", "bob": "bob-secret"}
	}
	srv, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { ts.Close(); srv.Close() })
	return srv, ts
}

// nonceSeq makes every test request's nonce unique.
var nonceSeq atomic.Int64

// client is a minimal Hawk client, written against the published formats only, so that
// these tests do not lean on the storage client they are meant to serve.
type client struct {
	t        testing.TB
	endpoint string // api_endpoint
	id, key  string
	uid      int64
	skew     time.Duration // added to the signing clock
}

func login(t testing.TB, base, secret string, headers ...string) *client {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/1.0/sync/1.5", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("token: %d %s", resp.StatusCode, b)
	}
	var tok struct {
		ID, Key     string
		UID         int64
		APIEndpoint string `json:"api_endpoint"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	return &client{t: t, endpoint: tok.APIEndpoint, id: tok.ID, key: tok.Key, uid: tok.UID}
}

type reply struct {
	status int
	header http.Header
	body   string
}

func (r reply) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
}

func (r reply) ts(name string) float64 {
	f, _ := strconv.ParseFloat(r.header.Get(name), 64)
	return f
}

// do sends a signed request; path is relative to the api_endpoint. Extra headers come as
// name, value pairs; a Content-Type of "" means application/json.
func (c *client) do(method, path, body string, headers ...string) reply {
	c.t.Helper()
	return c.doURL(method, c.endpoint+path, body, headers...)
}

func (c *client) doURL(method, rawURL, body string, headers ...string) reply {
	c.t.Helper()
	r, err := c.send(method, rawURL, body, headers...)
	if err != nil {
		c.t.Fatal(err)
	}
	return r
}

// send is doURL that returns the transport's error (for tests that break connections on
// purpose); it never stops the test, so any goroutine may call it.
func (c *client) send(method, rawURL, body string, headers ...string) (reply, error) {
	req, err := http.NewRequest(method, rawURL, strings.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	// An Authorization of "-" means: send none.
	if req.Header.Get("Authorization") == "-" {
		req.Header.Del("Authorization")
	} else if req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", c.sign(method, rawURL))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}, nil
}

// sign is a Hawk header for a request to rawURL, with a nonce no other request uses.
func (c *client) sign(method, rawURL string) string {
	u, _ := url.Parse(rawURL)
	a := hawk.Target(method, u)
	a.TS = time.Now().Add(c.skew).Unix()
	a.Nonce = "n" + strconv.FormatInt(nonceSeq.Add(1), 10) + strconv.FormatInt(time.Now().UnixNano(), 36)
	return hawk.Header(c.id, []byte(c.key), &a)
}

// request is a signed request, for tests that send it their own way (raw, in the
// background, through another client).
func (c *client) request(method, path, body string) *http.Request {
	req, _ := http.NewRequest(method, c.endpoint+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", c.sign(method, c.endpoint+path))
	return req
}

func (c *client) mustStatus(r reply, want int) reply {
	c.t.Helper()
	if r.status != want {
		c.t.Fatalf("status %d, want %d; body %s", r.status, want, r.body)
	}
	return r
}
