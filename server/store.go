package server

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/syncctl/syncctl/wbo"
)

// store is the database: an SQLite file (the default, one process) or PostgreSQL (any
// number of nodes). Both run the same statements through the same code; what differs
// is in the dialect and in how a write is serialized (see beginWrite).
type store struct {
	w, r db
	d    *dialect
	// mu is SQLite's one writer. PostgreSQL writes lock the user's row instead.
	mu  sync.Mutex
	now func() time.Time
	// dbClock: write timestamps come from the database's clock, the one clock every node
	// shares (PostgreSQL, unless a test injects its own clock).
	dbClock bool
	// issued is the highest write timestamp handed out (ms): a write may be 10 ms past the
	// clock when one user writes faster, and the server's clock must never read behind it.
	issued atomic.Int64
	// narrowed is the data dir's mode before it was made 0700 (0: it was private).
	narrowed os.FileMode
	// The statements of a record write, prepared once on SQLite's write connection: a POST
	// of 100 records, or a batch commit of 10,000, would otherwise parse them every time,
	// with the write lock held. (pgx caches prepared statements per connection itself.)
	putSelect, putInsert *sql.Stmt
	// stmts are the many-row statements (an upsert of 100 records, a batch's staging),
	// prepared on SQLite's write connection at first use, by text: preparing one took a
	// seventh of a POST's time with the write lock held. Bounded by stmtCacheSize.
	stmts map[string]*sql.Stmt
	// checkpoints copies SQLite's WAL into the database file on its own connection, off
	// the write lock (see checkpoint); commits counts the commits it has not yet seen.
	checkpoints *sql.DB
	commits     atomic.Int64
	// The background jobs (checkpoint, purgeNonces) run until stop is closed (see every).
	stop    chan struct{}
	stopped sync.WaitGroup
	metrics *metrics // nil outside a Server (a migration)
	log     zerolog.Logger
	// files keeps SQLite's large payloads (nil on PostgreSQL: payloads stay in the
	// database, where every node sees them).
	files *payloadFiles
	// sharedNonces: the Hawk replay cache is (also) kept in the database, so that a request
	// replayed to another node is refused there too.
	sharedNonces bool
}

const (
	putSelectSQL = `SELECT payload, sortindex, modified, expiry FROM bsos WHERE uid = ? AND collection = ? AND id = ? AND expiry > ?`
	putInsertSQL = `INSERT INTO bsos (uid, collection, id, sortindex, payload, modified, expiry) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (uid, collection, id) DO UPDATE SET sortindex = excluded.sortindex, payload = excluded.payload,
		modified = excluded.modified, expiry = excluded.expiry`
)

// openStore opens the SQLite database in dir, or the PostgreSQL database at url when
// url is not empty.
func openStore(dir, url string, now func() time.Time, dbClock bool) (*store, error) {
	if url != "" {
		return openPostgres(url, now, dbClock)
	}
	return openSQLite(dir, now)
}

func newStore(d *dialect, w, r *sql.DB, now func() time.Time) *store {
	st := &store{d: d, w: db{pool: w, d: d}, r: db{pool: r, d: d}, now: now, stop: make(chan struct{}), log: zerolog.Nop()}
	if d == sqliteDialect {
		st.w.stmts, st.r.stmts = newStmtCache(w), newStmtCache(r)
	}
	return st
}

// prepare prepares the record write's statements on SQLite's write connection.
func (st *store) prepare() (err error) {
	if st.putSelect, err = st.w.Prepare(putSelectSQL); err == nil {
		st.putInsert, err = st.w.Prepare(putInsertSQL)
	}
	return err
}

// every runs job at each interval until the store closes.
func (st *store) every(interval time.Duration, job func()) {
	st.stopped.Add(1)
	go func() {
		defer st.stopped.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-st.stop:
				return
			case <-t.C:
				job()
			}
		}
	}()
}

func (st *store) close() error {
	close(st.stop)
	st.stopped.Wait()
	if st.checkpoints != nil {
		st.checkpoints.Close()
	}
	for _, stmt := range []*sql.Stmt{st.putSelect, st.putInsert} {
		if stmt != nil {
			stmt.Close()
		}
	}
	st.lock()
	for _, stmt := range st.stmts {
		stmt.Close()
	}
	st.stmts = nil
	st.unlock()
	for _, c := range []*stmtCache{st.r.stmts, st.w.stmts} {
		if c != nil {
			c.close()
		}
	}
	if st.r.pool == st.w.pool {
		return st.w.Close()
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
	*tx
	st  *store
	uid int64
	ts  int64 // this write's timestamp, ms
	// keepTS leaves the user's timestamps alone (staging a batch changes nothing visible).
	keepTS bool
	// sel and ins are the store's put statements bound to this transaction, on first use.
	sel, ins *sql.Stmt
	// unprepared are many-row statements run before they were prepared (see execMany).
	unprepared []string
	// For the metrics: records written, whether a batch was committed, when the write
	// had the lock.
	written        int
	bytesIn        int64 // payload bytes put (for the quota's running count)
	batchCommitted bool
	began          time.Time
	// ended: commit or rollback has run and released the write lock. Kept here, not
	// inferred from sql.ErrTxDone: database/sql also ends a transaction on its own when
	// the request's context is cancelled, and the lock must still be released then.
	ended bool
}

// lock and unlock hold SQLite's one writer; on PostgreSQL, writers lock rows instead.
func (st *store) lock() {
	if st.d == sqliteDialect {
		st.mu.Lock()
	}
}

func (st *store) unlock() {
	if st.d == sqliteDialect {
		st.mu.Unlock()
	}
}

// lockUserSQL makes sure the user has a row and locks it until the transaction ends
// (an upsert that changes nothing still locks), returning the user's last timestamp and
// the database's clock, truncated to the protocol's 10 ms. Every write of a user begins
// with it, so a user's writes are serialized whichever node they reach, and nothing
// else of the user is locked first: no two writes can deadlock.
const lockUserSQL = `INSERT INTO users (uid, modified) VALUES (?, 0)
	ON CONFLICT (uid) DO UPDATE SET modified = users.modified
	RETURNING modified, CAST(FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 100) AS BIGINT) * 10`

// beginWrite takes the write lock (SQLite's writer, or the user's row), opens a
// transaction and picks the write's timestamp: now (or the last timestamp this node
// issued, if a burst ran ahead of the clock), or 10 ms past the user's last write if
// that is not later. Timestamps are strictly increasing per user on every database;
// on PostgreSQL "now" is the database's clock, shared by every node.
func (st *store) beginWrite(ctx context.Context, uid int64) (*writeTx, error) {
	asked := time.Now()
	st.lock()
	t, err := st.w.begin(ctx, nil)
	if err != nil {
		st.unlock()
		return nil, err
	}
	var last, now int64
	if st.d == sqliteDialect {
		err = t.QueryRow(`SELECT modified FROM users WHERE uid = ?`, uid).Scan(&last)
		if errors.Is(err, sql.ErrNoRows) {
			err = nil
		}
	} else {
		err = t.QueryRow(lockUserSQL, uid).Scan(&last, &now)
	}
	if err != nil {
		t.Rollback()
		st.unlock()
		return nil, err
	}
	if !st.dbClock {
		now = st.nowMs()
	}
	// Never before a timestamp already issued here: then a write's timestamp is at or
	// past the server clock every response of this node reports, and is what its own
	// response says.
	ts := max(now, st.issued.Load())
	if ts <= last {
		ts = last + 10
	}
	st.observe(ts)
	w := &writeTx{tx: t, st: st, uid: uid, ts: ts, began: time.Now()}
	if st.metrics != nil {
		st.metrics.writeWait.Add(w.began.Sub(asked).Seconds())
	}
	return w, nil
}

// observe raises the highest timestamp issued or seen to ts (nodes on one database see
// each other's writes, and must not report a clock behind them).
func (st *store) observe(ts int64) {
	for {
		cur := st.issued.Load()
		if ts <= cur || st.issued.CompareAndSwap(cur, ts) {
			return
		}
	}
}

// commit records the timestamp as the user's high-water mark and commits.
func (w *writeTx) commit() error {
	w.ended = true
	defer w.st.unlock()
	defer w.prepareNew()
	defer w.held()
	// Counted once the commit is in (a deferred call runs after it): counted before, a
	// checkpoint could run between the count and the commit and never see it.
	defer w.st.commits.Add(1)
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
	w.held()
	w.prepareNew()
	w.st.unlock()
}

// held counts the time the write held the database.
func (w *writeTx) held() {
	if w.st.metrics != nil {
		w.st.metrics.writeHeld.Add(time.Since(w.began).Seconds())
	}
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
	var row *sql.Row
	if w.st.putSelect == nil {
		row = w.QueryRow(putSelectSQL, w.uid, coll, in.ID, w.st.nowMs())
	} else {
		if w.sel == nil {
			w.sel, w.ins = w.Stmt(w.st.putSelect), w.Stmt(w.st.putInsert)
		}
		row = w.sel.QueryRow(w.uid, coll, in.ID, w.st.nowMs())
	}
	err := row.Scan(&payload, &sortindex, &modified, &expiry)
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
		w.bytesIn += payloadSize(payload)
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
	if w.ins == nil {
		_, err = w.Exec(putInsertSQL, w.uid, coll, in.ID, sortindex, payload, modified, expiry)
	} else {
		_, err = w.ins.Exec(w.uid, coll, in.ID, sortindex, payload, modified, expiry)
	}
	return err
}

// readTx is a consistent snapshot for one read request.
func (st *store) readTx(ctx context.Context) (*tx, error) {
	return st.r.begin(ctx, st.d.readOptions)
}

// queryTS reads one timestamp (0 when there is no row), and observes it (see observe).
func (st *store) queryTS(t *tx, q string, args ...any) (int64, error) {
	var ts int64
	err := t.QueryRow(q, args...).Scan(&ts)
	st.observe(ts)
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
	st.lock()
	defer st.unlock()
	_, err := st.w.Exec(`DELETE FROM settings WHERE key = ?`, key)
	return err
}

// purgeEvery is how often expired records and abandoned batches are deleted.
const purgeEvery = time.Hour

// purgeChunk rows go per statement, so that SQLite's writer is never held long;
// purgeChunks bounds one run (the rest waits for the next).
const (
	purgeChunk  = 1000
	purgeChunks = 1000
)

// purgeExpired deletes records past their TTL and batches past their lifetime. Nothing
// reads them (every query asks for expiry > now), but they would take disk and quota
// forever. It returns how many records went.
func (st *store) purgeExpired() (int64, error) {
	now := st.nowMs()
	var purged int64
	for range purgeChunks {
		n, err := st.deleteChunk(`DELETE FROM bsos WHERE (uid, collection, id) IN
			(SELECT uid, collection, id FROM bsos WHERE expiry <= ? LIMIT ?)`, now, purgeChunk)
		purged += n
		if err != nil {
			return purged, err
		}
		if n < purgeChunk {
			break
		}
	}
	for _, q := range []string{
		`DELETE FROM batch_bsos WHERE batch IN (SELECT id FROM batches WHERE expiry <= ?)`,
		`DELETE FROM batches WHERE expiry <= ?`,
	} {
		if _, err := st.deleteChunk(q, now); err != nil {
			return purged, err
		}
	}
	return purged, nil
}

// deleteChunk runs one delete under SQLite's writer lock (PostgreSQL's rows lock
// themselves), and returns the rows it deleted.
func (st *store) deleteChunk(q string, args ...any) (int64, error) {
	st.lock()
	defer st.unlock()
	r, err := st.w.Exec(q, args...)
	if err != nil {
		return 0, err
	}
	st.commits.Add(1)
	return r.RowsAffected()
}

// stmtCacheSize bounds the prepared many-row statements (a shape and a row count each):
// clients send full POSTs of 100 records, whose few texts stay; odd sizes come and go.
// A 100-row statement's program is tens of KB of SQLite's memory.
const stmtCacheSize = 32

// execMany runs a statement whose text is one of a few (see store.stmts): on SQLite
// prepared once, on PostgreSQL as any statement (pgx caches it per connection itself).
// Only the writer calls it, with the write lock held. A text not prepared yet runs as
// it is, and is prepared once the transaction ends (the write pool's one connection is
// the transaction's until then).
func (w *writeTx) execMany(q string, args ...any) (sql.Result, error) {
	if stmt, ok := w.st.stmts[q]; ok {
		return w.Stmt(stmt).Exec(args...)
	}
	if w.st.d == sqliteDialect && !slices.Contains(w.unprepared, q) {
		w.unprepared = append(w.unprepared, q)
	}
	return w.Exec(q, args...)
}

// prepareNew prepares the texts execMany met unprepared, with the write lock still held
// and the transaction over. A failure only leaves a text to be prepared another time.
func (w *writeTx) prepareNew() {
	for _, q := range w.unprepared {
		if len(w.st.stmts) >= stmtCacheSize {
			for k, old := range w.st.stmts {
				old.Close()
				delete(w.st.stmts, k)
			}
		}
		stmt, err := w.st.w.Prepare(q)
		if err != nil {
			return
		}
		if w.st.stmts == nil {
			w.st.stmts = map[string]*sql.Stmt{}
		}
		w.st.stmts[q] = stmt
	}
	w.unprepared = nil
}
