package dirsync_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncctl/syncctl/internal/race"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/wbo"

	"github.com/syncctl/syncctl/blob"
	"github.com/syncctl/syncctl/blob/blobtest"
	"github.com/syncctl/syncctl/dirsync"
	"github.com/syncctl/syncctl/server"
)

// rig is the shared blob test rig for one test.
type rig struct {
	*blobtest.Rig
	t testing.TB
}

// newRig starts a server with limits (smallRecords: large files span many chunks).
func newRig(t testing.TB, limits server.Limits) *rig { return &rig{Rig: blobtest.New(t, limits), t: t} }

// device is one machine: its own blob store, the shared account.
func (r *rig) device(progress func(dirsync.Progress)) *dirsync.Syncer {
	return dirsync.New(dirsync.Options{Blob: blob.Options{Store: r.Store(r.t), Client: r.Client(), Keys: r.Keys, DBLimit: 1, TransferLimit: 4}, Progress: progress})
}

// tree writes n files under dir: mostly small, every tenth a copy of an earlier one, and
// `large` files of 150–400 KB that span tens of chunks. It returns the total size.
func tree(t testing.TB, dir string, n, large int, seed uint64) int64 {
	rnd := mrand.New(mrand.NewPCG(seed, 1))
	var contents [][]byte
	var total int64
	modes := []fs.FileMode{0o644, 0o600, 0o755}
	for i := 0; i < n; i++ {
		var b []byte
		switch {
		case i%10 == 9:
			b = contents[rnd.IntN(len(contents))] // a duplicate
		case i < large:
			b = make([]byte, 150<<10+rnd.IntN(250<<10))
		default:
			b = make([]byte, rnd.IntN(3000))
		}
		if i%10 != 9 {
			for j := range b {
				b[j] = byte(rnd.Uint32())
			}
		}
		contents = append(contents, b)
		p := filepath.Join(dir, fmt.Sprintf("d%d", i%7), fmt.Sprintf("s%d", i%3), fmt.Sprintf("file-%04d.bin", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, modes[i%3]); err != nil {
			t.Fatal(err)
		}
		mt := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour)
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
		total += int64(len(b))
	}
	return total
}

// snapshot is every regular file under dir: path → sha256, mode, mtime.
func snapshot(t testing.TB, dir string) map[string]string {
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = fmt.Sprintf("%x %o %d", sha256.Sum256(b), info.Mode().Perm(), info.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func same(t *testing.T, want, got map[string]string) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%d files, want %d", len(got), len(want))
	}
	for p, w := range want {
		if got[p] != w {
			t.Fatalf("%s: got %q, want %q", p, got[p], w)
		}
	}
}

func smallRecords() server.Limits { return blobtest.SmallRecords() }

func TestThousandFilesPushPullResume(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRig(t, smallRecords())
	src := t.TempDir()
	files, large := 1000, 10
	if race.Enabled {
		files, large = 200, 3 // the same paths through the code, a fifth of the work
	}
	total := tree(t, src, files, large, 1)
	want := snapshot(t, src)

	var last dirsync.Progress
	laptop := r.device(func(p dirsync.Progress) {
		if p.TotalFiles > 1 {
			last = p
		}
	})
	res, err := laptop.Push(ctx, src, "photos", dirsync.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != files || res.Unchanged != 0 || res.Uploaded >= files || res.Uploaded < files*8/10 || res.Bytes >= total {
		t.Fatalf("first push: %+v (of %d bytes)", res, total)
	}
	if last.Stage != "upload" || last.Bytes != res.Bytes || last.TotalBytes != res.Bytes || last.Files != res.Uploaded || last.TotalFiles != res.Uploaded {
		t.Fatalf("last progress %+v", last)
	}
	t.Logf("pushed %d files as %d blobs, %d bytes (duplicates stored once)", res.Files, res.Uploaded, res.Bytes)

	// A second push of the same tree sends nothing at all.
	before := r.Writes.Load()
	res, err = laptop.Push(ctx, src, "photos", dirsync.PushOptions{})
	if err != nil || res.Uploaded != 0 || res.Unchanged != files || !res.DirRecordUnchanged {
		t.Fatalf("second push: %+v %v", res, err)
	}
	if w := r.Writes.Load() - before; w != 0 {
		t.Fatalf("second push wrote %d times", w)
	}

	// Another machine pulls it: byte-identical, with modes and times.
	dst := t.TempDir()
	pres, err := r.device(nil).Pull(ctx, "photos", dst, dirsync.PullOptions{})
	if err != nil || pres.Written != files {
		t.Fatalf("pull: %+v %v", pres, err)
	}
	same(t, want, snapshot(t, dst))

	// A third machine's pull is killed halfway, then run again: it completes, and the
	// blobs the first run got are not fetched twice.
	ctx2, cancel := context.WithCancel(ctx)
	var once sync.Once
	phone := r.device(func(p dirsync.Progress) {
		if p.Stage == "download" && p.TotalBytes > 0 && p.Bytes > p.TotalBytes/2 {
			once.Do(cancel)
		}
	})
	dst2 := t.TempDir()
	first, err := phone.Pull(ctx2, "photos", dst2, dirsync.PullOptions{})
	if !errors.Is(err, context.Canceled) || first.Downloaded == 0 {
		t.Fatalf("interrupted pull: %+v %v", first, err)
	}
	second, err := phone.Pull(ctx, "photos", dst2, dirsync.PullOptions{})
	if err != nil {
		t.Fatalf("resumed pull: %v", err)
	}
	if first.Downloaded+second.Downloaded != pres.Downloaded {
		t.Fatalf("downloads: %d then %d, a clean pull needed %d", first.Downloaded, second.Downloaded, pres.Downloaded)
	}
	same(t, want, snapshot(t, dst2))
	noTemps(t, dst2)

	// Re-running a finished pull is harmless and writes nothing.
	third, err := phone.Pull(ctx, "photos", dst2, dirsync.PullOptions{})
	if err != nil || third.Written != 0 || third.Unchanged != files || third.Downloaded != 0 {
		t.Fatalf("repeated pull: %+v %v", third, err)
	}
}

func noTemps(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if strings.HasPrefix(d.Name(), ".syncctl-") {
			t.Fatalf("temp file left: %s", p)
		}
		return nil
	})
}

func TestIdenticalFilesAcrossDirectoriesAreStoredOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRig(t, smallRecords())
	a, b := t.TempDir(), t.TempDir()
	tree(t, a, 40, 2, 7)
	tree(t, b, 40, 2, 7) // the same content under the same names
	os.WriteFile(filepath.Join(b, "extra.txt"), []byte("only in b"), 0o644)
	dev := r.device(nil)
	if _, err := dev.Push(ctx, a, "a", dirsync.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := dev.Push(ctx, b, "b", dirsync.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Uploaded != 1 || res.Unchanged != 40 {
		t.Fatalf("second directory: %+v", res)
	}
	dirs, err := dev.List(ctx)
	if err != nil || len(dirs) != 2 {
		t.Fatalf("List: %+v %v", dirs, err)
	}
	names := dirs[0].Name + "," + dirs[1].Name
	if names != "a,b" && names != "b,a" {
		t.Fatalf("List: %s", names)
	}
}

func TestChangedFileIsSentAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRig(t, server.Limits{})
	src := t.TempDir()
	tree(t, src, 30, 0, 3)
	dev := r.device(nil)
	if _, err := dev.Push(ctx, src, "docs", dirsync.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	other := r.device(nil)
	dst := t.TempDir()
	if _, err := other.Pull(ctx, "docs", dst, dirsync.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(src, "d1", "s1", "file-0001.bin")
	if err := os.WriteFile(p, []byte("edited"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := dev.Push(ctx, src, "docs", dirsync.PushOptions{})
	if err != nil || res.Uploaded != 1 || res.Unchanged != 29 || res.DirRecordUnchanged {
		t.Fatalf("push after an edit: %+v %v", res, err)
	}
	pres, err := other.Pull(ctx, "docs", dst, dirsync.PullOptions{})
	if err != nil || pres.Written != 1 || pres.Downloaded != 1 || pres.Unchanged != 29 {
		t.Fatalf("pull after an edit: %+v %v", pres, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "d1", "s1", "file-0001.bin")); string(b) != "edited" {
		t.Fatalf("pulled %q", b)
	}
}

func TestCorruptChunkFailsOnlyItsFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRig(t, smallRecords())
	src := t.TempDir()
	tree(t, src, 20, 3, 5)
	dev := r.device(nil)
	if _, err := dev.Push(ctx, src, "x", dirsync.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	// The first file is large; corrupt one of its chunks on the server.
	victim := filepath.Join("d0", "s0", "file-0000.bin")
	st, err := blob.Open(t.TempDir(), r.Keys.For("blobs"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	id, _, err := st.AddFile(ctx, filepath.Join(src, victim))
	if err != nil {
		t.Fatal(err)
	}
	c := r.Client()
	rec, err := c.GetRecord(ctx, "blobs", id+".3")
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]string
	json.Unmarshal(rec.Payload, &p)
	ct := []byte(p["ciphertext"])
	ct[5] ^= 'A' ^ 'B'
	if ct[5] == '+' || ct[5] == '/' {
		ct[5] = 'C'
	}
	p["ciphertext"] = string(ct)
	rec.Payload, _ = json.Marshal(p)
	if _, err := c.PutRecord(ctx, "blobs", rec, nil); err != nil {
		t.Fatal(err)
	}

	// Another file's blob cannot be fetched for now: the server answers 503 for it.
	late := filepath.Join("d1", "s1", "file-0001.bin")
	lateID, _, err := st.AddFile(ctx, filepath.Join(src, late))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r.Srv.InjectFault(server.Fault{PathPrefix: strings.TrimPrefix(tok.APIEndpoint, r.Srv.URL) + "/storage/blobs/" + lateID, Count: -1, Status: 503})

	dst := t.TempDir()
	phone := r.device(nil)
	res, err := phone.Pull(ctx, "x", dst, dirsync.PullOptions{})
	var failed *dirsync.FailedError
	if !errors.Is(err, blob.ErrMAC) || !errors.As(err, &failed) || len(failed.Files) != 1 || failed.Files[0] != filepath.ToSlash(victim) {
		t.Fatalf("pull of a corrupt blob: %v", err)
	}
	if !errors.Is(err, dirsync.ErrIncomplete) {
		t.Fatalf("the file not received yet is not reported: %v", err)
	}
	// Every tenth file of the tree is a copy of an earlier one: count the late file's copies.
	lateBytes, _ := os.ReadFile(filepath.Join(src, late))
	copies := 0
	filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if b, rerr := os.ReadFile(p); err == nil && !d.IsDir() && rerr == nil && bytes.Equal(b, lateBytes) {
			copies++
		}
		return nil
	})
	if res.Written != 19-copies {
		t.Fatalf("%d files written, want the %d good ones", res.Written, 19-copies)
	}
	for _, p := range []string{victim, late} {
		if _, err := os.Stat(filepath.Join(dst, p)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s reached the destination: %v", p, err)
		}
	}
	noTemps(t, dst)

	// Once the server answers again, a rerun gets the late file; the corrupt one stays failed.
	r.Srv.ClearFaults()
	res, err = phone.Pull(ctx, "x", dst, dirsync.PullOptions{})
	if !errors.Is(err, blob.ErrMAC) || errors.Is(err, dirsync.ErrIncomplete) || res.Written != copies || res.Unchanged != 19-copies {
		t.Fatalf("rerun: %+v %v", res, err)
	}
}

func TestPullUnknownName(t *testing.T) {
	t.Parallel()
	r := newRig(t, server.Limits{})
	if _, err := r.device(nil).Pull(context.Background(), "nope", t.TempDir(), dirsync.PullOptions{}); !errors.Is(err, dirsync.ErrNoSuchDir) {
		t.Fatalf("got %v", err)
	}
}

func TestParseIndexRejectsEscapes(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"../x", "/etc/passwd", "a/../../x", "a//b", "./a", ".", "", "a\\b", "a/./b", "x/.."} {
		b, _ := json.Marshal(dirsync.Index{Files: []dirsync.Entry{{Path: p, Blob: "abc"}}})
		if _, err := dirsync.ParseIndex(b); !errors.Is(err, dirsync.ErrBadIndex) {
			t.Errorf("%q accepted", p)
		}
	}
	b, _ := json.Marshal(dirsync.Index{Files: []dirsync.Entry{{Path: "a", Blob: "x"}, {Path: "a", Blob: "y"}}})
	if _, err := dirsync.ParseIndex(b); !errors.Is(err, dirsync.ErrBadIndex) {
		t.Error("duplicate path accepted")
	}
	ix := dirsync.Index{Files: []dirsync.Entry{{Path: "b/c", Blob: "x", Size: 3, Mode: 0o644}, {Path: "a", Blob: "y"}}}
	got, err := dirsync.ParseIndex(ix.Encode())
	if err != nil || len(got.Files) != 2 || got.Files[0].Path != "a" {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if !bytes.Equal(ix.Encode(), got.Encode()) {
		t.Fatal("encoding is not stable")
	}
}

func FuzzParseIndex(f *testing.F) {
	f.Add([]byte(`{"files":[{"path":"a/b","size":3,"mode":420,"mtime":1,"blob":"x"}]}`))
	f.Add([]byte(`{"files":[{"path":"../a","blob":"x"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ix, err := dirsync.ParseIndex(b)
		if err != nil {
			if !errors.Is(err, dirsync.ErrBadIndex) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		for _, e := range ix.Files {
			if !filepath.IsLocal(filepath.FromSlash(e.Path)) || e.Mode&^fs.ModePerm != 0 {
				t.Fatalf("unsafe entry passed: %+v", e)
			}
		}
	})
}

func TestInterruptedPushResumes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRig(t, smallRecords())
	src := t.TempDir()
	tree(t, src, 200, 6, 11)
	want := snapshot(t, src)

	ctx2, cancel := context.WithCancel(ctx)
	var once sync.Once
	dev := r.device(func(p dirsync.Progress) {
		if p.Stage == "upload" && p.TotalBytes > 0 && p.Bytes > p.TotalBytes/3 {
			once.Do(cancel)
		}
	})
	first, err := dev.Push(ctx2, src, "half", dirsync.PushOptions{})
	if !errors.Is(err, context.Canceled) || first.Uploaded == 0 {
		t.Fatalf("interrupted push: %+v %v", first, err)
	}
	// Nothing is visible under the name until the push completes.
	if _, err := r.device(nil).Pull(ctx, "half", t.TempDir(), dirsync.PullOptions{}); !errors.Is(err, dirsync.ErrNoSuchDir) {
		t.Fatalf("a half-pushed directory is visible: %v", err)
	}
	second, err := dev.Push(ctx, src, "half", dirsync.PushOptions{})
	if err != nil || second.Unchanged < first.Uploaded {
		t.Fatalf("resumed push: %+v %v (first sent %d)", second, err, first.Uploaded)
	}
	dst := t.TempDir()
	if _, err := r.device(nil).Pull(ctx, "half", dst, dirsync.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	same(t, want, snapshot(t, dst))
}

// A pull never overwrites what the user changed in the destination since the last pull
// wrote it, unless forced; a dry run writes nothing and says what it would write.
func TestAPullKeepsLocalEditsUnlessForced(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRig(t, server.Limits{})
	laptop := r.device(nil)
	src, dst := t.TempDir(), t.TempDir()
	write := func(dir, name, content string, mtime time.Time) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, mtime, mtime)
	}
	read := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(dst, name))
		return string(b)
	}
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	write(src, "notes.txt", "v1", day)
	write(src, "todo.txt", "buy milk", day)
	if _, err := laptop.Push(ctx, src, "docs", dirsync.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	desk := dirsync.New(dirsync.Options{Blob: blob.Options{Store: r.Store(t), Client: r.Client(), Keys: r.Keys, DBLimit: 1, TransferLimit: 4},
		PulledDir: t.TempDir()})
	// A file already in the destination with other content was not written by a pull.
	write(dst, "todo.txt", "mine", day.Add(time.Hour))
	res, err := desk.Pull(ctx, "docs", dst, dirsync.PullOptions{})
	if !errors.Is(err, dirsync.ErrLocalEdits) || !slices.Equal(res.Edited, []string{"todo.txt"}) || read("todo.txt") != "mine" || read("notes.txt") != "" {
		t.Fatalf("first pull over a foreign file: %+v %v", res, err)
	}
	if _, err := desk.Pull(ctx, "docs", dst, dirsync.PullOptions{Force: true}); err != nil || read("todo.txt") != "buy milk" {
		t.Fatalf("forced: %v %q", err, read("todo.txt"))
	}

	// The laptop changes both files; the desk's user edits one of them meanwhile.
	write(src, "notes.txt", "v2", day.Add(2*time.Hour))
	write(src, "todo.txt", "buy bread", day.Add(2*time.Hour))
	writes := r.Writes.Load()
	if dry, err := laptop.Push(ctx, src, "docs", dirsync.PushOptions{DryRun: true}); err != nil ||
		!slices.Equal(dry.WouldSend, []string{"notes.txt", "todo.txt"}) || dry.Uploaded != 0 || r.Writes.Load() != writes {
		t.Fatalf("dry-run push: %+v %v (%d writes)", dry, err, r.Writes.Load()-writes)
	}
	if _, err := laptop.Push(ctx, src, "docs", dirsync.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	write(dst, "notes.txt", "my own notes", day.Add(3*time.Hour))
	dry, err := desk.Pull(ctx, "docs", dst, dirsync.PullOptions{DryRun: true, Force: true})
	if err != nil || !slices.Equal(dry.WouldWrite, []string{"notes.txt", "todo.txt"}) || dry.Written != 0 || read("todo.txt") != "buy milk" {
		t.Fatalf("dry run: %+v %v", dry, err)
	}
	res, err = desk.Pull(ctx, "docs", dst, dirsync.PullOptions{})
	if !errors.Is(err, dirsync.ErrLocalEdits) || !slices.Equal(res.Edited, []string{"notes.txt"}) || res.Written != 0 {
		t.Fatalf("pull over an edit: %+v %v", res, err)
	}
	if read("notes.txt") != "my own notes" || read("todo.txt") != "buy milk" {
		t.Fatal("a refused pull wrote something")
	}
	// The same content as the index, with another time, is not an edit.
	write(dst, "notes.txt", "v2", day.Add(4*time.Hour))
	if res, err = desk.Pull(ctx, "docs", dst, dirsync.PullOptions{}); err != nil || res.Written != 2 || read("todo.txt") != "buy bread" {
		t.Fatalf("pull after the edit was undone: %+v %v", res, err)
	}
}

// A push of a tree nothing changed in reads no file: their size, times and inode say
// they are the blobs they were. An edit that keeps size and mtime (restored after) still
// moves the file's ctime and is read again; --checksum reads everything.
func TestAnUnchangedTreeIsNotReadAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRig(t, server.Limits{})
	laptop := r.device(nil)
	src := t.TempDir()
	tree(t, src, 40, 2, 7)
	first, err := laptop.Push(ctx, src, "tree", dirsync.PushOptions{})
	if err != nil || first.Read != first.Files {
		t.Fatalf("the first push read %d of %d files (%v)", first.Read, first.Files, err)
	}
	// Files modified within 2 s of a scan are not trusted by their stamp (their mtime's
	// granularity could hide an edit), so the first push remembered none of these.
	time.Sleep(2100 * time.Millisecond)
	if again, _ := laptop.Push(ctx, src, "tree", dirsync.PushOptions{}); again.Read != again.Files {
		t.Fatalf("the second push read %d of %d: files written just before the first were trusted", again.Read, again.Files)
	}
	same, err := laptop.Push(ctx, src, "tree", dirsync.PushOptions{})
	if err != nil || same.Read != 0 || !same.DirRecordUnchanged || same.Uploaded != 0 {
		t.Fatalf("an unchanged tree: read %d, uploaded %d, record unchanged %v (%v)", same.Read, same.Uploaded, same.DirRecordUnchanged, err)
	}

	// Same size, same mtime, new content: caught by the ctime.
	victim := filepath.Join(src, "d0", "s0", "file-0000.bin") // one of the large ones
	fi, _ := os.Stat(victim)
	old, _ := os.ReadFile(victim)
	edited := append([]byte{old[0] ^ 0xff}, old[1:]...)
	if err := os.WriteFile(victim, edited, fi.Mode()); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(victim, fi.ModTime(), fi.ModTime())
	sneaky, err := laptop.Push(ctx, src, "tree", dirsync.PushOptions{})
	if err != nil || sneaky.Read != 1 || sneaky.Uploaded != 1 || sneaky.DirRecordUnchanged {
		t.Fatalf("an edit keeping size and mtime: read %d, uploaded %d (%v)", sneaky.Read, sneaky.Uploaded, err)
	}
	if all, err := laptop.Push(ctx, src, "tree", dirsync.PushOptions{Checksum: true}); err != nil || all.Read != all.Files {
		t.Fatalf("--checksum read %d of %d (%v)", all.Read, all.Files, err)
	}
}

// --hardlink: copies of one content (with the same mode and mtime, which links share)
// become one file; --delete: what the index does not list goes, and the directories
// that leaves empty, after a --dry-run that lists them and removes nothing.
func TestAPullHardlinksCopiesAndMirrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRig(t, server.Limits{})
	laptop := r.device(nil)
	src, dst := t.TempDir(), t.TempDir()
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	put := func(dir, name, content string, mtime time.Time) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, mtime, mtime)
	}
	put(src, "a.bin", "the same bytes", day)
	put(src, "sub/b.bin", "the same bytes", day)
	put(src, "c.bin", "the same bytes", day.Add(time.Hour)) // same content, another mtime
	put(src, "d.bin", "other bytes", day)
	if _, err := laptop.Push(ctx, src, "copies", dirsync.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	desk := r.device(nil)
	res, err := desk.Pull(ctx, "copies", dst, dirsync.PullOptions{Hardlink: true})
	if err != nil || res.Written != 4 || res.Linked != 1 {
		t.Fatalf("pull --hardlink: %+v (%v)", res, err)
	}
	stat := func(name string) os.FileInfo {
		fi, err := os.Stat(filepath.Join(dst, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}
	if !os.SameFile(stat("a.bin"), stat("sub/b.bin")) || os.SameFile(stat("a.bin"), stat("c.bin")) || os.SameFile(stat("a.bin"), stat("d.bin")) {
		t.Fatal("the links: a and sub/b must be one file, c and d others")
	}
	if again, _ := desk.Pull(ctx, "copies", dst, dirsync.PullOptions{Hardlink: true}); again.Written != 0 || again.Unchanged != 4 {
		t.Fatalf("a second pull rewrote linked files: %+v", again)
	}

	put(dst, "stray.txt", "mine", day)
	put(dst, "old/deep/x.txt", "mine too", day)
	dry, err := desk.Pull(ctx, "copies", dst, dirsync.PullOptions{Delete: true, DryRun: true})
	if err != nil || len(dry.Deleted) != 2 || dry.Deleted[0] != "old/deep/x.txt" || dry.Deleted[1] != "stray.txt" {
		t.Fatalf("--delete --dry-run: %+v (%v)", dry.Deleted, err)
	}
	if _, err := os.Stat(filepath.Join(dst, "stray.txt")); err != nil {
		t.Fatal("a dry run deleted a file")
	}
	mirror, err := desk.Pull(ctx, "copies", dst, dirsync.PullOptions{Delete: true})
	if err != nil || len(mirror.Deleted) != 2 {
		t.Fatalf("--delete: %+v (%v)", mirror, err)
	}
	for _, gone := range []string{"stray.txt", "old/deep/x.txt", "old"} {
		if _, err := os.Stat(filepath.Join(dst, gone)); !os.IsNotExist(err) {
			t.Errorf("%s is still there after --delete", gone)
		}
	}
	for _, kept := range []string{"a.bin", "sub/b.bin", "c.bin", "d.bin"} {
		stat(kept)
	}
}

// A pull that would not fit the destination's disk stops before writing anything, saying
// where and how much; with room it goes through. A push needs no room: it copies nothing.
func TestNoRoomStopsAPullButNotAPush(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRig(t, server.Limits{})
	src, dst := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(src, "big.bin"), make([]byte, 64<<10), 0o644)
	var free atomic.Int64
	free.Store(1 << 20) // 1 MB: less than the 16 MB kept free beyond a transfer
	device := func() *dirsync.Syncer {
		return dirsync.New(dirsync.Options{Blob: blob.Options{Store: r.Store(t), Client: r.Client(), Keys: r.Keys},
			FreeSpace: func(string) (int64, error) { return free.Load(), nil }})
	}
	laptop := device()
	if res, err := laptop.Push(ctx, src, "docs", dirsync.PushOptions{}); err != nil || res.Uploaded != 1 {
		t.Fatalf("a push on a full disk: %+v %v", res, err)
	}
	desk := device()
	_, err := desk.Pull(ctx, "docs", dst, dirsync.PullOptions{})
	var space *dirsync.SpaceError
	if !errors.Is(err, dirsync.ErrNoSpace) || !errors.As(err, &space) || space.Need != 64<<10 || space.Free != 1<<20 ||
		!strings.Contains(err.Error(), "more, and has 1.0 MB free") {
		t.Fatalf("a pull with no room: %v", err)
	}
	if entries, _ := os.ReadDir(dst); len(entries) != 0 {
		t.Fatalf("the refused pull wrote %d entries", len(entries))
	}
	free.Store(1 << 30)
	if res, err := desk.Pull(ctx, "docs", dst, dirsync.PullOptions{}); err != nil || res.Written != 1 {
		t.Fatalf("a pull with room: %+v (%v)", res, err)
	}
}

// Where the system's free space cannot be read (errors.ErrUnsupported: a build for a
// system without statfs), a pull is not refused for it; another error still stops it.
func TestAPullGoesOnWhereFreeSpaceCannotBeRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRig(t, server.Limits{})
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a.bin"), make([]byte, 64<<10), 0o644)
	device := func(free func(string) (int64, error)) *dirsync.Syncer {
		return dirsync.New(dirsync.Options{Blob: blob.Options{Store: r.Store(t), Client: r.Client(), Keys: r.Keys}, FreeSpace: free})
	}
	if _, err := device(nil).Push(ctx, src, "docs", dirsync.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	unsupported := func(string) (int64, error) { return 0, errors.ErrUnsupported }
	if res, err := device(unsupported).Pull(ctx, "docs", t.TempDir(), dirsync.PullOptions{}); err != nil || res.Written != 1 {
		t.Fatalf("a pull where free space cannot be read: %+v (%v)", res, err)
	}
	broken := errors.New("statfs: input/output error")
	failing := func(string) (int64, error) { return 0, broken }
	if _, err := device(failing).Pull(ctx, "docs", t.TempDir(), dirsync.PullOptions{}); !errors.Is(err, broken) {
		t.Fatalf("a pull whose free space check failed: %v", err)
	}
}

// One copy on disk: a push reads the files where they are and a pull writes them only
// where they belong; neither device's store holds their content, in the clear or not.
func TestAPushAndAPullKeepOneCopy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRig(t, server.Limits{})
	src, dst := t.TempDir(), t.TempDir()
	marker := []byte("MARKER-of-a-private-file-9c1e")
	var total int64
	for i := 0; i < 20; i++ {
		b := append(append([]byte{}, marker...), make([]byte, 100<<10)...)
		b[len(marker)] = byte(i) // twenty different files
		os.WriteFile(filepath.Join(src, fmt.Sprintf("f%02d.bin", i)), b, 0o644)
		total += int64(len(b))
	}
	os.WriteFile(filepath.Join(src, "copy.bin"), append(append([]byte{}, marker...), make([]byte, 100<<10)...), 0o644)
	laptopStore, deskStore := r.Store(t), r.Store(t)
	laptop := dirsync.New(dirsync.Options{Blob: blob.Options{Store: laptopStore, Client: r.Client(), Keys: r.Keys}})
	desk := dirsync.New(dirsync.Options{Blob: blob.Options{Store: deskStore, Client: r.Client(), Keys: r.Keys}})
	if _, err := laptop.Push(ctx, src, "docs", dirsync.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := desk.Pull(ctx, "docs", dst, dirsync.PullOptions{})
	if err != nil || res.Written != 21 || res.Downloaded != 20 { // 21 files, 20 contents
		t.Fatalf("pull: %+v %v", res, err)
	}
	same(t, snapshot(t, src), snapshot(t, dst))
	noTemps(t, dst)
	for _, st := range []*blob.Store{laptopStore, deskStore} {
		var kept int64
		filepath.WalkDir(st.Dir(), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, _ := os.ReadFile(p)
			if bytes.Contains(b, marker) {
				t.Errorf("%s holds a file's content in the clear", p)
			}
			if strings.HasPrefix(d.Name(), "index.db") {
				return nil
			}
			if bytes.Contains(b, []byte("f07.bin")) {
				t.Errorf("%s holds the directory's index in the clear", p)
			}
			kept += int64(len(b))
			return nil
		})
		if kept > 4<<10 { // the index blob, encrypted
			t.Errorf("the store in %s holds %d bytes for a tree of %d", st.Dir(), kept, total)
		}
	}
	// The pulled tree is where the desk's blobs are now: pushing it back reads it and
	// sends nothing; pulling it into a second place copies from the first, not the server.
	if res, err := desk.Push(ctx, dst, "docs-again", dirsync.PushOptions{}); err != nil || res.Uploaded != 0 {
		t.Fatalf("pushing the pulled tree: %+v %v", res, err)
	}
	before := r.Writes.Load()
	second := t.TempDir()
	res, err = desk.Pull(ctx, "docs", second, dirsync.PullOptions{})
	if err != nil || res.Written != 21 || res.Downloaded != 0 {
		t.Fatalf("a second pull on the same device: %+v %v", res, err)
	}
	same(t, snapshot(t, src), snapshot(t, second))
	if r.Writes.Load() != before {
		t.Fatal("a pull wrote to the server")
	}
	// A pulled file edited since: the next pull elsewhere does not copy the edit, it
	// fetches the blob again.
	os.WriteFile(filepath.Join(dst, "f03.bin"), []byte("edited"), 0o644)
	os.WriteFile(filepath.Join(second, "f03.bin"), []byte("edited too"), 0o644)
	third := t.TempDir()
	res, err = desk.Pull(ctx, "docs", third, dirsync.PullOptions{})
	if err != nil || res.Downloaded != 1 {
		t.Fatalf("a pull after the sources were edited: %+v %v", res, err)
	}
	same(t, snapshot(t, src), snapshot(t, third))
}

// A push that would not fit the account's quota on the server stops before it sends
// anything, saying how much it needs and how much is left; the server itself refuses a
// write over the quota, and a push within it goes through.
func TestAQuotaStopsAPushBeforeItSends(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := &rig{Rig: blobtest.NewWith(t, server.Options{Quota: 1 << 20}), t: t}
	small, big := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(small, "a.bin"), random(t, 200<<10), 0o644)
	os.WriteFile(filepath.Join(big, "b.bin"), random(t, 900<<10), 0o644)
	laptop := r.device(nil)
	if _, err := laptop.Push(ctx, small, "small", dirsync.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	before, _ := laptop.Blobs().ServerBlobs(ctx)
	_, err := laptop.Push(ctx, big, "big", dirsync.PushOptions{})
	var q *dirsync.QuotaError
	if !errors.Is(err, storage.ErrOverQuota) || !errors.As(err, &q) || q.Need < 1200<<10 || q.Free > 800<<10 || q.Free < 700<<10 {
		t.Fatalf("a push over the quota: %v", err)
	}
	if after, _ := laptop.Blobs().ServerBlobs(ctx); len(after) != len(before) {
		t.Fatalf("the refused push sent %d blobs", len(after)-len(before))
	}
	// The client's check is an estimate; the server's own refusal is what binds.
	c := r.Client()
	kb := r.Keys.For("blobs")
	filler, _ := kb.EncryptRecord(wbo.Record{ID: "filler", Payload: []byte(`{"id":"filler","x":"` + strings.Repeat("x", 600<<10) + `"}`)}, nil)
	if _, err := c.PutRecord(ctx, "blobs", filler, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutRecord(ctx, "blobs", filler, nil); !errors.Is(err, storage.ErrOverQuota) {
		t.Fatalf("a write over the quota: %v", err)
	}
}

func random(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// Compressible content is compressed before it is encrypted: a tree of text takes less
// room on the server than on disk, and comes back byte for byte.
func TestATextTreeStoresLessThanItsSize(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRig(t, server.Limits{})
	src, dst := t.TempDir(), t.TempDir()
	rnd := mrand.New(mrand.NewPCG(3, 4))
	words := strings.Fields("the server stores chunk records encrypted with a key only devices hold and a sync moves them in batches while every record is verified")
	var total int64
	for i := 0; i < 40; i++ {
		var b strings.Builder
		for b.Len() < 50<<10 {
			fmt.Fprintf(&b, "%05d %s %s %s\n", rnd.IntN(100000), words[rnd.IntN(len(words))], words[rnd.IntN(len(words))], words[rnd.IntN(len(words))])
		}
		os.WriteFile(filepath.Join(src, fmt.Sprintf("log%02d.txt", i)), []byte(b.String()), 0o644)
		total += int64(b.Len())
	}
	laptop := r.device(nil)
	if _, err := laptop.Push(ctx, src, "logs", dirsync.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	usage, err := laptop.ServerUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d bytes of text stored as %d (%.2f×)", total, usage, float64(usage)/float64(total))
	if usage >= total/2 {
		t.Fatalf("%d bytes of text took %d on the server", total, usage)
	}
	if _, err := r.device(nil).Pull(ctx, "logs", dst, dirsync.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	same(t, snapshot(t, src), snapshot(t, dst))
}
