package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/syncctl/syncctl/hawk"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/wbo"
)

// user is one set of credentials.
type user struct {
	tok      storage.Token
	endpoint string
	http     *http.Client
}

func newUser(ctx context.Context, ts storage.TokenSource, hc *http.Client) (*user, error) {
	tok, err := ts.Token(ctx, false)
	if err != nil {
		return nil, err
	}
	return &user{tok: tok, endpoint: strings.TrimSuffix(tok.APIEndpoint, "/"), http: hc}, nil
}

func (u *user) holdsData(ctx context.Context) (bool, error) {
	r, err := u.do(ctx, "GET", "/info/collections", "", nil)
	if err != nil {
		return false, err
	}
	if r.Status != 200 {
		return false, fmt.Errorf("status %d", r.Status)
	}
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		// An answer that says nothing readable may still come from an account with
		// data: the safe side is to spare it the destructive cases (the cases that
		// check info/collections report the malformed answer).
		return true, nil
	}
	return len(m) > 0, nil
}

// Resp is an answer, with the request it answers for messages.
type Resp struct {
	Req    string
	Status int
	Header http.Header
	Body   []byte
	t      *T
	// template is the request without the run's names, for grouping refusals.
	template string
}

// do signs and sends; an Authorization header given in h replaces the signature ("-":
// none at all).
func (u *user) do(ctx context.Context, method, path, body string, h map[string]string) (*Resp, error) {
	full := u.endpoint + path
	if strings.HasPrefix(path, "http") {
		full = path
	}
	req, err := http.NewRequestWithContext(ctx, method, full, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	switch auth := req.Header.Get("Authorization"); auth {
	case "-":
		req.Header.Del("Authorization")
	case "":
		u2, _ := url.Parse(full)
		a := hawk.Target(method, u2)
		a.TS = time.Now().Unix()
		a.Nonce = strconv.FormatUint(rand.Uint64(), 36)
		req.Header.Set("Authorization", hawk.Header(u.tok.ID, []byte(u.tok.Key), &a))
	}
	resp, err := u.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	return &Resp{Req: method + " " + path, Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// Sign returns a valid Authorization header for a request, for cases that alter it.
func (t *T) Sign(method, path string, edit func(*hawk.Artifacts)) string {
	u, _ := url.Parse(t.u.endpoint + path)
	a := hawk.Target(method, u)
	a.TS = time.Now().Unix()
	a.Nonce = strconv.FormatUint(rand.Uint64(), 36)
	key := []byte(t.u.tok.Key)
	if edit != nil {
		edit(&a)
	}
	return hawk.Header(t.u.tok.ID, key, &a)
}

// TokenID is the user's token id (for cases that forge headers).
func (t *T) TokenID() string { return t.u.tok.ID }

// Expect fails the case unless the status is one of want.
func (r *Resp) Expect(want ...int) *Resp {
	if !slices.Contains(want, r.Status) {
		if r.t.given > 0 && r.t.cause == "" {
			r.t.cause = fmt.Sprintf("the server refused a valid request: %s → %d", r.template, r.Status)
		}
		r.t.symptom = fmt.Sprintf("answers %d where %s is expected", r.Status, statusList(want))
		r.t.Fatalf("%s: expected status %v, got %d with body %s", r.Req, want, r.Status, quoteBody(r.Body))
	}
	return r
}

func statusList(want []int) string {
	s := make([]string, len(want))
	for i, w := range want {
		s[i] = strconv.Itoa(w)
	}
	return strings.Join(s, " or ")
}

// JSON decodes the body or fails.
func (r *Resp) JSON(v any) *Resp {
	if err := json.Unmarshal(r.Body, v); err != nil {
		r.t.Fatalf("%s: expected a JSON body, got %s (%v)", r.Req, quoteBody(r.Body), err)
	}
	return r
}

// IDs decodes a JSON list of ids.
func (r *Resp) IDs() []string {
	var ids []string
	r.JSON(&ids)
	return ids
}

// Records decodes a JSON list of full records.
func (r *Resp) Records() []Record {
	var recs []Record
	r.JSON(&recs)
	return recs
}

// TS reads a timestamp header, failing if it is absent or not two-decimal seconds.
func (r *Resp) TS(name string) wbo.Timestamp {
	v := r.Header.Get(name)
	ts, err := wbo.ParseTimestamp(v)
	if err != nil || !twoDecimals.MatchString(v) {
		r.t.Fatalf("%s: expected %s as seconds with two decimals, got %q", r.Req, name, v)
	}
	return ts
}

// BodyIs fails unless the body, trimmed, is want.
func (r *Resp) BodyIs(want string) *Resp {
	if got := strings.TrimSpace(string(r.Body)); got != want {
		r.t.Fatalf("%s: expected body %q, got %s", r.Req, want, quoteBody(r.Body))
	}
	return r
}

// Record is a BSO as a server returns it with full=1.
type Record struct {
	ID        string   `json:"id"`
	Modified  float64  `json:"modified"`
	Payload   string   `json:"payload"`
	SortIndex *int64   `json:"sortindex"`
	TTL       *int64   `json:"ttl"`
	Extra     []string `json:"-"`
}
