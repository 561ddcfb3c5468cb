package server_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncctl/syncctl/internal/pgtest"
	"github.com/syncctl/syncctl/server"
)

// Commits reach the database file without anyone waiting for it: the checkpointer copies
// them out of the WAL in the background, long before the WAL's own bound (10,000 pages)
// would make a writer do it.
func TestCommitsAreCheckpointedInTheBackground(t *testing.T) {
	pgtest.SQLiteOnly(t)
	t.Parallel()
	dir := t.TempDir()
	_, ts := startServer(t, server.Options{DataDir: dir})
	c := login(t, ts.URL, "alice-secret")
	dbFile := filepath.Join(dir, "syncstorage.db")
	before, err := os.Stat(dbFile)
	if err != nil {
		t.Fatal(err)
	}
	payload := strings.Repeat("x", 2000)
	for post := range 10 { // 1,000 records of 2 KB: 2 MB, some 500 pages
		var recs []string
		for i := range 100 {
			recs = append(recs, fmt.Sprintf(`{"id":"r%d_%d","payload":%q}`, post, i, payload))
		}
		c.mustStatus(c.do("POST", "/storage/bulk", "["+strings.Join(recs, ",")+"]"), 200)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		now, err := os.Stat(dbFile)
		if err != nil {
			t.Fatal(err)
		}
		if now.Size()-before.Size() >= 2_000_000 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the database file grew %d bytes in 10 s; the 2 MB written stayed in the WAL", now.Size()-before.Size())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The WAL does not stay at its high-water mark: once a burst of writes (here 24 MB, the
// size a blob push's rows and checkpoint lag reach) has been checkpointed, the next
// write starts the WAL over and cuts the file back to 16 MB at most. A reader holding
// its snapshot through the burst (as a long GET does) keeps the checkpoints from
// catching up, so the WAL does grow.
func TestTheWALShrinksBackAfterABurst(t *testing.T) {
	pgtest.SQLiteOnly(t)
	t.Parallel()
	dir := t.TempDir()
	_, ts := startServer(t, server.Options{DataDir: dir})
	c := login(t, ts.URL, "alice-secret")
	wal := filepath.Join(dir, "syncstorage.db-wal")
	c.mustStatus(c.do("PUT", "/storage/small/one", `{"payload":"x"}`), 200)
	reader, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "syncstorage.db")+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	snapshot, err := reader.Begin()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := snapshot.QueryRow(`SELECT COUNT(*) FROM bsos`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	// 100 KB payloads, below the size kept in files: every byte goes through the WAL. Four
	// writers at once, so that the WAL outruns the background checkpoints.
	payload := strings.Repeat("w", server.SpillBytes-30_000)
	errs := make(chan error, 4)
	for w := range 4 {
		go func() {
			for post := range 10 {
				var recs []string
				for i := range 6 {
					recs = append(recs, fmt.Sprintf(`{"id":"w%d_%d_%d","payload":%q}`, w, post, i, payload))
				}
				if r := c.do("POST", fmt.Sprintf("/storage/burst%d", w), "["+strings.Join(recs, ",")+"]"); r.status != 200 {
					errs <- fmt.Errorf("POST: %d %s", r.status, r.body)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	peak, err := os.Stat(wal)
	if err != nil {
		t.Fatal(err)
	}
	const limit = 16 << 20
	if peak.Size() <= limit {
		t.Fatalf("the WAL is %d bytes after 24 MB written under a reader's snapshot", peak.Size())
	}
	snapshot.Rollback()
	deadline := time.Now().Add(20 * time.Second)
	for {
		// A small write: the first after a complete checkpoint starts the WAL over.
		c.mustStatus(c.do("PUT", "/storage/small/one", `{"payload":"x"}`), 200)
		time.Sleep(100 * time.Millisecond)
		now, err := os.Stat(wal)
		if err != nil {
			t.Fatal(err)
		}
		if now.Size() <= limit {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the WAL is still %d bytes 20 s after a burst that took it to %d", now.Size(), peak.Size())
		}
	}
}
