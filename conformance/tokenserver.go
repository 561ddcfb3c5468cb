package conformance

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/syncctl/syncctl/storage"
)

// TokenOptions configure a run of the tokenserver suite: the token endpoint's rules as
// Mozilla's tokenserver enforces them, against a tokenserver that verifies OAuth tokens
// with FxA (which must be told to verify them at where FxA is served).
type TokenOptions struct {
	// URL is the tokenserver's base: requests go to <URL>/1.0/sync/1.5.
	URL        string
	FxA        *FxA
	HTTPClient *http.Client
	Filter     *regexp.Regexp
	// Retire, if set, retires an FxA user (by hex uid) the way the operator's tooling does
	// for a deleted account (Mozilla's process_account_events); without it that case skips.
	Retire func(ctx context.Context, fxaUID string) error
	Expect *Profile
}

// tokenRun is what the tokenserver cases work with.
type tokenRun struct {
	url    string
	fxa    *FxA
	http   *http.Client
	retire func(ctx context.Context, fxaUID string) error
}

// RunTokenServer runs the tokenserver suite.
func RunTokenServer(ctx context.Context, opts TokenOptions) (*Report, error) {
	if opts.FxA == nil || opts.URL == "" {
		return nil, errors.New("conformance: the tokenserver suite needs the tokenserver's URL and the FxA verifier it asks")
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}
	base := strings.TrimSuffix(strings.TrimSuffix(opts.URL, "/"), "/1.0/sync/1.5")
	tr := &tokenRun{url: base, fxa: opts.FxA, http: opts.HTTPClient, retire: opts.Retire}
	rep := &Report{Server: base, Started: time.Now()}
	if opts.Expect != nil {
		rep.Profile = opts.Expect.Name
	}
	for _, c := range TokenCases() {
		if opts.Filter != nil && !opts.Filter.MatchString(c.ID) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		res := runCase(c, &T{ctx: ctx, id: c.ID, tok: tr})
		if note, ok := opts.Expect.knows(c.ID); ok && (res.Status == StatusFail || res.Status == StatusError) {
			res.Status, res.Known = StatusKnown, note
		}
		rep.add(res)
	}
	rep.group()
	return rep, nil
}

// TokenCases are the tokenserver suite's cases, sorted by id.
func TokenCases() []Case {
	out := slices.Clone(tokenCases)
	slices.SortFunc(out, func(a, b Case) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// fxaUser is a fresh FxA account for one case: nothing the tokenserver saw before.
func (t *T) fxaUser() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// oauth is a token the FxA double verifies to user, with the oldsync scope.
func (t *T) oauth(user string, generation int64) string {
	return t.tok.fxa.Issue(user, generation, oldsyncScope)
}

const oldsyncScope = "https://identity.mozilla.com/apps/oldsync"

// keyID is X-KeyID for keys_changed_at and a client state given as text (its bytes are
// the state): "0000001234-<b64url(state)>".
func keyID(kca int64, state string) string {
	return fmt.Sprintf("%013d-%s", kca, base64.RawURLEncoding.EncodeToString([]byte(state)))
}

// TokenGet asks the tokenserver for a token; headers come as name, value pairs, and an
// Authorization of "-" sends none.
func (t *T) TokenGet(query string, headers ...string) *Resp {
	u := t.tok.url + "/1.0/sync/1.5"
	if query != "" {
		u += "?" + query
	}
	return t.tokenRequest(u, headers...)
}

func (t *T) tokenRequest(u string, headers ...string) *Resp {
	req, err := http.NewRequestWithContext(t.ctx, "GET", u, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	req.Header.Set("Accept", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Authorization" && headers[i+1] == "-" {
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := t.tok.http.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	p, _ := url.Parse(u)
	return &Resp{Req: "GET " + p.RequestURI(), Status: resp.StatusCode, Header: resp.Header, Body: b, t: t, template: "GET " + p.Path}
}

// tokenAnswer is a 200 of the tokenserver.
type tokenAnswer struct {
	ID           string `json:"id"`
	Key          string `json:"key"`
	UID          int64  `json:"uid"`
	APIEndpoint  string `json:"api_endpoint"`
	Duration     int64  `json:"duration"`
	HashedFxAUID string `json:"hashed_fxa_uid"`
}

// grant gets a token for user under kid and generation, as the case's arrangement.
func (t *T) grant(user, kid string, generation int64) tokenAnswer {
	defer t.Given()()
	return t.tokenOK(t.TokenGet("", "Authorization", "Bearer "+t.oauth(user, generation), "X-KeyID", kid))
}

func (t *T) tokenOK(r *Resp) tokenAnswer {
	var a tokenAnswer
	r.Expect(200).JSON(&a)
	t.Check(a.ID != "" && a.Key != "" && a.UID > 0 && a.APIEndpoint != "", "%s: a token answer lacks id, key, uid or api_endpoint: %s", r.Req, quoteBody(r.Body))
	return a
}

// refused checks a tokenserver refusal: the status, and the JSON error body Mozilla's
// sends, {"status": code, "errors": [{"location", "name", "description"}]}, with one of codes.
func (r *Resp) refused(status int, codes ...string) {
	t := r.t
	t.Check(r.Status == status, "%s: expected %d %v, got %d with body %s", r.Req, status, codes, r.Status, quoteBody(r.Body))
	var body struct {
		Status string `json:"status"`
		Errors []struct {
			Location    *string `json:"location"`
			Name        *string `json:"name"`
			Description *string `json:"description"`
		} `json:"errors"`
	}
	err := json.Unmarshal(r.Body, &body)
	t.Check(err == nil && len(body.Errors) == 1 && body.Errors[0].Location != nil && body.Errors[0].Name != nil && body.Errors[0].Description != nil,
		"%s: expected the error body {\"status\":…, \"errors\":[{\"location\",\"name\",\"description\"}]}, got %s", r.Req, quoteBody(r.Body))
	t.Check(len(codes) == 0 || slices.Contains(codes, body.Status), "%s: expected status %v in the error body, got %q", r.Req, codes, body.Status)
}

// tokenPayload reads the token's payload (tokenlib: urlsafe base64 of the JSON and a
// 32-byte signature; the payload is readable without the secret).
func tokenPayload(t *T, id string) map[string]any {
	raw, err := base64.URLEncoding.DecodeString(id)
	if err != nil {
		raw, err = base64.RawURLEncoding.DecodeString(id)
	}
	t.Check(err == nil && len(raw) > 32, "the token id is not urlsafe base64 of a payload and a signature: %q", id)
	var p map[string]any
	t.Check(json.Unmarshal(raw[:len(raw)-32], &p) == nil, "the token id's payload is not JSON: %q", raw[:len(raw)-32])
	return p
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

var tokenCases = []Case{
	{ID: "token.no-authorization-is-401", Clause: "tokenserver API: Authorization", Level: Must, Run: func(t *T) {
		t.TokenGet("", "Authorization", "-").refused(401)
	}},
	{ID: "token.other-schemes-are-401", Clause: "tokenserver API: Authorization", Level: Must, Run: func(t *T) {
		for _, h := range []string{"BrowserID " + t.oauth(t.fxaUser(), 0), "Basic YWxpY2U6c2VjcmV0", "Bearer"} {
			t.TokenGet("", "Authorization", h, "X-KeyID", keyID(1234, "state")).refused(401)
		}
	}},
	{ID: "token.an-unverifiable-oauth-token-is-401", Clause: "tokenserver API: OAuth verification", Level: Must, Run: func(t *T) {
		t.TokenGet("", "Authorization", "Bearer not-a-token-fxa-issued", "X-KeyID", keyID(1234, "state")).refused(401, "invalid-credentials")
	}},
	{ID: "token.the-oauth-token-is-verified-with-fxa", Clause: "tokenserver API: OAuth verification", Level: Must, Run: func(t *T) {
		before := t.tok.fxa.Calls()
		t.grant(t.fxaUser(), keyID(1234, "state"), 0)
		t.Check(t.tok.fxa.Calls() > before, "the tokenserver granted a token without asking FxA to verify it")
	}},
	{ID: "token.the-oldsync-scope-is-required", Clause: "tokenserver API: OAuth scope", Level: Must, Run: func(t *T) {
		tok := t.tok.fxa.Issue(t.fxaUser(), 0, "profile", "https://identity.mozilla.com/apps/send")
		t.TokenGet("", "Authorization", "Bearer "+tok, "X-KeyID", keyID(1234, "state")).refused(401, "invalid-credentials")
	}},
	{ID: "token.x-keyid-is-required", Clause: "tokenserver API: X-KeyID", Level: Must, Run: func(t *T) {
		t.TokenGet("", "Authorization", "Bearer "+t.oauth(t.fxaUser(), 0)).refused(401, "invalid-key-id", "invalid-credentials")
	}},
	{ID: "token.a-malformed-x-keyid-is-401", Clause: "tokenserver API: X-KeyID", Level: Must, Run: func(t *T) {
		for _, kid := range []string{"0000000001234", "notanumber-qqo", "0000000001234-!!!"} {
			t.TokenGet("", "Authorization", "Bearer "+t.oauth(t.fxaUser(), 0), "X-KeyID", kid).refused(401, "invalid-credentials")
		}
	}},
	{ID: "token.x-client-state-must-match-x-keyid", Clause: "tokenserver API: X-Client-State", Level: Must, Run: func(t *T) {
		user := t.fxaUser()
		t.TokenGet("", "Authorization", "Bearer "+t.oauth(user, 0), "X-KeyID", keyID(1234, "state"), "X-Client-State", hex.EncodeToString([]byte("other"))).refused(401, "invalid-client-state")
		t.TokenGet("", "Authorization", "Bearer "+t.oauth(user, 0), "X-KeyID", keyID(1234, "state"), "X-Client-State", "not valid!").refused(400)
		t.tokenOK(t.TokenGet("", "Authorization", "Bearer "+t.oauth(user, 0), "X-KeyID", keyID(1234, "state"), "X-Client-State", hex.EncodeToString([]byte("state"))))
	}},
	{ID: "token.answer-and-token-fields", Clause: "tokenserver API: response; token payload; case 10", Level: Must, Run: func(t *T) {
		user := t.fxaUser()
		kid := keyID(1234, "state")
		before := time.Now()
		a := t.grant(user, kid, 0)
		t.Check(strings.HasSuffix(a.APIEndpoint, fmt.Sprintf("/1.5/%d", a.UID)), "api_endpoint %q does not end in /1.5/%d", a.APIEndpoint, a.UID)
		t.Check(a.Duration > 0 && hex32.MatchString(a.HashedFxAUID), "duration %d, hashed_fxa_uid %q (expected 32 hex digits)", a.Duration, a.HashedFxAUID)
		p := tokenPayload(t, a.ID)
		uid, _ := p["uid"].(float64)
		exp, _ := p["expires"].(float64)
		t.Check(int64(uid) == a.UID, "the token's uid %v is not the answer's %d", p["uid"], a.UID)
		t.Check(p["node"] == strings.TrimSuffix(a.APIEndpoint, fmt.Sprintf("/1.5/%d", a.UID)), "the token's node %v does not match api_endpoint %q", p["node"], a.APIEndpoint)
		want := float64(before.Unix() + a.Duration)
		t.Check(math.Abs(exp-want) < 120, "the token expires at %v, expected about %v (now + duration)", exp, want)
		t.Check(p["fxa_uid"] == user, "fxa_uid %v, expected the FxA user %s", p["fxa_uid"], user)
		t.Check(p["fxa_kid"] == kid, "fxa_kid %v, expected %s (keys_changed_at, 13 digits, and the client state)", p["fxa_kid"], kid)
		t.Check(p["hashed_fxa_uid"] == a.HashedFxAUID, "the token's hashed_fxa_uid %v is not the answer's %s", p["hashed_fxa_uid"], a.HashedFxAUID)
		dev, _ := p["hashed_device_id"].(string)
		t.Check(hex32.MatchString(dev), "hashed_device_id %q, expected 32 hex digits", dev)
		salt, _ := p["salt"].(string)
		t.Check(salt != "", "the token has no salt")
	}},
	{ID: "token.the-same-user-keeps-its-uid", Clause: "tokenserver API: node assignment", Level: Must, Run: func(t *T) {
		user := t.fxaUser()
		a := t.grant(user, keyID(1234, "state"), 0)
		b := t.tokenOK(t.TokenGet("", "Authorization", "Bearer "+t.oauth(user, 0), "X-KeyID", keyID(1234, "state")))
		t.Check(a.UID == b.UID && a.APIEndpoint == b.APIEndpoint, "the same credentials twice: uid %d at %s, then %d at %s", a.UID, a.APIEndpoint, b.UID, b.APIEndpoint)
		other := t.grant(t.fxaUser(), keyID(1234, "state"), 0)
		t.Check(other.UID != a.UID, "two FxA users got the same uid %d", a.UID)
	}},
	{ID: "token.the-token-works-at-the-node", Clause: "tokenserver API: api_endpoint", Level: Must, Run: func(t *T) {
		a := t.grant(t.fxaUser(), keyID(1234, "state"), 0)
		u := &user{tok: storage.Token{ID: a.ID, Key: a.Key, UID: a.UID, APIEndpoint: a.APIEndpoint}, endpoint: strings.TrimSuffix(a.APIEndpoint, "/"), http: t.tok.http}
		r := t.as(u, "GET", "/info/collections", "")
		t.Check(r.Status == 200, "GET info/collections with the new token: %d %s", r.Status, quoteBody(r.Body))
	}},
	{ID: "token.duration-parameter", Clause: "tokenserver API: ?duration=", Level: Must, Run: func(t *T) {
		user := t.fxaUser()
		get := func(q string) tokenAnswer {
			return t.tokenOK(t.TokenGet(q, "Authorization", "Bearer "+t.oauth(user, 0), "X-KeyID", keyID(1234, "state")))
		}
		def := get("").Duration
		short := get("duration=60")
		t.Check(short.Duration == min(60, def), "?duration=60: duration %d", short.Duration)
		exp, _ := tokenPayload(t, short.ID)["expires"].(float64)
		t.Check(math.Abs(exp-float64(time.Now().Unix()+short.Duration)) < 120, "?duration=60: the token expires at %v", exp)
		for _, q := range []string{"duration=99999999", "duration=abc", "duration=-5"} {
			t.Check(get(q).Duration == def, "?%s: duration %d, expected the default %d (a bad or long duration is ignored)", q, get(q).Duration, def)
		}
	}},
	{ID: "token.a-lower-generation-is-refused", Clause: "tokenserver: generation", Level: Must, Run: func(t *T) {
		user := t.fxaUser()
		t.grant(user, keyID(1000, "state"), 2000)
		t.TokenGet("", "Authorization", "Bearer "+t.oauth(user, 1500), "X-KeyID", keyID(1000, "state")).refused(401, "invalid-generation")
		t.grant(user, keyID(1000, "state"), 2000)
	}},
	{ID: "token.keys-changed-at-cannot-go-back", Clause: "tokenserver: keys_changed_at", Level: Must, Run: func(t *T) {
		user := t.fxaUser()
		t.grant(user, keyID(2000, "state"), 3000)
		t.TokenGet("", "Authorization", "Bearer "+t.oauth(user, 3000), "X-KeyID", keyID(1000, "state")).refused(401, "invalid-keysChangedAt")
	}},
	{ID: "token.keys-changed-at-cannot-pass-the-generation", Clause: "tokenserver: keys_changed_at <= generation", Level: Must, Run: func(t *T) {
		user := t.fxaUser()
		t.grant(user, keyID(1000, "one"), 1000)
		t.TokenGet("", "Authorization", "Bearer "+t.oauth(user, 2000), "X-KeyID", keyID(3000, "two")).refused(401, "invalid-keysChangedAt")
	}},
	{ID: "token.a-new-client-state-needs-a-newer-keys-changed-at", Clause: "tokenserver: client state", Level: Must, Run: func(t *T) {
		user := t.fxaUser()
		t.grant(user, keyID(1000, "one"), 1000)
		t.TokenGet("", "Authorization", "Bearer "+t.oauth(user, 2000), "X-KeyID", keyID(1000, "two")).refused(401, "invalid-client-state")
	}},
	{ID: "token.a-new-client-state-needs-a-newer-generation", Clause: "tokenserver: client state", Level: Must, Run: func(t *T) {
		user := t.fxaUser()
		t.grant(user, keyID(1000, "one"), 2000)
		t.TokenGet("", "Authorization", "Bearer "+t.oauth(user, 2000), "X-KeyID", keyID(1500, "two")).refused(401, "invalid-client-state")
	}},
	{ID: "token.a-new-client-state-gets-fresh-storage", Clause: "tokenserver: client state; node assignment", Level: Must, Run: func(t *T) {
		acct := t.fxaUser()
		old := t.grant(acct, keyID(1000, "one"), 1000)
		u := &user{tok: storage.Token{ID: old.ID, Key: old.Key}, endpoint: strings.TrimSuffix(old.APIEndpoint, "/"), http: t.tok.http}
		func() {
			defer t.Given()()
			t.as(u, "PUT", "/storage/cfstate/a", `{"payload":"old keys"}`).Expect(200)
		}()
		fresh := t.grant(acct, keyID(2000, "two"), 2000)
		t.Check(fresh.UID != old.UID, "a new client state kept uid %d: the data under the old keys would be read with the new", old.UID)
		nu := &user{tok: storage.Token{ID: fresh.ID, Key: fresh.Key}, endpoint: strings.TrimSuffix(fresh.APIEndpoint, "/"), http: t.tok.http}
		t.as(nu, "GET", "/info/collections", "").Expect(200).BodyIs("{}")
		t.as(nu, "DELETE", "/storage", "")
	}},
	{ID: "token.an-old-client-state-is-refused", Clause: "tokenserver: client state", Level: Must, Run: func(t *T) {
		user := t.fxaUser()
		t.grant(user, keyID(1000, "one"), 1000)
		t.grant(user, keyID(2000, "two"), 2000)
		t.TokenGet("", "Authorization", "Bearer "+t.oauth(user, 3000), "X-KeyID", keyID(3000, "one")).refused(401, "invalid-client-state")
	}},
	{ID: "token.a-retired-user-is-refused", Clause: "tokenserver: retired users", Level: Must, Run: func(t *T) {
		if t.tok.retire == nil {
			t.Skipf("needs the operator's tooling to retire a user (Mozilla's process_account_events)")
		}
		user := t.fxaUser()
		t.grant(user, keyID(1000, "state"), 1000)
		func() {
			defer t.Given()()
			if err := t.tok.retire(t.ctx, user); err != nil {
				t.Fatalf("retiring %s: %v", user, err)
			}
		}()
		t.TokenGet("", "Authorization", "Bearer "+t.oauth(user, 5000), "X-KeyID", keyID(1000, "state")).refused(401, "invalid-generation")
	}},
	{ID: "token.unknown-applications-are-404", Clause: "tokenserver API: /1.0/<app>/<version>", Level: Should, Run: func(t *T) {
		for _, path := range []string{"/1.0/sync/1.1", "/1.0/nosuchapp/1.5"} {
			t.tokenRequest(t.tok.url+path, "Authorization", "Bearer "+t.oauth(t.fxaUser(), 0), "X-KeyID", keyID(1234, "state")).refused(404, "error")
		}
	}},
}
