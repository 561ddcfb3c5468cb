package server_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncctl/syncctl/server"
)

// oldDatabase makes a data dir whose database an earlier version left: the statements,
// run in order. The server has not opened it yet.
func oldDatabase(t *testing.T, stmts ...string) string {
	t.Helper()
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "syncstorage.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range stmts {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A database written by the first release (records in WITHOUT ROWID tables, the payload
// before the timestamps) opens, keeps its records, and moves to the current layout.
func TestOldDatabaseIsMigrated(t *testing.T) {
	t.Parallel()
	dir := oldDatabase(t,
		`CREATE TABLE bsos (uid INTEGER NOT NULL, collection TEXT NOT NULL, id TEXT NOT NULL, sortindex INTEGER,
			payload TEXT NOT NULL, modified INTEGER NOT NULL, expiry INTEGER NOT NULL,
			PRIMARY KEY (uid, collection, id)) WITHOUT ROWID`,
		`CREATE INDEX bsos_by_modified ON bsos (uid, collection, modified)`,
		`CREATE TABLE batch_bsos (batch INTEGER NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL,
			has_payload INTEGER NOT NULL, payload TEXT, has_sortindex INTEGER NOT NULL, sortindex INTEGER,
			has_ttl INTEGER NOT NULL, ttl INTEGER, PRIMARY KEY (batch, seq)) WITHOUT ROWID`,
		`INSERT INTO bsos VALUES (1, 'tabs', 'old', 3, 'kept', 1700000000000, 9223372036854775807)`,
		`INSERT INTO batch_bsos VALUES (1, 1, 'x', 1, 'p', 0, NULL, 0, NULL)`,
	)

	srv, err := server.New(server.Options{DataDir: dir, Users: map[string]string{"alice": "alice-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "syncstorage.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ddl, payload string
	var n int
	if err := db.QueryRow(`SELECT sql FROM sqlite_master WHERE name = 'bsos'`).Scan(&ddl); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(ddl, "WITHOUT ROWID") || strings.Index(ddl, "payload") < strings.Index(ddl, "expiry") {
		t.Fatalf("not migrated: %s", ddl)
	}
	if err := db.QueryRow(`SELECT payload FROM bsos WHERE uid = 1 AND collection = 'tabs' AND id = 'old' AND sortindex = 3`).Scan(&payload); err != nil || payload != "kept" {
		t.Fatalf("record after migration: %q %v", payload, err)
	}
	if err := db.QueryRow(`SELECT COUNT(*) FROM batch_bsos`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("batch rows after migration: %d %v", n, err)
	}
	if err := db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name LIKE '%_v1'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d old tables left", n)
	}
}

// A batches table made before batches kept their running totals gets them, counted from
// what its open batches have staged, so max_total_records still holds across the upgrade.
func TestOpenBatchesGainTheirTotals(t *testing.T) {
	t.Parallel()
	dir := oldDatabase(t,
		`CREATE TABLE batches (id INTEGER PRIMARY KEY AUTOINCREMENT, uid INTEGER NOT NULL, collection TEXT NOT NULL, expiry INTEGER NOT NULL)`,
		`CREATE TABLE batch_bsos (batch INTEGER NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, has_payload INTEGER NOT NULL,
			payload TEXT, has_sortindex INTEGER NOT NULL, sortindex INTEGER, has_ttl INTEGER NOT NULL, ttl INTEGER, PRIMARY KEY (batch, seq))`,
		`INSERT INTO batches VALUES (7, 1, 'tabs', 9223372036854775807), (8, 1, 'forms', 9223372036854775807)`,
		`INSERT INTO batch_bsos VALUES (7, 1, 'a', 1, 'abc', 0, NULL, 0, NULL), (7, 2, 'b', 1, 'de', 0, NULL, 0, NULL), (7, 3, 'c', 0, NULL, 1, 5, 0, NULL)`,
	)
	srv, err := server.New(server.Options{DataDir: dir, Users: map[string]string{"alice": "alice-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "syncstorage.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for id, want := range map[int][2]int{7: {3, 5}, 8: {0, 0}} {
		var records, bytes int
		if err := db.QueryRow(`SELECT records, bytes FROM batches WHERE id = ?`, id).Scan(&records, &bytes); err != nil || records != want[0] || bytes != want[1] {
			t.Errorf("batch %d: %d records, %d bytes (%v), want %v", id, records, bytes, err, want)
		}
	}
}
