package dirsync_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncctl/syncctl/dirsync"
	"github.com/syncctl/syncctl/server"
)

// A directory removed leaves blobs nothing uses; a collection removes them (and its
// index), keeps what another directory shares, spares what is younger than the grace
// period, and the other directory still pulls whole. A second collection finds nothing.
func TestGCRemovesWhatNoDirectoryUses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRig(t, server.Limits{})
	laptop := r.device(nil)
	a, b := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(a, "shared.txt"), []byte("in both"), 0o644)
	os.WriteFile(filepath.Join(a, "only-a.txt"), []byte("only in a"), 0o644)
	os.WriteFile(filepath.Join(b, "shared.txt"), []byte("in both"), 0o644)
	os.WriteFile(filepath.Join(b, "only-b.txt"), []byte("only in b"), 0o644)
	for dir, name := range map[string]string{a: "a", b: "b"} {
		if _, err := laptop.Push(ctx, dir, name, dirsync.PushOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := laptop.Remove(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // past the server's 10 ms clock tick: the blobs are older than "now"
	if young, err := laptop.GC(ctx, dirsync.GCOptions{}); err != nil || young.Removed != 0 || young.Young != 2 {
		t.Fatalf("with the default grace period (1 h): %+v (%v)", young, err)
	}
	dry, err := laptop.GC(ctx, dirsync.GCOptions{DryRun: true, Grace: time.Nanosecond})
	if err != nil || dry.Dirs != 1 || dry.Referenced != 3 || dry.Removed != 2 {
		t.Fatalf("dry run: %+v (%v): want a's index and only-a.txt", dry, err)
	}
	before, _ := laptop.Blobs().ServerBlobs(ctx)
	res, err := laptop.GC(ctx, dirsync.GCOptions{Grace: time.Nanosecond})
	if err != nil || res.Removed != 2 || res.Records < 4 {
		t.Fatalf("gc: %+v (%v)", res, err)
	}
	after, _ := laptop.Blobs().ServerBlobs(ctx)
	if len(before)-len(after) != 2 {
		t.Fatalf("server blobs %d → %d", len(before), len(after))
	}
	dst := t.TempDir()
	if p, err := r.device(nil).Pull(ctx, "b", dst, dirsync.PullOptions{}); err != nil || p.Written != 2 {
		t.Fatalf("pulling b after gc: %+v (%v)", p, err)
	}
	if again, err := laptop.GC(ctx, dirsync.GCOptions{Grace: time.Nanosecond}); err != nil || again.Removed != 0 {
		t.Fatalf("a second gc: %+v (%v)", again, err)
	}
	// The content a collection removed is sent again by a push that needs it.
	if p, err := laptop.Push(ctx, a, "a", dirsync.PushOptions{}); err != nil || p.Uploaded != 1 { // only-a.txt (shared.txt stayed)
		t.Fatalf("pushing a again: %+v (%v)", p, err)
	}
	if p, err := r.device(nil).Pull(ctx, "a", t.TempDir(), dirsync.PullOptions{}); err != nil || p.Written != 2 {
		t.Fatalf("pulling a after it was collected and pushed again: %+v (%v)", p, err)
	}
}

// A push and a collection race, again and again, on two devices: a directory is removed
// (its blobs unused) and pushed again with the same content (reusing those blobs) while
// the other device collects with no grace period at all. Every push that succeeded
// pulls whole; leases keep the two apart (one of them gives way, ErrBusy, and retries).
func TestAPushAndACollectionNeverLoseABlob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRig(t, server.Limits{})
	laptop, desk := r.device(nil), r.device(nil)
	src := t.TempDir()
	tree(t, src, 20, 1, 11)
	// Until both have run a few times (and 3 s at least), or 60 s: under the race
	// detector, with other tests beside it, a round takes longer.
	start := time.Now()
	var pushes, collections, removed, busy atomic.Int64
	running := func() bool {
		d := time.Since(start)
		return d < 60*time.Second && (d < 3*time.Second || pushes.Load() < 5 || collections.Load() < 5)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for running() {
			if _, err := desk.GC(ctx, dirsync.GCOptions{Grace: time.Nanosecond}); errors.Is(err, dirsync.ErrBusy) {
				busy.Add(1)
			} else if err != nil {
				t.Errorf("gc: %v", err)
				return
			} else {
				collections.Add(1)
			}
			time.Sleep(5 * time.Millisecond) // a gap a push can take
		}
	}()
	go func() {
		defer wg.Done()
		for running() {
			_, err := laptop.Push(ctx, src, "x", dirsync.PushOptions{})
			if errors.Is(err, dirsync.ErrBusy) {
				busy.Add(1)
				continue
			}
			if err != nil {
				t.Errorf("push: %v", err)
				return
			}
			pushes.Add(1)
			dst := t.TempDir()
			if p, err := r.device(nil).Pull(ctx, "x", dst, dirsync.PullOptions{}); err != nil || p.Written != 20 {
				t.Errorf("a pull right after a push that succeeded: %+v (%v): a collection took a blob it uses", p, err)
				return
			}
			if err := laptop.Remove(ctx, "x"); err != nil {
				t.Errorf("remove: %v", err)
				return
			}
			removed.Add(1)
		}
	}()
	wg.Wait()
	if pushes.Load() < 5 || collections.Load() < 5 {
		t.Fatalf("the race hardly ran: %d pushes, %d collections", pushes.Load(), collections.Load())
	}
	t.Logf("%d pushes (each pulled whole), %d collections, %d gave way to the other", pushes.Load(), collections.Load(), busy.Load())
}
