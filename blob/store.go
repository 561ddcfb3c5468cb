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
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
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
-- Where blobs' bytes are on this device outside the store: the files a push read and the
-- files a pull wrote, by absolute path, with what each was when it was read or written.
-- A file whose size, mtime, ctime and inode are unchanged is that blob still (as rsync
-- and git decide): it is not read again to hash it, and it is where an upload reads the
-- blob from (verifying it against its id as it goes). The store keeps no copy of them.
CREATE TABLE IF NOT EXISTS located (
	path  TEXT PRIMARY KEY,
	size  INTEGER NOT NULL,
	mtime INTEGER NOT NULL, -- ns
	ctime INTEGER NOT NULL, -- ns
	inode INTEGER NOT NULL,
	blob  TEXT NOT NULL,
	seen  INTEGER NOT NULL  -- ns: when it was read or written
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS located_by_blob ON located (blob);
DROP TABLE IF EXISTS scanned; -- the v1 scan cache, which assumed a copy in the store
`

// Store is the local blob store: an index of every blob's status and of where its bytes
// are on this device. Bytes that exist nowhere else here (content added from a reader, a
// blob downloaded for its own sake) are kept in the store's directory, encrypted; a
// file's content is read where the file is and never copied in.
type Store struct {
	dir  string
	db   *sql.DB
	key  []byte       // the id key: HMAC key of blob ids
	seal cipher.Block // the at-rest key of the bytes kept in the store
}

// IDKey derives the key blob ids are made with from the bundle that encrypts the blobs
// collection, so ids differ between accounts and reveal nothing.
func IDKey(kb *crypto.KeyBundle) []byte {
	m := hmac.New(sha256.New, kb.HMACKey())
	m.Write([]byte("syncctl blob id v1"))
	return m.Sum(nil)
}

// atRestKey derives the key of the bytes the store keeps on disk from the same bundle:
// whoever can read them could read the server's copy.
func atRestKey(kb *crypto.KeyBundle) []byte {
	m := hmac.New(sha256.New, kb.EncryptionKey())
	m.Write([]byte("syncctl blob at rest v1"))
	return m.Sum(nil)
}

// Open opens or creates a store in dir for the blobs encrypted by kb (the account's
// bundle for the blobs collection).
func Open(dir string, kb *crypto.KeyBundle) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return nil, err
	}
	// NORMAL: a status lost to a power cut only means one blob is transferred again.
	db, err := localdb.Open(filepath.Join(dir, "index.db"), schema, "NORMAL")
	if err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	block, err := aes.NewCipher(atRestKey(kb))
	if err != nil {
		db.Close()
		return nil, err
	}
	s := &Store{dir: dir, db: db, key: IDKey(kb), seal: block}
	if err := s.migrateV1(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("blob: upgrading the store in %s: %w", dir, err)
	}
	return s, nil
}

// Close closes the index.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) path(id string) string { return filepath.Join(s.dir, id) }

// Dir is the store's directory (on the filesystem that must have room for what it keeps).
func (s *Store) Dir() string { return s.dir }

// hasher makes the keyed hash that is a blob's id.
func (s *Store) hasher() hash.Hash { return hmac.New(sha256.New, s.key) }

func idOf(sum []byte) string { return base64.RawURLEncoding.EncodeToString(sum[:24]) }

// sealedMagic begins every file the store keeps; an IV follows, then the content under
// AES-256-CTR. No MAC of its own: a blob's id is a keyed MAC of its content, and every
// read of a kept blob is checked against it before anything is done with the bytes.
const sealedMagic = "SCBLOB2\n"

// sealer writes content into the store encrypted, hashing the cleartext as it goes.
type sealer struct {
	f *os.File
	w cipher.StreamWriter
	h hash.Hash
	n int64
}

// newSealer starts a kept blob. The cleartext is hashed unless the caller checks it
// against its id itself (a download does, chunk by chunk: hashing twice was waste).
func (s *Store) newSealer() (*sealer, error) { return s.startSealer(true) }

func (s *Store) startSealer(hash bool) (*sealer, error) {
	f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "add-*")
	if err != nil {
		return nil, err
	}
	iv := make([]byte, aes.BlockSize)
	if _, err := rand.Read(iv); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	if _, err := f.Write(append([]byte(sealedMagic), iv...)); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	w := &sealer{f: f, w: cipher.StreamWriter{S: cipher.NewCTR(s.seal, iv), W: f}}
	if hash {
		w.h = s.hasher()
	}
	return w, nil
}

func (w *sealer) Write(p []byte) (int, error) {
	if w.h != nil {
		w.h.Write(p)
	}
	n, err := w.w.Write(p)
	w.n += int64(n)
	return n, err
}

// finish closes the temp file and, if its content is want (or want is ""), renames it
// into place as that blob; it returns the id. A sealer that did not hash trusts want.
// The temp file is gone either way.
func (w *sealer) finish(s *Store, want string) (string, error) {
	defer os.Remove(w.f.Name())
	if err := w.f.Close(); err != nil {
		return "", err
	}
	id := want
	if w.h != nil {
		id = idOf(w.h.Sum(nil))
	}
	if want != "" && id != want {
		return id, fmt.Errorf("%w: the whole content does not match its id", ErrMAC)
	}
	if _, err := os.Stat(s.path(id)); errors.Is(err, os.ErrNotExist) {
		if err := os.Rename(w.f.Name(), s.path(id)); err != nil {
			return "", err
		}
	}
	return id, nil
}

func (w *sealer) abort() { w.f.Close(); os.Remove(w.f.Name()) }

// openSealed returns the cleartext of a blob kept in the store.
func (s *Store) openSealed(id string) (io.ReadCloser, error) {
	f, err := os.Open(s.path(id))
	if err != nil {
		return nil, err
	}
	head := make([]byte, len(sealedMagic)+aes.BlockSize)
	if _, err := io.ReadFull(f, head); err != nil || string(head[:len(sealedMagic)]) != sealedMagic {
		f.Close()
		return nil, fmt.Errorf("%w: %s is not a kept blob", ErrChanged, id)
	}
	r := cipher.StreamReader{S: cipher.NewCTR(s.seal, head[len(sealedMagic):]), R: f}
	return struct {
		io.Reader
		io.Closer
	}{r, f}, nil
}

// Add stores content as a blob (once, whatever the number of calls with the same content)
// and returns its id. The store keeps it, encrypted. A new blob is PENDING_UPLOAD.
func (s *Store) Add(ctx context.Context, r io.Reader) (string, int64, error) {
	w, err := s.newSealer()
	if err != nil {
		return "", 0, err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.abort()
		return "", 0, err
	}
	id, err := w.finish(s, "")
	if err != nil {
		return "", 0, err
	}
	return id, w.n, s.arrived(ctx, s.db, id, w.n)
}

// execer is a database or a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// arrived records that a blob's bytes are here: a new blob is PENDING_UPLOAD; one that
// was awaited from the server is SYNCED now, and a failed one (the server's copy is
// corrupt) is repaired by uploading it again.
func (s *Store) arrived(ctx context.Context, db execer, id string, n int64) error {
	_, err := db.ExecContext(ctx, `INSERT INTO blobs (id, size, status) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET size = excluded.size, attempts = 0, next_attempt = 0, error = '',
			status = CASE status WHEN ? THEN ? WHEN ? THEN ? ELSE status END`,
		id, n, PendingUpload, PendingDownload, Synced, FailedDownload, PendingUpload)
	return err
}

// ErrChanged: a blob's bytes here are not its content any more (the file was edited since
// it was read, or a kept blob was damaged); nothing was done with them.
var ErrChanged = errors.New("blob: the local copy changed since it was read")

// verifier passes a blob's bytes through and fails the read that reaches their end if
// they are not the blob's content (a file edited since it was read).
type verifier struct {
	r    io.ReadCloser
	h    hash.Hash
	id   string
	what string
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	if err == io.EOF && idOf(v.h.Sum(nil)) != v.id {
		return n, fmt.Errorf("%w: %s", ErrChanged, v.what)
	}
	return n, err
}

func (v *verifier) Close() error { return v.r.Close() }

// Open returns a blob's bytes, from the store or from a file that held them when it was
// last read or written (and whose stamp says it still does). The reader checks the
// content against its id as it reaches the end: a read that ends in io.EOF read the
// blob; one that ends in ErrChanged did not. ErrNotHere: no copy is on this device.
func (s *Store) Open(ctx context.Context, id string) (io.ReadCloser, error) {
	r, err := s.openSealed(id)
	if err == nil {
		return &verifier{r: r, h: s.hasher(), id: id, what: "kept blob " + id}, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	paths, err := s.locations(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, l := range paths {
		fi, err := os.Lstat(l.Path)
		if err != nil || !fi.Mode().IsRegular() || StampOf(fi) != l.Stamp {
			continue
		}
		f, err := os.Open(l.Path)
		if err != nil {
			continue
		}
		return &verifier{r: f, h: s.hasher(), id: id, what: l.Path}, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrNotHere, id)
}

// Here reports whether a blob's bytes are on this device (as Open would find them; the
// content itself is checked only when read).
func (s *Store) Here(ctx context.Context, id string) (bool, error) {
	r, err := s.Open(ctx, id)
	if errors.Is(err, ErrNotHere) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	r.Close()
	return true, nil
}

// locations lists the files that held a blob.
func (s *Store) locations(ctx context.Context, id string) ([]ScanRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT path, size, mtime, ctime, inode FROM located WHERE blob = ?`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ScanRecord
	for rows.Next() {
		l := ScanRecord{Blob: id}
		var inode int64
		if err := rows.Scan(&l.Path, &l.Stamp.Size, &l.Stamp.MTime, &l.Stamp.CTime, &inode); err != nil {
			return nil, err
		}
		l.Stamp.Inode = uint64(inode)
		out = append(out, l)
	}
	return out, rows.Err()
}

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

// AddFile records a file as where a blob's bytes are and returns its id; nothing is
// copied. A new blob is PENDING_UPLOAD, and an upload reads it from the file (checking
// the content against its id). A scan of many files records them all at once with
// Located.
func (s *Store) AddFile(ctx context.Context, path string) (string, int64, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return "", 0, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", 0, err
	}
	start := time.Now()
	id, err := s.HashFile(path)
	if err != nil {
		return "", 0, err
	}
	return id, fi.Size(), s.Located(ctx, []ScanRecord{{Path: abs, Stamp: StampOf(fi), Blob: id}}, start)
}

// Located records files as where blobs' bytes are (each read at or after seen, with the
// stamp it had before it was read), in one transaction: the blobs they are arrive, as
// for Add.
func (s *Store) Located(ctx context.Context, recs []ScanRecord, seen time.Time) error {
	if len(recs) == 0 {
		return nil
	}
	return localdb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		loc, err := tx.PrepareContext(ctx, `INSERT INTO located (path, size, mtime, ctime, inode, blob, seen) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime = excluded.mtime, ctime = excluded.ctime,
			inode = excluded.inode, blob = excluded.blob, seen = excluded.seen`)
		if err != nil {
			return err
		}
		defer loc.Close()
		arrive, err := tx.PrepareContext(ctx, `INSERT INTO blobs (id, size, status) VALUES (?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET size = excluded.size, attempts = 0, next_attempt = 0, error = '',
				status = CASE status WHEN ? THEN ? WHEN ? THEN ? ELSE status END`)
		if err != nil {
			return err
		}
		defer arrive.Close()
		for _, r := range recs {
			if _, err := loc.ExecContext(ctx, r.Path, r.Stamp.Size, r.Stamp.MTime, r.Stamp.CTime, int64(r.Stamp.Inode), r.Blob, seen.UnixNano()); err != nil {
				return err
			}
			if _, err := arrive.ExecContext(ctx, r.Blob, r.Stamp.Size, PendingUpload, PendingDownload, Synced, FailedDownload, PendingUpload); err != nil {
				return err
			}
		}
		return nil
	})
}

// MarkOnServer records that the server has the blobs of onServer (their manifests are
// there, so every chunk is): those waiting to be uploaded need not be. Content is its
// id, so another device's upload of the same bytes is as good as this one's.
func (s *Store) MarkOnServer(ctx context.Context, onServer map[string]bool) error {
	list, err := s.List(ctx)
	if err != nil {
		return err
	}
	var done [][]any
	for _, in := range list {
		if in.Status == PendingUpload && onServer[in.ID] {
			done = append(done, []any{Synced, in.ID})
		}
	}
	return s.execEach(ctx, `UPDATE blobs SET status = ?, attempts = 0, next_attempt = 0, error = '' WHERE id = ?`, done)
}

// Need marks the blobs of ids that are not on this device PENDING_DOWNLOAD (a SYNCED one
// whose file was since edited or removed among them), and returns them with their sizes.
// A blob that failed verification stays FAILED_DOWNLOAD and is not returned.
func (s *Store) Need(ctx context.Context, ids map[string]int64) (map[string]int64, error) {
	if err := s.Want(ctx, ids); err != nil {
		return nil, err
	}
	out := map[string]int64{}
	var rows [][]any
	for id, size := range ids {
		in, ok, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if !ok || in.Status == FailedDownload {
			continue
		}
		if in.Status == PendingDownload {
			out[id] = size
			continue
		}
		here, err := s.Here(ctx, id)
		if err != nil {
			return nil, err
		}
		if !here {
			out[id] = size
			rows = append(rows, []any{PendingDownload, id})
		}
	}
	return out, s.execEach(ctx, `UPDATE blobs SET status = ?, attempts = 0, next_attempt = 0, error = '' WHERE id = ?`, rows)
}

func (s *Store) set(ctx context.Context, id string, st Status, attempts int, next time.Time, msg string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE blobs SET status = ?, attempts = ?, next_attempt = ?, error = ? WHERE id = ?`,
		st, attempts, next.UnixMilli(), msg, id)
	return err
}

// Remove deletes a blob locally: its kept bytes, its index entry and where it was
// located (the files themselves are not touched).
func (s *Store) Remove(ctx context.Context, id string) error {
	if err := os.Remove(s.path(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return localdb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM located WHERE blob = ?`, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM blobs WHERE id = ?`, id)
		return err
	})
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
// kept bytes, its index entry and its locations go (a file still there is read and
// sent again by the next push that includes it). A blob waiting to be uploaded or
// downloaded stays.
func (s *Store) Forget(ctx context.Context, id string) error {
	in, ok, err := s.Get(ctx, id)
	if err != nil || !ok || in.Status != Synced {
		return err
	}
	return s.Remove(ctx, id)
}

// migrateV1 upgrades a store of the first version, which kept a cleartext copy of every
// blob: a blob the server has (SYNCED) loses its copy and its entry (it is downloaded
// again if ever wanted, or found again in the files a push reads); any other copy is the
// only one and is encrypted in place. Done once; a marker file says so.
func (s *Store) migrateV1(ctx context.Context) error {
	marker := filepath.Join(s.dir, "v2")
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	list, err := s.List(ctx)
	if err != nil {
		return err
	}
	for _, in := range list {
		f, err := os.Open(s.path(in.ID))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		head := make([]byte, len(sealedMagic))
		_, rerr := io.ReadFull(f, head)
		if rerr == nil && string(head) == sealedMagic {
			f.Close()
			continue
		}
		if in.Status == Synced {
			f.Close()
			if err := s.Remove(ctx, in.ID); err != nil {
				return err
			}
			continue
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			f.Close()
			return err
		}
		w, err := s.newSealer()
		if err != nil {
			f.Close()
			return err
		}
		_, err = io.Copy(w, f)
		f.Close()
		if err != nil {
			w.abort()
			return err
		}
		if err := os.Remove(s.path(in.ID)); err != nil {
			w.abort()
			return err
		}
		if _, err := w.finish(s, in.ID); errors.Is(err, ErrMAC) {
			if err := s.Remove(ctx, in.ID); err != nil { // damaged: as if never here
				return err
			}
		} else if err != nil {
			return err
		}
	}
	return os.WriteFile(marker, nil, 0o600)
}
