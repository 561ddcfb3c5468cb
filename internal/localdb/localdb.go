// Package localdb opens the SQLite files syncctl keeps on a device (local records,
// offline changes, the blob index) the same way everywhere: owner-only, WAL, one
// connection, so writes serialize and "database is locked" cannot happen in-process.
package localdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// ErrCannotOpen: the database file cannot be opened or created (a directory in its
// place, no permission, a read-only disk); the error wraps the system's reason.
var ErrCannotOpen = errors.New("localdb: cannot open the database file")

// Open opens or creates the database at path and applies schema (which must be
// idempotent: CREATE … IF NOT EXISTS). synchronous is SQLite's setting: "FULL" where a
// commit must survive power loss, "NORMAL" where losing the last commits is harmless.
func Open(path, schema, synchronous string) (*sql.DB, error) {
	// Created owner-only before SQLite creates it with the umask's mode: these files
	// hold sync state and, in one case, a cached storage token.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		// Said here, by the system, rather than as SQLite's "unable to open database
		// file (14)", which does not say why.
		return nil, fmt.Errorf("%w: %w", ErrCannotOpen, err)
	}
	f.Close()
	// temp_store(MEMORY): a multi-row upsert keeps a statement journal (to undo itself
	// alone if it fails halfway); in a temporary file, as by default, it was half the cost
	// of applying a first sync's records. It holds one statement's pages at most.
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous("+synchronous+")&_pragma=temp_store(MEMORY)&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// OpenReader opens a second handle on a database Open made, for reads only: in WAL mode
// it reads the last commit while the writer's connection is inside its next
// transaction, so a reader need not wait for a long write.
func OpenReader(path string, conns int) (*sql.DB, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	return db, nil
}

// InTx runs fn in one transaction of db: committed if fn returns nil, rolled back if it
// fails, so that a half-done write is never seen.
func InTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
