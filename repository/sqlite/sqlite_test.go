package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/syncctl/syncctl/repository"
	"github.com/syncctl/syncctl/repository/sqlite"
	"github.com/syncctl/syncctl/wbo"
)

func open(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func ids(t *testing.T, fetch func(fn func(wbo.Record) error) error) []string {
	t.Helper()
	var out []string
	if err := fetch(func(r wbo.Record) error { out = append(out, r.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLocalWritesAreTrackedUntilMarkedSynced(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "local.db"))
	notes := db.Collection("notes")
	res, err := notes.Store(ctx, []wbo.Record{{ID: "a", Payload: []byte(`{"id":"a"}`)}, {ID: "b", Payload: []byte(`{"id":"b"}`)}, {ID: "", Payload: []byte("x")}})
	if err != nil || len(res.Stored) != 2 || !errors.Is(res.Failed[""], wbo.ErrInvalidID) {
		t.Fatalf("%+v %v", res, err)
	}
	var changed []wbo.Record
	notes.Changes(ctx, func(r wbo.Record) error { changed = append(changed, r); return nil })
	if len(changed) != 2 {
		t.Fatalf("changes %v", changed)
	}
	// b changes again after it was read for upload: acknowledging the old b keeps it.
	notes.Store(ctx, []wbo.Record{{ID: "b", Payload: []byte(`{"id":"b","v":2}`)}})
	if err := notes.MarkSynced(ctx, changed, map[string]string{"notes.lastSync": "123"}); err != nil {
		t.Fatal(err)
	}
	if got := ids(t, func(fn func(wbo.Record) error) error { return notes.Changes(ctx, fn) }); len(got) != 1 || got[0] != "b" {
		t.Errorf("changes after MarkSynced: %v", got)
	}
	if v, _ := db.State(ctx, "notes.lastSync"); v != "123" {
		t.Errorf("state %q", v)
	}
}

func TestIncomingRecordsAreNotChangesAndCommitWithTheirProgress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "local.db")
	db := open(t, path)
	notes := db.Collection("notes")
	if _, err := notes.StoreIncoming(ctx, []wbo.Record{{ID: "s", Payload: []byte(`{"id":"s"}`)}}, map[string]string{"notes.server": "99.00"}); err != nil {
		t.Fatal(err)
	}
	if got := ids(t, func(fn func(wbo.Record) error) error { return notes.Changes(ctx, fn) }); len(got) != 0 {
		t.Errorf("incoming counted as a change: %v", got)
	}
	db.Close()
	again := open(t, path)
	rec, ok, _ := again.Collection("notes").Get(ctx, "s")
	v, _ := again.State(ctx, "notes.server")
	if !ok || string(rec.Payload) != `{"id":"s"}` || v != "99.00" {
		t.Errorf("after reopening: %v %v %q", rec, ok, v)
	}
}

func TestFetchSinceUsesStrictlyIncreasingLocalTimes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "local.db"))
	c := db.Collection("c")
	r1, _ := c.Store(ctx, []wbo.Record{{ID: "1", Payload: []byte("{}")}})
	r2, _ := c.Store(ctx, []wbo.Record{{ID: "2", Payload: []byte("{}")}})
	if r2.Modified <= r1.Modified {
		t.Fatalf("%v then %v", r1.Modified, r2.Modified)
	}
	if got := ids(t, func(fn func(wbo.Record) error) error { return c.FetchSince(ctx, r1.Modified, fn) }); len(got) != 1 || got[0] != "2" {
		t.Errorf("since r1: %v", got)
	}
	db.Collection("other").Store(ctx, []wbo.Record{{ID: "x", Payload: []byte("{}")}})
	if got, _ := c.GUIDsSince(ctx, 0); len(got) != 2 {
		t.Errorf("collections leak into each other: %v", got)
	}
	c.ResetSync(ctx)
	c.Wipe(ctx)
	if got, _ := c.GUIDsSince(ctx, 0); len(got) != 0 {
		t.Errorf("after wipe: %v", got)
	}
	db.SetState(ctx, map[string]string{"c.a": "1", "c.b": "2", "d.a": "3"})
	db.DeleteState(ctx, "c.")
	if a, _ := db.State(ctx, "c.a"); a != "" {
		t.Error("DeleteState left c.a")
	}
	if d, _ := db.State(ctx, "d.a"); d != "3" {
		t.Error("DeleteState took d.a")
	}
}

// A database written by an earlier syncctl, whose records table was clustered on the id,
// opens with every record, change mark, mirror and progress where they were.
func TestAnIdClusteredDatabaseIsMigrated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "local.db")
	old, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`CREATE TABLE records (collection TEXT NOT NULL, id TEXT NOT NULL, payload BLOB NOT NULL, sortindex INTEGER, ttl INTEGER,
			modified INTEGER NOT NULL, dirty INTEGER NOT NULL, mirror BLOB, PRIMARY KEY (collection, id)) WITHOUT ROWID`,
		`CREATE INDEX records_by_modified ON records (collection, modified)`,
		`CREATE INDEX records_pending ON records (collection, dirty) WHERE dirty <> 0`,
		`CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
		`INSERT INTO records VALUES ('notes', 'a', '{"id":"a","v":2}', 5, NULL, 2000, 1, '{"id":"a","v":1}')`,
		`INSERT INTO records VALUES ('notes', 'b', '{"id":"b"}', NULL, 99, 1000, 0, '{"id":"b"}')`,
		`INSERT INTO state VALUES ('notes.lastServer', '1234.5')`,
	} {
		if _, err := old.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	want := []string{"a"}
	for range 2 { // and a migrated database opens as it is
		db := open(t, path)
		notes := db.Collection("notes")
		look, err := notes.Lookup(ctx, []string{"a", "b"})
		if err != nil {
			t.Fatal(err)
		}
		a, b := look["a"], look["b"]
		if !a.Changed || string(a.Record.Payload) != `{"id":"a","v":2}` || string(a.Mirror) != `{"id":"a","v":1}` || *a.Record.SortIndex != 5 || a.Record.Modified != 2000 {
			t.Errorf("a = %+v", a)
		}
		if b.Changed || string(b.Mirror) != `{"id":"b"}` || *b.Record.TTL != 99 {
			t.Errorf("b = %+v", b)
		}
		if got := ids(t, func(fn func(wbo.Record) error) error { return notes.Changes(ctx, fn) }); !slices.Equal(got, want) {
			t.Errorf("changes = %v, want %v", got, want)
		}
		if v, _ := notes.State(ctx, "notes.lastServer"); v != "1234.5" {
			t.Errorf("progress = %q", v)
		}
		if res, err := notes.Store(ctx, []wbo.Record{{ID: "c", Payload: []byte(`{"id":"c"}`)}}); err != nil || len(res.Stored) != 1 {
			t.Fatalf("store after migration: %+v %v", res, err)
		}
		want = []string{"a", "c"}
		db.Close()
	}
	check, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	var ddl string
	if err := check.QueryRow(`SELECT sql FROM sqlite_master WHERE name = 'records'`).Scan(&ddl); err != nil || strings.Contains(ddl, "WITHOUT ROWID") {
		t.Errorf("records table after migration: %q, %v", ddl, err)
	}
}

// ApplyIncoming writes a transaction's records in id order; records of one id keep
// their order among themselves, so the last resolution of an id is what stays, and
// every record's result and content is as if they had gone in as given.
func TestIncomingRecordsOfOneIdKeepTheirOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	notes := open(t, filepath.Join(t.TempDir(), "local.db")).Collection("notes")
	rec := func(id, v string) repository.Resolved {
		p := []byte(`{"id":"` + id + `","v":"` + v + `"}`)
		return repository.Resolved{Record: wbo.Record{ID: id, Payload: p}, Mirror: p}
	}
	in := []repository.Resolved{rec("zz", "1"), rec("aa", "1"), rec("mm", "first"), rec("bb", "1"), rec("mm", "second"), rec("mm", "third")}
	want := map[string]string{"zz": "1", "aa": "1", "bb": "1", "mm": "third"}
	// And enough of them that a sort that is not stable would mix them up.
	for i := range 400 {
		id := fmt.Sprintf("r%02d", (i*7)%31)
		in = append(in, rec(id, fmt.Sprint(i)))
		want[id] = fmt.Sprint(i)
	}
	res, err := notes.ApplyIncoming(ctx, in, nil, nil)
	if err != nil || len(res.Failed) != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	for id, want := range want {
		got, ok, err := notes.Get(ctx, id)
		if err != nil || !ok || string(got.Payload) != `{"id":"`+id+`","v":"`+want+`"}` {
			t.Errorf("%s: %s %v %v", id, got.Payload, ok, err)
		}
	}
}

func incomingChunk(from, n int) []repository.Resolved {
	var in []repository.Resolved
	for i := from; i < from+n; i++ {
		id := fmt.Sprintf("r%04d", i)
		p := []byte(fmt.Sprintf(`{"id":%q}`, id))
		in = append(in, repository.Resolved{Record: wbo.Record{ID: id, Payload: p}, Mirror: p})
	}
	return in
}

// The chunks applied through one BeginIncoming commit together, with the progress of the
// last: before the commit no reader sees any of them, and a transaction that fails or is
// rolled back leaves nothing of itself, and lets other writes through again.
func TestChunksOfOneIncomingTransactionCommitTogether(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "local.db")
	db := open(t, path)
	notes := db.Collection("notes")
	seen := func() int {
		t.Helper()
		var all []string
		for i := range 30 {
			all = append(all, fmt.Sprintf("r%04d", i))
		}
		got, err := notes.Lookup(ctx, all)
		if err != nil {
			t.Fatal(err)
		}
		return len(got)
	}

	tx, err := notes.BeginIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for c := range 2 {
		res, err := tx.ApplyIncoming(ctx, incomingChunk(10*c, 10), nil, map[string]string{"notes.server": fmt.Sprint(c + 1)})
		if err != nil || len(res.Stored) != 10 {
			t.Fatalf("chunk %d: %+v, %v", c, res, err)
		}
	}
	if n := seen(); n != 0 {
		t.Fatalf("a reader saw %d records before the commit", n)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := seen(); n != 20 {
		t.Fatalf("after the commit a reader sees %d records, want 20", n)
	}
	if v, _ := db.State(ctx, "notes.server"); v != "2" {
		t.Errorf("progress %q, want the last chunk's", v)
	}
	if _, err := tx.ApplyIncoming(ctx, incomingChunk(20, 1), nil, nil); err == nil {
		t.Error("an ended transaction took a chunk")
	}

	// A failed chunk takes the chunks before it in its transaction with it.
	tx, err = notes.BeginIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ApplyIncoming(ctx, incomingChunk(20, 5), nil, map[string]string{"notes.server": "3"}); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := tx.ApplyIncoming(cancelled, incomingChunk(25, 5), nil, map[string]string{"notes.server": "4"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("a chunk applied with a cancelled context: %v", err)
	}
	if err := tx.Commit(); err == nil {
		t.Error("a failed transaction committed")
	}
	// Rolled back on purpose: the same.
	tx, err = notes.BeginIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ApplyIncoming(ctx, incomingChunk(20, 10), nil, map[string]string{"notes.server": "5"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if n := seen(); n != 20 {
		t.Errorf("a reader sees %d records after a failed and a rolled back transaction, want 20", n)
	}
	if v, _ := db.State(ctx, "notes.server"); v != "2" {
		t.Errorf("progress %q after a failed and a rolled back transaction, want 2", v)
	}
	// The write lock is free again.
	if _, err := notes.Store(ctx, []wbo.Record{{ID: "local", Payload: []byte(`{"id":"local"}`)}}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	again := open(t, path)
	if got := ids(t, func(fn func(wbo.Record) error) error { return again.Collection("notes").FetchSince(ctx, 0, fn) }); len(got) != 21 {
		t.Errorf("after reopening: %d records, want 21", len(got))
	}
}

// Changes reads its records a page at a time with nothing open while fn runs, so fn may
// write: records marked synced meanwhile are not seen twice, and one changed again after
// it was read comes again, with its new version, later in the same pass. So whether the
// records were stored 1,000 at a time or all at once (pages within one timestamp, ids
// out of order).
func TestChangesStreamPastTheirPagesWhileTheyAreMarked(t *testing.T) {
	t.Parallel()
	for _, storeBy := range []int{1_000, 5_000} {
		t.Run(fmt.Sprint(storeBy), func(t *testing.T) {
			t.Parallel()
			changesStreamPastTheirPages(t, storeBy)
		})
	}
}

func changesStreamPastTheirPages(t *testing.T, storeBy int) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "local.db"))
	notes := db.Collection("notes")
	const n = 5_000 // two and a half pages
	var recs []wbo.Record
	for i := range n {
		id := fmt.Sprintf("r%05d", i)
		if storeBy == n {
			id = fmt.Sprintf("r%05d", (i*7919)%n) // a permutation: written out of id order
		}
		recs = append(recs, wbo.Record{ID: id, Payload: []byte(fmt.Sprintf(`{"id":%q,"v":1}`, id))})
	}
	for i := 0; i < n; i += storeBy {
		if _, err := notes.Store(ctx, recs[i:i+storeBy]); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string][]string{}
	var read []wbo.Record
	err := notes.Changes(ctx, func(r wbo.Record) error {
		seen[r.ID] = append(seen[r.ID], string(r.Payload))
		read = append(read, r)
		switch len(read) {
		case 2_500: // mark what was read so far, as an upload does
			if err := notes.MarkSynced(ctx, read, nil); err != nil {
				return err
			}
		case 3_000: // a record read long ago changes again
			if _, err := notes.Store(ctx, []wbo.Record{{ID: "r00007", Payload: []byte(`{"id":"r00007","v":2}`)}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(read) != n+1 || len(seen) != n {
		t.Fatalf("%d records read, %d ids, want %d and %d", len(read), len(seen), n+1, n)
	}
	if got := seen["r00007"]; len(got) != 2 || got[1] != `{"id":"r00007","v":2}` {
		t.Errorf("the record changed again was read as %q", got)
	}
	for i := 1; i < len(read); i++ {
		if read[i].Modified < read[i-1].Modified {
			t.Fatalf("out of order at %d: %v after %v", i, read[i].Modified, read[i-1].Modified)
		}
	}
}
