package synchronizer_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/syncctl/syncctl/repository"
	"github.com/syncctl/syncctl/synchronizer"
	"github.com/syncctl/syncctl/wbo"
)

// counting counts the records a repository hands out.
type counting struct {
	repository.Repository
	fetched int
}

func (c *counting) FetchSince(ctx context.Context, since wbo.Timestamp, fn func(wbo.Record) error) error {
	return c.Repository.FetchSince(ctx, since, func(r wbo.Record) error {
		c.fetched++
		return fn(r)
	})
}

// Regression (issue 16, defect 2): a collection holding an exact multiple of the chunk
// size under one commit timestamp had its last full chunk applied as "not final", with
// no progress, and the closing step saw an empty chunk and saved none: every later sync
// downloaded the whole collection again.
func TestProgressCoversTheLastChunkWhateverTheChunkAndCommitSizes(t *testing.T) {
	t.Parallel()
	srv, keys, _ := setup(t)
	for _, tc := range []struct{ records, chunk int }{
		{500, 500}, {1000, 500}, {499, 500}, {501, 500}, {50, 10}, {7, 1},
	} {
		t.Run(fmt.Sprintf("%d records in chunks of %d", tc.records, tc.chunk), func(t *testing.T) {
			coll := fmt.Sprintf("p%d_%d", tc.records, tc.chunk)
			writer := newDeviceFor(t, srv, keys, "w"+coll, coll, synchronizer.Options{})
			for i := range tc.records {
				writer.write(t, fmt.Sprintf("r%05d", i), map[string]any{"i": i})
			}
			if res := writer.mustSync(t); res.Uploaded != tc.records {
				t.Fatalf("uploaded %d", res.Uploaded)
			}
			reader := newDeviceFor(t, srv, keys, "r"+coll, coll, synchronizer.Options{ChunkSize: tc.chunk})
			remote := &counting{Repository: remoteFor(t, srv, keys, coll)}
			s := synchronizer.New(synchronizer.Options{Local: reader.notes, Remote: remote, Key: coll, ChunkSize: tc.chunk})
			if res, err := s.Sync(context.Background()); err != nil || res.Applied != tc.records {
				t.Fatalf("first sync: %+v, %v", res, err)
			}
			remote.fetched = 0
			if res, err := s.Sync(context.Background()); err != nil || res.Applied != 0 {
				t.Fatalf("second sync: %+v, %v", res, err)
			}
			if remote.fetched != 0 {
				t.Errorf("a sync with nothing new fetched %d records again", remote.fetched)
			}
		})
	}
}

// With the server's last-modified time from info/collections, a sync with nothing new on
// either side asks the server nothing; a local change still goes up.
func TestAnIdleSyncAsksTheServerNothing(t *testing.T) {
	t.Parallel()
	srv, keys, _ := setup(t)
	a := newDevice(t, srv, keys, "a", synchronizer.Options{})
	a.write(t, "n1", map[string]any{"v": 1})
	a.mustSync(t)
	last, _ := a.sync.LastSync(context.Background())
	remote := &counting{Repository: remoteOf(t, srv, keys)}
	s := synchronizer.New(synchronizer.Options{Local: a.notes, Remote: remote, Key: "notes", RemoteModified: &last})
	if res, err := s.Sync(context.Background()); err != nil || res != (synchronizer.Result{}) {
		t.Fatalf("idle sync: %+v, %v", res, err)
	}
	a.write(t, "n2", map[string]any{"v": 2})
	if res, err := s.Sync(context.Background()); err != nil || res.Uploaded != 1 {
		t.Fatalf("sync with a local change: %+v, %v", res, err)
	}
}

// applies records the transactions a tracked repository is given.
type applies struct {
	repository.TrackedRepository
	sizes []int // records per transaction
	below []int // payload bytes per transaction but for its last record's
}

func (a *applies) ApplyIncoming(ctx context.Context, in []repository.Resolved, remove []string, state map[string]string) (repository.StoreResult, error) {
	a.sizes = append(a.sizes, len(in))
	n := 0
	for _, r := range in[:max(len(in)-1, 0)] {
		n += len(r.Record.Payload)
	}
	a.below = append(a.below, n)
	return a.TrackedRepository.ApplyIncoming(ctx, in, remove, state)
}

// Incoming records are applied ChunkBytes of payload to a transaction at most, whatever
// ChunkSize allows: large records do not pile up in memory by the thousand.
func TestIncomingChunksAreBoundedByBytes(t *testing.T) {
	t.Parallel()
	srv, keys, _ := setup(t)
	writer := newDeviceFor(t, srv, keys, "wbytes", "bytes", synchronizer.Options{})
	for i := range 200 {
		writer.write(t, fmt.Sprintf("r%05d", i), map[string]any{"i": i, "pad": fmt.Sprintf("%0500d", i)})
	}
	writer.mustSync(t)
	reader := newDeviceFor(t, srv, keys, "rbytes", "bytes", synchronizer.Options{})
	local := &applies{TrackedRepository: reader.notes}
	// Each cleartext is some 520 bytes: 8 KB is about sixteen of them.
	s := synchronizer.New(synchronizer.Options{Local: local, Remote: remoteFor(t, srv, keys, "bytes"), Key: "bytes", ChunkBytes: 8 << 10})
	res, err := s.Sync(context.Background())
	if err != nil || res.Applied != 200 {
		t.Fatalf("%+v, %v", res, err)
	}
	total := 0
	for i, n := range local.sizes {
		if local.below[i] >= 8<<10 {
			t.Fatalf("a transaction past the 8 KB bound before its last record: %d bytes (records per transaction %v)", local.below[i], local.sizes)
		}
		total += n
	}
	if total != 200 || len(local.sizes) < 10 {
		t.Fatalf("records per transaction %v", local.sizes)
	}
}
