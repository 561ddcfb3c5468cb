package middleware_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/syncctl/syncctl/internal/race"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/internal/servertest"
	"github.com/syncctl/syncctl/middleware"
	"github.com/syncctl/syncctl/repository"
	"github.com/syncctl/syncctl/repository/remote"
	"github.com/syncctl/syncctl/server"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/wbo"
)

func cleartext(id string, i int) wbo.Record {
	return wbo.Record{ID: id, Payload: []byte(fmt.Sprintf(`{"id":%q,"title":"bookmark %d","bmkUri":"https://example.com/%d"}`, id, i, i))}
}

func records(n int) []wbo.Record {
	out := make([]wbo.Record, n)
	for i := range out {
		out[i] = cleartext(fmt.Sprintf("rec%06d", i), i)
	}
	return out
}

func encrypted(t testing.TB, srv *servertest.Server, coll string) (*middleware.Crypto, *remote.Repository, *storage.Client) {
	keys, err := crypto.GenerateKeys(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := srv.Client("alice", storage.Options{})
	r := remote.New(remote.Options{Client: c, Collection: coll})
	return middleware.NewCrypto(r, coll, keys, nil), r, c
}

func TestTenThousandRecordsRoundTripEncrypted(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	repo, _, client := encrypted(t, srv, "bookmarks")
	ctx := context.Background()
	n := 10_000
	if race.Enabled {
		n = 2_000 // still twenty batches; the race detector needs their concurrency, not their number
	}
	in := records(n)
	res, err := repo.Store(ctx, in)
	if err != nil || len(res.Stored) != n || len(res.Failed) != 0 {
		t.Fatalf("stored %d, failed %v, %v", len(res.Stored), res.Failed, err)
	}
	// On the server the payloads are ciphertext.
	raw, _ := client.GetRecord(ctx, "bookmarks", "rec000042")
	if strings.Contains(string(raw.Payload), "bookmark") || !strings.Contains(string(raw.Payload), `"ciphertext"`) {
		t.Errorf("server holds %s", raw.Payload)
	}
	got := map[string]string{}
	if err := repo.FetchSince(ctx, 0, func(r wbo.Record) error { got[r.ID] = string(r.Payload); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) {
		t.Fatalf("fetched %d", len(got))
	}
	for _, r := range in {
		if got[r.ID] != string(r.Payload) {
			t.Fatalf("%s = %s", r.ID, got[r.ID])
		}
	}
	found := 0
	repo.Fetch(ctx, []string{"rec000001", in[n-1].ID, "nope"}, func(wbo.Record) error { found++; return nil })
	ids, _ := repo.GUIDsSince(ctx, res.Modified-10)
	if found != 2 || len(ids) == 0 {
		t.Errorf("fetch by ids %d, ids since %d", found, len(ids))
	}
}

// wire records every POST the server receives.
type wire struct {
	mu    sync.Mutex
	posts []postSeen
	// failCommit answers 503 to commits.
	failCommit bool
}

type postSeen struct {
	records, payloadBytes, bodyBytes int
	query                            string
}

func (w *wire) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			body, _ := io.ReadAll(r.Body)
			var recs []struct{ Payload string }
			json.Unmarshal(body, &recs)
			p := postSeen{records: len(recs), bodyBytes: len(body), query: r.URL.RawQuery}
			for _, rec := range recs {
				p.payloadBytes += len(rec.Payload)
			}
			w.mu.Lock()
			w.posts = append(w.posts, p)
			fail := w.failCommit && r.URL.Query().Get("commit") == "true"
			w.mu.Unlock()
			if fail {
				rw.Header().Set("Content-Type", "application/json")
				rw.WriteHeader(503)
				rw.Write([]byte("0"))
				return
			}
			r.Body = io.NopCloser(strings.NewReader(string(body)))
			r.ContentLength = int64(len(body))
		}
		h.ServeHTTP(rw, r)
	})
}

func TestUploadStaysWithinLimitsOnTheWire(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		limits server.Limits
		want   server.Limits // the caps every POST must respect
	}{
		{"server defaults: 100 records and 1 MB per POST", server.Limits{}, server.Limits{MaxPostRecords: 100, MaxPostBytes: 1 << 20, MaxRequestBytes: 2_625_536}},
		{"a server with smaller limits", server.Limits{MaxPostRecords: 30, MaxPostBytes: 20_000, MaxRequestBytes: 40_000, MaxTotalRecords: 900, MaxTotalBytes: 500_000},
			server.Limits{MaxPostRecords: 30, MaxPostBytes: 20_000, MaxRequestBytes: 40_000, MaxTotalRecords: 900}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w wire
			srv := servertest.Start(t, server.Options{Limits: tc.limits}, w.wrap)
			repo, _, _ := encrypted(t, srv, "history")
			res, err := repo.Store(context.Background(), records(2500))
			if err != nil || len(res.Stored) != 2500 {
				t.Fatalf("stored %d, %v", len(res.Stored), err)
			}
			commits, batchRecs := 0, 0
			for _, p := range w.posts {
				if p.records > tc.want.MaxPostRecords || int64(p.payloadBytes) > tc.want.MaxPostBytes || int64(p.bodyBytes) > tc.want.MaxRequestBytes {
					t.Errorf("a POST of %d records, %d payload bytes, %d body bytes", p.records, p.payloadBytes, p.bodyBytes)
				}
				batchRecs += p.records
				if strings.Contains(p.query, "commit=true") {
					if tc.want.MaxTotalRecords > 0 && batchRecs > tc.want.MaxTotalRecords {
						t.Errorf("a batch of %d records", batchRecs)
					}
					commits++
					batchRecs = 0
				}
			}
			t.Logf("%d POSTs, %d commits", len(w.posts), commits)
			if commits == 0 {
				t.Error("the batch API was not used")
			}
		})
	}
}

func TestAFailedCommitLeavesNothingVisible(t *testing.T) {
	t.Parallel()
	w := &wire{failCommit: true}
	srv := servertest.Start(t, server.Options{}, w.wrap)
	repo, _, client := encrypted(t, srv, "passwords")
	ctx := context.Background()
	res, err := repo.Store(ctx, records(350))
	if !errors.Is(err, storage.ErrUnavailable) || len(res.Stored) != 0 {
		t.Fatalf("stored %d, err %v", len(res.Stored), err)
	}
	n := 0
	client.GetCollection(ctx, "passwords", storage.Query{}, func(wbo.Record) error { n++; return nil })
	if n != 0 {
		t.Errorf("%d records visible after a failed commit", n)
	}
}

func TestATamperedRecordIsReportedAndSkippedWhileTheOthersArrive(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	repo, _, client := encrypted(t, srv, "forms")
	ctx := context.Background()
	repo.Store(ctx, records(20))
	raw, _ := client.GetRecord(ctx, "forms", "rec000007")
	var p map[string]string
	json.Unmarshal(raw.Payload, &p)
	ct := []byte(p["ciphertext"])
	ct[5] ^= 1
	p["ciphertext"] = string(ct)
	raw.Payload, _ = json.Marshal(p)
	if _, err := client.PutRecord(ctx, "forms", raw, nil); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := repo.FetchSince(ctx, 0, func(r wbo.Record) error { got = append(got, r.ID); return nil })
	if len(got) != 19 {
		t.Errorf("delivered %d records", len(got))
	}
	failed, ok := repository.AsPartial(err)
	if !ok || len(failed) != 1 || failed[0].ID != "rec000007" || !errors.Is(err, crypto.ErrHMACMismatch) {
		t.Errorf("err = %v", err)
	}
	for _, id := range got {
		if id == "rec000007" {
			t.Error("the tampered record reached the caller")
		}
	}
}

func TestStoreRefusesARecordWhoseCleartextIDDiffers(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	repo, _, _ := encrypted(t, srv, "tabs")
	res, err := repo.Store(context.Background(), []wbo.Record{cleartext("good", 1), {ID: "bad", Payload: []byte(`{"id":"other"}`)}})
	if err != nil || len(res.Stored) != 1 || !errors.Is(res.Failed["bad"], crypto.ErrRecordIDMismatch) {
		t.Errorf("%+v %v", res, err)
	}
}

func TestAConcurrentWriterMakesTheUploadFailWith412(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	repo, r, client := encrypted(t, srv, "clients")
	ctx := context.Background()
	repo.Store(ctx, records(3))
	repo.FetchSince(ctx, 0, func(wbo.Record) error { return nil }) // learn the collection's timestamp
	client.PutRecord(ctx, "clients", wbo.Record{ID: "other", Payload: []byte("x")}, nil)
	_, err := repo.Store(ctx, records(2))
	if !errors.Is(err, repository.ErrConflict) || !errors.Is(err, storage.ErrConflict) {
		t.Errorf("err = %v, want repository.ErrConflict (and the 412 under it)", err)
	}
	if ts, ok := r.LastModified(); !ok || ts == 0 {
		t.Errorf("last modified %v %v", ts, ok)
	}
}
