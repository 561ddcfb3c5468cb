package server_test

import (
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
