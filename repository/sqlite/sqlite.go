// Package sqlite is a durable local Repository in one SQLite file: records per
// collection with local modification times, a change tracker (which records hold local
// changes not yet on the server), and a small state table, so that applying incoming
// records and advancing sync progress happen in one transaction: a crash between the two
// cannot happen, and a resumed sync neither loses nor repeats anything.
package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/syncctl/syncctl/internal/localdb"
	"github.com/syncctl/syncctl/repository"
	"github.com/syncctl/syncctl/wbo"
)

// recordsTable is the records table, named. Its rows are kept in insertion order (a
// rowid table) with the ids in a separate, small index: record ids are random, and a
// table clustered on them (as it was, WITHOUT ROWID) turns every incoming record into a
// write to a random page of the whole table, which made a first sync of 100,000 records
// three times slower.
const recordsTable = `
CREATE TABLE IF NOT EXISTS %s (
	collection TEXT    NOT NULL,
	id         TEXT    NOT NULL,
	payload    BLOB    NOT NULL,
	sortindex  INTEGER,
	ttl        INTEGER,
	modified   INTEGER NOT NULL,      -- local time of the last write, ms
	dirty      INTEGER NOT NULL,      -- 1: a local change the server has not acknowledged;
	                                  -- 2: synced once, not known to be on the server since a reset
	mirror     BLOB,                  -- the record as last synced (for three-way merges);
	                                  -- empty: the same as payload (sameAsPayload)
	UNIQUE (collection, id)
);`

var schema = fmt.Sprintf(recordsTable, "records") + `
CREATE INDEX IF NOT EXISTS records_by_modified ON records (collection, modified);
DROP INDEX IF EXISTS records_dirty;
DROP INDEX IF EXISTS records_pending;
CREATE INDEX IF NOT EXISTS records_changes ON records (collection, modified, id) WHERE dirty <> 0;
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`

// migrate rewrites a records table of the earlier, id-clustered shape into the current
// one, in one transaction (a crash leaves the old table whole, and the next Open
// migrates again).
func migrate(db *sql.DB) error {
	var ddl string
	if err := db.QueryRow(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'records'`).Scan(&ddl); err != nil {
		return err
	}
	if !strings.Contains(strings.ToUpper(ddl), "WITHOUT ROWID") {
		return nil
	}
	return localdb.InTx(context.Background(), db, func(tx *sql.Tx) error {
		for _, stmt := range []string{
			`DROP TABLE IF EXISTS records_migrating`,
			fmt.Sprintf(recordsTable, "records_migrating"),
			`INSERT INTO records_migrating (collection, id, payload, sortindex, ttl, modified, dirty, mirror)
				SELECT collection, id, payload, sortindex, ttl, modified, dirty, mirror FROM records ORDER BY modified`,
			`DROP TABLE records`,
			`ALTER TABLE records_migrating RENAME TO records`,
			schema,
		} {
			if _, err := tx.Exec(stmt); err != nil {
				return fmt.Errorf("migrating the records table: %w", err)
			}
		}
		return nil
	})
}

// DB is one local database, holding any number of collections.
type DB struct {
	db   *sql.DB
	rd   *sql.DB    // reads that may run while db is inside a write (Lookup)
	mu   sync.Mutex // serializes writes, and with last keeps local times increasing
	last int64
	now  func() time.Time
}

// Open opens or creates the database at path; now may be nil for time.Now.
func Open(path string, now func() time.Time) (*DB, error) {
	if now == nil {
		now = time.Now
	}
	db, err := localdb.Open(path, schema, "NORMAL")
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	if err := migrate(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	rd, err := localdb.OpenReader(path, 2)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	d := &DB{db: db, rd: rd, now: now}
	if err := db.QueryRow(`SELECT COALESCE(MAX(modified), 0) FROM records`).Scan(&d.last); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// Close closes the database.
func (d *DB) Close() error { return errors.Join(d.rd.Close(), d.db.Close()) }

// tick returns a local time after every earlier one; call with mu held.
func (d *DB) tick() int64 {
	ts := int64(wbo.TimestampOf(d.now()))
	if ts <= d.last {
		ts = d.last + 10
	}
	d.last = ts
	return ts
}

// write runs fn in one transaction under the write lock.
func (d *DB) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return localdb.InTx(ctx, d.db, fn)
}

// State reads a value of the state table ("" when unset).
func (d *DB) State(ctx context.Context, key string) (string, error) {
	var v string
	err := d.db.QueryRowContext(ctx, `SELECT value FROM state WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

// SetState writes values of the state table in one transaction.
func (d *DB) SetState(ctx context.Context, kv map[string]string) error {
	return d.write(ctx, func(tx *sql.Tx) error { return setState(tx, kv) })
}

func setState(tx *sql.Tx, kv map[string]string) error {
	for k, v := range kv {
		if _, err := tx.Exec(`INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)`, k, v); err != nil {
			return err
		}
	}
	return nil
}

// DeleteState removes the state keys with the given prefix (an engine's reset).
func (d *DB) DeleteState(ctx context.Context, prefix string) error {
	return d.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`DELETE FROM state WHERE substr(key, 1, ?) = ?`, len(prefix), prefix)
		return err
	})
}

// Collection returns the repository of one collection.
func (d *DB) Collection(name string) *Repository { return &Repository{d: d, name: name} }

// Repository is one collection of a DB. Store is a local write and is tracked as a
// change; StoreIncoming is a write that came from the server and is not.
type Repository struct {
	d    *DB
	name string
}

// query streams the records of the collection that match where, oldest first, the first
// limit of them (0: all). from is the table, with an index hint where the planner would
// pick the wrong one.
func (r *Repository) query(ctx context.Context, fn func(wbo.Record) error, from, where string, limit int, args ...any) error {
	return r.queryOn(ctx, r.d.db, fn, from, where, limit, args...)
}

// queryOn is query on db: the writer's connection, or a reader's.
func (r *Repository) queryOn(ctx context.Context, db *sql.DB, fn func(wbo.Record) error, from, where string, limit int, args ...any) error {
	q := `SELECT id, payload, sortindex, ttl, modified FROM ` + from + ` WHERE collection = ? AND ` + where + ` ORDER BY modified, id`
	if limit > 0 {
		q += ` LIMIT ` + strconv.Itoa(limit)
	}
	rows, err := db.QueryContext(ctx, q, append([]any{r.name}, args...)...)
	if err != nil {
		return err
	}
	// Rows are read out before fn runs, so that fn may write to the database (the one
	// connection is busy while rows are open).
	var recs []wbo.Record
	for rows.Next() {
		var rec wbo.Record
		var sortindex, ttl sql.NullInt64
		if err := rows.Scan(&rec.ID, &rec.Payload, &sortindex, &ttl, &rec.Modified); err != nil {
			rows.Close()
			return err
		}
		if sortindex.Valid {
			rec.SortIndex = &sortindex.Int64
		}
		if ttl.Valid {
			rec.TTL = &ttl.Int64
		}
		recs = append(recs, rec)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, rec := range recs {
		if err := fn(rec); err != nil {
			return err
		}
	}
	return nil
}

// FetchSince implements repository.Repository, by local modification time.
func (r *Repository) FetchSince(ctx context.Context, since wbo.Timestamp, fn func(wbo.Record) error) error {
	return r.query(ctx, fn, `records`, `modified > ?`, 0, since)
}

// GUIDsSince implements repository.Repository.
func (r *Repository) GUIDsSince(ctx context.Context, since wbo.Timestamp) ([]string, error) {
	var ids []string
	err := r.FetchSince(ctx, since, func(rec wbo.Record) error { ids = append(ids, rec.ID); return nil })
	return ids, err
}

// Fetch implements repository.Repository.
func (r *Repository) Fetch(ctx context.Context, ids []string, fn func(wbo.Record) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return inChunks(repository.Unique(ids), func(in string, args []any) error {
		return r.query(ctx, fn, `records`, `id `+in, 0, args...)
	})
}

// inChunks calls fn with "IN (…)" and its arguments for up to 5,000 ids at a time. The
// ids go as one JSON array read by json_each, not as one parameter each: a statement of
// 500 parameters costs more to prepare and bind than to run, and SQLite bounds how many a
// statement may have.
func inChunks(ids []string, fn func(in string, args []any) error) error {
	for len(ids) > 0 {
		n := min(len(ids), 5000)
		list, err := json.Marshal(ids[:n])
		if err != nil {
			return err
		}
		if err := fn(`IN (SELECT value FROM json_each(?))`, []any{string(list)}); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// Get returns one record; ok is false when absent.
func (r *Repository) Get(ctx context.Context, id string) (rec wbo.Record, ok bool, err error) {
	err = r.Fetch(ctx, []string{id}, func(x wbo.Record) error { rec, ok = x, true; return nil })
	return rec, ok, err
}

// Store is a local write: the records are stamped with a local time and tracked as
// changes until MarkSynced.
func (r *Repository) Store(ctx context.Context, recs []wbo.Record) (repository.StoreResult, error) {
	return r.store(ctx, recs)
}

// StoreIncoming writes records that came from the server (not tracked as changes; each
// becomes its own mirror), and in the same transaction sets the given state keys: the
// sync progress they complete.
func (r *Repository) StoreIncoming(ctx context.Context, recs []wbo.Record, state map[string]string) (repository.StoreResult, error) {
	in := make([]repository.Resolved, len(recs))
	for i, rec := range recs {
		in[i] = repository.Resolved{Record: rec, Mirror: rec.Payload, Expect: repository.AnyVersion}
	}
	return r.ApplyIncoming(ctx, in, nil, state)
}

// ApplyIncoming implements repository.TrackedRepository.
func (r *Repository) ApplyIncoming(ctx context.Context, in []repository.Resolved, remove []string, state map[string]string) (repository.StoreResult, error) {
	var res repository.StoreResult
	err := r.d.write(ctx, func(tx *sql.Tx) error {
		var err error
		res, err = r.applyIncoming(tx, in, remove, state)
		return err
	})
	if err != nil {
		return repository.StoreResult{}, err
	}
	return res, nil
}

// BeginIncoming implements repository.IncomingBatcher. The transaction holds the write
// lock until it ends: other writes of this process, and of others, wait for it.
func (r *Repository) BeginIncoming(ctx context.Context) (repository.Incoming, error) {
	r.d.mu.Lock()
	tx, err := r.d.db.BeginTx(ctx, nil)
	if err != nil {
		r.d.mu.Unlock()
		return nil, err
	}
	return &incoming{r: r, tx: tx}, nil
}

// incoming is the transaction of BeginIncoming.
type incoming struct {
	r  *Repository
	tx *sql.Tx // nil once ended
}

var errIncomingEnded = errors.New("sqlite: the incoming transaction has ended")

func (t *incoming) ApplyIncoming(ctx context.Context, in []repository.Resolved, remove []string, state map[string]string) (repository.StoreResult, error) {
	if t.tx == nil {
		return repository.StoreResult{}, errIncomingEnded
	}
	res, err := t.r.applyIncoming(t.tx, in, remove, state)
	if err == nil {
		err = ctx.Err() // the transaction is bound to BeginIncoming's context, not this one
	}
	if err != nil {
		// What a failed statement left of itself is not known here: all of the
		// transaction goes, and its records are fetched again by the next sync.
		t.end(false)
		return repository.StoreResult{}, err
	}
	return res, nil
}

func (t *incoming) Commit() error   { return t.end(true) }
func (t *incoming) Rollback() error { return t.end(false) }

func (t *incoming) end(commit bool) error {
	if t.tx == nil {
		return errIncomingEnded
	}
	tx := t.tx
	t.tx = nil
	defer t.r.d.mu.Unlock()
	if commit {
		return tx.Commit()
	}
	return tx.Rollback()
}

// applyIncoming is ApplyIncoming inside tx, with the write lock held.
func (r *Repository) applyIncoming(tx *sql.Tx, in []repository.Resolved, remove []string, state map[string]string) (repository.StoreResult, error) {
	res := repository.StoreResult{Modified: wbo.Timestamp(r.d.tick())}
	err := func() error {
		for _, id := range remove {
			if _, err := tx.Exec(`DELETE FROM records WHERE collection = ? AND id = ?`, r.name, id); err != nil {
				return err
			}
		}
		// A record reconciled as absent here (Expect 0: every record of a first sync) is
		// inserted only if it is still absent, by the insert itself (INSERT OR IGNORE):
		// no lookup first. A statement that inserted fewer rows than it was given met
		// records created here meanwhile; they are told from this write's by their time. The others are checked
		// against the local times the resolutions were made against, read in this
		// transaction for all of them at once (not one query per record).
		count := make(map[string]int, len(in))
		for _, x := range in {
			count[x.Record.ID]++
		}
		var check []string
		for _, x := range in {
			if x.Expect != repository.AnyVersion && (x.Expect != 0 || count[x.Record.ID] > 1) {
				check = append(check, x.Record.ID)
			}
		}
		current, err := r.modifiedOf(tx, check)
		if err != nil {
			return err
		}
		const columns = `records (collection, id, payload, sortindex, ttl, modified, dirty, mirror) VALUES `
		rows := newRowWriter(tx, `INSERT OR REPLACE INTO `+columns, 8)
		defer rows.close()
		fresh := newRowWriter(tx, `INSERT OR IGNORE INTO `+columns, 8)
		fresh.trackShort = true
		defer fresh.close()
		stored := make([]bool, len(in))
		// In the order of their ids (records of the same id keep theirs): random ids
		// inserted as they come touch the (collection, id) index's leaf pages at
		// random, again and again, and once that index outgrows the page cache every
		// touch is a read and a rewrite. In order, each leaf page is visited once per
		// transaction. At 1,000,000 records this took applying from 18.9 to 15.5 µs a
		// record with 5,000 to a transaction, and, with 20,000, to 9.4
		// (BenchmarkApplyIncoming100k).
		order := make([]int, len(in))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(in[a].Record.ID, in[b].Record.ID) })
		for _, i := range order {
			x := in[i]
			rec := x.Record
			if err := rec.Validate(wbo.Limits{}); err != nil {
				res.Fail(rec.ID, err)
				continue
			}
			w := rows
			if x.Expect == 0 && count[rec.ID] == 1 {
				w = fresh
			} else if x.Expect != repository.AnyVersion && current[rec.ID] != int64(x.Expect) {
				// Written locally since it was reconciled: that newer local change wins.
				res.Fail(rec.ID, errChangedMeanwhile)
				continue
			}
			mirror := x.Mirror
			if mirror != nil && bytes.Equal(mirror, rec.Payload) {
				mirror = sameAsPayload
			}
			if err := w.add(r.name, rec.ID, rec.Payload, rec.SortIndex, rec.TTL, int64(res.Modified), x.Changed, mirror); err != nil {
				return err
			}
			stored[i] = true
		}
		if err := fresh.flush(); err != nil {
			return err
		}
		meanwhile, err := r.notWritten(tx, fresh.short, in, int64(res.Modified))
		if err != nil {
			return err
		}
		for i, x := range in {
			switch {
			case !stored[i]:
			case x.Expect == 0 && count[x.Record.ID] == 1 && meanwhile[x.Record.ID]:
				res.Fail(x.Record.ID, errChangedMeanwhile) // created here meanwhile: it wins
			default:
				res.Stored = append(res.Stored, x.Record.ID)
			}
		}
		if err := rows.flush(); err != nil {
			return err
		}
		return setState(tx, state)
	}()
	return res, err
}

// rowWriter inserts rows many to a statement: one statement of rowsPerStatement rows,
// prepared once for the transaction, costs about what one row does, and a first sync
// writes tens of thousands.
type rowWriter struct {
	tx      *sql.Tx
	prefix  string
	columns int
	full    *sql.Stmt // rowsPerStatement rows; prepared on first use
	args    []any
	// With trackShort, short collects the ids (each row's second value) of the
	// statements that changed fewer rows than they carried (INSERT OR IGNORE).
	trackShort bool
	short      []string
}

const rowsPerStatement = 64

func newRowWriter(tx *sql.Tx, prefix string, columns int) *rowWriter {
	return &rowWriter{tx: tx, prefix: prefix, columns: columns}
}

func (w *rowWriter) values(rows int) string {
	one := "(?" + strings.Repeat(",?", w.columns-1) + ")"
	return w.prefix + one + strings.Repeat(","+one, rows-1)
}

// run executes one statement of the queued rows.
func (w *rowWriter) run(st *sql.Stmt, query string) error {
	var res sql.Result
	var err error
	if st != nil {
		res, err = st.Exec(w.args...)
	} else {
		res, err = w.tx.Exec(query, w.args...)
	}
	if err != nil || !w.trackShort {
		return err
	}
	rows := len(w.args) / w.columns
	if n, err := res.RowsAffected(); err != nil || n < int64(rows) {
		for i := 0; i < rows; i++ {
			w.short = append(w.short, w.args[i*w.columns+1].(string))
		}
	}
	return nil
}

// add queues a row, writing a full statement's worth when it has one.
func (w *rowWriter) add(args ...any) error {
	w.args = append(w.args, args...)
	if len(w.args) < rowsPerStatement*w.columns {
		return nil
	}
	if w.full == nil {
		st, err := w.tx.Prepare(w.values(rowsPerStatement))
		if err != nil {
			return err
		}
		w.full = st
	}
	err := w.run(w.full, "")
	w.args = w.args[:0]
	return err
}

// flush writes the rows still queued.
func (w *rowWriter) flush() error {
	if len(w.args) == 0 {
		return nil
	}
	err := w.run(nil, w.values(len(w.args)/w.columns))
	w.args = w.args[:0]
	return err
}

func (w *rowWriter) close() {
	if w.full != nil {
		w.full.Close()
	}
}

// notWritten returns which of the ids (of rows an INSERT OR IGNORE was given for in)
// hold something else than that write put there: a record created here meanwhile,
// told from this write's by its time, payload and dirty flag (another process's clock
// can give the same time).
func (r *Repository) notWritten(tx *sql.Tx, ids []string, in []repository.Resolved, modified int64) (map[string]bool, error) {
	out := map[string]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	ours := make(map[string]*repository.Resolved, len(ids))
	for _, id := range ids {
		ours[id] = nil
	}
	for i := range in {
		if _, ok := ours[in[i].Record.ID]; ok {
			ours[in[i].Record.ID] = &in[i]
		}
	}
	err := inChunks(ids, func(list string, args []any) error {
		rows, err := tx.Query(`SELECT id, modified, dirty, payload FROM records WHERE collection = ? AND id `+list, append([]any{r.name}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var m, dirty int64
			var payload []byte
			if err := rows.Scan(&id, &m, &dirty, &payload); err != nil {
				return err
			}
			x := ours[id]
			if x == nil || m != modified || (dirty != 0) != x.Changed || !bytes.Equal(payload, x.Record.Payload) {
				out[id] = true
			}
		}
		return rows.Err()
	})
	return out, err
}

// modifiedOf returns the local modification times of the records with these ids that
// exist, 500 ids to a query.
func (r *Repository) modifiedOf(tx *sql.Tx, ids []string) (map[string]int64, error) {
	out := make(map[string]int64, len(ids))
	err := inChunks(repository.Unique(ids), func(in string, args []any) error {
		rows, err := tx.Query(`SELECT id, modified FROM records WHERE collection = ? AND id `+in, append([]any{r.name}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var m int64
			if err := rows.Scan(&id, &m); err != nil {
				return err
			}
			out[id] = m
		}
		return rows.Err()
	})
	return out, err
}

// sameAsPayload is the mirror of a record whose payload is its last synced version (every
// incoming record, every acknowledged upload): stored as an empty blob rather than a
// second copy of the payload, which halves what a first sync writes. No real mirror is
// empty (a payload is never empty), and a local edit materializes it first (store).
var sameAsPayload = []byte{}

var errChangedMeanwhile = errors.New("sqlite: changed locally during the sync")

// Empty implements repository.Emptier: the collection holds no record, not even a
// tombstone.
func (r *Repository) Empty(ctx context.Context) (bool, error) {
	var any bool
	err := r.d.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM records WHERE collection = ?)`, r.name).Scan(&any)
	return !any, err
}

// Lookup implements repository.TrackedRepository.
func (r *Repository) Lookup(ctx context.Context, ids []string) (map[string]repository.Tracked, error) {
	out := make(map[string]repository.Tracked, len(ids))
	err := inChunks(ids, func(in string, args []any) error {
		rows, err := r.d.rd.QueryContext(ctx, `SELECT id, payload, sortindex, ttl, modified, dirty = 1,
			CASE WHEN length(mirror) = 0 THEN payload ELSE mirror END FROM records WHERE collection = ? AND id `+in, append([]any{r.name}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var l repository.Tracked
			var sortindex, ttl sql.NullInt64
			if err := rows.Scan(&l.Record.ID, &l.Record.Payload, &sortindex, &ttl, &l.Record.Modified, &l.Changed, &l.Mirror); err != nil {
				return err
			}
			if sortindex.Valid {
				l.Record.SortIndex = &sortindex.Int64
			}
			if ttl.Valid {
				l.Record.TTL = &ttl.Int64
			}
			out[l.Record.ID] = l
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (r *Repository) store(ctx context.Context, recs []wbo.Record) (repository.StoreResult, error) {
	var res repository.StoreResult
	err := r.d.write(ctx, func(tx *sql.Tx) error {
		res = repository.StoreResult{Modified: wbo.Timestamp(r.d.tick())}
		// An upsert, not a replace: the mirror (the last synced version) must survive
		// local edits, or a later three-way merge has nothing to compare against; a
		// sameAsPayload mirror becomes the payload it stood for (the old one: on the
		// right of SET, payload is the row's value before the update).
		stmt, err := tx.Prepare(`INSERT INTO records (collection, id, payload, sortindex, ttl, modified, dirty) VALUES (?, ?, ?, ?, ?, ?, 1)
			ON CONFLICT (collection, id) DO UPDATE SET payload = excluded.payload, sortindex = excluded.sortindex,
			ttl = excluded.ttl, modified = excluded.modified, dirty = 1,
			mirror = CASE WHEN length(mirror) = 0 THEN payload ELSE mirror END`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, rec := range recs {
			if err := rec.Validate(wbo.Limits{}); err != nil {
				res.Fail(rec.ID, err)
				continue
			}
			if _, err := stmt.Exec(r.name, rec.ID, rec.Payload, rec.SortIndex, rec.TTL, int64(res.Modified)); err != nil {
				return err
			}
			res.Stored = append(res.Stored, rec.ID)
		}
		return nil
	})
	if err != nil {
		return repository.StoreResult{}, err
	}
	return res, nil
}

// Changes streams the records to upload: local changes the server has not acknowledged,
// and, after a reset, records the incoming pass did not find on the server.
//
// Left to itself, SQLite reads them through records_by_modified, which is already in
// upload order, and so visits every record of the collection to find the few changed
// (0.1 s per sync at 100,000 records); the partial index holds only changes.
//
// They are read changesPage at a time, each page after the last one's (modified, id) in
// that index, with no rows open while fn runs: memory holds a page, not every change
// (a device with 100,000 changes held them all, 107 MB of heap at the peak of its
// upload), and fn may write, as an upload marking what the server took does. A record
// changed again meanwhile has a later time and comes again, later in the same pass.
func (r *Repository) Changes(ctx context.Context, fn func(wbo.Record) error) error {
	var (
		after   wbo.Timestamp
		afterID string
		first   = true
	)
	for {
		where, args := `dirty <> 0`, []any(nil)
		if !first {
			where, args = `dirty <> 0 AND (modified, id) > (?, ?)`, []any{after, afterID}
		}
		n := 0
		// On a reader's connection: the writer's may be marking the last page synced.
		err := r.queryOn(ctx, r.d.rd, func(rec wbo.Record) error {
			n++
			after, afterID = rec.Modified, rec.ID
			return fn(rec)
		}, `records INDEXED BY records_changes`, where, changesPage, args...)
		if err != nil || n < changesPage {
			return err
		}
		first = false
	}
}

// changesPage is how many changes Changes reads at a time.
const changesPage = 2_000

// HasChange reports whether a record holds an unacknowledged local change.
func (r *Repository) HasChange(ctx context.Context, id string) (bool, error) {
	var n int
	err := r.d.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM records WHERE collection = ? AND id = ? AND dirty = 1`, r.name, id).Scan(&n)
	return n > 0, err
}

// MarkSynced clears the change mark of records the server acknowledged, given as the
// Modified each had when it was read for upload: a record changed again since stays
// marked. The state keys are set in the same transaction.
func (r *Repository) MarkSynced(ctx context.Context, recs []wbo.Record, state map[string]string) error {
	return r.d.write(ctx, func(tx *sql.Tx) error {
		// Prepared once: parsing the statement again for each record cost more than
		// the update (1 s of a 100,000-record upload). One UPDATE … FROM json_each for
		// all of them was far slower still (minutes for 100,000 records).
		stmt, err := tx.Prepare(`UPDATE records SET dirty = 0, mirror = X'' WHERE collection = ? AND id = ? AND modified = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, rec := range recs {
			if _, err := stmt.Exec(r.name, rec.ID, int64(rec.Modified)); err != nil {
				return err
			}
		}
		return setState(tx, state)
	})
}

// Delete removes records outright (no tombstone; use wbo.Tombstone for a deletion that
// syncs).
func (r *Repository) Delete(ctx context.Context, ids []string) error {
	return r.d.write(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			if _, err := tx.Exec(`DELETE FROM records WHERE collection = ? AND id = ?`, r.name, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// State implements repository.TrackedRepository (the database's state table).
func (r *Repository) State(ctx context.Context, key string) (string, error) {
	return r.d.State(ctx, key)
}

// Wipe implements repository.Repository.
func (r *Repository) Wipe(ctx context.Context) error {
	return r.d.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`DELETE FROM records WHERE collection = ?`, r.name)
		return err
	})
}

// ResetSync forgets this collection's sync progress, in one transaction: the next sync
// downloads everything and uploads what the server lacks (after a reset, a fresh start,
// new keys or a node reassignment). Local changes stay changes, and keep their mirrors,
// so a three-way merge still knows what this device edited. Records that were in sync
// become "unverified": the server's version wins if it has one (nothing changed here),
// and they go up again if it has none.
func (r *Repository) ResetSync(ctx context.Context) error {
	return r.d.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`DELETE FROM state WHERE substr(key, 1, ?) = ?`, len(r.name)+1, r.name+"."); err != nil {
			return err
		}
		_, err := tx.Exec(`UPDATE records SET dirty = 2 WHERE collection = ? AND dirty = 0`, r.name)
		return err
	})
}

var _ repository.TrackedRepository = (*Repository)(nil)
