package servertest

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// Row is one record as the server stores it: its id and its payload's JSON text.
type Row struct {
	ID      string
	Payload string
}

// InsertFloor is SQLite by itself: rows of the server's bsos shape, with its index and
// its settings (WAL, synchronous NORMAL), inserted into a fresh database in one
// transaction through one prepared statement. It returns the time that took: the least
// any SQLite server can spend storing those rows, the floor a benchmark of an upload or
// a batch commit puts beside its own figure.
func InsertFloor(tb testing.TB, collection string, rows []Row) time.Duration {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(tb.TempDir(), "floor.db")+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE bsos (uid INTEGER NOT NULL, collection TEXT NOT NULL, id TEXT NOT NULL, sortindex INTEGER,
		modified INTEGER NOT NULL, expiry INTEGER NOT NULL, payload TEXT NOT NULL, PRIMARY KEY (uid, collection, id));
		CREATE INDEX bsos_by_modified_id ON bsos (uid, collection, modified, id)`); err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	tx, err := db.Begin()
	if err != nil {
		tb.Fatal(err)
	}
	st, err := tx.Prepare(`INSERT INTO bsos (uid, collection, id, sortindex, payload, modified, expiry) VALUES (?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		tb.Fatal(err)
	}
	for _, r := range rows {
		if _, err := st.Exec(1, collection, r.ID, nil, r.Payload, int64(1700000000000), int64(1800000000000)); err != nil {
			tb.Fatal(err)
		}
	}
	st.Close()
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	return time.Since(start)
}
