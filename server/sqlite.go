package server

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite", pure Go
)

const sqliteSchema = `
CREATE TABLE IF NOT EXISTS users (
	uid      INTEGER PRIMARY KEY,
	modified INTEGER NOT NULL            -- high-water mark of the user's timestamps, ms
);
CREATE TABLE IF NOT EXISTS collections (
	uid      INTEGER NOT NULL,
	name     TEXT    NOT NULL,
	modified INTEGER NOT NULL,
	PRIMARY KEY (uid, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bsos (
	uid        INTEGER NOT NULL,
	collection TEXT    NOT NULL,
	id         TEXT    NOT NULL,
	sortindex  INTEGER,
	modified   INTEGER NOT NULL,
	expiry     INTEGER NOT NULL,
	-- Last: a large payload spills into overflow pages, and SQLite reads a row's columns
	-- in order, so any column after it would cost a walk through the whole payload.
	payload    TEXT    NOT NULL,
	PRIMARY KEY (uid, collection, id)
); -- not WITHOUT ROWID: there the whole row is the b-tree key, and every seek past a
   -- large payload would read all of it
-- id is in the index so that ORDER BY modified, id (every paged read) needs no sort.
CREATE INDEX IF NOT EXISTS bsos_by_modified_id ON bsos (uid, collection, modified, id);
DROP INDEX IF EXISTS bsos_by_modified;
CREATE TABLE IF NOT EXISTS batches (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	uid        INTEGER NOT NULL,
	collection TEXT    NOT NULL,
	expiry     INTEGER NOT NULL,
	records    INTEGER NOT NULL DEFAULT 0, -- staged so far, and their payload bytes: kept
	bytes      INTEGER NOT NULL DEFAULT 0  -- here, not summed over batch_bsos at every POST
);
CREATE TABLE IF NOT EXISTS batch_bsos (
	batch         INTEGER NOT NULL,
	seq           INTEGER NOT NULL,
	id            TEXT    NOT NULL,
	has_payload   INTEGER NOT NULL,
	payload       TEXT,
	has_sortindex INTEGER NOT NULL,
	sortindex     INTEGER,
	has_ttl       INTEGER NOT NULL,
	ttl           INTEGER,
	PRIMARY KEY (batch, seq)
);
CREATE TABLE IF NOT EXISTS accounts (
	uid             INTEGER PRIMARY KEY AUTOINCREMENT,
	name            TEXT    NOT NULL,
	client_state    TEXT    NOT NULL,
	keys_changed_at INTEGER NOT NULL,
	created         INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS accounts_by_name ON accounts (name, uid);
-- The highest FxA generation seen per account name (retiredGeneration: retired).
CREATE TABLE IF NOT EXISTS account_generations (name TEXT PRIMARY KEY, generation INTEGER NOT NULL);
-- The storage nodes the token endpoint assigns users to (Options.Nodes), with how many
-- users each holds now; a node no longer configured is retired, and its users move.
CREATE TABLE IF NOT EXISTS nodes (url TEXT PRIMARY KEY, retired INTEGER NOT NULL DEFAULT 0, users INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`

// privateFiles makes the data dir 0700 and the database files 0600, whatever they were:
// they hold every user's (encrypted) data and the generated master secret's file.
// SQLite creates its -wal and -shm files with the database file's mode, so the database
// file is made before SQLite opens it. It returns the database's path, and the dir's
// mode when it had to be narrowed (for a warning).
func privateFiles(dir string) (path string, was os.FileMode, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", 0, err
	}
	if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return "", 0, err
		}
		was = fi.Mode().Perm()
	}
	path = filepath.Join(dir, "syncstorage.db")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return "", 0, err
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm", filepath.Join(dir, masterSecretFile)} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", 0, err
		}
	}
	return path, was, nil
}

// checkpointEvery is how often checkpoint looks for new commits.
const checkpointEvery = 50 * time.Millisecond

// checkpoint runs a passive checkpoint if commits happened since the last: it
// copies committed pages from the WAL into the database file while writers go on
// appending (a passive checkpoint takes no lock a writer or reader waits for), on a
// core the write lock does not hold. Errors are left to the next round and to the
// writer's own checkpoint at 10,000 pages. A checkpoint that could not copy every
// frame (a reader still needed the older pages, or it raced a commit) leaves the count
// set, so the next round tries again: otherwise the last commits of a burst stayed in
// the WAL until the next write.
func (st *store) checkpoint() {
	n := st.commits.Swap(0)
	if n == 0 {
		return
	}
	var busy, logFrames, copied int64
	err := st.checkpoints.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &copied)
	if err != nil || copied < logFrames {
		st.commits.Add(n)
	}
}

// migrate moves a database made by an earlier version to the current layout: records
// in a rowid table with the payload last (the first layout made reads of large records
// slow). It is a no-op on a new or current database.
func migrate(w *sql.DB) error {
	var ddl string
	err := w.QueryRow(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'bsos'`).Scan(&ddl)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil || !strings.Contains(ddl, "WITHOUT ROWID") {
		return err
	}
	tx, err := w.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, stmt := range []string{
		`DROP INDEX IF EXISTS bsos_by_modified`,
		`DROP INDEX IF EXISTS bsos_by_modified_id`,
		`ALTER TABLE bsos RENAME TO bsos_v1`,
		`ALTER TABLE batch_bsos RENAME TO batch_bsos_v1`,
		sqliteSchema,
		`INSERT INTO bsos (uid, collection, id, sortindex, modified, expiry, payload)
			SELECT uid, collection, id, sortindex, modified, expiry, payload FROM bsos_v1`,
		`INSERT INTO batch_bsos SELECT * FROM batch_bsos_v1`,
		`DROP TABLE bsos_v1`,
		`DROP TABLE batch_bsos_v1`,
	} {
		if _, err := tx.Exec(stmt); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// addBatchTotals gives a batches table made before it kept its running totals the two
// columns, filled from what the open batches have staged.
func addBatchTotals(w *sql.DB) error {
	var ddl string
	if err := w.QueryRow(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'batches'`).Scan(&ddl); err != nil {
		return err
	}
	if strings.Contains(ddl, "records") {
		return nil
	}
	tx, err := w.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, stmt := range []string{
		`ALTER TABLE batches ADD COLUMN records INTEGER NOT NULL DEFAULT 0`,
		`ALTER TABLE batches ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0`,
		`UPDATE batches SET
			records = (SELECT COUNT(*) FROM batch_bsos WHERE batch = batches.id),
			bytes = (SELECT COALESCE(SUM(LENGTH(CAST(payload AS BLOB))), 0) FROM batch_bsos WHERE batch = batches.id)`,
	} {
		if _, err := tx.Exec(stmt); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// openSQLite opens (or creates) the SQLite database in dir. Writes go through one
// connection under st.mu, which is what serializes them and keeps timestamps strictly
// increasing; reads use a pool of connections that see WAL snapshots, so they never see
// half of a write.
func openSQLite(dir string, now func() time.Time) (*store, error) {
	path, was, err := privateFiles(dir)
	if err != nil {
		return nil, err
	}
	// mmap lets every connection read pages from the OS page cache without a syscall
	// each; a large collection GET touches many pages. temp_store(MEMORY) keeps a
	// multi-row upsert's statement journal out of a temporary file.
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=mmap_size(1073741824)&_pragma=temp_store(MEMORY)"
	// The writer checkpoints itself only once the WAL holds 10,000 pages (40 MB), a
	// bound for when checkpoint falls behind; SQLite's 1,000 would put a
	// checkpoint inside every few commits, with the write lock held.
	// journal_size_limit: when the writer starts the WAL over after a complete
	// checkpoint, it cuts the file back to 16 MB; without it a burst's WAL (25 MB in a
	// test, ~40 MB after a blob push) stayed on disk at its high-water mark.
	w, err := sql.Open("sqlite", dsn+"&_pragma=wal_autocheckpoint(10000)&_pragma=journal_size_limit(16777216)&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	if err := migrate(w); err != nil {
		w.Close()
		return nil, fmt.Errorf("server: migrating the database: %w", err)
	}
	if _, err := w.Exec(sqliteSchema); err != nil {
		w.Close()
		return nil, fmt.Errorf("server: schema: %w", err)
	}
	if err := addBatchTotals(w); err != nil {
		w.Close()
		return nil, fmt.Errorf("server: migrating the database: %w", err)
	}
	if err := addAccountNodes(w); err != nil {
		w.Close()
		return nil, fmt.Errorf("server: migrating the database: %w", err)
	}
	r, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8) // keep them: opening one costs a schema read and its own page cache
	st := newStore(sqliteDialect, w, r, now)
	st.narrowed = was
	if err := st.prepare(); err != nil {
		st.close()
		return nil, err
	}
	if st.checkpoints, err = sql.Open("sqlite", dsn); err != nil {
		st.close()
		return nil, err
	}
	st.checkpoints.SetMaxOpenConns(1)
	if err := st.openPayloadFiles(filepath.Join(dir, "payloads")); err != nil {
		st.close()
		return nil, fmt.Errorf("server: payload files: %w", err)
	}
	st.every(checkpointEvery, st.checkpoint)
	st.every(sweepEvery, st.sweepPayloads)
	st.every(purgeEvery, func() { st.purgeExpired() })
	return st, nil
}

// addAccountNodes gives an accounts table made before users were spread over nodes its
// node column ("": the server itself).
func addAccountNodes(w *sql.DB) error {
	var n int
	if err := w.QueryRow(`SELECT COUNT(*) FROM pragma_table_info('accounts') WHERE name = 'node'`).Scan(&n); err != nil || n > 0 {
		return err
	}
	_, err := w.Exec(`ALTER TABLE accounts ADD COLUMN node TEXT NOT NULL DEFAULT ''`)
	return err
}
