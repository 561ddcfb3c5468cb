package conformance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncctl/syncctl/conformance"
	"github.com/syncctl/syncctl/internal/servertest"
	"github.com/syncctl/syncctl/server"
)

func runAgainst(t *testing.T, srv *servertest.Server, filter *regexp.Regexp) *conformance.Report {
	t.Helper()
	rep, err := conformance.Run(context.Background(), conformance.Options{
		Tokens: srv.Tokens("alice"), SecondTokens: srv.Tokens("bob"), Filter: filter, AllowDestructive: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// expectedSkips are the cases the embedded server cannot show, and why.
var expectedSkips = map[string]string{
	// its batch ids are one sequence for all users, so two users never share one
	"batch.same-id-for-two-users": "the two users' batch ids differ",
}

func TestTheEmbeddedServerPassesEveryCase(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	rep := runAgainst(t, srv, nil)
	for _, r := range rep.Results {
		if r.Status == conformance.StatusSkip && strings.HasPrefix(r.Message, expectedSkips[r.ID]) && expectedSkips[r.ID] != "" {
			continue
		}
		if r.Status != conformance.StatusPass {
			t.Errorf("%s %s: %s", r.Status, r.ID, r.Message)
		}
	}
	t.Logf("%d cases: %d passed, %d failed, %d skipped", len(rep.Results), rep.Passed, rep.Failed, rep.Skipped)
	if len(rep.Results) < 100 {
		t.Errorf("only %d cases", len(rep.Results))
	}
	if os.Getenv("CONFORMANCE_REPORT") != "" {
		rep.WriteTable(os.Stdout)
	}
}

func TestDestructiveCasesAreSkippedOnAnAccountWithData(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	c := srv.Client("alice", storageOptions())
	if _, err := c.PutRecord(context.Background(), "bookmarks", wboRecord("mine"), nil); err != nil {
		t.Fatal(err)
	}
	rep, err := conformance.Run(context.Background(), conformance.Options{Tokens: srv.Tokens("alice"), Filter: regexp.MustCompile(`^delete\.`)})
	if err != nil {
		t.Fatal(err)
	}
	skipped := 0
	for _, r := range rep.Results {
		if r.Status == "skip" {
			skipped++
		} else if r.Status != "pass" {
			t.Errorf("%s: %s", r.ID, r.Message)
		}
	}
	if skipped == 0 {
		t.Error("no destructive case was skipped")
	}
	if _, err := c.GetRecord(context.Background(), "bookmarks", "mine"); err != nil {
		t.Errorf("the user's record is gone: %v", err)
	}
}

func TestReportsRoundTrip(t *testing.T) {
	t.Parallel()
	breakPatch := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == "PATCH" {
				w.WriteHeader(200)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	broken := servertest.Start(t, server.Options{}, breakPatch)
	rep := runAgainst(t, broken, regexp.MustCompile(`^misc\.|^auth\.no-header|^get\.sort`))
	if rep.Failed != 1 {
		t.Fatalf("failed %d, want 1 (misc.patch-is-405)", rep.Failed)
	}
	var junit struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Skipped  int `xml:"skipped,attr"`
			Cases    []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	var buf bytes.Buffer
	if err := rep.WriteJUnit(&buf); err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(buf.Bytes(), &junit); err != nil {
		t.Fatalf("JUnit XML does not parse: %v\n%s", err, buf.String())
	}
	s := junit.Suites[0]
	if s.Tests != len(rep.Results) || s.Failures != 1 || len(s.Cases) != len(rep.Results) {
		t.Errorf("junit %+v", s)
	}
	for _, c := range s.Cases {
		if c.Name == "misc.patch-is-405" && (c.Failure == nil || !strings.Contains(c.Failure.Message, "expected status [405], got 200")) {
			t.Errorf("failure message %+v", c.Failure)
		}
	}
	buf.Reset()
	rep.WriteJSON(&buf)
	var back conformance.Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || back.Failed != 1 || len(back.Results) != len(rep.Results) {
		t.Errorf("JSON: %v %+v", err, back)
	}
	buf.Reset()
	rep.WriteTable(&buf)
	if !regexp.MustCompile(`FAIL\s+MUST\s+misc\.patch-is-405`).MatchString(buf.String()) || !strings.Contains(buf.String(), "1 failed") {
		t.Errorf("table:\n%s", buf.String())
	}
}

func nowNano() int64 { return time.Now().UnixNano() }

// TestEveryCaseCatchesItsOwnFault runs each case alone against a server wearing that
// case's breaker: every case must fail there (and passes against the intact server, as
// TestTheEmbeddedServerPassesEveryCase shows).
func TestEveryCaseCatchesItsOwnFault(t *testing.T) {
	t.Parallel()
	var caught atomic.Int32
	t.Run("cases", func(t *testing.T) {
		for _, c := range conformance.Cases() {
			brk, ok := breakers[c.ID]
			if !ok && expectedSkips[c.ID] != "" {
				continue // the embedded server cannot show it, so cannot be broken for it
			}
			if !ok {
				t.Errorf("%s has no breaker", c.ID)
				continue
			}
			t.Run(c.ID, func(t *testing.T) {
				t.Parallel() // many cases wait on the server's clock (TTLs, expiry)
				srv := servertest.Start(t, server.Options{}, brk)
				rep := runAgainst(t, srv, regexp.MustCompile("^"+regexp.QuoteMeta(c.ID)+"$"))
				if len(rep.Results) != 1 || rep.Results[0].Status != "fail" {
					t.Errorf("%s did not catch its fault: %+v", c.ID, rep.Results)
					return
				}
				caught.Add(1)
			})
		}
	})
	t.Logf("%d of %d cases caught their own fault", caught.Load(), len(conformance.Cases()))
}

func TestEveryTokenCaseCatchesItsOwnFault(t *testing.T) {
	t.Parallel()
	for _, c := range conformance.TokenCases() {
		brk, ok := tokenBreakers[c.ID]
		if !ok {
			t.Errorf("%s has no breaker", c.ID)
			continue
		}
		t.Run(c.ID, func(t *testing.T) {
			t.Parallel()
			srv, fxa := tokenServer(t, brk)
			rep, err := conformance.RunTokenServer(context.Background(), conformance.TokenOptions{URL: srv.URL, FxA: fxa,
				Filter: regexp.MustCompile("^" + regexp.QuoteMeta(c.ID) + "$"),
				Retire: func(_ context.Context, uid string) error { return srv.RetireUser(uid) }})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Results) != 1 || rep.Results[0].Status != conformance.StatusFail {
				t.Errorf("%s did not catch its fault: %+v", c.ID, rep.Results)
			}
		})
	}
}

// tokenServer is the embedded server letting FxA users in through the runner's FxA double.
func tokenServer(t *testing.T, wrap func(http.Handler) http.Handler) (*servertest.Server, *conformance.FxA) {
	fxa := conformance.NewFxA()
	fx := httptest.NewServer(fxa)
	t.Cleanup(fx.Close)
	return servertest.Start(t, server.Options{OAuthVerifyURL: fx.URL + "/v1/verify"}, wrap), fxa
}

func TestTheEmbeddedTokenServerPassesEveryCase(t *testing.T) {
	t.Parallel()
	srv, fxa := tokenServer(t, nil)
	rep, err := conformance.RunTokenServer(context.Background(), conformance.TokenOptions{URL: srv.URL, FxA: fxa,
		Retire: func(_ context.Context, uid string) error { return srv.RetireUser(uid) }})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Status != conformance.StatusPass {
			t.Errorf("%s %s: %s", r.Status, r.ID, r.Message)
		}
	}
	t.Logf("tokenserver: %d cases, %d passed", len(rep.Results), rep.Passed)
	if len(rep.Results) < 20 {
		t.Errorf("only %d tokenserver cases", len(rep.Results))
	}
}

// TestTheCatalogueIsTheCasesFile holds the catalogue to ../shared/conformance-cases.md:
// every behaviour there is checked by a case or says why none can.
func TestTheCatalogueIsTheCasesFile(t *testing.T) {
	t.Parallel()
	want := map[int]bool{}
	if b, err := os.ReadFile("../../shared/conformance-cases.md"); err == nil {
		for _, m := range regexp.MustCompile(`(?m)^([0-9]+)\. `).FindAllStringSubmatch(string(b), -1) {
			n, _ := strconv.Atoi(m[1])
			want[n] = true
		}
	} else if os.Getenv("CI") != "" {
		t.Fatalf("the cases file: %v", err)
	}
	cat := conformance.Catalogue()
	if len(want) > 0 && len(cat) != len(want) {
		t.Errorf("the catalogue has %d entries, the cases file %d", len(cat), len(want))
	}
	checked, na := 0, 0
	for i, e := range cat {
		if e.Number != i+1 {
			t.Fatalf("entry %d is number %d", i, e.Number)
		}
		switch {
		case len(e.Cases) > 0 && e.NotApplicable != "":
			t.Errorf("%d is checked by %v and also says it cannot be: %s", e.Number, e.Cases, e.NotApplicable)
		case len(e.Cases) > 0:
			checked++
		case e.NotApplicable != "":
			na++
		default:
			t.Errorf("%d (%s) has no case and no reason", e.Number, e.Title)
		}
	}
	ids := map[string]bool{}
	for _, c := range append(conformance.Cases(), conformance.TokenCases()...) {
		if ids[c.ID] {
			t.Errorf("two cases are %s", c.ID)
		}
		ids[c.ID] = true
	}
	for _, p := range conformance.Profiles() {
		for id := range p.Known {
			if !ids[id] {
				t.Errorf("profile %s names %s, which is no case", p.Name, id)
			}
		}
	}
	t.Logf("catalogue: %d behaviours, %d checked, %d not applicable to a live server", len(cat), checked, na)
}
