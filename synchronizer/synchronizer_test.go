package synchronizer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/syncctl/syncctl/repository"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/synchronizer"
	"github.com/syncctl/syncctl/wbo"
)

func TestCreatesUpdatesAndDeletesReachTheOtherDevice(t *testing.T) {
	t.Parallel()
	srv, keys, _ := setup(t)
	a := newDevice(t, srv, keys, "a", synchronizer.Options{})
	b := newDevice(t, srv, keys, "b", synchronizer.Options{})
	a.write(t, "n1", map[string]any{"text": "hello"})
	a.write(t, "n2", map[string]any{"text": "bye"})
	if res := a.mustSync(t); res.Uploaded != 2 {
		t.Errorf("a uploaded %d", res.Uploaded)
	}
	if res := b.mustSync(t); res.Applied != 2 {
		t.Errorf("b applied %d", res.Applied)
	}
	b.write(t, "n1", map[string]any{"text": "hello, edited"})
	b.remove(t, "n2")
	b.mustSync(t)
	a.mustSync(t)
	if diff, ok := equalMaps(a.snapshot(t), b.snapshot(t)); !ok {
		t.Error(diff)
	}
	if snap := a.snapshot(t); !wbo.IsTombstone([]byte(snap["n2"])) || snap["n1"] != `{"id":"n1","text":"hello, edited"}` {
		t.Errorf("a has %v", snap)
	}
	// Nothing changed: a sync moves nothing, and does not echo what it just received.
	if res := a.mustSync(t); res.Applied != 0 || res.Uploaded != 0 {
		t.Errorf("idle sync: %+v", res)
	}
}

func TestBothSidesChangingOneRecordMergeFieldByField(t *testing.T) {
	t.Parallel()
	srv, keys, _ := setup(t)
	a := newDevice(t, srv, keys, "a", synchronizer.Options{})
	b := newDevice(t, srv, keys, "b", synchronizer.Options{})
	a.write(t, "n", map[string]any{"title": "t", "body": "b"})
	a.mustSync(t)
	b.mustSync(t)
	a.write(t, "n", map[string]any{"title": "title from a", "body": "b"})
	b.write(t, "n", map[string]any{"title": "t", "body": "body from b"})
	a.mustSync(t)
	if res := b.mustSync(t); res.Reconciled != 1 {
		t.Errorf("b reconciled %d", res.Reconciled)
	}
	a.mustSync(t)
	want := `{"body":"body from b","id":"n","title":"title from a"}`
	for _, d := range []*device{a, b} {
		if got := d.snapshot(t)["n"]; got != want {
			t.Errorf("%s: %s", d.name, got)
		}
	}
}

func TestAFailedUploadLeavesLocalChangesPending(t *testing.T) {
	t.Parallel()
	srv, keys, f := setup(t)
	a := newDevice(t, srv, keys, "a", synchronizer.Options{})
	for i := range 5 {
		a.write(t, fmt.Sprint("n", i), map[string]any{"i": i})
	}
	f.failPost.Store(1)
	if _, err := a.sync.Sync(context.Background()); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	pending := 0
	a.notes.Changes(context.Background(), func(wbo.Record) error { pending++; return nil })
	if pending != 5 {
		t.Errorf("%d changes pending after a failed upload", pending)
	}
	if res := a.mustSync(t); res.Uploaded != 5 {
		t.Errorf("retry uploaded %d", res.Uploaded)
	}
}

// stopAfter fails a fetch after n records, as a crash or a cut connection would.
type stopAfter struct {
	repository.Repository
	n int
}

var errCut = errors.New("connection cut")

func (s *stopAfter) FetchSince(ctx context.Context, since wbo.Timestamp, fn func(wbo.Record) error) error {
	seen := 0
	return s.Repository.FetchSince(ctx, since, func(r wbo.Record) error {
		if seen++; seen > s.n {
			return errCut
		}
		return fn(r)
	})
}

func TestAnInterruptedIncomingResumesWithoutLossOrRepeat(t *testing.T) {
	t.Parallel()
	srv, keys, _ := setup(t)
	a := newDevice(t, srv, keys, "a", synchronizer.Options{})
	for i := range 120 {
		a.write(t, fmt.Sprintf("n%03d", i), map[string]any{"i": i})
		if i%40 == 39 {
			a.mustSync(t) // three commits, so three distinct timestamps
		}
	}
	b := newDevice(t, srv, keys, "b", synchronizer.Options{ChunkSize: 25})
	bRemote := synchronizer.New(synchronizer.Options{Local: b.notes, Remote: &stopAfter{Repository: remoteOf(t, srv, keys), n: 70}, Key: "notes", ChunkSize: 25})
	if _, err := bRemote.Sync(context.Background()); !errors.Is(err, errCut) {
		t.Fatalf("err = %v", err)
	}
	got := b.snapshot(t)
	if len(got) == 0 || len(got) >= 120 {
		t.Fatalf("after the cut b has %d records", len(got))
	}
	last, _ := b.sync.LastSync(context.Background())
	res := b.mustSync(t)
	if res.Applied+len(got) < 120 {
		t.Errorf("resume applied %d after %d", res.Applied, len(got))
	}
	if diff, ok := equalMaps(a.snapshot(t), b.snapshot(t)); !ok {
		t.Errorf("after resuming from %v: %s", last, diff)
	}
}

func TestAConcurrentWriterMakesTheUploadRetryAfterAFreshFetch(t *testing.T) {
	t.Parallel()
	srv, keys, _ := setup(t)
	a := newDevice(t, srv, keys, "a", synchronizer.Options{})
	b := newDevice(t, srv, keys, "b", synchronizer.Options{})
	a.write(t, "shared", map[string]any{"v": 1})
	a.mustSync(t)
	b.mustSync(t)
	b.write(t, "fromB", map[string]any{"v": 2})
	b.mustSync(t)
	// a learned the collection's timestamp before b wrote; its upload meets a 412, so it
	// fetches b's record and retries.
	a.write(t, "fromA", map[string]any{"v": 3})
	res := a.mustSync(t)
	if res.Uploaded != 1 || res.Applied != 1 {
		t.Errorf("%+v", res)
	}
	b.mustSync(t)
	if diff, ok := equalMaps(a.snapshot(t), b.snapshot(t)); !ok {
		t.Error(diff)
	}
}

// byTitle dedupes notes with the same title.
type byTitle struct{ d *device }

func (bt byTitle) FindDupe(ctx context.Context, in wbo.Record) (string, bool, error) {
	var want struct{ Title string }
	json.Unmarshal(in.Payload, &want)
	found := ""
	err := bt.d.notes.FetchSince(ctx, 0, func(r wbo.Record) error {
		var have struct{ Title string }
		json.Unmarshal(r.Payload, &have)
		if have.Title == want.Title && r.ID != in.ID {
			found = r.ID
		}
		return nil
	})
	return found, found != "", err
}

func TestDedupeMovesALocalRecordToTheIncomingGUIDOnBothSides(t *testing.T) {
	t.Parallel()
	srv, keys, _ := setup(t)
	a := newDevice(t, srv, keys, "a", synchronizer.Options{})
	a.write(t, "guidA", map[string]any{"title": "Inbox", "from": "a"})
	a.mustSync(t)
	b := newDevice(t, srv, keys, "b", synchronizer.Options{})
	b.sync = synchronizer.New(synchronizer.Options{Local: b.notes, Remote: remoteOf(t, srv, keys), Key: "notes", Deduper: byTitle{b}})
	b.write(t, "guidB", map[string]any{"title": "Inbox", "from": "b"})
	b.mustSync(t) // uploads guidB (a tombstone later) and applies guidA
	a.mustSync(t)
	snapA, snapB := a.snapshot(t), b.snapshot(t)
	if _, ok := snapB["guidB"]; ok {
		t.Errorf("b kept its old GUID: %v", snapB)
	}
	if _, ok := snapB["guidA"]; !ok {
		t.Errorf("b lacks the incoming GUID: %v", snapB)
	}
	if snapA["guidB"] != "" && !wbo.IsTombstone([]byte(snapA["guidB"])) {
		t.Errorf("a still has b's old GUID alive: %v", snapA["guidB"])
	}
}

// Local changes go up UploadChunk at a time, each group marked synced once the server
// has it: when a later group fails, the groups before it stay synced, the rest stay
// pending, and the next sync sends only those.
func TestChangesGoUpInGroupsEachMarkedOnItsOwn(t *testing.T) {
	t.Parallel()
	srv, keys, faults := setup(t)
	d := newDeviceFor(t, srv, keys, "grouped", "grouped", synchronizer.Options{UploadChunk: 7})
	for i := range 20 {
		d.write(t, fmt.Sprintf("g%02d", i), map[string]any{"i": i})
	}
	faults.failPost.Store(2) // the second group's POST
	res, err := d.sync.Sync(context.Background())
	if err == nil || res.Uploaded != 7 {
		t.Fatalf("first sync: %+v, %v; want the first group of 7 up and an error", res, err)
	}
	pending := 0
	d.notes.Changes(context.Background(), func(wbo.Record) error { pending++; return nil })
	if pending != 13 {
		t.Errorf("%d changes pending after the failure, want 13", pending)
	}
	if res := d.mustSync(t); res.Uploaded != 13 {
		t.Errorf("second sync uploaded %d, want the 13 left", res.Uploaded)
	}
	other := newDeviceFor(t, srv, keys, "reader", "grouped", synchronizer.Options{})
	if res := other.mustSync(t); res.Applied != 20 {
		t.Errorf("another device got %d records, want 20", res.Applied)
	}
}

// writesMeanwhile is a local store that, just before the first incoming chunk is
// written, gets a local write of its own, as if the user edited while the sync ran.
type writesMeanwhile struct {
	repository.TrackedRepository
	repository.Emptier
	once  func()
	fired bool
}

func (w *writesMeanwhile) ApplyIncoming(ctx context.Context, in []repository.Resolved, remove []string, state map[string]string) (repository.StoreResult, error) {
	if !w.fired {
		w.fired = true
		w.once()
	}
	return w.TrackedRepository.ApplyIncoming(ctx, in, remove, state)
}

// A new device's first sync looks nothing up locally (the store is empty), yet a record
// created on it while the sync ran is not overwritten by the incoming one: that local
// write wins, as any local write made during a sync does, and goes up.
func TestAFirstSyncKeepsARecordCreatedWhileItRan(t *testing.T) {
	t.Parallel()
	srv, keys, _ := setup(t)
	a := newDevice(t, srv, keys, "a", synchronizer.Options{})
	for _, id := range []string{"n1", "n2", "n3"} {
		a.write(t, id, map[string]any{"text": "from a"})
	}
	a.mustSync(t)

	b := newDevice(t, srv, keys, "b", synchronizer.Options{})
	w := &writesMeanwhile{TrackedRepository: b.notes, Emptier: b.notes, once: func() { b.write(t, "n2", map[string]any{"text": "typed on b"}) }}
	b.sync = synchronizer.New(synchronizer.Options{Local: w, Remote: remoteOf(t, srv, keys), Key: "notes"})
	res := b.mustSync(t)
	if res.Applied != 2 || res.Uploaded != 1 || !w.fired {
		t.Errorf("first sync: %+v", res)
	}
	if snap := b.snapshot(t); snap["n2"] != `{"id":"n2","text":"typed on b"}` || snap["n1"] != `{"id":"n1","text":"from a"}` {
		t.Errorf("b holds %v", snap)
	}
	a.mustSync(t)
	if diff, ok := equalMaps(a.snapshot(t), b.snapshot(t)); !ok {
		t.Error(diff)
	}
}
