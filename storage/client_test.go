package storage_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncctl/syncctl/internal/servertest"
	"github.com/syncctl/syncctl/server"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/wbo"
)

// fakeClock moves only when the client sleeps.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (f *fakeClock) Now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}
func (f *fakeClock) Sleep(_ context.Context, d time.Duration) error { f.Advance(d); return nil }

// counter counts requests by path prefix.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		if c.n == nil {
			c.n = map[string]int{}
		}
		if strings.HasPrefix(r.URL.Path, "/1.0/") {
			c.n["token"]++
		} else {
			c.n["storage"]++
		}
		c.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (c *counter) get(k string) int { c.mu.Lock(); defer c.mu.Unlock(); return c.n[k] }

func rec(id, payload string) wbo.Record { return wbo.Record{ID: id, Payload: []byte(payload)} }

func TestRetryAfterIsHonouredWithoutCallingEarly(t *testing.T) {
	t.Parallel()
	var cnt counter
	srv := servertest.Start(t, server.Options{}, cnt.wrap)
	clock := &fakeClock{now: time.Now()}
	c := srv.Client("alice", storage.Options{Now: clock.Now, Sleep: clock.Sleep, MaxRetryWait: time.Second})
	ctx := context.Background()
	if _, _, err := c.InfoCollections(ctx, 0); err != nil {
		t.Fatal(err)
	}
	srv.InjectFault(server.Fault{PathPrefix: "/1.5/", Count: 1, Status: 503, RetryAfter: 20})
	_, _, err := c.InfoCollections(ctx, 0)
	var be *storage.BackoffError
	if !errors.As(err, &be) || !errors.Is(err, storage.ErrBackoff) || !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	if d := be.Until.Sub(clock.Now()); d < 19*time.Second || d > 21*time.Second {
		t.Errorf("until %v from now", d)
	}
	before := cnt.get("storage")
	clock.Advance(10 * time.Second)
	if _, _, err := c.InfoCollections(ctx, 0); !errors.Is(err, storage.ErrBackoff) {
		t.Errorf("call inside the window: %v", err)
	}
	if cnt.get("storage") != before {
		t.Errorf("the client called the server %d times inside the window", cnt.get("storage")-before)
	}
	clock.Advance(11 * time.Second)
	if _, _, err := c.InfoCollections(ctx, 0); err != nil {
		t.Errorf("after the window: %v", err)
	}
	if sig := c.Signals(); sig.RetryAfter.IsZero() {
		t.Errorf("signals: %+v", sig)
	}
}

func TestShortRetryAfterIsWaitedOutInsideTheCall(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	clock := &fakeClock{now: time.Now()}
	c := srv.Client("alice", storage.Options{Now: clock.Now, Sleep: clock.Sleep})
	srv.InjectFault(server.Fault{PathPrefix: "/1.5/", Count: 2, Status: 503, RetryAfter: 2})
	start := clock.Now()
	if _, _, err := c.InfoCollections(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	if waited := clock.Now().Sub(start); waited < 4*time.Second {
		t.Errorf("waited %v, want ≥ 2 × Retry-After", waited)
	}
}

func TestRetriesAreBoundedAndOnlyForIdempotentRequests(t *testing.T) {
	t.Parallel()
	var cnt counter
	srv := servertest.Start(t, server.Options{}, cnt.wrap)
	clock := &fakeClock{now: time.Now()}
	c := srv.Client("alice", storage.Options{Now: clock.Now, Sleep: clock.Sleep, MaxRetries: 2})
	ctx := context.Background()
	c.InfoCollections(ctx, 0)
	srv.InjectFault(server.Fault{PathPrefix: "/1.5/", Count: -1, Status: 502})
	before := cnt.get("storage")
	if _, _, err := c.InfoCollections(ctx, 0); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("GET: %v", err)
	}
	if n := cnt.get("storage") - before; n != 3 {
		t.Errorf("GET sent %d times, want 1 + 2 retries", n)
	}
	before = cnt.get("storage")
	if _, err := c.Post(ctx, "col", []wbo.Record{rec("a", "x")}, storage.PostOptions{}); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("POST: %v", err)
	}
	if n := cnt.get("storage") - before; n != 1 {
		t.Errorf("POST sent %d times; a POST is never retried", n)
	}
	srv.ClearFaults()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := c.InfoCollections(cctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestWeaveBackoffAndAlertsBecomeSignals(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	c := srv.Client("alice", storage.Options{})
	srv.InjectFault(server.Fault{PathPrefix: "/1.5/", Count: 1, Backoff: 300, Alert: `{"code":"soft-eol","message":"bye"}`})
	if _, _, err := c.InfoCollections(context.Background(), 0); err != nil {
		t.Fatal(err) // X-Weave-Backoff rides on a success: the call itself succeeds
	}
	sig := c.Signals()
	if d := time.Until(sig.Backoff); d < 290*time.Second || sig.Alert == "" {
		t.Errorf("signals %+v", sig)
	}
}

func TestA401RefreshesTheTokenOnceThenFailsClearly(t *testing.T) {
	t.Parallel()
	var cnt counter
	srv := servertest.Start(t, server.Options{}, cnt.wrap)
	c := srv.Client("alice", storage.Options{})
	ctx := context.Background()
	c.InfoCollections(ctx, 0)
	srv.InjectFault(server.Fault{PathPrefix: "/1.5/", Count: 1, Status: 401})
	tokens := cnt.get("token")
	if _, _, err := c.InfoCollections(ctx, 0); err != nil {
		t.Errorf("one 401: %v", err)
	}
	if cnt.get("token") != tokens+1 {
		t.Errorf("token fetched %d times, want 1", cnt.get("token")-tokens)
	}
	srv.InjectFault(server.Fault{PathPrefix: "/1.5/", Count: -1, Status: 401})
	_, _, err := c.InfoCollections(ctx, 0)
	if !errors.Is(err, storage.ErrUnauthorized) {
		t.Errorf("persistent 401: %v", err)
	}
	t.Logf("the error a user sees: %v", err)
}

func TestATokenIsRefreshedBeforeItExpires(t *testing.T) {
	t.Parallel()
	var cnt counter
	// The client's clock runs ahead of the server's here, so allow for it in Hawk.
	srv := servertest.Start(t, server.Options{TokenDuration: 120 * time.Second, HawkSkew: time.Hour}, cnt.wrap)
	clock := &fakeClock{now: time.Now()}
	tokens := srv.Tokens("alice")
	tokens.Now = clock.Now
	c := storage.New(storage.Options{Tokens: tokens, Now: clock.Now, Sleep: clock.Sleep})
	ctx := context.Background()
	c.InfoCollections(ctx, 0)
	c.InfoCollections(ctx, 0)
	if cnt.get("token") != 1 {
		t.Fatalf("token fetched %d times", cnt.get("token"))
	}
	clock.Advance(110 * time.Second) // within a tenth of its life from expiry
	if _, _, err := c.InfoCollections(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if cnt.get("token") != 2 {
		t.Errorf("token not refreshed before expiry")
	}
}

func TestANewAPIEndpointIsANodeReassignment(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	var calls atomic.Int32
	inner := srv.Tokens("alice")
	src := tokenFunc(func(ctx context.Context, force bool) (storage.Token, error) {
		tok, err := inner.Token(ctx, force)
		if calls.Add(1) > 1 {
			tok.APIEndpoint = strings.Replace(tok.APIEndpoint, "/1.5/", "/1.5/9", 1)
		}
		return tok, err
	})
	c := storage.New(storage.Options{Tokens: src})
	ctx := context.Background()
	c.InfoCollections(ctx, 0)
	srv.InjectFault(server.Fault{PathPrefix: "/1.5/", Count: 1, Status: 401})
	if _, _, err := c.InfoCollections(ctx, 0); !errors.Is(err, storage.ErrNodeReassigned) {
		t.Errorf("err = %v", err)
	}
}

type tokenFunc func(ctx context.Context, force bool) (storage.Token, error)

func (f tokenFunc) Token(ctx context.Context, force bool) (storage.Token, error) {
	return f(ctx, force)
}

func TestConcurrentWriteGives412(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	a := srv.Client("alice", storage.Options{})
	b := srv.Client("alice", storage.Options{})
	ctx := context.Background()
	ts, err := a.PutRecord(ctx, "col", rec("x", "1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.PutRecord(ctx, "col", rec("y", "other"), nil); err != nil {
		t.Fatal(err)
	}
	_, err = a.Post(ctx, "col", []wbo.Record{rec("x", "2")}, storage.PostOptions{IfUnmodifiedSince: &ts})
	if !errors.Is(err, storage.ErrConflict) {
		t.Errorf("err = %v", err)
	}
	got, _ := a.GetRecord(ctx, "col", "x")
	if string(got.Payload) != "1" {
		t.Errorf("412 wrote %s", got.Payload)
	}
}

func TestPagingWithNewlinesDeliversEveryRecordOnce(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	c := srv.Client("alice", storage.Options{})
	ctx := context.Background()
	var recs []wbo.Record
	for i := range 250 {
		recs = append(recs, rec(fmt.Sprintf("r%03d", i), fmt.Sprintf("payload with a\nnewline %d", i)))
	}
	for i := 0; i < len(recs); i += 100 {
		if _, err := c.Post(ctx, "col", recs[i:min(i+100, len(recs))], storage.PostOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []storage.Query{{Full: true, PageSize: 7}, {Full: true, PageSize: 1000, Sort: "oldest"}, {PageSize: 33, Sort: "newest"}} {
		seen := map[string]string{}
		_, err := c.GetCollection(ctx, "col", q, func(r wbo.Record) error {
			if _, dup := seen[r.ID]; dup {
				t.Errorf("%s twice", r.ID)
			}
			seen[r.ID] = string(r.Payload)
			return nil
		})
		if err != nil || len(seen) != 250 {
			t.Fatalf("%+v: %d records, %v", q, len(seen), err)
		}
		if q.Full && seen["r007"] != "payload with a\nnewline 7" {
			t.Errorf("payload %q", seen["r007"])
		}
	}
	var ids []string
	for i := range 150 {
		ids = append(ids, fmt.Sprintf("r%03d", i))
	}
	n := 0
	c.GetCollection(ctx, "col", storage.Query{IDs: ids, Full: true}, func(wbo.Record) error { n++; return nil })
	if n != 150 {
		t.Errorf("ids query over two requests: %d", n)
	}
}

func TestAWriteBetweenPagesStopsTheRead(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	c := srv.Client("alice", storage.Options{})
	ctx := context.Background()
	for i := range 10 {
		c.PutRecord(ctx, "col", rec(fmt.Sprint("r", i), "x"), nil)
	}
	n := 0
	_, err := c.GetCollection(ctx, "col", storage.Query{Full: true, PageSize: 3}, func(wbo.Record) error {
		if n++; n == 2 {
			c.PutRecord(ctx, "col", rec("intruder", "x"), nil)
		}
		return nil
	})
	if !errors.Is(err, storage.ErrCollectionMoved) {
		t.Errorf("err = %v", err)
	}
}

func TestItemsAndInfo(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	c := srv.Client("alice", storage.Options{})
	ctx := context.Background()
	ts, err := c.PutRecord(ctx, "col", wbo.Record{ID: "a", Payload: []byte("p"), SortIndex: wbo.Int(4)}, storage.Since(0))
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetRecord(ctx, "col", "a")
	if err != nil || got.Modified != ts || *got.SortIndex != 4 {
		t.Errorf("%+v %v", got, err)
	}
	if _, err := c.GetRecord(ctx, "col", "none"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
	colls, lm, err := c.InfoCollections(ctx, 0)
	if err != nil || colls["col"] != ts || lm != ts {
		t.Errorf("%v %v %v", colls, lm, err)
	}
	if colls, _, err := c.InfoCollections(ctx, lm); err != nil || colls != nil {
		t.Errorf("304: %v %v", colls, err)
	}
	counts, _ := c.InfoCollectionCounts(ctx)
	usage, _ := c.InfoCollectionUsage(ctx)
	used, quota, err := c.InfoQuota(ctx)
	if counts["col"] != 1 || usage["col"] <= 0 || used <= 0 || quota != nil || err != nil {
		t.Errorf("%v %v %v %v %v", counts, usage, used, quota, err)
	}
	cfg, _ := c.Configuration(ctx)
	if cfg.MaxPostRecords != 100 {
		t.Errorf("%+v", cfg)
	}
	c.DeleteRecords(ctx, "col", []string{"a"}, nil)
	if _, err := c.DeleteRecord(ctx, "col", "a", nil); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("delete twice: %v", err)
	}
	if err := c.DeleteAll(ctx); err != nil {
		t.Error(err)
	}
}

func TestTokenServerErrorsAreTyped(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	bad := &storage.TokenServer{URL: srv.URL, Bearer: func(context.Context) (string, error) { return "wrong", nil }}
	c := storage.New(storage.Options{Tokens: bad})
	_, _, err := c.InfoCollections(context.Background(), 0)
	var tse *storage.TokenServerError
	if !errors.As(err, &tse) || tse.Code != "invalid-credentials" || !errors.Is(err, storage.ErrUnauthorized) {
		t.Errorf("err = %v", err)
	}
}

// A borrowed read hands fn each payload decoded where it was read, escapes and all, the
// same as a copied read: records larger than the read buffer (gathered across reads)
// and small ones that share it.
func TestBorrowedRecordsReadTheSameAsCopiedOnes(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	c := srv.Client("alice", storage.Options{})
	ctx := context.Background()
	want := map[string]string{}
	var recs []wbo.Record
	for i := range 40 {
		p := fmt.Sprintf(`{"ciphertext":"%s","n":%d,"s":"é\"\\/\n"}`, strings.Repeat("QUJD/+==", 1+i*i*60), i)
		id := fmt.Sprintf("r%03d", i)
		want[id] = p
		recs = append(recs, rec(id, p))
	}
	for i := range recs {
		if _, err := c.Post(ctx, "col", recs[i:i+1], storage.PostOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []storage.Query{{Full: true, Borrow: true, PageSize: 7}, {Full: true, Borrow: true, IDs: []string{"r039", "r001", "r020"}}} {
		n := 0
		_, err := c.GetCollection(ctx, "col", q, func(r wbo.Record) error {
			n++
			if string(r.Payload) != want[r.ID] {
				t.Errorf("%s: %d bytes, want %d", r.ID, len(r.Payload), len(want[r.ID]))
			}
			return nil
		})
		if err != nil || (q.IDs == nil && n != 40) || (q.IDs != nil && n != len(q.IDs)) {
			t.Fatalf("%+v: %d records, %v", q.IDs, n, err)
		}
	}
}

// A client making 8 requests at a time, as a blob sync's transfers do, keeps its
// connections: 5 rounds of 8 open no more than a round's worth and a few (net/http's
// default of 2 idle connections per host opened about 30).
func TestConcurrentRequestsReuseTheirConnections(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	conns := map[string]bool{}
	srv := servertest.Start(t, server.Options{}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			conns[r.RemoteAddr] = true
			mu.Unlock()
			h.ServeHTTP(w, r)
		})
	})
	c := srv.Client("alice", storage.Options{})
	ctx := context.Background()
	if _, err := c.PutRecord(ctx, "col", rec("a", "p"), storage.Since(0)); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if _, err := c.GetRecord(ctx, "col", "a"); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	mu.Lock()
	defer mu.Unlock()
	if len(conns) > 14 {
		t.Errorf("40 requests, 8 at a time, opened %d connections", len(conns))
	}
}
