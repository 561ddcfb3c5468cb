package blob_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncctl/syncctl/blob"
	"github.com/syncctl/syncctl/blob/blobtest"
	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/server"
	"github.com/syncctl/syncctl/storage"
)

// rig is the shared blob test rig for one test; each device gets its own store and
// syncer.
type rig struct {
	*blobtest.Rig
	t *testing.T
}

// newRig starts a server whose records hold at most 16 KB, so a blob of a few hundred KB
// spans tens of chunks.
func newRig(t *testing.T) *rig { return &rig{Rig: blobtest.New(t, blobtest.SmallRecords()), t: t} }

func (r *rig) client() *storage.Client { return r.Client() }

func (r *rig) device(opts blob.Options) (*blob.Store, *blob.Syncer) {
	st := r.Store(r.t)
	opts.Store, opts.Keys = st, r.Keys
	if opts.Client == nil {
		opts.Client = r.client()
	}
	return st, blob.NewSyncer(opts)
}

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func add(t *testing.T, st *blob.Store, content []byte) string {
	t.Helper()
	id, n, err := st.Add(context.Background(), bytes.NewReader(content))
	if err != nil || n != int64(len(content)) {
		t.Fatalf("Add: %d bytes, %v", n, err)
	}
	return id
}

func status(t *testing.T, st *blob.Store, id string) blob.Info {
	t.Helper()
	in, ok, err := st.Get(context.Background(), id)
	if err != nil || !ok {
		t.Fatalf("Get %s: ok=%v %v", id, ok, err)
	}
	return in
}

func content(t *testing.T, st *blob.Store, id string) []byte {
	t.Helper()
	f, err := st.Open(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(f); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestBlobsRoundTripAcrossDevices(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRig(t)
	a, syncA := r.device(blob.Options{})
	b, syncB := r.device(blob.Options{})

	blobs := map[string][]byte{}
	for _, c := range [][]byte{random(t, 300<<10), random(t, 100), {}, random(t, 9000)} {
		blobs[add(t, a, c)] = c
	}
	if again := add(t, a, blobs[add(t, a, []byte{})]); len(blobs[again]) != 0 {
		t.Fatal("same content, different id")
	}
	if res, err := syncA.Sync(ctx); err != nil || res.Uploaded != 4 {
		t.Fatalf("push: %+v %v", res, err)
	}
	for id := range blobs {
		if in := status(t, a, id); in.Status != blob.Synced {
			t.Fatalf("%s is %s after upload", id, in.Status)
		}
	}

	res, err := syncB.Sync(ctx)
	if err != nil || res.Downloaded != 4 || res.Failed != 0 {
		t.Fatalf("pull: %+v %v", res, err)
	}
	for id, want := range blobs {
		if in := status(t, b, id); in.Status != blob.Synced {
			t.Fatalf("%s is %s after download", id, in.Status)
		}
		if got := content(t, b, id); !bytes.Equal(got, want) {
			t.Fatalf("%s: %d bytes differ from the %d uploaded", id, len(got), len(want))
		}
	}

	// Nothing changed: another round on either side writes nothing.
	before := r.Writes.Load()
	for _, s := range []*blob.Syncer{syncA, syncB} {
		if res, err := s.Sync(ctx); err != nil || res.Uploaded+res.Downloaded != 0 {
			t.Fatalf("idle round: %+v %v", res, err)
		}
	}
	if w := r.Writes.Load() - before; w != 0 {
		t.Fatalf("idle rounds wrote %d times", w)
	}
}

func TestServerIDsRevealNothing(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	a, syncA := r.device(blob.Options{})
	secret := []byte("the same words in every account")
	id := add(t, a, secret)
	if _, err := syncA.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	other, err := crypto.GenerateKeys(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	st, err := blob.Open(t.TempDir(), other.For("blobs"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if add(t, st, secret) == id {
		t.Fatal("two accounts give the same content the same id")
	}
	rec, err := r.client().GetRecord(context.Background(), "blobs", id+".0")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(rec.Payload, secret) || bytes.Contains(rec.Payload, []byte("data")) {
		t.Fatal("a chunk record shows its content")
	}
}

// flip corrupts one chunk of a blob on the server: one bit of its ciphertext.
func flip(t *testing.T, c *storage.Client, id string) {
	t.Helper()
	ctx := context.Background()
	rec, err := c.GetRecord(ctx, "blobs", id+".1")
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]string
	if err := json.Unmarshal(rec.Payload, &p); err != nil {
		t.Fatal(err)
	}
	ct := []byte(p["ciphertext"])
	if ct[10] == 'A' {
		ct[10] = 'B'
	} else {
		ct[10] = 'A'
	}
	p["ciphertext"] = string(ct)
	rec.Payload, _ = json.Marshal(p)
	if _, err := c.PutRecord(ctx, "blobs", rec, nil); err != nil {
		t.Fatal(err)
	}
}

func TestFlippedBitFailsOnlyThatBlobForGood(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRig(t)
	a, syncA := r.device(blob.Options{})
	b, syncB := r.device(blob.Options{})
	bad := add(t, a, random(t, 100<<10))
	good1, good2 := add(t, a, random(t, 100<<10)), add(t, a, random(t, 10))
	if _, err := syncA.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	flip(t, r.client(), bad)

	res, err := syncB.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Downloaded != 2 || res.Failed != 1 || !errors.Is(res.Errors[bad], blob.ErrMAC) {
		t.Fatalf("got %+v", res)
	}
	if in := status(t, b, bad); in.Status != blob.FailedDownload || in.Error == "" {
		t.Fatalf("corrupt blob: %+v", in)
	}
	for _, id := range []string{good1, good2} {
		if in := status(t, b, id); in.Status != blob.Synced {
			t.Fatalf("good blob %s is %s", id, in.Status)
		}
	}
	// None of the corrupt blob's bytes reached the store, not even a temp file.
	if _, err := b.Open(ctx, bad); !errors.Is(err, blob.ErrNotHere) {
		t.Fatalf("the corrupt blob's file: %v", err)
	}
	// Final: later rounds do not try again.
	if res, err := syncB.Sync(ctx); err != nil || res.Downloaded+res.Failed+res.Retrying != 0 {
		t.Fatalf("a failed blob was retried: %+v %v", res, err)
	}
	// A store that gets the true bytes from elsewhere repairs the server: adding them
	// turns the failed blob into a pending upload.
	if _, _, err := b.Add(ctx, bytes.NewReader(content(t, a, bad))); err != nil {
		t.Fatal(err)
	}
	if in := status(t, b, bad); in.Status != blob.PendingUpload {
		t.Fatalf("re-added corrupt blob is %s", in.Status)
	}
}

func TestTransferErrorsRetryOnScheduleUntilTheFaultGoes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRig(t)
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	a, syncA := r.device(blob.Options{Now: func() time.Time { return now }})
	id := add(t, a, random(t, 50<<10))
	r.Srv.InjectFault(server.Fault{PathPrefix: "/1.5/", Count: -1, Status: 503})

	start := now
	for i, want := range []time.Duration{10, 20, 30, 40, 50, 60, 60, 60} {
		res, err := syncA.Transfer(ctx, nil)
		if err != nil || res.Retrying != 1 || res.Uploaded != 0 || res.Errors[id] == nil {
			t.Fatalf("attempt %d: %+v %v", i+1, res, err)
		}
		in := status(t, a, id)
		if in.Status != blob.PendingUpload || in.Attempts != i+1 || !in.NextAttempt.Equal(now.Add(want*time.Second)) {
			t.Fatalf("attempt %d: %+v, want next in %ds", i+1, in, want)
		}
		// Before the delay is up, the blob waits; no request is made.
		now = now.Add(want*time.Second - time.Second)
		writes := r.Writes.Load()
		if res, _ := syncA.Transfer(ctx, nil); res.Retrying != 1 || r.Writes.Load() != writes {
			t.Fatalf("attempt %d: retried early: %+v", i+1, res)
		}
		now = now.Add(time.Second)
	}
	if waited := now.Sub(start); waited != (10+20+30+40+50+60+60+60)*time.Second {
		t.Fatalf("waited %s in all", waited)
	}
	r.Srv.ClearFaults()
	if res, err := syncA.Transfer(ctx, nil); err != nil || res.Uploaded != 1 {
		t.Fatalf("after the fault: %+v %v", res, err)
	}
	if in := status(t, a, id); in.Status != blob.Synced || in.Attempts != 0 {
		t.Fatalf("after the fault: %+v", in)
	}
}

func TestRetryDelay(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]time.Duration{1: 10, 2: 20, 3: 30, 4: 40, 5: 50, 6: 60, 7: 60, 100: 60} {
		if got := blob.RetryDelay(n); got != want*time.Second {
			t.Errorf("RetryDelay(%d) = %s, want %ds", n, got, want)
		}
	}
}

func TestConcurrencyLimitsAreNeverExceeded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, lim := range []struct{ db, xfer int }{{1, 1}, {1, 3}, {2, 5}} {
		r := newRig(t)
		a, syncA := r.device(blob.Options{DBLimit: lim.db, TransferLimit: lim.xfer})
		for i := 0; i < 24; i++ {
			add(t, a, random(t, 40<<10))
		}
		r.PeakInFlight.Store(0)
		res, err := syncA.Transfer(ctx, nil)
		if err != nil || res.Uploaded != 24 {
			t.Fatalf("%+v: %+v %v", lim, res, err)
		}
		xfer, db := syncA.MaxConcurrency()
		if xfer < 1 || xfer > lim.xfer || db < 1 || db > lim.db {
			t.Fatalf("limits %+v: saw %d transfers and %d index operations at once", lim, xfer, db)
		}
		// Seen from the server too: never more requests at once than transfers allowed.
		if p := int(r.PeakInFlight.Load()); p > lim.xfer {
			t.Fatalf("limits %+v: %d requests in flight at once", lim, p)
		}
	}
}

func TestInterruptedDownloadResumes(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	a, syncA := r.device(blob.Options{})
	var ids []string
	for i := 0; i < 12; i++ {
		ids = append(ids, add(t, a, random(t, 60<<10)))
	}
	if _, err := syncA.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var moved atomic.Int64
	var once sync.Once
	b, syncB := r.device(blob.Options{TransferLimit: 1, Progress: func(n int64) {
		if moved.Add(n) > 5*60<<10 {
			once.Do(cancel)
		}
	}})
	res, err := syncB.Sync(ctx)
	if !errors.Is(err, context.Canceled) || res.Downloaded == 0 || res.Downloaded == 12 {
		t.Fatalf("interrupted pull: %+v %v", res, err)
	}
	first := res.Downloaded
	left, _ := os.ReadDir(filepath.Join(b.Dir(), "tmp"))
	if len(left) != 0 {
		t.Fatalf("%d temp files left behind", len(left))
	}
	res, err = syncB.Sync(context.Background())
	if err != nil || res.Downloaded+first != 12 {
		t.Fatalf("resumed pull: %+v %v (first %d)", res, err, first)
	}
	for _, id := range ids {
		if !bytes.Equal(content(t, a, id), content(t, b, id)) {
			t.Fatal("content differs after resume")
		}
	}
}

// grepDir reports the files under dir that contain needle.
func grepDir(t *testing.T, dir string, needle []byte) []string {
	t.Helper()
	var hits []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, needle) {
			hits = append(hits, p)
		}
		return nil
	})
	return hits
}

func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return err
	})
	return n
}

// The store never holds a blob's content in the clear: a file added is read where it is
// (no copy), content added from a reader or downloaded is kept encrypted, and a file
// edited before its upload is not sent as the blob it was.
func TestNothingIsKeptInTheClear(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRig(t)
	a, syncA := r.device(blob.Options{})
	b, syncB := r.device(blob.Options{})
	secret := bytes.Repeat([]byte("the launch code is 0000; "), 8000) // 200 KB, a few chunks
	kept := add(t, a, secret)

	files := t.TempDir()
	photo := filepath.Join(files, "photo.raw")
	photoBytes := append([]byte("EXIF-MARKER-7f3a"), random(t, 300<<10)...)
	os.WriteFile(photo, photoBytes, 0o600)
	before := dirBytes(t, a.Dir())
	inPlace, n, err := a.AddFile(ctx, photo)
	if err != nil || n != int64(len(photoBytes)) {
		t.Fatalf("AddFile: %d %v", n, err)
	}
	if grew := dirBytes(t, a.Dir()) - before; grew > 64<<10 {
		t.Fatalf("adding a 300 KB file grew the store by %d bytes", grew)
	}
	if res, err := syncA.Sync(ctx); err != nil || res.Uploaded != 2 {
		t.Fatalf("upload: %+v %v", res, err)
	}
	if res, err := syncB.Sync(ctx); err != nil || res.Downloaded != 2 {
		t.Fatalf("download: %+v %v", res, err)
	}
	for _, st := range []*blob.Store{a, b} {
		for _, needle := range [][]byte{[]byte("the launch code"), []byte("EXIF-MARKER-7f3a"), photoBytes[1000:1032]} {
			if hits := grepDir(t, st.Dir(), needle); len(hits) > 0 {
				t.Fatalf("cleartext %q in %v", needle[:8], hits)
			}
		}
	}
	if !bytes.Equal(content(t, b, kept), secret) || !bytes.Equal(content(t, b, inPlace), photoBytes) {
		t.Fatal("downloaded content differs")
	}

	// A file edited after it was added and before its upload: its bytes are not the blob
	// any more, so nothing is sent under its id, and the store forgets it.
	edited := filepath.Join(files, "notes.txt")
	os.WriteFile(edited, []byte("first draft"), 0o600)
	draft, _, err := a.AddFile(ctx, edited)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // a later mtime
	os.WriteFile(edited, []byte("second draft, longer"), 0o600)
	res, err := syncA.Sync(ctx)
	if err != nil || res.Uploaded != 0 || !errors.Is(res.Errors[draft], blob.ErrNotHere) {
		t.Fatalf("upload of an edited file: %+v %v", res, err)
	}
	if _, ok, _ := a.Get(ctx, draft); ok {
		t.Fatal("the store still lists a blob it has no bytes of")
	}
	if on, _ := syncA.ServerBlobs(ctx); on[draft] {
		t.Fatal("a blob whose file changed reached the server")
	}
	// Edited with its size and mtime put back: the change time moved, so the file is not
	// taken for the blob.
	os.WriteFile(edited, []byte("first draft"), 0o600)
	draft, _, _ = a.AddFile(ctx, edited)
	fi, _ := os.Stat(edited)
	os.WriteFile(edited, []byte("FIRST DRAFT"), 0o600)
	os.Chtimes(edited, fi.ModTime(), fi.ModTime())
	res, _ = syncA.Sync(ctx)
	if res.Uploaded != 0 || res.Errors[draft] == nil {
		t.Fatalf("upload of a file edited in place: %+v", res)
	}
	if on, _ := syncA.ServerBlobs(ctx); on[draft] {
		t.Fatal("a blob whose file changed in place reached the server")
	}
	// A kept blob damaged on disk: reading it ends in ErrChanged, not in wrong bytes.
	f, _ := os.OpenFile(filepath.Join(b.Dir(), kept), os.O_RDWR, 0)
	f.WriteAt([]byte{0xff}, 100)
	f.Close()
	rd, err := b.Open(ctx, kept)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	if _, err := io.Copy(io.Discard, rd); !errors.Is(err, blob.ErrChanged) {
		t.Fatalf("reading a damaged kept blob: %v", err)
	}
}

// A store of the first version (a cleartext copy of every blob) is upgraded when opened:
// copies of blobs the server has are dropped, the others encrypted in place.
func TestAVersion1StoreIsUpgraded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRig(t)
	dir := t.TempDir()
	st, err := blob.Open(dir, r.Keys.For("blobs"))
	if err != nil {
		t.Fatal(err)
	}
	syncer := blob.NewSyncer(blob.Options{Store: st, Client: r.client(), Keys: r.Keys})
	onServer := []byte("uploaded long ago, cleartext here")
	waiting := []byte("not uploaded yet, cleartext here")
	up := add(t, st, onServer)
	if _, err := syncer.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	wait := add(t, st, waiting)
	st.Close()
	// What version 1 left: the content itself under the blob's id, and no marker.
	os.WriteFile(filepath.Join(dir, up), onServer, 0o600)
	os.WriteFile(filepath.Join(dir, wait), waiting, 0o600)
	os.Remove(filepath.Join(dir, "v2"))

	st, err = blob.Open(dir, r.Keys.For("blobs"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if hits := grepDir(t, dir, []byte("cleartext here")); len(hits) > 0 {
		t.Fatalf("cleartext left after the upgrade: %v", hits)
	}
	if _, ok, _ := st.Get(ctx, up); ok {
		t.Fatal("the copy of an uploaded blob was kept")
	}
	if in := status(t, st, wait); in.Status != blob.PendingUpload || !bytes.Equal(content(t, st, wait), waiting) {
		t.Fatalf("the waiting blob after the upgrade: %+v", in)
	}
	syncer = blob.NewSyncer(blob.Options{Store: st, Client: r.client(), Keys: r.Keys})
	if res, err := syncer.Sync(ctx); err != nil || res.Uploaded != 1 || res.Downloaded != 1 {
		t.Fatalf("after the upgrade: %+v %v", res, err)
	}
	if !bytes.Equal(content(t, st, up), onServer) {
		t.Fatal("the dropped blob came back different")
	}
}

// A small blob takes one POST: its chunk and its manifest go together (a POST is one
// transaction, so the manifest is never seen without its chunk); a large one, its
// chunks and the manifest with the last of them.
func TestASmallBlobIsOnePost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRig(t)
	a, syncA := r.device(blob.Options{})
	var ids []string
	for range 24 {
		ids = append(ids, add(t, a, random(t, 4<<10)))
	}
	before := r.Writes.Load()
	if res, err := syncA.Transfer(ctx, nil); err != nil || res.Uploaded != 24 {
		t.Fatalf("%+v %v", res, err)
	}
	if n := r.Writes.Load() - before; n != 24 {
		t.Errorf("24 small blobs took %d writes, want 24", n)
	}
	b, syncB := r.device(blob.Options{})
	if res, err := syncB.Sync(ctx); err != nil || res.Downloaded != 24 {
		t.Fatalf("pull: %+v %v", res, err)
	}
	for _, id := range ids {
		if !bytes.Equal(content(t, b, id), content(t, a, id)) {
			t.Fatalf("%s differs", id)
		}
	}
}

// Should the server refuse a chunk of the POST that also carries the manifest (here a
// chunk over its record limit, the syncer told a larger chunk size), the manifest it
// wrote is deleted again: no blob is listed that cannot be read.
func TestAManifestWrittenBesideARefusedChunkIsDeleted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRig(t) // records of 16 KB at most
	a, syncA := r.device(blob.Options{ChunkSize: 24 << 10})
	id := add(t, a, random(t, 20<<10)) // one chunk, refused
	res, err := syncA.Transfer(ctx, nil)
	if err != nil || res.Uploaded != 0 || res.Errors[id] == nil {
		t.Fatalf("%+v %v", res, err)
	}
	on, err := syncA.ServerBlobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if on[id] {
		t.Fatalf("the manifest of %s stayed on the server without its chunk", id)
	}
	if in := status(t, a, id); in.Status != blob.PendingUpload {
		t.Fatalf("status %v, want it still pending upload", in.Status)
	}
}
