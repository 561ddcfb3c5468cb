package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite", pure Go

	"github.com/syncctl/syncctl/wbo"
)

const schema = `
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

// store is the SQLite database. Writes go through one connection under mu, which is what
// serializes them and keeps timestamps strictly increasing; reads use a pool of
// connections that see WAL snapshots, so they never see half of a write.
type store struct {
	w, r *sql.DB
	mu   sync.Mutex
	now  func() time.Time
	// issued is the highest write timestamp handed out (ms): a write may be 10 ms past the
	// clock when one user writes faster, and the server's clock must never read behind it.
	issued atomic.Int64
	// narrowed is the data dir's mode before it was made 0700 (0: it was private).
	narrowed os.FileMode
	// The statements of a record write, prepared once on the write connection: a POST of
	// 100 records, or a batch commit of 10,000, would otherwise parse them every time,
	// with the write lock held.
	putSelect, putInsert *sql.Stmt
	// checkpoints copies the WAL into the database file on its own connection, off the
	// write lock (see checkpointer); commits counts the commits it has not yet seen.
	checkpoints *sql.DB
	commits     atomic.Int64
	stop        chan struct{}
	stopped     sync.WaitGroup
}

const (
	putSelectSQL = `SELECT payload, sortindex, modified, expiry FROM bsos WHERE uid = ? AND collection = ? AND id = ? AND expiry > ?`
	putInsertSQL = `INSERT OR REPLACE INTO bsos (uid, collection, id, sortindex, payload, modified, expiry) VALUES (?, ?, ?, ?, ?, ?, ?)`
)

func openStore(dir string, now func() time.Time) (*store, error) {
	path, was, err := privateFiles(dir)
	if err != nil {
		return nil, err
	}
	// mmap lets every connection read pages from the OS page cache without a syscall
	// each; a large collection GET touches many pages. temp_store(MEMORY) keeps a
	// multi-row upsert's statement journal out of a temporary file.
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=mmap_size(1073741824)&_pragma=temp_store(MEMORY)"
	// The writer checkpoints itself only once the WAL holds 10,000 pages (40 MB), a
	// bound for when the checkpointer falls behind; SQLite's 1,000 would put a
	// checkpoint inside every few commits, with the write lock held.
	w, err := sql.Open("sqlite", dsn+"&_pragma=wal_autocheckpoint(10000)&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	if err := migrate(w); err != nil {
		w.Close()
		return nil, fmt.Errorf("server: migrating the database: %w", err)
	}
	if _, err := w.Exec(schema); err != nil {
		w.Close()
		return nil, fmt.Errorf("server: schema: %w", err)
	}
	if err := addBatchTotals(w); err != nil {
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
	st := &store{w: w, r: r, now: now, narrowed: was}
	if st.putSelect, err = w.Prepare(putSelectSQL); err == nil {
		st.putInsert, err = w.Prepare(putInsertSQL)
	}
	if err != nil {
		st.close()
		return nil, fmt.Errorf("server: preparing statements: %w", err)
	}
	if st.checkpoints, err = sql.Open("sqlite", dsn); err != nil {
		st.close()
		return nil, err
	}
	st.checkpoints.SetMaxOpenConns(1)
	st.stop = make(chan struct{})
	st.stopped.Add(1)
	go st.checkpointer(checkpointEvery)
	return st, nil
}

// checkpointEvery is how often the checkpointer looks for new commits.
const checkpointEvery = 50 * time.Millisecond

// checkpointer runs a passive checkpoint whenever commits happened since the last: it
// copies committed pages from the WAL into the database file while writers go on
// appending (a passive checkpoint takes no lock a writer or reader waits for), on a
// core the write lock does not hold. Errors are left to the next round and to the
// writer's own checkpoint at 10,000 pages.
func (st *store) checkpointer(every time.Duration) {
	defer st.stopped.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-st.stop:
			return
		case <-t.C:
			if st.commits.Swap(0) > 0 {
				st.checkpoints.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
			}
		}
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
		schema,
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

func (st *store) close() error {
	if st.stop != nil {
		close(st.stop)
		st.stopped.Wait()
		st.checkpoints.Close()
	}
	for _, stmt := range []*sql.Stmt{st.putSelect, st.putInsert} {
		if stmt != nil {
			stmt.Close()
		}
	}
	return errors.Join(st.r.Close(), st.w.Close())
}

// nowMs is the server clock in ms, truncated to the protocol's 10 ms.
func (st *store) nowMs() int64 { return int64(wbo.TimestampOf(st.now())) }

// clock is what X-Weave-Timestamp reports: the clock, or the last timestamp issued if a
// burst of writes ran ahead of it, so that no response is behind data already written.
func (st *store) clock() wbo.Timestamp { return wbo.Timestamp(max(st.nowMs(), st.issued.Load())) }

// writeTx is one write at one timestamp for one user.
type writeTx struct {
	*sql.Tx
	st  *store
	uid int64
	ts  int64 // this write's timestamp, ms
	// keepTS leaves the user's timestamps alone (staging a batch changes nothing visible).
	keepTS bool
	// sel and ins are the store's put statements bound to this transaction, on first use.
	sel, ins *sql.Stmt
	// ended: commit or rollback has run and released the write lock. Kept here, not
	// inferred from sql.ErrTxDone: database/sql also ends a transaction on its own when
	// the request's context is cancelled, and the lock must still be released then.
	ended bool
}

// beginWrite takes the write lock, opens a transaction and picks the write's timestamp:
// now (or the last timestamp issued, if a burst ran ahead of the clock), or 10 ms past the
// user's last write if that is not later.
func (st *store) beginWrite(ctx context.Context, uid int64) (*writeTx, error) {
	st.mu.Lock()
	tx, err := st.w.BeginTx(ctx, nil)
	if err != nil {
		st.mu.Unlock()
		return nil, err
	}
	var last int64
	err = tx.QueryRowContext(ctx, `SELECT modified FROM users WHERE uid = ?`, uid).Scan(&last)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		tx.Rollback()
		st.mu.Unlock()
		return nil, err
	}
	// Never before a timestamp already issued, to anyone: then a write's timestamp is at
	// or past the server clock every response reports, and is what its own response says.
	ts := max(st.nowMs(), st.issued.Load())
	if ts <= last {
		ts = last + 10
	}
	st.issued.Store(ts) // under mu: the only writer
	return &writeTx{Tx: tx, st: st, uid: uid, ts: ts}, nil
}

// commit records the timestamp as the user's high-water mark and commits.
func (w *writeTx) commit() error {
	w.ended = true
	defer w.st.mu.Unlock()
	w.st.commits.Add(1)
	if w.keepTS {
		return w.Commit()
	}
	if _, err := w.Exec(`INSERT INTO users (uid, modified) VALUES (?, ?) ON CONFLICT (uid) DO UPDATE SET modified = excluded.modified`, w.uid, w.ts); err != nil {
		w.Rollback()
		return err
	}
	return w.Commit()
}

// rollback abandons the write; safe after commit.
func (w *writeTx) rollback() {
	if w.ended {
		return
	}
	w.ended = true
	w.Rollback() // ErrTxDone if the cancelled context already rolled it back
	w.st.mu.Unlock()
}

func (w *writeTx) collectionTS(coll string) (int64, error) {
	var ts int64
	err := w.QueryRow(`SELECT modified FROM collections WHERE uid = ? AND name = ?`, w.uid, coll).Scan(&ts)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return ts, err
}

func (w *writeTx) storageTS() (int64, error) {
	var ts int64
	err := w.QueryRow(`SELECT modified FROM users WHERE uid = ?`, w.uid).Scan(&ts)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return ts, err
}

// itemTS is the live item's modified, 0 when absent or expired.
func (w *writeTx) itemTS(coll, id string) (int64, error) {
	var ts int64
	err := w.QueryRow(`SELECT modified FROM bsos WHERE uid = ? AND collection = ? AND id = ? AND expiry > ?`,
		w.uid, coll, id, w.st.nowMs()).Scan(&ts)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return ts, err
}

func (w *writeTx) touchCollection(coll string) error {
	_, err := w.Exec(`INSERT INTO collections (uid, name, modified) VALUES (?, ?, ?)
		ON CONFLICT (uid, name) DO UPDATE SET modified = excluded.modified`, w.uid, coll, w.ts)
	return err
}

// defaultTTL is syncstorage-rs's DEFAULT_BSO_TTL: effectively forever.
const defaultTTL = 2_100_000_000

// put applies one BSO with the protocol's partial-update rules: omitted fields keep their
// value, null resets to the default, and modified moves only when payload or sortindex
// is written. An expired item counts as absent, so nothing of it comes back.
func (w *writeTx) put(coll string, in *bsoInput) error {
	var (
		payload   string
		sortindex sql.NullInt64
		modified  int64
		expiry    int64
	)
	if w.sel == nil {
		w.sel, w.ins = w.Stmt(w.st.putSelect), w.Stmt(w.st.putInsert)
	}
	err := w.sel.QueryRow(w.uid, coll, in.ID, w.st.nowMs()).Scan(&payload, &sortindex, &modified, &expiry)
	exists := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	// TTLs count from the wall clock, not from w.ts, which runs ahead of it when writes
	// come faster than the clock's 10 ms ticks.
	now := w.st.nowMs()
	if !exists {
		payload, sortindex, modified, expiry = "", sql.NullInt64{}, w.ts, now+defaultTTL*1000
	}
	if in.HasPayload {
		payload = in.Payload
	}
	if in.HasSortIndex {
		sortindex = sql.NullInt64{Int64: in.SortIndex, Valid: in.SortIndexSet}
	}
	if in.HasTTL {
		ttl := int64(defaultTTL)
		if in.TTLSet {
			ttl = in.TTL
		}
		expiry = now + ttl*1000
	}
	if in.HasPayload || in.HasSortIndex {
		modified = w.ts
	}
	_, err = w.ins.Exec(w.uid, coll, in.ID, sortindex, payload, modified, expiry)
	return err
}

// readTx is a consistent snapshot for one read request.
func (st *store) readTx(ctx context.Context) (*sql.Tx, error) {
	return st.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
}

func queryTS(tx *sql.Tx, q string, args ...any) (int64, error) {
	var ts int64
	err := tx.QueryRow(q, args...).Scan(&ts)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return ts, err
}

func (st *store) setting(key string) (string, error) {
	var v string
	err := st.w.QueryRow(`SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

func (st *store) deleteSetting(key string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	_, err := st.w.Exec(`DELETE FROM settings WHERE key = ?`, key)
	return err
}
