package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/syncctl/syncctl/internal/pgtest"
	"github.com/syncctl/syncctl/internal/race"
	"github.com/syncctl/syncctl/server"
)

// An account moves from the SQLite file to PostgreSQL whole: its uid (so the clients'
// tokens and URLs carry on), every record with its timestamp, sortindex and expiry, the
// collections' and the user's timestamps. A run stopped midway takes up where it stopped;
// a second run after a finished one writes nothing.
func TestMigrateMovesAnAccountAndASecondRunIsANoop(t *testing.T) {
	db := pgtest.Require(t)
	records := 100_000
	if race.Enabled {
		records = 20_000 // the race detector makes 1,000 POSTs slow; the logic is the same
	}
	dir := t.TempDir()
	opts := server.Options{DataDir: dir, MasterSecret: "migrate", Users: map[string]string{"alice": "alice-secret", "bob": "bob-secret", "carol": "carol-secret"}}
	srv, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	login(t, hs.URL, "bob-secret") // bob is uid 1: alice's uid must survive as 2
	alice := login(t, hs.URL, "alice-secret")
	for i := 0; i < records; i += 100 {
		var items []string
		for j := i; j < i+100; j++ {
			items = append(items, fmt.Sprintf(`{"id":"h%06d","payload":"visit %d"}`, j, j))
		}
		alice.mustStatus(alice.do("POST", "/storage/history", "["+strings.Join(items, ",")+"]"), 200)
	}
	// Large enough to be kept in a file beside the SQLite database: it moves as content.
	alice.mustStatus(alice.do("PUT", "/storage/tabs/phone", `{"payload":"tabs`+strings.Repeat("t", 200<<10)+`","sortindex":7,"ttl":3600}`), 200)
	before := alice.mustStatus(alice.do("GET", "/info/collections", ""), 200)
	item := alice.mustStatus(alice.do("GET", "/storage/tabs/phone", ""), 200)
	hs.Close()
	srv.Close()

	// Stopped after its first chunks, then run again: it resumes.
	ctx, cancel := context.WithCancel(context.Background())
	_, err = server.Migrate(ctx, dir, db, func(s server.MigrateStats) {
		if s.Copied >= 4000 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("a stopped migration: %v", err)
	}
	start := time.Now()
	stats, err := server.Migrate(context.Background(), dir, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if !stats.Resumed || stats.Records != int64(records+1) || stats.Copied == 0 || stats.Copied > int64(records+1)-4000 || stats.Accounts != 2 {
		t.Fatalf("the resumed run: %+v", stats)
	}
	again, err := server.Migrate(context.Background(), dir, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Copied != 0 || again.Resumed || again.Records != int64(records+1) {
		t.Fatalf("a second run must change nothing: %+v", again)
	}
	t.Logf("migrated %d records: resumed after %d, copied %d more in %s; the second run copied %d",
		stats.Records, stats.Records-stats.Copied, stats.Copied, took.Round(time.Millisecond), again.Copied)

	opts.Database = db
	moved, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer moved.Close()
	hs = httptest.NewServer(moved.Handler())
	defer hs.Close()
	// The client's old token, on the new server (same master secret, same uid).
	alice.endpoint = strings.Replace(alice.endpoint, alice.endpoint[:strings.Index(alice.endpoint, "/1.5/")], hs.URL, 1)
	if after := alice.mustStatus(alice.do("GET", "/info/collections", ""), 200); after.body != before.body ||
		after.header.Get("X-Last-Modified") != before.header.Get("X-Last-Modified") {
		t.Fatalf("info/collections: %s, was %s", after.body, before.body)
	}
	var counts map[string]int
	alice.mustStatus(alice.do("GET", "/info/collection_counts", ""), 200).json(t, &counts)
	if counts["history"] != records || counts["tabs"] != 1 {
		t.Fatalf("counts after the move: %v", counts)
	}
	if got := alice.mustStatus(alice.do("GET", "/storage/tabs/phone", ""), 200); got.body != item.body {
		t.Fatalf("a record after the move: %s, was %s", got.body, item.body)
	}
	if again := login(t, hs.URL, "alice-secret"); again.uid != alice.uid {
		t.Fatalf("alice's uid moved from %d to %d", alice.uid, again.uid)
	}
	// A user new after the move gets a uid past the copied ones.
	if carol := login(t, hs.URL, "carol-secret"); carol.uid != 3 {
		t.Fatalf("a new user's uid: %d, want 3", carol.uid)
	}
}
