// Package blob syncs immutable, content-addressed, encrypted blobs through a SyncStorage
// server. A blob's id is a keyed hash of its content (the server learns nothing from
// it); its bytes travel as encrypted chunk records "<id>.<n>", each HMAC-verified, and a
// manifest record "<id>" written last makes it visible all at once. Locally, blobs are
// files in a directory with an SQLite index of each one's status: SYNCED,
// PENDING_UPLOAD, PENDING_DOWNLOAD or FAILED_DOWNLOAD. Blobs are never updated; deleting
// one is deleting it.
package blob

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/internal/localdb"
)

// Status is where a blob stands.
type Status string

// Statuses.
const (
	Synced          Status = "SYNCED"
	PendingUpload   Status = "PENDING_UPLOAD"
	PendingDownload Status = "PENDING_DOWNLOAD"
	FailedDownload  Status = "FAILED_DOWNLOAD"
)

const schema = `
CREATE TABLE IF NOT EXISTS blobs (
	id           TEXT PRIMARY KEY,
	size         INTEGER NOT NULL,
	status       TEXT NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL DEFAULT 0,  -- unix ms
	error        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS blobs_by_status ON blobs (status);
-- What each file read into a blob was, by its absolute path, when it was read: a file
-- whose size, mtime, ctime and inode are unchanged is that blob still (as rsync and git
-- decide), and is not read again.
CREATE TABLE IF NOT EXISTS scanned (
	path  TEXT PRIMARY KEY,
	size  INTEGER NOT NULL,
	mtime INTEGER NOT NULL, -- ns
	ctime INTEGER NOT NULL, -- ns
	inode INTEGER NOT NULL,
	blob  TEXT NOT NULL
) WITHOUT ROWID;
`

// Store is the local blob store: a directory of blob files and their index.
type Store struct {
	dir string
	db  *sql.DB
	key []byte // the id key: HMAC key of blob ids
}

// IDKey derives the key blob ids are made with from the bundle that encrypts the blobs
// collection, so ids differ between accounts and reveal nothing.
func IDKey(kb *crypto.KeyBundle) []byte {
	m := hmac.New(sha256.New, kb.HMACKey())
	m.Write([]byte("syncctl blob id v1"))
	return m.Sum(nil)
}

// Open opens or creates a store in dir.
func Open(dir string, idKey []byte) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return nil, err
	}
	// NORMAL: a status lost to a power cut only means one blob is transferred again.
	db, err := localdb.Open(filepath.Join(dir, "index.db"), schema, "NORMAL")
	if err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	return &Store{dir: dir, db: db, key: idKey}, nil
}

// Close closes the index.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) path(id string) string { return filepath.Join(s.dir, id) }

// Path is where a blob's file is (it exists only when the blob is here).
func (s *Store) Path(id string) string { return s.path(id) }

// hasher makes the keyed hash that is a blob's id.
func (s *Store) hasher() hash.Hash { return hmac.New(sha256.New, s.key) }

func idOf(sum []byte) string { return base64.RawURLEncoding.EncodeToString(sum[:24]) }

// Add stores content as a blob (once, whatever the number of calls with the same content)
// and returns its id. A new blob is PENDING_UPLOAD.
func (s *Store) Add(ctx context.Context, r io.Reader) (string, int64, error) {
	tmp, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "add-*")
	if err != nil {
		return "", 0, err
	}
	defer os.Remove(tmp.Name())
	h := s.hasher()
	n, err := io.Copy(io.MultiWriter(tmp, h), r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", 0, err
	}
	id := idOf(h.Sum(nil))
	if _, err := os.Stat(s.path(id)); errors.Is(err, os.ErrNotExist) {
		if err := os.Rename(tmp.Name(), s.path(id)); err != nil {
			return "", 0, err
		}
	}
	// Content that was awaited from the server is here now: a pending download is done,
	// and a failed one (the server's copy is corrupt) is repaired by uploading it again.
	_, err = s.db.ExecContext(ctx, `INSERT INTO blobs (id, size, status) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET size = excluded.size, attempts = 0, next_attempt = 0, error = '',
			status = CASE status WHEN ? THEN ? WHEN ? THEN ? ELSE status END`,
		id, n, PendingUpload, PendingDownload, Synced, FailedDownload, PendingUpload)
	return id, n, err
}

// Open returns a blob's bytes (only when it is here: SYNCED or PENDING_UPLOAD).
func (s *Store) Open(id string) (*os.File, error) { return os.Open(s.path(id)) }

// Info is a blob's index entry.
type Info struct {
	ID          string
	Size        int64
	Status      Status
	Attempts    int
	NextAttempt time.Time
	Error       string
}

// Get returns a blob's index entry; ok is false when the store has never heard of it.
func (s *Store) Get(ctx context.Context, id string) (Info, bool, error) {
	var in Info
	var next int64
	err := s.db.QueryRowContext(ctx, `SELECT id, size, status, attempts, next_attempt, error FROM blobs WHERE id = ?`, id).
		Scan(&in.ID, &in.Size, &in.Status, &in.Attempts, &next, &in.Error)
	if errors.Is(err, sql.ErrNoRows) {
		return in, false, nil
	}
	in.NextAttempt = time.UnixMilli(next)
	return in, err == nil, err
}

// List returns every blob's entry.
func (s *Store) List(ctx context.Context) ([]Info, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, size, status, attempts, next_attempt, error FROM blobs ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Info
	for rows.Next() {
		var in Info
		var next int64
		if err := rows.Scan(&in.ID, &in.Size, &in.Status, &in.Attempts, &next, &in.Error); err != nil {
			return nil, err
		}
		in.NextAttempt = time.UnixMilli(next)
		out = append(out, in)
	}
	return out, rows.Err()
}

// Want marks blobs the store lacks as PENDING_DOWNLOAD (a failed one stays failed).
func (s *Store) Want(ctx context.Context, ids map[string]int64) error {
	rows := make([][]any, 0, len(ids))
	for id, size := range ids {
		rows = append(rows, []any{id, size, PendingDownload})
	}
	return s.execEach(ctx, `INSERT INTO blobs (id, size, status) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`, rows)
}

// execEach runs stmt once per row of arguments, in one transaction: a thousand ids cost
// one commit, not a thousand.
func (s *Store) execEach(ctx context.Context, stmt string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	return localdb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, stmt)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, args := range rows {
			if _, err := st.ExecContext(ctx, args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// Requeue marks SYNCED blobs that are not in onServer PENDING_UPLOAD.
func (s *Store) Requeue(ctx context.Context, onServer map[string]bool) error {
	list, err := s.List(ctx)
	if err != nil {
		return err
	}
	var lost [][]any
	for _, in := range list {
		if in.Status == Synced && !onServer[in.ID] {
			lost = append(lost, []any{PendingUpload, in.ID})
		}
	}
	return s.execEach(ctx, `UPDATE blobs SET status = ?, attempts = 0, next_attempt = 0, error = '' WHERE id = ?`, lost)
}

// Due makes the pending blobs among ids due now, whatever their retry delay: for a user
// who has just asked for them.
func (s *Store) Due(ctx context.Context, ids map[string]bool) error {
	rows := make([][]any, 0, len(ids))
	for id := range ids {
		rows = append(rows, []any{id, PendingUpload, PendingDownload})
	}
	return s.execEach(ctx, `UPDATE blobs SET next_attempt = 0 WHERE id = ? AND status IN (?, ?)`, rows)
}

// HashBytes is the id content would have as a blob.
func (s *Store) HashBytes(b []byte) string {
	h := s.hasher()
	h.Write(b)
	return idOf(h.Sum(nil))
}

// HashFile is the id a file's content would have as a blob, without adding it.
func (s *Store) HashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := s.hasher()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return idOf(h.Sum(nil)), nil
}

// AddFile adds a file's content as a blob. It hashes the file first and copies it into
// the store only when the store lacks that content, so re-adding an unchanged tree costs
// one read of each file.
func (s *Store) AddFile(ctx context.Context, path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := s.hasher()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	id := idOf(h.Sum(nil))
	if in, ok, err := s.Get(ctx, id); err != nil {
		return "", 0, err
	} else if ok && (in.Status == Synced || in.Status == PendingUpload) {
		return id, n, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", 0, err
	}
	got, n, err := s.Add(ctx, f)
	if err == nil && got != id {
		err = fmt.Errorf("blob: %s changed while it was being added", path)
	}
	return got, n, err
}

func (s *Store) set(ctx context.Context, id string, st Status, attempts int, next time.Time, msg string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE blobs SET status = ?, attempts = ?, next_attempt = ?, error = ? WHERE id = ?`,
		st, attempts, next.UnixMilli(), msg, id)
	return err
}

// Remove deletes a blob locally (and its index entry).
func (s *Store) Remove(ctx context.Context, id string) error {
	if err := os.Remove(s.path(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	_, err := s.db.ExecContext(ctx, `DELETE FROM blobs WHERE id = ?`, id)
	return err
}

// ErrNotHere: the blob's bytes are not in the store.
var ErrNotHere = errors.New("blob: not in the local store")

func (s *Store) requireHere(ctx context.Context, id string) error {
	in, ok, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if !ok || (in.Status != Synced && in.Status != PendingUpload) {
		return fmt.Errorf("%w: %s", ErrNotHere, id)
	}
	return nil
}

// Forget drops a blob the server no longer has (a garbage collection removed it) from
// the store, if the store holds it only as a copy of what was on the server (SYNCED): its
// bytes and its index entry go. A blob waiting to be uploaded or downloaded stays.
func (s *Store) Forget(ctx context.Context, id string) error {
	in, ok, err := s.Get(ctx, id)
	if err != nil || !ok || in.Status != Synced {
		return err
	}
	return s.Remove(ctx, id)
}
