package server

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
)

// dialect is what differs between the two databases the server runs on. Everything else
// — the tables, the statements, the order of a write — is one code path: the same tests
// hold both to the same behaviour.
type dialect struct {
	name string
	// numbered: PostgreSQL's placeholders are $1, $2…; statements are written with ?.
	numbered bool
	// forUpdate locks the rows a write transaction reads first. SQLite has one writer, so
	// it needs (and has) no row locks.
	forUpdate string
	// payloadBytes is a record's payload size in bytes (SQLite's LENGTH counts characters;
	// its octet_length reads the size from the row's header, not the payload's pages).
	payloadBytes string
	// readOptions give a read request one consistent snapshot of the database.
	readOptions *sql.TxOptions
}

var (
	sqliteDialect = &dialect{name: "sqlite", payloadBytes: sqlitePayloadBytes,
		readOptions: &sql.TxOptions{ReadOnly: true}}
	postgresDialect = &dialect{name: "postgres", numbered: true, forUpdate: ` FOR UPDATE`, payloadBytes: `octet_length(payload)`,
		readOptions: &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}}
)

// bind turns the ? placeholders of q into the dialect's. No statement of the server has
// a ? inside a string literal, so every ? is a placeholder.
func (d *dialect) bind(q string) string {
	if !d.numbered || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + len(q)/4)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] != '?' {
			b.WriteByte(q[i])
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}

// db is a connection pool that speaks the dialect: every statement goes through bind.
// It has no methods that take SQL unbound, so a statement cannot skip it.
type db struct {
	pool *sql.DB
	d    *dialect
	// stmts, when set, prepares the texts its transactions run often (see stmtCache).
	stmts *stmtCache
}

func (x db) Exec(q string, args ...any) (sql.Result, error) { return x.pool.Exec(x.d.bind(q), args...) }
func (x db) QueryRow(q string, args ...any) *sql.Row        { return x.pool.QueryRow(x.d.bind(q), args...) }
func (x db) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return x.pool.QueryRowContext(ctx, x.d.bind(q), args...)
}
func (x db) Prepare(q string) (*sql.Stmt, error) { return x.pool.Prepare(x.d.bind(q)) }
func (x db) PingContext(ctx context.Context) error {
	return x.pool.PingContext(ctx)
}
func (x db) Close() error { return x.pool.Close() }

// begin opens a transaction that speaks the dialect.
func (x db) begin(ctx context.Context, opts *sql.TxOptions) (*tx, error) {
	t, err := x.pool.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &tx{tx: t, d: x.d, stmts: x.stmts}, nil
}

// tx is a transaction that speaks the dialect.
type tx struct {
	tx    *sql.Tx
	d     *dialect
	stmts *stmtCache
	// missed are texts to prepare once the transaction has ended.
	missed []string
}

func (t *tx) Exec(q string, args ...any) (sql.Result, error) {
	q = t.d.bind(q)
	if s := t.prepared(q); s != nil {
		return s.Exec(args...)
	}
	return t.tx.Exec(q, args...)
}

func (t *tx) Query(q string, args ...any) (*sql.Rows, error) {
	q = t.d.bind(q)
	if s := t.prepared(q); s != nil {
		return s.Query(args...)
	}
	return t.tx.Query(q, args...)
}

func (t *tx) QueryRow(q string, args ...any) *sql.Row {
	q = t.d.bind(q)
	if s := t.prepared(q); s != nil {
		return s.QueryRow(args...)
	}
	return t.tx.QueryRow(q, args...)
}

// prepared returns the cache's statement for q bound to this transaction, or nil.
func (t *tx) prepared(q string) *sql.Stmt {
	if t.stmts == nil {
		return nil
	}
	s, again := t.stmts.get(q)
	if s != nil {
		return t.tx.Stmt(s)
	}
	if again {
		t.missed = append(t.missed, q)
	}
	return nil
}

func (t *tx) Stmt(s *sql.Stmt) *sql.Stmt { return t.tx.Stmt(s) }

func (t *tx) Commit() error {
	err := t.tx.Commit()
	t.end()
	return err
}

func (t *tx) Rollback() error {
	err := t.tx.Rollback()
	t.end()
	return err
}

// end prepares the texts this transaction missed, its connection given back.
func (t *tx) end() {
	if len(t.missed) > 0 {
		missed := t.missed
		t.missed = nil
		t.stmts.prepare(missed)
	}
}
