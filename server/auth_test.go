package server_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncctl/syncctl/fixtures"
	"github.com/syncctl/syncctl/hawk"
	"github.com/syncctl/syncctl/server"
	"github.com/syncctl/syncctl/token"
)

func TestSyncstorageRsAuthFixturePassesTheServersValidator(t *testing.T) {
	t.Parallel()
	v := fixtures.Load().Tokenlib8c
	now := time.Unix(v.Request1.TS, 0)
	srv, err := server.New(server.Options{DataDir: t.TempDir(), MasterSecret: v.MasterSecret, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	_, key, _ := token.NewSecret(v.MasterSecret).Parse(v.TokenID, now, true)
	sign := func(r fixtures.HawkRequest, nonce string, ts int64, mac string) *http.Request {
		req := httptest.NewRequest(r.Method, r.URL, nil)
		a := hawk.Target(r.Method, req.URL)
		a.TS, a.Nonce = ts, nonce
		at := hawk.Header(v.TokenID, []byte(key), &a)
		if mac != "" {
			at = at[:strings.Index(at, `mac="`)] + `mac="` + mac + `"`
		}
		req.Header.Set("Authorization", at)
		return req
	}
	for _, r := range []fixtures.HawkRequest{v.Request1, v.Request2} {
		req := sign(r, r.Nonce, r.TS, r.Mac) // the published MAC itself
		p, err := srv.Authenticate(req)
		if err != nil || p.UID != 1 {
			t.Errorf("%s %s: %v", r.Method, r.URL, err)
		}
	}
	r1 := v.Request1
	neg := v.Negative
	cases := map[string]*http.Request{
		"the published bad mac": sign(r1, "x1", r1.TS, neg.BadMac),
		"a stale ts":            sign(r1, "x2", r1.TS-3600, ""),
		"a replayed nonce":      sign(r1, r1.Nonce, r1.TS, ""),
	}
	method := sign(r1, "x3", r1.TS, "")
	method.Method = "POST"
	cases["method POST"] = method
	host := sign(r1, "x4", r1.TS, "")
	host.Host = neg.BadHost + ":5000"
	cases["host localhost.com"] = host
	port := sign(r1, "x5", r1.TS, "")
	port.Host = "localhost:5001"
	cases["port 5001"] = port
	path := sign(r1, "x6", r1.TS, "")
	path.URL.RawQuery = "x=1"
	path.RequestURI = path.URL.RequestURI()
	cases["another path"] = path
	tampered := sign(r1, "x7", r1.TS, "")
	tampered.Header.Set("Authorization", strings.Replace(tampered.Header.Get("Authorization"), v.TokenID, v.TokenID[:len(v.TokenID)-32]+strings.Repeat("A", 32), 1))
	cases["a tampered token id"] = tampered
	for name, req := range cases {
		if _, err := srv.Authenticate(req); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	other, _ := server.New(server.Options{DataDir: t.TempDir(), MasterSecret: neg.WrongSecret, Now: func() time.Time { return now }})
	defer other.Close()
	if _, err := other.Authenticate(sign(r1, "x8", r1.TS, "")); !errors.Is(err, token.ErrBadSignature) {
		t.Errorf("wrong master secret: %v", err)
	}
	late, _ := server.New(server.Options{DataDir: t.TempDir(), MasterSecret: v.MasterSecret, HawkSkew: 100 * 365 * 24 * time.Hour,
		Now: func() time.Time { return time.Unix(1884968439, 0) }})
	defer late.Close()
	if _, err := late.Authenticate(sign(r1, "x9", r1.TS, "")); !errors.Is(err, token.ErrExpired) {
		t.Errorf("now = expires: %v", err)
	}
}

func TestRequestsWithoutValidHawkGet401AndTouchNothing(t *testing.T) {
	t.Parallel()
	_, ts := startServer(t, server.Options{})
	alice := login(t, ts.URL, "alice-secret")
	bob := login(t, ts.URL, "bob-secret")
	alice.mustStatus(alice.do("PUT", "/storage/col/item", `{"payload":"mine"}`), 200)

	stale := *alice
	stale.skew = -10 * time.Minute
	impostor := *alice
	impostor.key = "not-the-key"
	cases := map[string]reply{
		"no Authorization":   alice.do("PUT", "/storage/col/item", `{"payload":"x"}`, "Authorization", "-"),
		"a Basic header":     alice.do("GET", "/storage/col/item", "", "Authorization", "Basic YTpi"),
		"a malformed header": alice.do("GET", "/storage/col/item", "", "Authorization", `Hawk id="x"`),
		"a bad mac":          impostor.do("PUT", "/storage/col/item", `{"payload":"x"}`),
		"a stale timestamp":  stale.do("PUT", "/storage/col/item", `{"payload":"x"}`),
		"bob on alice's uid": bob.doURL("PUT", alice.endpoint+"/storage/col/item", `{"payload":"bob"}`),
		"bob reading alice":  bob.doURL("GET", alice.endpoint+"/storage/col/item", ""),
		"bob wiping alice":   bob.doURL("DELETE", alice.endpoint, ""),
	}
	for name, r := range cases {
		if r.status != 401 || r.header.Get("WWW-Authenticate") != "Hawk" {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
		if strings.Contains(r.body, "mine") {
			t.Errorf("%s: leaked data", name)
		}
	}
	var got struct{ Payload string }
	alice.mustStatus(alice.do("GET", "/storage/col/item", ""), 200).json(t, &got)
	if got.Payload != "mine" {
		t.Errorf("payload = %q after rejected writes", got.Payload)
	}
}

func TestAReplayedRequestIsRejected(t *testing.T) {
	t.Parallel()
	_, ts := startServer(t, server.Options{})
	alice := login(t, ts.URL, "alice-secret")
	req, _ := http.NewRequest("GET", alice.endpoint+"/info/collections", nil)
	a := hawk.Target("GET", req.URL)
	a.TS, a.Nonce = time.Now().Unix(), "once"
	header := hawk.Header(alice.id, []byte(alice.key), &a)
	for i, want := range []int{200, 401} {
		r := alice.do("GET", "/info/collections", "", "Authorization", header)
		if r.status != want {
			t.Errorf("attempt %d: %d, want %d", i+1, r.status, want)
		}
	}
}

func TestAnExpiredTokenStillReadsInfoCollectionsOnly(t *testing.T) {
	t.Parallel()
	srv, ts := startServer(t, server.Options{})
	alice := login(t, ts.URL, "alice-secret")
	alice.mustStatus(alice.do("PUT", "/storage/col/x", `{"payload":"p"}`), 200)
	p, _, _ := srv.Secret().Parse(alice.id, time.Now(), true)
	p.Expires = float64(time.Now().Add(-time.Minute).Unix())
	p.Salt = ""
	expired := *alice
	expired.id, expired.key, _ = srv.Secret().Mint(p)
	var colls map[string]float64
	expired.mustStatus(expired.do("GET", "/info/collections", ""), 200).json(t, &colls)
	if _, ok := colls["col"]; !ok {
		t.Errorf("info/collections = %v", colls)
	}
	for _, path := range []string{"/info/quota", "/storage/col", "/storage/col/x"} {
		expired.mustStatus(expired.do("GET", path, ""), 401)
	}
	expired.mustStatus(expired.do("PUT", "/storage/col/x", `{"payload":"q"}`), 401)
}

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	_, ts := startServer(t, server.Options{TokenDuration: 300 * time.Second})
	get := func(headers ...string) (int, map[string]any) {
		req, _ := http.NewRequest("GET", ts.URL+"/1.0/sync/1.5", nil)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	t.Run("a configured secret gets the tokenserver's response shape", func(t *testing.T) {
		status, body := get("Authorization", "Bearer alice-secret")
		if status != 200 || body["hashalg"] != "sha256" || body["duration"] != 300.0 || body["id"] == "" || body["key"] == "" {
			t.Fatalf("%d %v", status, body)
		}
		if !strings.HasPrefix(body["api_endpoint"].(string), ts.URL+"/1.5/") {
			t.Errorf("api_endpoint %v", body["api_endpoint"])
		}
	})
	t.Run("unknown or missing credentials are 401", func(t *testing.T) {
		for _, h := range [][]string{{"Authorization", "Bearer nope"}, {}, {"Authorization", "Basic YWxpY2U6eA=="}} {
			if status, body := get(h...); status != 401 || body["status"] == nil {
				t.Errorf("%v: %d %v", h, status, body)
			}
		}
	})
	t.Run("a new key generation gets a fresh storage; an old one is refused", func(t *testing.T) {
		_, first := get("Authorization", "Bearer bob-secret", "X-KeyID", "0000000001234-qqo")
		_, again := get("Authorization", "Bearer bob-secret", "X-KeyID", "1234-qqo")
		if first["uid"] != again["uid"] {
			t.Errorf("same key id, different uid: %v %v", first["uid"], again["uid"])
		}
		_, newer := get("Authorization", "Bearer bob-secret", "X-KeyID", "2000-u7s")
		if newer["uid"] == first["uid"] {
			t.Errorf("new client state kept uid %v", newer["uid"])
		}
		if status, body := get("Authorization", "Bearer bob-secret", "X-KeyID", "3000-qqo"); status != 401 || body["status"] != "invalid-client-state" {
			t.Errorf("reused state: %d %v", status, body)
		}
		// Mozilla's order: a new state without a newer keys_changed_at is a client-state
		// refusal; the same state under an older keys_changed_at a keysChangedAt one.
		if status, body := get("Authorization", "Bearer bob-secret", "X-KeyID", "1000-zzzz"); status != 401 || body["status"] != "invalid-client-state" {
			t.Errorf("new state, older keys: %d %v", status, body)
		}
		if status, body := get("Authorization", "Bearer bob-secret", "X-KeyID", "1000-u7s"); status != 401 || body["status"] != "invalid-keysChangedAt" {
			t.Errorf("older keys: %d %v", status, body)
		}
	})
	t.Run("X-KeyID and X-Client-State are checked as the tokenserver does", func(t *testing.T) {
		for _, kid := range []string{"00000000", "0000000001234-!!!", "notanumber-qqo"} {
			if status, body := get("Authorization", "Bearer alice-secret", "X-KeyID", kid); status != 401 || body["status"] != "invalid-credentials" {
				t.Errorf("X-KeyID %q: %d %v", kid, status, body)
			}
		}
		if status, body := get("Authorization", "Bearer alice-secret", "X-KeyID", "0000000001234-qqo", "X-Client-State", "bbbb"); status != 401 || body["status"] != "invalid-client-state" {
			t.Errorf("mismatch: %d %v", status, body)
		}
		if status, _ := get("Authorization", "Bearer alice-secret", "X-Client-State", "not valid!"); status != 400 {
			t.Errorf("bad X-Client-State: %d", status)
		}
	})
}

// The payload hash, when sent, must be the body's: under the request's content type, or
// under none (as npm firefox-sync computes it).
func TestThePayloadHashIsHeldAgainstTheBody(t *testing.T) {
	t.Parallel()
	_, ts := startServer(t, server.Options{})
	c := login(t, ts.URL, "alice-secret")
	body := `{"payload":"signed"}`
	for _, tc := range []struct {
		name, ct, hashed string
		want             int
	}{{"the body's hash", "application/json", body, 200}, {"hashed without a content type", "", body, 200}, {"another body's hash", "application/json", `{"payload":"other"}`, 401}} {
		u, _ := url.Parse(c.endpoint + "/storage/hashed/a")
		a := hawk.Target("PUT", u)
		a.TS, a.Nonce = time.Now().Unix(), "h"+tc.name
		a.Hash = hawk.PayloadHash(tc.ct, []byte(tc.hashed))
		if r := c.do("PUT", "/storage/hashed/a", body, "Authorization", hawk.Header(c.id, []byte(c.key), &a)); r.status != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, r.status, tc.want)
		}
	}
}

// Guessing secrets at the token endpoint is held back per client address, and an account
// that keeps presenting refused keys per account: 429 with Retry-After, until a minute
// has passed.
func TestTheTokenEndpointHoldsBackRepeatedFailures(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	_, ts := startServer(t, server.Options{Now: clock, TokenFailures: 5})
	get := func(secret string, headers ...string) *http.Response {
		req, _ := http.NewRequest("GET", ts.URL+"/1.0/sync/1.5", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for i := range 5 {
		if r := get(fmt.Sprint("guess-", i)); r.StatusCode != 401 {
			t.Fatalf("guess %d: %d", i, r.StatusCode)
		}
	}
	r := get("alice-secret")
	if r.StatusCode != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("after 5 guesses: %d, Retry-After %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	mu.Lock()
	now = now.Add(61 * time.Second)
	mu.Unlock()
	if r := get("alice-secret"); r.StatusCode != 200 {
		t.Fatalf("a minute later: %d", r.StatusCode)
	}
	get("bob-secret", "X-KeyID", "2000-u7s")
	for range 5 {
		if r := get("bob-secret", "X-KeyID", "1000-u7s"); r.StatusCode != 401 {
			t.Fatalf("older keys: %d", r.StatusCode)
		}
	}
	if r := get("bob-secret", "X-KeyID", "2000-u7s"); r.StatusCode != 429 {
		t.Errorf("an account after 5 refused claims: %d", r.StatusCode)
	}
	if r := get("alice-secret"); r.StatusCode != 200 {
		t.Errorf("another account from the same address: %d", r.StatusCode)
	}
}

// A client reaching the server by an international name signs it in punycode, as Firefox
// does, and the server, which receives it so in the Host header, agrees.
func TestAnInternationalHostNameAuthenticates(t *testing.T) {
	t.Parallel()
	_, ts := startServer(t, server.Options{})
	c := login(t, ts.URL, "alice-secret")
	local, _ := url.Parse(c.endpoint)
	u, _ := url.Parse("http://ëxample.net:" + local.Port() + local.Path + "/info/collections")
	a := hawk.Target("GET", u)
	a.TS, a.Nonce = time.Now().Unix(), "idna"
	req, _ := http.NewRequest("GET", c.endpoint+"/info/collections", nil)
	req.Host = "ëxample.net:" + local.Port()
	req.Header.Set("Authorization", hawk.Header(c.id, []byte(c.key), &a))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || a.Host != "xn--xample-ova.net" {
		t.Errorf("signed for %s: %d", a.Host, resp.StatusCode)
	}
}
