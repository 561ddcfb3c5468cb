package server

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/syncctl/syncctl/hawk"
	"github.com/syncctl/syncctl/token"
)

// A full disk is a 503 with Retry-After, which clients back off from keeping their
// changes, logged once, not a 500 that they retry as transient at once.
func TestAFullDiskIs503WithRetryAfterLoggedOnce(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	log := zerolog.New(&logs)
	s, err := New(Options{DataDir: t.TempDir(), Logger: &log})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	id, key, err := s.secret.Mint(token.Payload{UID: 7, Node: ts.URL, Expires: float64(time.Now().Add(time.Hour).Unix())})
	if err != nil {
		t.Fatal(err)
	}
	var seq atomic.Int64
	put := func(body string) *http.Response {
		u, _ := url.Parse(ts.URL + "/1.5/7/storage/full/a" + strconv.FormatInt(seq.Add(1), 10))
		a := hawk.Target("PUT", u)
		a.TS, a.Nonce = time.Now().Unix(), "n"+strconv.FormatInt(seq.Load(), 10)
		req, _ := http.NewRequest("PUT", u.String(), strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", hawk.Header(id, []byte(key), &a))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := put(`{"payload":"fits"}`); r.StatusCode != 200 {
		t.Fatalf("a first write: %d", r.StatusCode)
	}
	var pages int64
	s.st.w.QueryRow(`PRAGMA page_count`).Scan(&pages)
	if _, err := s.st.w.Exec(`PRAGMA max_page_count = ` + strconv.FormatInt(pages+1, 10)); err != nil {
		t.Fatal(err)
	}
	big := `{"payload":"` + strings.Repeat("x", spillBytes/2) + `"}` // kept in SQLite: larger ones go to files
	for i := range 3 {
		r := put(big)
		if r.StatusCode != 503 || r.Header.Get("Retry-After") == "" {
			t.Fatalf("write %d to a full disk: %d, Retry-After %q", i, r.StatusCode, r.Header.Get("Retry-After"))
		}
	}
	if n := strings.Count(logs.String(), "disk full"); n != 1 {
		t.Errorf("logged %d times:\n%s", n, logs.String())
	}
}
