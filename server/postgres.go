package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// postgresSchema is sqliteSchema's tables in PostgreSQL's types. Text keys sort bytewise
// (COLLATE "C"), as SQLite's do: the order of ids with equal timestamps, and of
// info/collections, is the same on both. uids and batch ids come from sequences, not
// SERIAL, so that they stay small on the distributed databases where SERIAL means a
// 64-bit row id (a uid is at most 10 digits in a storage URL).
const postgresSchema = `
CREATE TABLE IF NOT EXISTS users (
	uid      BIGINT PRIMARY KEY,
	modified BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS collections (
	uid      BIGINT NOT NULL,
	name     TEXT COLLATE "C" NOT NULL,
	modified BIGINT NOT NULL,
	PRIMARY KEY (uid, name)
);
CREATE TABLE IF NOT EXISTS bsos (
	uid        BIGINT NOT NULL,
	collection TEXT COLLATE "C" NOT NULL,
	id         TEXT COLLATE "C" NOT NULL,
	sortindex  BIGINT,
	modified   BIGINT NOT NULL,
	expiry     BIGINT NOT NULL,
	payload    TEXT NOT NULL,
	PRIMARY KEY (uid, collection, id)
);
CREATE INDEX IF NOT EXISTS bsos_by_modified_id ON bsos (uid, collection, modified, id);
CREATE SEQUENCE IF NOT EXISTS batches_id;
CREATE TABLE IF NOT EXISTS batches (
	id         BIGINT PRIMARY KEY DEFAULT nextval('batches_id'),
	uid        BIGINT NOT NULL,
	collection TEXT COLLATE "C" NOT NULL,
	expiry     BIGINT NOT NULL,
	records    BIGINT NOT NULL DEFAULT 0,
	bytes      BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS batches_by_uid ON batches (uid, collection);
CREATE TABLE IF NOT EXISTS batch_bsos (
	batch         BIGINT NOT NULL,
	seq           BIGINT NOT NULL,
	id            TEXT COLLATE "C" NOT NULL,
	has_payload   BOOLEAN NOT NULL,
	payload       TEXT,
	has_sortindex BOOLEAN NOT NULL,
	sortindex     BIGINT,
	has_ttl       BOOLEAN NOT NULL,
	ttl           BIGINT,
	PRIMARY KEY (batch, seq)
);
CREATE SEQUENCE IF NOT EXISTS accounts_uid;
CREATE TABLE IF NOT EXISTS accounts (
	uid             BIGINT PRIMARY KEY DEFAULT nextval('accounts_uid'),
	name            TEXT NOT NULL,
	client_state    TEXT NOT NULL,
	keys_changed_at BIGINT NOT NULL,
	created         BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS accounts_by_name ON accounts (name, uid);
CREATE TABLE IF NOT EXISTS account_generations (name TEXT PRIMARY KEY, generation BIGINT NOT NULL);
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS node TEXT NOT NULL DEFAULT '';
CREATE TABLE IF NOT EXISTS nodes (url TEXT PRIMARY KEY, retired INTEGER NOT NULL DEFAULT 0, users BIGINT NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- The Hawk replay cache every node shares: a hash of (id, nonce, ts) until it expires.
CREATE TABLE IF NOT EXISTS hawk_nonces (key BYTEA PRIMARY KEY, expiry BIGINT NOT NULL);
`

// maxPostgresConns bounds one node's connections to the database (reads and writes
// share them). PostgreSQL's own default limit is 100 for all nodes together.
const maxPostgresConns = 24

// openPostgres connects to the database at url and makes the tables if they are not
// there. Several nodes may start at once: creating the schema is retried when another
// node's creation got there first.
func openPostgres(url string, now func() time.Time, dbClock bool) (*store, error) {
	pool, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("server: %w: %v", ErrBadDatabaseURL, err)
	}
	pool.SetMaxOpenConns(maxPostgresConns)
	pool.SetMaxIdleConns(maxPostgresConns)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := createSchema(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("server: PostgreSQL at %s: %w", redactURL(url), err)
	}
	st := newStore(postgresDialect, pool, pool, now)
	st.dbClock = dbClock
	st.sharedNonces = true
	st.every(time.Minute, st.purgeNonces)
	st.every(purgeEvery, func() { st.purgeExpired() })
	return st, nil
}

// ErrBadDatabaseURL: --db is not a database URL the server can use.
var ErrBadDatabaseURL = errors.New("server: not a usable database URL")

func createSchema(ctx context.Context, pool *sql.DB) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if _, err = pool.ExecContext(ctx, postgresSchema); err == nil {
			return nil
		}
		var pe *pgconn.PgError
		// 23505, 42P07, 42710: another node created the same object at the same moment.
		if !errors.As(err, &pe) || (pe.Code != "23505" && pe.Code != "42P07" && pe.Code != "42710") {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 50 * time.Millisecond)
	}
	return err
}

// redactURL is url without its password, for messages.
func redactURL(url string) string {
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return "(unparsable URL)"
	}
	return fmt.Sprintf("%s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
}

// rememberNonce records a Hawk nonce's hash in the table every node shares, and reports
// whether it was new there: a request replayed to another node is refused too.
func (st *store) rememberNonce(ctx context.Context, key []byte, expiry int64) (fresh bool, err error) {
	r, err := st.w.pool.ExecContext(ctx, st.d.bind(`INSERT INTO hawk_nonces (key, expiry) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`), key, expiry)
	if err != nil {
		return false, err
	}
	n, err := r.RowsAffected()
	return n == 1, err
}

// purgeNonces forgets the nonces no request can carry any more (their timestamps are
// past the skew window); it runs every minute: the table holds about two skew windows of
// requests. Every node purges; the deletes are idempotent.
func (st *store) purgeNonces() {
	st.w.Exec(`DELETE FROM hawk_nonces WHERE expiry < ?`, st.now().Unix())
}

// postgresTransient names the PostgreSQL conditions that say "not now" rather than
// "broken": the request is answered 503 with Retry-After, and the client tries again.
func postgresTransient(err error) (condition, bool) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "53100":
			return condition{"disk full", 60}, true
		case pe.Code == "40001" || pe.Code == "40P01":
			return condition{"database conflict", 5}, true
		case strings.HasPrefix(pe.Code, "53"), strings.HasPrefix(pe.Code, "57P"), strings.HasPrefix(pe.Code, "08"):
			return condition{"database unavailable", 5}, true
		}
		return condition{}, false
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	if errors.As(err, &ne) || errors.As(err, &ce) || pgconn.SafeToRetry(err) || errors.Is(err, sql.ErrConnDone) {
		return condition{"database unreachable", 5}, true
	}
	return condition{}, false
}
