package offline

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/syncctl/syncctl/internal/localdb"
	"github.com/syncctl/syncctl/wbo"
)

const schema = `
CREATE TABLE IF NOT EXISTS ops (
	id         TEXT PRIMARY KEY,
	collection TEXT NOT NULL,
	record     TEXT NOT NULL,
	kind       TEXT NOT NULL,
	fields     BLOB,
	seq        INTEGER NOT NULL,       -- local order of pending operations
	applied    INTEGER NOT NULL        -- 0: pending (not yet on the server); 1: in base
);
CREATE INDEX IF NOT EXISTS ops_pending ON ops (collection, record, seq) WHERE applied = 0;
CREATE TABLE IF NOT EXISTS base (
	collection TEXT NOT NULL,
	id         TEXT NOT NULL,
	fields     BLOB,
	removed    INTEGER NOT NULL,
	PRIMARY KEY (collection, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`

// ErrRemoved: the record was removed; a removed id stays removed.
var ErrRemoved = errors.New("offline: the record was removed")

// Store is the local side: records and the queue of operations not yet on the server.
type Store struct {
	db      *sql.DB
	mu      sync.Mutex // serializes writes
	onWrite func()     // wakes the sync loop
	path    string
}

// Open opens or creates the store at path.
func Open(path string) (*Store, error) {
	// FULL: a pending change must survive a power cut once Set has returned.
	db, err := localdb.Open(path, schema, "FULL")
	if err != nil {
		return nil, fmt.Errorf("offline: %s: %w", path, err)
	}
	return &Store{db: db, path: path}, nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) write(ctx context.Context, fn func(*sql.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return localdb.InTx(ctx, s.db, fn)
}

type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// view is a record as the app sees it: its confirmed state with the pending operations
// reapplied.
func view(ctx context.Context, q querier, coll, id string) (state, error) {
	var s state
	var fields []byte
	err := q.QueryRowContext(ctx, `SELECT fields, removed FROM base WHERE collection = ? AND id = ?`, coll, id).Scan(&fields, &s.Removed)
	switch {
	case err == nil:
		s.Exists = true
		if len(fields) > 0 {
			if err := json.Unmarshal(fields, &s.Fields); err != nil {
				return s, fmt.Errorf("offline: %s/%s: the confirmed fields are unreadable: %w", coll, id, err)
			}
		}
	case !errors.Is(err, sql.ErrNoRows):
		return s, err
	}
	ops, err := pendingOps(ctx, q, `collection = ? AND record = ?`, coll, id)
	if err != nil {
		return s, err
	}
	for _, op := range ops {
		s = apply(s, op)
	}
	return s, nil
}

func pendingOps(ctx context.Context, q querier, where string, args ...any) ([]Op, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, collection, record, kind, fields FROM ops WHERE applied = 0 AND `+where+` ORDER BY seq`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Op
	for rows.Next() {
		var op Op
		var fields []byte
		if err := rows.Scan(&op.ID, &op.Collection, &op.Record, &op.Kind, &fields); err != nil {
			return nil, err
		}
		if len(fields) > 0 {
			if err := json.Unmarshal(fields, &op.Fields); err != nil {
				return nil, fmt.Errorf("offline: operation %s: its fields are unreadable: %w", op.ID, err)
			}
		}
		out = append(out, op)
	}
	return out, rows.Err()
}

// Set writes a record: a create if it does not exist, else an update carrying only the
// fields that changed (a field absent from fields is removed). The insert that queues the
// operation is what makes the write visible, so a write survives any crash after Set
// returns.
func (s *Store) Set(ctx context.Context, coll, id string, fields map[string]any) error {
	enc := make(map[string]json.RawMessage, len(fields))
	for k, v := range fields {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("offline: field %s: %w", k, err)
		}
		enc[k] = b
	}
	return s.record(ctx, coll, id, func(cur state) (Kind, map[string]json.RawMessage, error) {
		switch {
		case cur.Removed:
			return "", nil, ErrRemoved
		case !cur.Exists:
			return Create, enc, nil
		}
		return Update, diff(cur.Fields, enc), nil
	})
}

// Remove removes a record for good.
func (s *Store) Remove(ctx context.Context, coll, id string) error {
	return s.record(ctx, coll, id, func(cur state) (Kind, map[string]json.RawMessage, error) {
		if cur.Removed {
			return "", nil, nil
		}
		return Remove, nil, nil
	})
}

func (s *Store) record(ctx context.Context, coll, id string, decide func(state) (Kind, map[string]json.RawMessage, error)) error {
	if !wbo.ValidID(id) {
		return fmt.Errorf("%w: %q", wbo.ErrInvalidID, id)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		cur, err := view(ctx, tx, coll, id)
		if err != nil {
			return err
		}
		kind, fields, err := decide(cur)
		if err != nil || kind == "" || (kind == Update && len(fields) == 0) {
			return err
		}
		var seq int64
		if err := tx.QueryRow(`SELECT COALESCE(MAX(seq), 0) + 1 FROM ops`).Scan(&seq); err != nil {
			return err
		}
		var f []byte
		if fields != nil {
			f, _ = json.Marshal(fields)
		}
		// The id sorts in local order: the server returns one commit's records sorted by
		// id, and every device must fold them in the order they were written.
		opID := fmt.Sprintf("%012x", seq) + wbo.NewGUID(nil)[:8]
		_, err = tx.Exec(`INSERT INTO ops (id, collection, record, kind, fields, seq, applied) VALUES (?, ?, ?, ?, ?, ?, 0)`,
			opID, coll, id, string(kind), f, seq)
		return err
	})
	if err == nil && s.onWrite != nil {
		s.onWrite()
	}
	return err
}

// Get returns a record's fields as the app sees them.
func (s *Store) Get(ctx context.Context, coll, id string) (map[string]json.RawMessage, bool, error) {
	st, err := view(ctx, s.db, coll, id)
	if err != nil || !st.Exists || st.Removed {
		return nil, false, err
	}
	return st.Fields, true, nil
}

// List returns every live record of a collection.
func (s *Store) List(ctx context.Context, coll string) (map[string]map[string]json.RawMessage, error) {
	ids := map[string]bool{}
	for _, q := range []string{`SELECT id FROM base WHERE collection = ?`, `SELECT DISTINCT record FROM ops WHERE applied = 0 AND collection = ?`} {
		rows, err := s.db.QueryContext(ctx, q, coll)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			rows.Scan(&id)
			ids[id] = true
		}
		rows.Close()
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	out := map[string]map[string]json.RawMessage{}
	for _, id := range sorted {
		f, ok, err := s.Get(ctx, coll, id)
		if err != nil {
			return nil, err
		}
		if ok {
			out[id] = f
		}
	}
	return out, nil
}

// watchWrites calls fn whenever a commit by another connection, in this process or
// any other, changes the database: SQLite's data_version, polled on a connection of its
// own, moves on such a commit. It returns when ctx ends.
func (s *Store) watchWrites(ctx context.Context, every time.Duration, fn func()) {
	// A connection of its own: the store's one writer connection is busy with the
	// loop's work, and data_version moves only for commits by other connections.
	rd, err := localdb.OpenReader(s.path, 1)
	if err != nil {
		return
	}
	defer rd.Close()
	conn, err := rd.Conn(ctx)
	if err != nil {
		return
	}
	defer conn.Close()
	version := func() (int64, error) {
		var v int64
		err := conn.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v)
		return v, err
	}
	last, err := version()
	if err != nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v, err := version()
		if err != nil {
			continue // busy or closing: the next tick tries again
		}
		if v != last {
			last = v
			fn()
		}
	}
}

// Pending counts the operations not yet on the server.
func (s *Store) Pending(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM ops WHERE applied = 0`).Scan(&n)
	return n, err
}

// pendingBatch returns up to n pending operations of a collection, oldest first.
func (s *Store) pendingBatch(ctx context.Context, coll string, n int) ([]Op, error) {
	ops, err := pendingOps(ctx, s.db, `collection = ?`, coll)
	if len(ops) > n {
		ops = ops[:n]
	}
	return ops, err
}

func progressKey(coll string) string { return "lastServer." + coll }

func (s *Store) progress(ctx context.Context, coll string) (wbo.Timestamp, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM state WHERE key = ?`, progressKey(coll)).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return wbo.Timestamp(n), err
}

// fold applies operations to the confirmed base in the given (server) order, marking each
// applied, and moves the collection's progress to ts: one transaction. An operation seen
// before (our own, coming back from the server) is applied once.
func (s *Store) fold(ctx context.Context, coll string, ops []Op, ts wbo.Timestamp) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		for _, op := range ops {
			var applied sql.NullBool
			err := tx.QueryRow(`SELECT applied FROM ops WHERE id = ?`, op.ID).Scan(&applied)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if applied.Valid && applied.Bool {
				continue
			}
			var base state
			var fields []byte
			err = tx.QueryRow(`SELECT fields, removed FROM base WHERE collection = ? AND id = ?`, op.Collection, op.Record).Scan(&fields, &base.Removed)
			if err == nil {
				base.Exists = true
				if len(fields) > 0 {
					if err := json.Unmarshal(fields, &base.Fields); err != nil {
						return fmt.Errorf("offline: %s/%s: the confirmed fields are unreadable: %w", op.Collection, op.Record, err)
					}
				}
			} else if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			next := apply(base, op)
			f, _ := json.Marshal(next.Fields)
			if _, err := tx.Exec(`INSERT OR REPLACE INTO base (collection, id, fields, removed) VALUES (?, ?, ?, ?)`, op.Collection, op.Record, f, next.Removed); err != nil {
				return err
			}
			of, _ := json.Marshal(op.Fields)
			if _, err := tx.Exec(`INSERT INTO ops (id, collection, record, kind, fields, seq, applied) VALUES (?, ?, ?, ?, ?, 0, 1)
				ON CONFLICT (id) DO UPDATE SET applied = 1`, op.ID, op.Collection, op.Record, string(op.Kind), of); err != nil {
				return err
			}
		}
		_, err := tx.Exec(`INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)`, progressKey(coll), strconv.FormatInt(int64(ts), 10))
		return err
	})
}
