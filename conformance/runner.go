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
	"strconv"
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
	ID string `json:"id"`
	// Clause names the protocol section and the numbers of ../shared/conformance-cases.md
	// the case checks ("1.4 newer; case 29", "cases 81, 82"): Refs reads them from it.
	Clause string `json:"clause"`
	Level  Level  `json:"level"`
	// Slow cases wait on the clock (TTLs, token expiry): a few seconds each.
	Slow bool `json:"slow,omitempty"`
	// Destructive cases act on the whole account (DELETE /storage, empty-account views):
	// they run only on an empty account or with AllowDestructive.
	Destructive bool `json:"destructive,omitempty"`
	// SecondUser cases need credentials for a second user.
	SecondUser bool       `json:"second_user,omitempty"`
	Run        func(t *T) `json:"-"`
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
	// Expect is the profile of a known server: a failure it lists is reported as known.
	Expect *Profile
	// SkipSlow leaves out the cases that wait on the clock.
	SkipSlow bool
}

// Statuses of a result. An error is a case whose preconditions the server would not let
// it arrange (a valid write refused, say): it says nothing of the behaviour the case
// names, and its cause is the request that was refused.
const (
	StatusPass  = "pass"
	StatusFail  = "fail"
	StatusError = "error"
	StatusKnown = "known"
	StatusSkip  = "skip"
)

// Result is one case's outcome.
type Result struct {
	ID      string `json:"id"`
	Clause  string `json:"clause"`
	Level   Level  `json:"level"`
	Status  string `json:"status"` // pass, fail, error, known, skip
	Message string `json:"message,omitempty"`
	Cause   string `json:"cause,omitempty"` // for fail, error and known
	// Symptom is a failed status check, "answers 403 where 401 is expected": cases that
	// share one are reported under it, as one defect.
	Symptom  string        `json:"symptom,omitempty"`
	Known    string        `json:"known,omitempty"` // the profile's note on a known deviation
	Duration time.Duration `json:"duration_ns"`
}

// Report is a whole run.
type Report struct {
	Server  string    `json:"server"`
	Started time.Time `json:"started"`
	Profile string    `json:"profile,omitempty"`
	Results []Result  `json:"results"`
	Passed  int       `json:"passed"`
	Failed  int       `json:"failed"`
	Errors  int       `json:"errors"`
	Known   int       `json:"known"`
	Skipped int       `json:"skipped"`
	// Causes group the failures and errors: one entry per defect, with every case it failed.
	Causes []CauseGroup `json:"causes,omitempty"`
}

// CauseGroup is one defect and the cases it failed.
type CauseGroup struct {
	Cause string   `json:"cause"`
	Level Level    `json:"level"` // MUST if any of its cases is
	Cases []string `json:"cases"`
	// Example is the first case's message: what was sent and what came back.
	Example string `json:"example"`
}

// Bad reports whether the run found a departure that is not known.
func (r *Report) Bad() bool { return r.Failed+r.Errors > 0 }

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
		if opts.SkipSlow && c.Slow {
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
	if opts.Expect != nil {
		rep.Profile = opts.Expect.Name
	}
	holdsData, err := main.holdsData(ctx)
	if err != nil {
		return nil, fmt.Errorf("conformance: reading info/collections: %w", err)
	}
	var pre [6]byte
	rand.Read(pre[:])
	prefix := "cf" + hex.EncodeToString(pre[:3])
	for _, c := range Select(opts) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		res := Result{ID: c.ID, Clause: c.Clause, Level: c.Level, Status: StatusPass}
		switch {
		case c.Destructive && holdsData && !opts.AllowDestructive:
			res.Status, res.Message = StatusSkip, "the account holds data: pass --allow-destructive to run account-wide cases"
		case c.SecondUser && second == nil:
			res.Status, res.Message = StatusSkip, "needs a second user's credentials"
		default:
			res = runCase(c, &T{ctx: ctx, u: main, second: second, prefix: prefix, id: c.ID, tokens: opts.Tokens})
		}
		if note, ok := opts.Expect.knows(c.ID); ok && (res.Status == StatusFail || res.Status == StatusError) {
			res.Status, res.Known = StatusKnown, note
		}
		rep.add(res)
	}
	rep.group()
	return rep, nil
}

// runCase runs one case on t and says how it went.
func runCase(c Case, t *T) Result {
	res := Result{ID: c.ID, Clause: c.Clause, Level: c.Level, Status: StatusPass}
	start := time.Now()
	t.run(c.Run)
	t.cleanup()
	res.Duration = time.Since(start)
	switch {
	case t.skipped != "":
		res.Status, res.Message = StatusSkip, t.skipped
	case t.failure != "" && t.arranging:
		res.Status, res.Message, res.Cause = StatusError, t.failure, t.cause
	case t.failure != "":
		res.Status, res.Message, res.Cause, res.Symptom = StatusFail, t.failure, c.ID, t.symptom
	}
	return res
}

func (r *Report) add(res Result) {
	switch res.Status {
	case StatusPass:
		r.Passed++
	case StatusFail:
		r.Failed++
	case StatusError:
		r.Errors++
	case StatusKnown:
		r.Known++
	default:
		r.Skipped++
	}
	r.Results = append(r.Results, res)
}

// group builds Causes from the failed and errored results, in the order first seen: the
// cases a refused arrangement stopped share that refusal as their cause; failed status
// checks that two or more cases share are one defect, named by the symptom; any other
// failure is its case's own cause.
func (r *Report) group() {
	r.Causes = nil
	shared := map[string]int{}
	for _, res := range r.Results {
		if res.Status == StatusFail && res.Symptom != "" {
			shared[res.Symptom]++
		}
	}
	at := map[string]int{}
	for _, res := range r.Results {
		if res.Status != StatusFail && res.Status != StatusError {
			continue
		}
		key := res.Cause
		if res.Status == StatusFail && shared[res.Symptom] > 1 {
			key = res.Symptom
		}
		i, ok := at[key]
		if !ok {
			i = len(r.Causes)
			at[key] = i
			r.Causes = append(r.Causes, CauseGroup{Cause: key, Level: res.Level, Example: res.Message})
		}
		g := &r.Causes[i]
		g.Cases = append(g.Cases, res.ID)
		if res.Level == Must {
			g.Level = Must
		}
	}
}

// T is one running case.
type T struct {
	ctx     context.Context
	u       *user
	second  *user
	tokens  storage.TokenSource
	tok     *tokenRun // the tokenserver suite's
	prefix  string
	id      string
	colls   []string
	failure string
	skipped string
	// given counts the arranging helpers running (put, fill, …): a failure inside one is
	// an error of arrangement, with cause, not a failure of the behaviour.
	given     int
	arranging bool
	cause     string
	symptom   string
}

// errStop unwinds a failed case; run recovers it, so nothing crosses the package line.
var errStop = errors.New("case failed")

func (t *T) run(fn func(*T)) {
	defer func() {
		if r := recover(); r != nil {
			if r != errStop { //nolint:errorlint // our own sentinel, by identity
				t.failure = fmt.Sprintf("the case itself failed: %v", r)
				t.cause = "the runner: " + t.id
				t.arranging = true
			}
		}
	}()
	fn(t)
}

// Fatalf fails the case with a message and stops it.
func (t *T) Fatalf(format string, args ...any) {
	t.failure = fmt.Sprintf(format, args...)
	if t.given > 0 {
		t.arranging = true
		if t.cause == "" {
			t.cause = "arranging: " + format
		}
	}
	panic(errStop)
}

// Skipf ends the case without a verdict: the server or the credentials cannot show the
// behaviour (no quota configured, no way to get a short-lived token).
func (t *T) Skipf(format string, args ...any) {
	t.skipped = fmt.Sprintf(format, args...)
	panic(errStop)
}

// ShortLived is a token source that can hand out a token lasting d: a tokenserver
// (?duration=) or a minter that holds the node's secret. The expired-token case needs one.
type ShortLived interface {
	ShortLived(ctx context.Context, d time.Duration) (storage.Token, error)
}

// shortLivedToken is a token lasting three seconds (long enough for one request on a
// loaded machine, short enough to wait out), or a skip when the credentials cannot make one.
func (t *T) shortLivedToken() storage.Token {
	sl, ok := t.tokens.(ShortLived)
	if !ok {
		t.Skipf("the credentials cannot make a short-lived token (use a tokenserver or --master-secret)")
	}
	defer t.Given()()
	tok, err := sl.ShortLived(t.ctx, 3*time.Second)
	if err != nil {
		t.Fatalf("a token lasting 3 s: %v", err)
	}
	if left := time.Until(tok.Expires); left > 10*time.Second {
		t.Skipf("the token server ignored ?duration=3: the token lasts %s", left.Round(time.Second))
	}
	return tok
}

// Given marks what follows, until the returned func runs, as arranging the case's
// preconditions: helpers call it as defer t.Given()().
func (t *T) Given() func() {
	t.given++
	return func() { t.given-- }
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
	if t.u == nil {
		return
	}
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
	// Both real servers answer a write that collided with another 409 or 503 and
	// Retry-After; every reference suite retries such a write once, and so do we.
	if err == nil && method != http.MethodGet && (r.Status == http.StatusConflict || r.Status == http.StatusServiceUnavailable) && h["Authorization"] == "" {
		wait := time.Second
		if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err == nil && s >= 0 {
			wait = min(time.Duration(s)*time.Second, 10*time.Second)
		}
		t.Sleep(wait)
		r, err = u.do(t.ctx, method, path, body, h)
	}
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	r.t = t
	r.template = t.template(method, path)
	return r
}

// template is a request with the run's own names taken out, so that one refusal met by
// many cases reads the same in each: "POST /storage/{coll}?batch=".
func (t *T) template(method, path string) string {
	p, q, _ := strings.Cut(path, "?")
	parts := strings.Split(p, "/")
	for i, s := range parts {
		switch {
		case strings.HasPrefix(s, t.prefix) && t.prefix != "":
			parts[i] = "{coll}"
		case i == 3 && len(parts) == 4 && parts[1] == "storage":
			parts[i] = "{id}"
		}
	}
	p = strings.Join(parts, "/")
	if q != "" {
		var names []string
		for _, kv := range strings.Split(q, "&") {
			k, _, _ := strings.Cut(kv, "=")
			names = append(names, k+"=")
		}
		p += "?" + strings.Join(names, "&")
	}
	return method + " " + p
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
