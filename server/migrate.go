package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// MigrateStats says what a migration did.
type MigrateStats struct {
	Accounts int64 `json:"accounts"`
	Users    int64 `json:"users"`
	// Records is how many records the source holds; Copied how many of them were new or
	// different at the destination (0 on a second run: nothing to do).
	Records int64 `json:"records"`
	Copied  int64 `json:"copied"`
	// Resumed: an interrupted run of the same migration was taken up where it stopped.
	Resumed bool `json:"resumed"`
}

// ErrDestinationInUse: the PostgreSQL database already serves accounts that did not
// come from this SQLite file; merging two servers' accounts would mix up their uids.
var ErrDestinationInUse = errors.New("server: the destination database already holds other accounts")

// ErrNoSource: there is no SQLite server's database where the migration was pointed.
var ErrNoSource = errors.New("server: no syncstorage.db to migrate from")

// migrateChunk is how many records one transaction copies: a run stopped at any moment
// loses at most one chunk's work, and takes up after the last chunk committed.
const migrateChunk = 2000

// Migrate copies the SQLite server in dir to the PostgreSQL database at url: accounts
// (with their uids, so tokens and clients carry on), key generations, every user's
// timestamps, collections and records (with their timestamps, sortindexes and expiry).
// Open batches are not copied: nothing in them was acknowledged, and a client whose
// batch is gone starts it again. Stop the SQLite server first (the copy is of what the
// file holds when each chunk is read).
//
// It can be stopped at any point and run again: records are copied in key order, a
// chunk per transaction, the last key committed kept at the destination, and a record
// already there with the same content is not written again. A second run after a
// finished one writes nothing.
func Migrate(ctx context.Context, dir, url string, progress func(MigrateStats)) (MigrateStats, error) {
	var stats MigrateStats
	if _, err := os.Stat(filepath.Join(dir, "syncstorage.db")); err != nil {
		return stats, fmt.Errorf("%w: %v", ErrNoSource, err)
	}
	src, err := openSQLite(dir, time.Now)
	if err != nil {
		return stats, err
	}
	defer src.close()
	dst, err := openPostgres(url, time.Now, true)
	if err != nil {
		return stats, err
	}
	defer dst.close()
	if err := ownDestination(dst, dir); err != nil {
		return stats, err
	}
	if err := copyAccounts(ctx, src, dst, &stats); err != nil {
		return stats, fmt.Errorf("server: migrating accounts: %w", err)
	}
	if err := src.r.QueryRow(`SELECT COUNT(*) FROM bsos`).Scan(&stats.Records); err != nil {
		return stats, err
	}
	from, err := dst.setting("migrate_resume")
	if err != nil {
		return stats, err
	}
	stats.Resumed = from != ""
	if err := copyRecords(ctx, src, dst, from, &stats, progress); err != nil {
		return stats, fmt.Errorf("server: migrating records: %w", err)
	}
	return stats, nil
}

// ownDestination marks the destination as this file's migration, or refuses one that
// serves accounts from elsewhere.
func ownDestination(dst *store, dir string) error {
	source := "sqlite:" + dir
	if _, err := dst.w.Exec(`INSERT INTO settings (key, value) SELECT 'migrated_from', ? WHERE NOT EXISTS (SELECT 1 FROM accounts)
		ON CONFLICT (key) DO NOTHING`, source); err != nil {
		return err
	}
	got, err := dst.setting("migrated_from")
	if err != nil {
		return err
	}
	if got != source {
		return ErrDestinationInUse
	}
	return nil
}

// copyAccounts copies the small tables in one transaction: accounts (uids and nodes
// kept, the uid sequence moved past them), storage nodes, generations, users' and
// collections' timestamps (the later of the two sides kept).
func copyAccounts(ctx context.Context, src, dst *store, stats *MigrateStats) error {
	t, err := dst.w.begin(ctx, nil)
	if err != nil {
		return err
	}
	defer t.Rollback()
	type table struct {
		sel, ins string
		cols     int
		n        *int64
	}
	for _, tb := range []table{
		{`SELECT uid, name, client_state, keys_changed_at, created, node FROM accounts`,
			`INSERT INTO accounts (uid, name, client_state, keys_changed_at, created, node) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (uid) DO UPDATE SET client_state = excluded.client_state, keys_changed_at = excluded.keys_changed_at,
			node = excluded.node`, 6, &stats.Accounts},
		{`SELECT url, retired, users FROM nodes`,
			`INSERT INTO nodes (url, retired, users) VALUES (?, ?, ?)
			ON CONFLICT (url) DO UPDATE SET retired = excluded.retired, users = excluded.users`, 3, nil},
		{`SELECT name, generation FROM account_generations`,
			`INSERT INTO account_generations (name, generation) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET generation = GREATEST(account_generations.generation, excluded.generation)`, 2, nil},
		{`SELECT uid, modified FROM users`,
			`INSERT INTO users (uid, modified) VALUES (?, ?)
			ON CONFLICT (uid) DO UPDATE SET modified = GREATEST(users.modified, excluded.modified)`, 2, &stats.Users},
		{`SELECT uid, name, modified FROM collections`,
			`INSERT INTO collections (uid, name, modified) VALUES (?, ?, ?)
			ON CONFLICT (uid, name) DO UPDATE SET modified = GREATEST(collections.modified, excluded.modified)`, 3, nil},
	} {
		rows, err := src.r.pool.QueryContext(ctx, tb.sel)
		if err != nil {
			return err
		}
		vals := make([]any, tb.cols)
		ptrs := make([]any, tb.cols)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return err
			}
			if _, err := t.Exec(tb.ins, vals...); err != nil {
				rows.Close()
				return err
			}
			if tb.n != nil {
				*tb.n++
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	if _, err := t.Exec(`SELECT setval('accounts_uid', GREATEST((SELECT COALESCE(MAX(uid), 0) FROM accounts), 1))`); err != nil {
		return err
	}
	return t.Commit()
}

// resumeKey is the last record a run of a migration committed.
type resumeKey struct {
	UID        int64  `json:"uid"`
	Collection string `json:"collection"`
	ID         string `json:"id"`
}

// copyRecords copies bsos in (uid, collection, id) order from just after the key from
// ("" from the start), a chunk per destination transaction that also records the chunk's
// last key; the key is cleared once all are copied.
func copyRecords(ctx context.Context, src, dst *store, from string, stats *MigrateStats, progress func(MigrateStats)) error {
	var (
		uid      int64
		coll, id string
	)
	if from != "" {
		var key resumeKey
		if err := json.Unmarshal([]byte(from), &key); err != nil {
			return fmt.Errorf("the resume key %q: %w", from, err)
		}
		uid, coll, id = key.UID, key.Collection, key.ID
	}
	for {
		rows, err := src.r.pool.QueryContext(ctx, `SELECT uid, collection, id, sortindex, modified, expiry, payload FROM bsos
			WHERE (uid, collection, id) > (?, ?, ?) ORDER BY uid, collection, id LIMIT ?`, uid, coll, id, migrateChunk)
		if err != nil {
			return err
		}
		type rec struct {
			uid               int64
			coll, id, payload string
			sortindex         sql.NullInt64
			modified, expiry  int64
		}
		var chunk []rec
		for rows.Next() {
			var r rec
			if err := rows.Scan(&r.uid, &r.coll, &r.id, &r.sortindex, &r.modified, &r.expiry, &r.payload); err != nil {
				rows.Close()
				return err
			}
			if r.payload, err = src.files.resolveString(r.payload); err != nil {
				rows.Close()
				return err
			}
			chunk = append(chunk, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(chunk) == 0 {
			return dst.deleteSetting("migrate_resume")
		}
		t, err := dst.w.begin(ctx, nil)
		if err != nil {
			return err
		}
		for start := 0; start < len(chunk); start += 200 {
			part := chunk[start:min(start+200, len(chunk))]
			args := make([]any, 0, len(part)*7)
			for _, r := range part {
				args = append(args, r.uid, r.coll, r.id, r.sortindex, r.modified, r.expiry, r.payload)
			}
			// A record the destination already has as it is here is not written again.
			res, err := t.Exec(`INSERT INTO bsos (uid, collection, id, sortindex, modified, expiry, payload) VALUES (?, ?, ?, ?, ?, ?, ?)`+
				strings.Repeat(`, (?, ?, ?, ?, ?, ?, ?)`, len(part)-1)+
				` ON CONFLICT (uid, collection, id) DO UPDATE SET sortindex = excluded.sortindex, modified = excluded.modified,
				expiry = excluded.expiry, payload = excluded.payload
				WHERE (bsos.sortindex, bsos.modified, bsos.expiry, bsos.payload) IS DISTINCT FROM
					(excluded.sortindex, excluded.modified, excluded.expiry, excluded.payload)`, args...)
			if err != nil {
				t.Rollback()
				return err
			}
			n, _ := res.RowsAffected()
			stats.Copied += n
		}
		last := chunk[len(chunk)-1]
		uid, coll, id = last.uid, last.coll, last.id
		key, _ := json.Marshal(resumeKey{uid, coll, id})
		if _, err := t.Exec(`INSERT INTO settings (key, value) VALUES ('migrate_resume', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
			string(key)); err != nil {
			t.Rollback()
			return err
		}
		if err := t.Commit(); err != nil {
			return err
		}
		if progress != nil {
			progress(*stats)
		}
	}
}
