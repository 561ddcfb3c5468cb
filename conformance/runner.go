// Package conformance checks a SyncStorage 1.5 server against the protocol, case by case:
// each case has an id, the clause it checks (see ../shared/conformance-cases.md and
// protocol.md), a level (MUST or SHOULD) and a precise message when it fails: what was
// sent, what was expected, what came back. It talks raw, Hawk-signed HTTP so that it can
// send what a well-behaved client never would.
package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/syncctl/syncctl/storage"
)

// Level says how binding a case is.
type Level string

// Levels.
const (
	Must   Level = "MUST"
	Should Level = "SHOULD"
)

// Case is one checked behaviour.
type Case struct {
	ID     string
	Clause string
	Level  Level
	// Destructive cases act on the whole account (DELETE /storage, empty-account views):
	// they run only on an empty account or with AllowDestructive.
	Destructive bool
	// SecondUser cases need credentials for a second user.
	SecondUser bool
	Run        func(t *T)
}

// Options configure a run.
type Options struct {
	Tokens       storage.TokenSource // the user the cases run as
	SecondTokens storage.TokenSource // another user, for the batch-scoping cases (optional)
	HTTPClient   *http.Client
	// Filter keeps the cases whose id matches (nil: all).
	Filter *regexp.Regexp
	// MinLevel Must runs only MUST cases; Should (or "") runs all.
	MinLevel Level
	// AllowDestructive runs the account-wide cases on an account that holds data.
	AllowDestructive bool
}

// Result is one case's outcome.
type Result struct {
	ID       string        `json:"id"`
	Clause   string        `json:"clause"`
	Level    Level         `json:"level"`
	Status   string        `json:"status"` // pass, fail, skip
	Message  string        `json:"message,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// Report is a whole run.
type Report struct {
	Server  string    `json:"server"`
	Started time.Time `json:"started"`
	Results []Result  `json:"results"`
	Passed  int       `json:"passed"`
	Failed  int       `json:"failed"`
	Skipped int       `json:"skipped"`
}

// Cases returns every case, sorted by id.
func Cases() []Case {
	var all []Case
	for _, group := range [][]Case{infoCases, getCases, itemCases, postCases, batchCases, deleteCases, headerCases, authCases, miscCases} {
		all = append(all, group...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	return all
}

// Select applies the filter and level of opts.
func Select(opts Options) []Case {
	var out []Case
	for _, c := range Cases() {
		if opts.Filter != nil && !opts.Filter.MatchString(c.ID) {
			continue
		}
		if opts.MinLevel == Must && c.Level != Must {
			continue
		}
		out = append(out, c)
	}
	return out
}

// Run runs the selected cases one after another and reports on each.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}
	main, err := newUser(ctx, opts.Tokens, opts.HTTPClient)
	if err != nil {
		return nil, fmt.Errorf("conformance: credentials: %w", err)
	}
	var second *user
	if opts.SecondTokens != nil {
		if second, err = newUser(ctx, opts.SecondTokens, opts.HTTPClient); err != nil {
			return nil, fmt.Errorf("conformance: second user: %w", err)
		}
	}
	rep := &Report{Server: main.endpoint, Started: time.Now()}
	holdsData, err := main.holdsData(ctx)
	if err != nil {
		return nil, fmt.Errorf("conformance: reading info/collections: %w", err)
	}
	var pre [6]byte
	rand.Read(pre[:])
	prefix := "cf" + hex.EncodeToString(pre[:3])
	for _, c := range Select(opts) {
		res := Result{ID: c.ID, Clause: c.Clause, Level: c.Level, Status: "pass"}
		switch {
		case c.Destructive && holdsData && !opts.AllowDestructive:
			res.Status, res.Message = "skip", "the account holds data: pass --allow-destructive to run account-wide cases"
		case c.SecondUser && second == nil:
			res.Status, res.Message = "skip", "needs a second user's credentials"
		default:
			start := time.Now()
			t := &T{ctx: ctx, u: main, second: second, prefix: prefix, id: c.ID}
			t.run(c.Run)
			t.cleanup()
			res.Duration = time.Since(start)
			if t.failure != "" {
				res.Status, res.Message = "fail", t.failure
			}
		}
		switch res.Status {
		case "pass":
			rep.Passed++
		case "fail":
			rep.Failed++
		default:
			rep.Skipped++
		}
		rep.Results = append(rep.Results, res)
	}
	return rep, nil
}

// T is one running case.
type T struct {
	ctx     context.Context
	u       *user
	second  *user
	prefix  string
	id      string
	colls   []string
	failure string
}

// errStop unwinds a failed case; run recovers it, so nothing crosses the package line.
var errStop = errors.New("case failed")

func (t *T) run(fn func(*T)) {
	defer func() {
		if r := recover(); r != nil {
			if r != errStop { //nolint:errorlint // our own sentinel, by identity
				t.failure = fmt.Sprintf("the case itself failed: %v", r)
			}
		}
	}()
	fn(t)
}

// Fatalf fails the case with a message and stops it.
func (t *T) Fatalf(format string, args ...any) {
	t.failure = fmt.Sprintf(format, args...)
	panic(errStop)
}

// Check fails the case unless ok.
func (t *T) Check(ok bool, format string, args ...any) {
	if !ok {
		t.Fatalf(format, args...)
	}
}

// Coll names a collection for this case: unique to the run, removed afterwards.
func (t *T) Coll(name string) string {
	c := t.prefix + "-" + name
	if len(c) > 32 {
		c = c[:32]
	}
	t.colls = append(t.colls, c)
	return c
}

func (t *T) cleanup() {
	for _, c := range t.colls {
		for _, u := range []*user{t.u, t.second} {
			if u != nil {
				u.do(t.ctx, "DELETE", "/storage/"+c, "", nil)
			}
		}
	}
}

// Do sends a signed request as the case's user; path is relative to the api_endpoint.
// Headers come as name, value pairs.
func (t *T) Do(method, path, body string, headers ...string) *Resp {
	return t.as(t.u, method, path, body, headers...)
}

// AsSecond sends a request as the second user.
func (t *T) AsSecond(method, path, body string, headers ...string) *Resp {
	return t.as(t.second, method, path, body, headers...)
}

func (t *T) as(u *user, method, path, body string, headers ...string) *Resp {
	h := map[string]string{}
	for i := 0; i+1 < len(headers); i += 2 {
		h[headers[i]] = headers[i+1]
	}
	r, err := u.do(t.ctx, method, path, body, h)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	r.t = t
	return r
}

// Sleep waits, for cases about time.
func (t *T) Sleep(d time.Duration) {
	select {
	case <-t.ctx.Done():
		t.Fatalf("cancelled")
	case <-time.After(d):
	}
}

// Endpoint is the user's api_endpoint.
func (t *T) Endpoint() string { return t.u.endpoint }

func quoteBody(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return fmt.Sprintf("%q", s)
}
