package dirsync

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/syncctl/syncctl/blob"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/wbo"
)

// Options configure a Syncer. Blob.Store, Blob.Client and Blob.Keys are required.
type Options struct {
	Blob blob.Options
	// Collection holds the directory records (default "dirs").
	Collection string
	// Progress, if set, is called as files are read, sent, received and written.
	Progress func(Progress)
	// PulledDir is where Pull remembers what it wrote into each destination, so that it
	// tells a file edited there since from one it wrote itself. Empty: Pull does not
	// check, and overwrites.
	PulledDir string
	// FreeSpace reports the bytes free on a path's filesystem (default: statfs); a push
	// or pull that would not fit stops before writing anything, with a *SpaceError.
	FreeSpace func(path string) (int64, error)
}

// Progress is where a push or pull stands.
type Progress struct {
	Stage             string // "scan", "upload", "download", "write"
	Files, TotalFiles int
	Bytes, TotalBytes int64
}

// Dir is a pushed directory as listed by List.
type Dir struct {
	ID    string `json:"id"` // the record id: a keyed hash of the name
	Name  string `json:"name"`
	Index string `json:"index"` // the index blob
	Files int    `json:"files"`
	Bytes int64  `json:"bytes"`
	// Pushed is when (unix ms) and From is the host name of the push that wrote it.
	Pushed int64  `json:"pushed"`
	From   string `json:"from,omitempty"`
}

// Syncer pushes and pulls directories.
type Syncer struct {
	opts  Options
	blobs *blob.Syncer
	store *blob.Store
	moved atomic.Int64 // bytes the blob syncer reported in the current stage
	done  atomic.Int64 // blobs it finished
	stage atomic.Pointer[Progress]
	calls sync.Mutex // Progress is called by one goroutine at a time
}

// New returns a Syncer.
func New(opts Options) *Syncer {
	if opts.Collection == "" {
		opts.Collection = "dirs"
	}
	s := &Syncer{opts: opts, store: opts.Blob.Store}
	bo := opts.Blob
	bo.Progress = s.transferred
	bo.Finished = s.finished
	s.blobs = blob.NewSyncer(bo)
	return s
}

// Blobs is the blob syncer underneath (for its concurrency figures).
func (s *Syncer) Blobs() *blob.Syncer { return s.blobs }

func (s *Syncer) report(p Progress) {
	if s.opts.Progress != nil {
		s.calls.Lock()
		defer s.calls.Unlock()
		s.opts.Progress(p)
	}
}

// transferred and finished are the blob syncer's progress hooks.
func (s *Syncer) transferred(n int64) { s.moved.Add(n); s.reportStage() }

func (s *Syncer) finished(string, error) { s.done.Add(1); s.reportStage() }

func (s *Syncer) reportStage() {
	if p := s.stage.Load(); p != nil {
		q := *p
		q.Bytes, q.Files = s.moved.Load(), int(s.done.Load())
		s.report(q)
	}
}

// dirID is the record id of a directory name: a keyed hash, so names stay private.
func (s *Syncer) dirID(name string) string {
	m := hmac.New(sha256.New, s.opts.Blob.Keys.For(s.opts.Collection).HMACKey())
	m.Write([]byte("syncctl dir v1\x00" + name))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// ErrNoSuchDir: nothing was pushed under that name.
var ErrNoSuchDir = errors.New("dirsync: no directory of that name on the server")

// ErrIncomplete: some transfers failed for now; they are queued, and running the same
// push or pull again continues from where this one stopped.
var ErrIncomplete = errors.New("dirsync: incomplete, run again to resume")

// PushResult says what a push did.
type PushResult struct {
	Dir                Dir      `json:"dir"`
	Files              int      `json:"files"`     // files in the tree
	Unchanged          int      `json:"unchanged"` // of them, already on the server
	Uploaded           int      `json:"uploaded"`  // blobs sent
	Bytes              int64    `json:"bytes"`     // content bytes sent
	Skipped            []string `json:"skipped"`   // not regular files
	DirRecordUnchanged bool     `json:"dir_record_unchanged"`
	// WouldSend, with PushOptions.DryRun, lists the files whose content the server
	// lacks: the ones a push would send.
	WouldSend []string `json:"would_send"`
	// Read is how many files were read to hash them; the others were known unchanged
	// by their size, times and inode (PushOptions.Checksum reads every one).
	Read int `json:"read"`
}

// PushOptions change what Push does.
type PushOptions struct {
	DryRun bool // send nothing, store nothing locally: say what would be sent
	// Checksum reads and hashes every file, trusting no file's size, times and inode
	// (as rsync --checksum).
	Checksum bool
}

// Push sends the regular files under root as the directory name. Files whose content
// the server already has (from this tree or any other) are not sent again. Symbolic
// links and special files are skipped and listed in the result.
func (s *Syncer) Push(ctx context.Context, root, name string, opts PushOptions) (PushResult, error) {
	var res PushResult
	type file struct {
		rel  string
		info fs.FileInfo
	}
	var files []file
	var total int64
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !d.Type().IsRegular() {
			res.Skipped = append(res.Skipped, rel)
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		files = append(files, file{rel, info})
		total += info.Size()
		return nil
	})
	if err != nil {
		return res, err
	}

	// Scan: every file becomes a blob, read and hashed where it is (the store records
	// where; nothing is copied).
	// A file whose size, times and inode are what they were when it was last read is
	// that blob still, and is not read (the scan cache).
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return res, err
	}
	cache := &blob.ScanCache{}
	if !opts.Checksum {
		if cache, err = s.store.LoadScanCache(ctx); err != nil {
			return res, err
		}
	}
	scanStart := time.Now()
	var read []blob.ScanRecord
	ix := Index{Files: make([]Entry, 0, len(files))}
	ids := map[string]bool{}
	var hashed int64
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		path := filepath.Join(root, filepath.FromSlash(f.rel))
		abs := filepath.Join(absRoot, filepath.FromSlash(f.rel))
		stamp := blob.StampOf(f.info)
		n := f.info.Size()
		id, known := cache.Lookup(abs, stamp)
		if !known {
			// Read where it is: the store records the file as the blob's bytes, and an
			// upload reads them from it (checking them against the id as it goes).
			if id, err = s.store.HashFile(path); err != nil {
				return res, err
			}
			res.Read++
			read = append(read, blob.ScanRecord{Path: abs, Stamp: stamp, Blob: id})
		}
		hashed += n
		ix.Files = append(ix.Files, Entry{Path: f.rel, Size: n, Mode: f.info.Mode().Perm(), MTime: f.info.ModTime().UnixNano(), Blob: id})
		ids[id] = true
		s.report(Progress{Stage: "scan", Files: i + 1, TotalFiles: len(files), Bytes: hashed, TotalBytes: total})
	}
	res.Files = len(files)
	if !opts.DryRun {
		if err := s.store.Located(ctx, read, scanStart); err != nil {
			return res, err
		}
	}

	// Upload what the server lacks: the local index says what was sent, and one listing
	// of the server's blobs catches what it lost since (a wipe, a fresh start). From
	// that listing until the directory record is written, a garbage collection must not
	// run: the push holds a lease (see gc.go).
	// (A push whose index is the one the directory record names already needs none: the
	// record protects every blob it uses.)
	indexBytes := ix.Encode()
	var old Dir
	unchanged := false
	if !opts.DryRun {
		var err error
		old, err = s.get(ctx, name)
		if err != nil && !errors.Is(err, ErrNoSuchDir) {
			return res, err
		}
		unchanged = err == nil && old.Index == s.store.HashBytes(indexBytes)
		if !unchanged {
			release, err := s.lease(ctx, "push")
			if err != nil {
				return res, err
			}
			defer release()
		}
	}
	onServer, err := s.blobs.ServerBlobs(ctx)
	if err != nil {
		return res, err
	}
	if opts.DryRun {
		for _, e := range ix.Files {
			if onServer[e.Blob] {
				res.Unchanged++
			} else {
				res.WouldSend = append(res.WouldSend, e.Path)
			}
		}
		return res, nil
	}
	if err := s.store.Requeue(ctx, onServer); err != nil {
		return res, err
	}
	if err := s.store.MarkOnServer(ctx, onServer); err != nil {
		return res, err
	}
	pending, size, err := s.pendingOf(ctx, ids, blob.PendingUpload)
	if err != nil {
		return res, err
	}
	res.Unchanged = len(ix.Files) - countFiles(ix, pending)
	if err := s.quotaRoom(ctx, size, len(pending)); err != nil {
		return res, err
	}
	up, err := s.transfer(ctx, "upload", pending, size, nil)
	res.Uploaded, res.Bytes = up.Uploaded, up.Bytes
	if err != nil {
		return res, err
	}

	// The index, then the directory record: last, so a puller never sees a directory
	// whose files are not all on the server.
	indexID, _, err := s.store.Add(ctx, bytes.NewReader(indexBytes))
	if err != nil {
		return res, err
	}
	if _, err := s.transfer(ctx, "upload", map[string]bool{indexID: true}, 0, nil); err != nil {
		return res, err
	}
	host, _ := os.Hostname()
	res.Dir = Dir{ID: s.dirID(name), Name: name, Index: indexID, Files: len(ix.Files), Bytes: hashed, Pushed: time.Now().UnixMilli(), From: host}
	if unchanged {
		res.Dir, res.DirRecordUnchanged = old, true
		return res, nil
	}
	payload, _ := json.Marshal(res.Dir)
	rec, err := s.opts.Blob.Keys.For(s.opts.Collection).EncryptRecord(wbo.Record{ID: s.dirID(name), Payload: payload}, nil)
	if err != nil {
		return res, err
	}
	_, err = s.opts.Blob.Client.PutRecord(ctx, s.opts.Collection, rec, nil)
	return res, err
}

func countFiles(ix Index, ids map[string]bool) int {
	n := 0
	for _, e := range ix.Files {
		if ids[e.Blob] {
			n++
		}
	}
	return n
}

// pendingOf returns the blobs of ids in the given status, and their total size.
func (s *Syncer) pendingOf(ctx context.Context, ids map[string]bool, st blob.Status) (map[string]bool, int64, error) {
	out := map[string]bool{}
	var size int64
	for id := range ids {
		in, ok, err := s.store.Get(ctx, id)
		if err != nil {
			return nil, 0, err
		}
		if ok && in.Status == st {
			out[id] = true
			size += in.Size
		}
	}
	return out, size, nil
}

// transfer moves the given blobs now: the user asked, so a blob waiting out its retry
// delay goes at once. Anything not done ends in ErrIncomplete (or the MAC failure).
func (s *Syncer) transfer(ctx context.Context, stage string, ids map[string]bool, size int64, sink func(string) (blob.Sink, error)) (blob.Result, error) {
	if len(ids) == 0 {
		return blob.Result{}, nil
	}
	if err := s.store.Due(ctx, ids); err != nil {
		return blob.Result{}, err
	}
	s.moved.Store(0)
	s.done.Store(0)
	s.stage.Store(&Progress{Stage: stage, TotalFiles: len(ids), TotalBytes: size})
	defer s.stage.Store(nil)
	res, err := s.blobs.TransferTo(ctx, ids, sink)
	if err != nil {
		return res, err
	}
	if res.Failed > 0 {
		return res, &FailedError{Blobs: res.Errors}
	}
	if res.Retrying > 0 {
		for _, e := range res.Errors {
			return res, fmt.Errorf("%w: %d of %d transfers failed (%v)", ErrIncomplete, res.Retrying, len(ids), e)
		}
		return res, fmt.Errorf("%w: %d of %d transfers failed", ErrIncomplete, res.Retrying, len(ids))
	}
	return res, nil
}

// FailedError lists blobs that failed verification for good; it matches blob.ErrMAC.
type FailedError struct {
	Blobs map[string]error
	Files []string // filled in by Pull: the files not written because of it
}

func (e *FailedError) Error() string {
	if len(e.Files) > 0 {
		return fmt.Sprintf("dirsync: %d files failed verification and were not written (first: %s)", len(e.Files), e.Files[0])
	}
	return fmt.Sprintf("dirsync: %d blobs failed verification", len(e.Blobs))
}

// Unwrap makes errors.Is(err, blob.ErrMAC) true.
func (e *FailedError) Unwrap() error { return blob.ErrMAC }

// get fetches and decrypts a directory record.
func (s *Syncer) get(ctx context.Context, name string) (Dir, error) {
	rec, err := s.opts.Blob.Client.GetRecord(ctx, s.opts.Collection, s.dirID(name))
	if errors.Is(err, storage.ErrNotFound) {
		return Dir{}, fmt.Errorf("%w: %q", ErrNoSuchDir, name)
	}
	if err != nil {
		return Dir{}, err
	}
	clear, err := s.opts.Blob.Keys.For(s.opts.Collection).DecryptRecord(rec)
	if err != nil {
		return Dir{}, err
	}
	var d Dir
	if err := json.Unmarshal(clear.Payload, &d); err != nil || d.Name != name {
		return Dir{}, fmt.Errorf("%w: directory record for %q", ErrBadIndex, name)
	}
	return d, nil
}

// Remove deletes the directory record name. Its blobs stay on the server (other
// directories may share them); no device's local files are touched.
func (s *Syncer) Remove(ctx context.Context, name string) error {
	_, err := s.opts.Blob.Client.DeleteRecord(ctx, s.opts.Collection, s.dirID(name), nil)
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("%w: %q", ErrNoSuchDir, name)
	}
	return err
}

// List returns the pushed directories.
func (s *Syncer) List(ctx context.Context) ([]Dir, error) {
	kb := s.opts.Blob.Keys.For(s.opts.Collection)
	var out []Dir
	_, err := s.opts.Blob.Client.GetCollection(ctx, s.opts.Collection, storage.Query{Full: true, Sort: "index"}, func(r wbo.Record) error {
		if strings.HasPrefix(r.ID, leasePrefix) {
			return nil // a push's or a collection's lease (gc.go)
		}
		clear, err := kb.DecryptRecord(r)
		if err != nil {
			return err
		}
		var d Dir
		if err := json.Unmarshal(clear.Payload, &d); err != nil {
			return fmt.Errorf("%w: directory record %s", ErrBadIndex, r.ID)
		}
		out = append(out, d)
		return nil
	})
	return out, err
}

// PullResult says what a pull did.
type PullResult struct {
	Dir        Dir   `json:"dir"`
	Written    int   `json:"written"`    // files written
	Unchanged  int   `json:"unchanged"`  // files already as the index says
	Downloaded int   `json:"downloaded"` // blobs received
	Bytes      int64 `json:"bytes"`      // content bytes received
	// WouldWrite, with PullOptions.DryRun, lists the files a pull would write.
	WouldWrite []string `json:"would_write"`
	// Edited lists the files changed in the destination since the last pull wrote them
	// (or there before it, with other content): Pull refuses to overwrite them without
	// PullOptions.Force.
	Edited []string `json:"edited"`
	// Linked is how many of the files written are hard links to an identical one
	// (PullOptions.Hardlink).
	Linked int `json:"linked"`
	// Deleted lists the files removed because the index does not list them
	// (PullOptions.Delete); with DryRun, the ones that would be.
	Deleted []string `json:"deleted"`
}

// PullOptions change what Pull may do.
type PullOptions struct {
	DryRun bool // write nothing, receive nothing: say what would be written
	Force  bool // overwrite files edited in the destination
	// Hardlink makes files of identical content (and mode and mtime, which links share)
	// hard links to one file: a tree with many copies takes the space of one.
	Hardlink bool
	// Delete removes the files in the destination that the index does not list, and the
	// directories that leaves empty: the destination becomes a mirror.
	Delete bool
}

// ErrLocalEdits: files in the destination were edited since the last pull wrote them,
// or hold other content than the index and were not written by a pull: the result's
// Edited lists them. Nothing was written.
var ErrLocalEdits = errors.New("dirsync: files in the destination were changed there since the last pull")

// Pull writes the directory name into dest. A file already there with the index's size
// and modification time is left alone; every other file is written to a temp file and
// renamed into place, so a reader never sees half a file. A file whose content fails
// verification is not written (the error holds a *FailedError), nor is one whose
// transfer failed for now (ErrIncomplete); the others are. Files in dest that the index
// does not list are left alone.
func (s *Syncer) Pull(ctx context.Context, name, dest string, opts PullOptions) (PullResult, error) {
	var res PullResult
	d, err := s.get(ctx, name)
	if err != nil {
		return res, err
	}
	res.Dir = d
	ix, err := s.index(ctx, d)
	if err != nil {
		return res, err
	}

	pulled, err := s.loadPulled(dest)
	if err != nil {
		return res, err
	}
	var todo []Entry
	need := map[string]int64{}
	for _, e := range ix.Files {
		target := filepath.Join(dest, filepath.FromSlash(e.Path))
		st, err := os.Lstat(target)
		if err == nil && st.Mode().IsRegular() && st.Size() == e.Size && st.ModTime().UnixNano() == e.MTime {
			res.Unchanged++
			continue
		}
		if err == nil && s.opts.PulledDir != "" {
			edited, err := s.editedSincePull(target, st, pulled[e.Path], e)
			if err != nil {
				return res, err
			}
			if edited {
				res.Edited = append(res.Edited, e.Path)
			}
		}
		todo = append(todo, e)
		need[e.Blob] = e.Size
	}
	if len(res.Edited) > 0 && !opts.Force {
		return res, fmt.Errorf("%w: %d files (first: %s)", ErrLocalEdits, len(res.Edited), res.Edited[0])
	}
	var extra []string
	if opts.Delete {
		if extra, err = unlisted(dest, ix); err != nil {
			return res, err
		}
	}
	if opts.DryRun {
		for _, e := range todo {
			res.WouldWrite = append(res.WouldWrite, e.Path)
		}
		res.Deleted = extra
		return res, nil
	}
	// What is not on this device is downloaded straight into the first file that has it
	// (a temp file beside it, renamed into place once verified); the other files with
	// that content are copied or linked from it. Nothing is kept anywhere else.
	pending, err := s.store.Need(ctx, need)
	if err != nil {
		return res, err
	}
	var size int64
	ids := make(map[string]bool, len(pending))
	for id, n := range pending {
		ids[id] = true
		size += n
	}
	firstOf := map[string]Entry{}
	for _, e := range todo {
		if _, ok := firstOf[e.Blob]; !ok && ids[e.Blob] {
			firstOf[e.Blob] = e
		}
	}
	var writes int64
	for _, e := range todo {
		writes += e.Size
	}
	if err := s.room(map[string]int64{dest: writes}); err != nil {
		return res, err
	}
	placed := &placements{paths: map[string]bool{}}
	down, terr := s.transfer(ctx, "download", ids, size, func(id string) (blob.Sink, error) {
		return s.newFileSink(dest, firstOf[id], placed)
	})
	res.Downloaded, res.Bytes = down.Downloaded, down.Bytes
	if terr != nil && !errors.Is(terr, blob.ErrMAC) {
		return res, terr
	}

	// Write every file whose content is here, even when others failed.
	failed := &FailedError{Blobs: map[string]error{}}
	if fe := (*FailedError)(nil); errors.As(terr, &fe) {
		failed.Blobs = fe.Blobs // the verification errors themselves
	}
	var written int64
	waiting := 0
	// With Hardlink: the first file of each content, mode and mtime, to link the others to.
	type linkKey struct {
		blob  string
		mode  fs.FileMode
		mtime int64
	}
	linkTo := map[linkKey]string{}
	if opts.Hardlink {
		pending := map[string]bool{}
		for _, e := range todo {
			pending[e.Path] = true
		}
		for _, e := range ix.Files { // files already in place are as good a source
			if !pending[e.Path] {
				linkTo[linkKey{e.Blob, e.Mode.Perm(), e.MTime}] = filepath.Join(dest, filepath.FromSlash(e.Path))
			}
		}
	}
	var wrote []blob.ScanRecord
	for i, e := range todo {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		key := linkKey{e.Blob, e.Mode.Perm(), e.MTime}
		if placed.paths[e.Path] { // downloaded into place
			if opts.Hardlink {
				linkTo[key] = filepath.Join(dest, filepath.FromSlash(e.Path))
			}
			res.Written++
			written += e.Size
			continue
		}
		in, ok, err := s.store.Get(ctx, e.Blob)
		if err != nil {
			return res, err
		}
		switch {
		case ok && in.Status == blob.FailedDownload:
			failed.Files = append(failed.Files, e.Path)
			if failed.Blobs[e.Blob] == nil { // failed in an earlier run
				failed.Blobs[e.Blob] = fmt.Errorf("%w: %s", blob.ErrMAC, in.Error)
			}
			continue
		case !ok || in.Status == blob.PendingDownload: // its transfer failed for now
			waiting++
			continue
		}
		if src, ok := linkTo[key]; ok && opts.Hardlink {
			if err := linkFile(src, dest, e); err != nil {
				return res, err
			}
			res.Linked++
		} else {
			rec, err := s.writeFile(ctx, dest, e)
			if err != nil {
				return res, err
			}
			wrote = append(wrote, rec)
			if opts.Hardlink {
				linkTo[key] = filepath.Join(dest, filepath.FromSlash(e.Path))
			}
		}
		res.Written++
		written += e.Size
		s.report(Progress{Stage: "write", Files: i + 1, TotalFiles: len(todo), Bytes: written})
	}
	if err := s.store.Located(ctx, wrote, time.Now()); err != nil {
		return res, err
	}
	if err := s.savePulled(dest, ix, pulled, failed, todo); err != nil {
		return res, err
	}
	if opts.Delete && len(failed.Files) == 0 && waiting == 0 {
		if err := removeUnlisted(dest, extra); err != nil {
			return res, err
		}
		res.Deleted = extra
	}
	var errs []error
	if len(failed.Files) > 0 {
		errs = append(errs, failed)
	}
	if waiting > 0 {
		errs = append(errs, fmt.Errorf("%w: %d files not received yet", ErrIncomplete, waiting))
	}
	return res, errors.Join(errs...)
}

// writeFile copies a blob (from wherever it is on this device) to dest/e.Path through a
// temp file in the same directory, and returns the file as the blob's new location.
func (s *Syncer) writeFile(ctx context.Context, dest string, e Entry) (blob.ScanRecord, error) {
	src, err := s.store.Open(ctx, e.Blob)
	if err != nil {
		return blob.ScanRecord{}, err
	}
	defer src.Close()
	w, err := s.newFileSink(dest, e, nil)
	if err != nil {
		return blob.ScanRecord{}, err
	}
	if _, err := io.Copy(w, src); err != nil { // ends in blob.ErrChanged if src is not the blob
		w.Abort()
		return blob.ScanRecord{}, err
	}
	if err := w.place(); err != nil {
		return blob.ScanRecord{}, err
	}
	return w.rec, nil
}

// placements are the files downloads were written into, for Pull to skip.
type placements struct {
	mu    sync.Mutex
	paths map[string]bool
}

// fileSink writes a blob into dest/e.Path: a temp file beside it, then (once the content
// verified) its mode and mtime, then a rename into place, so no reader ever sees half a
// file or unverified bytes.
type fileSink struct {
	s       *Syncer
	e       Entry
	target  string
	tmp     *os.File
	n       int64
	placed  *placements
	rec     blob.ScanRecord
	stopped bool
}

func (s *Syncer) newFileSink(dest string, e Entry, placed *placements) (*fileSink, error) {
	target := filepath.Join(dest, filepath.FromSlash(e.Path))
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), ".syncctl-*.tmp")
	if err != nil {
		return nil, err
	}
	return &fileSink{s: s, e: e, target: target, tmp: tmp, placed: placed}, nil
}

func (w *fileSink) Write(p []byte) (int, error) {
	n, err := w.tmp.Write(p)
	w.n += int64(n)
	return n, err
}

func (w *fileSink) Abort() {
	if !w.stopped {
		w.stopped = true
		w.tmp.Close()
		os.Remove(w.tmp.Name())
	}
}

// place puts the verified content in place and notes its stamp.
func (w *fileSink) place() error {
	defer w.Abort() // the temp file is gone unless renamed
	if w.n != w.e.Size {
		return fmt.Errorf("%w: %s: the blob has %d bytes, the index says %d", ErrBadIndex, w.e.Path, w.n, w.e.Size)
	}
	if err := w.tmp.Chmod(w.e.Mode.Perm()); err != nil {
		return err
	}
	if err := w.tmp.Close(); err != nil {
		return err
	}
	w.stopped = true
	defer os.Remove(w.tmp.Name())
	mtime := time.Unix(0, w.e.MTime)
	if err := os.Chtimes(w.tmp.Name(), mtime, mtime); err != nil {
		return err
	}
	if err := os.Rename(w.tmp.Name(), w.target); err != nil {
		return err
	}
	fi, err := os.Lstat(w.target)
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(w.target)
	if err != nil {
		return err
	}
	w.rec = blob.ScanRecord{Path: abs, Stamp: blob.StampOf(fi), Blob: w.e.Blob}
	return nil
}

// Commit is the blob syncer's: the download verified.
func (w *fileSink) Commit(ctx context.Context) error {
	if err := w.place(); err != nil {
		return err
	}
	if w.placed != nil {
		w.placed.mu.Lock()
		w.placed.paths[w.e.Path] = true
		w.placed.mu.Unlock()
	}
	// Where the blob is now, for the files that share it and for later pushes and pulls.
	return w.s.store.Located(context.WithoutCancel(ctx), []blob.ScanRecord{w.rec}, time.Now())
}

// editedSincePull reports whether the file at target, about to be replaced by e, holds
// content no pull wrote: it differs from what the last pull wrote there (by size and
// modification time, then by content hash), and is not already e's content.
func (s *Syncer) editedSincePull(target string, st fs.FileInfo, last Entry, e Entry) (bool, error) {
	if last.Path != "" && st.Size() == last.Size && st.ModTime().UnixNano() == last.MTime {
		return false, nil // as the last pull left it
	}
	id, err := s.store.HashFile(target)
	if err != nil {
		return false, err
	}
	return id != e.Blob && id != last.Blob, nil
}

// pulledPath is the file that remembers what pulls wrote into dest.
func (s *Syncer) pulledPath(dest string) (string, error) {
	abs, err := filepath.Abs(dest)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(s.opts.PulledDir, base64.RawURLEncoding.EncodeToString(sum[:12])+".json"), nil
}

func (s *Syncer) loadPulled(dest string) (map[string]Entry, error) {
	out := map[string]Entry{}
	if s.opts.PulledDir == "" {
		return out, nil
	}
	path, err := s.pulledPath(dest)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	var ix Index
	if err := json.Unmarshal(b, &ix); err != nil {
		return out, nil // unreadable: as if never pulled, so every difference is asked about
	}
	for _, e := range ix.Files {
		out[e.Path] = e
	}
	return out, nil
}

// savePulled remembers the index's files as written into dest, but for the ones this
// pull meant to write and did not: they keep prev's record (what the last pull wrote).
func (s *Syncer) savePulled(dest string, ix Index, prev map[string]Entry, failed *FailedError, todo []Entry) error {
	if s.opts.PulledDir == "" {
		return nil
	}
	notWritten := map[string]bool{}
	for _, f := range failed.Files {
		notWritten[f] = true
	}
	for _, e := range todo {
		if st, err := os.Lstat(filepath.Join(dest, filepath.FromSlash(e.Path))); err != nil || st.Size() != e.Size || st.ModTime().UnixNano() != e.MTime {
			notWritten[e.Path] = true
		}
	}
	var keep Index
	for _, e := range ix.Files {
		if notWritten[e.Path] {
			if p, ok := prev[e.Path]; ok {
				keep.Files = append(keep.Files, p)
			}
			continue
		}
		keep.Files = append(keep.Files, e)
	}
	if err := os.MkdirAll(s.opts.PulledDir, 0o700); err != nil {
		return err
	}
	path, err := s.pulledPath(dest)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(keep)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// linkFile makes dest/e.Path a hard link to src (a file of the same content, mode and
// mtime), through a temp name and a rename, as writeFile does.
func linkFile(src, dest string, e Entry) error {
	target := filepath.Join(dest, filepath.FromSlash(e.Path))
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), ".syncctl-*.tmp")
	if err != nil {
		return err
	}
	tmp.Close()
	os.Remove(tmp.Name()) // the name only: os.Link will not replace a file
	if err := os.Link(src, tmp.Name()); err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // gone unless renamed
	return os.Rename(tmp.Name(), target)
}

// unlisted lists the files under dest that the index does not name (a pull's own temp
// files aside), relative and slash-separated, sorted.
func unlisted(dest string, ix Index) ([]string, error) {
	listed := make(map[string]bool, len(ix.Files))
	for _, e := range ix.Files {
		listed[e.Path] = true
	}
	var out []string
	err := filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == dest {
			return filepath.SkipAll // nothing there yet
		}
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dest, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !listed[rel] && !(strings.HasPrefix(d.Name(), ".syncctl-") && strings.HasSuffix(d.Name(), ".tmp")) {
			out = append(out, rel)
		}
		return nil
	})
	return out, err
}

// removeUnlisted removes the files, then the directories their removal left empty
// (never dest itself).
func removeUnlisted(dest string, files []string) error {
	dirs := map[string]bool{}
	for _, f := range files {
		p := filepath.Join(dest, filepath.FromSlash(f))
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		for d := filepath.Dir(p); d != dest && strings.HasPrefix(d, dest); d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	ordered := make([]string, 0, len(dirs))
	for d := range dirs {
		ordered = append(ordered, d)
	}
	sort.Slice(ordered, func(i, j int) bool { return len(ordered[i]) > len(ordered[j]) }) // deepest first
	for _, d := range ordered {
		os.Remove(d) // only succeeds when empty
	}
	return nil
}
