package conformance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"os"
	"regexp"
	"strings"
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

func TestTheEmbeddedServerPassesEveryCase(t *testing.T) {
	srv := servertest.Start(t, server.Options{}, nil)
	rep := runAgainst(t, srv, nil)
	for _, r := range rep.Results {
		if r.Status != "pass" {
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
	caught := 0
	for _, c := range conformance.Cases() {
		brk, ok := breakers[c.ID]
		if !ok {
			t.Errorf("%s has no breaker", c.ID)
			continue
		}
		srv := servertest.Start(t, server.Options{}, brk)
		rep := runAgainst(t, srv, regexp.MustCompile("^"+regexp.QuoteMeta(c.ID)+"$"))
		if len(rep.Results) != 1 || rep.Results[0].Status != "fail" {
			t.Errorf("%s did not catch its fault: %+v", c.ID, rep.Results)
			continue
		}
		caught++
	}
	t.Logf("%d of %d cases caught their own fault", caught, len(conformance.Cases()))
}
