package dirsync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/wbo"
)

// The garbage collector runs on a client: only a device with the keys can read the
// directory indexes that say which blobs are still used. Pushes and collections exclude
// each other through leases, records beside the directory records ("lease-…", which
// List skips) that the server expires by TTL: a push holds a "push" lease from before it looks at the server's blobs until its
// directory record is written, a collection holds a "gc" lease; each writes its own and
// then looks for the other kind, and stops (ErrBusy) if it finds one — when both start
// at once both stop, and neither loses anything. A collection also spares every blob
// younger than a grace period, for pushes by clients that hold no lease.

// ErrBusy: a push and a garbage collection would overlap; try again in a minute.
var ErrBusy = errors.New("dirsync: another device is pushing or collecting garbage now: try again in a minute")

const (
	leasePrefix = "lease-"
	leaseTTL    = 10 * time.Minute
)

// lease takes a lease of kind ("push" or "gc") and returns its release; it fails with
// ErrBusy when a lease of the kind that excludes it is held (for gc: any other lease).
// The lease is renewed while held.
func (s *Syncer) lease(ctx context.Context, kind string) (release func(), err error) {
	var b [9]byte
	rand.Read(b[:])
	id := leasePrefix + kind + "-" + hex.EncodeToString(b[:])
	coll := s.opts.Collection
	kb := s.opts.Blob.Keys.For(coll)
	host, _ := os.Hostname()
	put := func(ctx context.Context) error {
		payload, _ := json.Marshal(map[string]any{"id": id, "kind": kind, "host": host, "at": time.Now().Unix()})
		rec, err := kb.EncryptRecord(wbo.Record{ID: id, Payload: payload, TTL: wbo.Int(int64(leaseTTL / time.Second))}, nil)
		if err != nil {
			return err
		}
		_, err = s.opts.Blob.Client.PutRecord(ctx, coll, rec, nil)
		return err
	}
	if err := put(ctx); err != nil {
		return nil, err
	}
	drop := func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s.opts.Blob.Client.DeleteRecord(dctx, coll, id, nil)
	}
	busy := false
	_, err = s.opts.Blob.Client.GetCollection(ctx, coll, storage.Query{}, func(r wbo.Record) error {
		if strings.HasPrefix(r.ID, leasePrefix) && r.ID != id && (kind == "gc" || strings.HasPrefix(r.ID, leasePrefix+"gc-")) {
			busy = true
		}
		return nil
	})
	if err != nil || busy {
		drop()
		if err == nil {
			err = ErrBusy
		}
		return nil, err
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(leaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				put(ctx)
			}
		}
	}()
	return func() { close(stop); <-done; drop() }, nil
}

// GCOptions change what GC does.
type GCOptions struct {
	DryRun bool // remove nothing: count what would go
	// Grace spares blobs written this recently (default 1 h), whoever wrote them.
	Grace time.Duration
}

// GCResult says what a collection found.
type GCResult struct {
	Dirs       int `json:"dirs"`       // directories on the server
	Referenced int `json:"referenced"` // blobs they use (indexes included)
	Removed    int `json:"removed"`    // blobs removed (with DryRun: that would be)
	Records    int `json:"records"`    // server records removed: manifests and chunks
	Young      int `json:"young"`      // unused blobs spared for being within the grace period
}

// GC removes from the server every blob no pushed directory uses and that is older than
// the grace period: manifests first (a reader then finds the blob missing, never half
// of it), then their chunks, and chunks whose manifest is gone.
func (s *Syncer) GC(ctx context.Context, opts GCOptions) (GCResult, error) {
	var res GCResult
	if opts.Grace <= 0 {
		opts.Grace = time.Hour
	}
	if !opts.DryRun {
		release, err := s.lease(ctx, "gc")
		if err != nil {
			return res, err
		}
		defer release()
	}
	dirs, err := s.List(ctx)
	if err != nil {
		return res, err
	}
	res.Dirs = len(dirs)
	used := map[string]bool{}
	for _, d := range dirs {
		ix, err := s.index(ctx, d)
		if err != nil {
			return res, fmt.Errorf("dirsync: reading the index of %q: %w", d.Name, err)
		}
		used[d.Index] = true
		for _, e := range ix.Files {
			used[e.Blob] = true
		}
	}
	res.Referenced = len(used)

	// "Now" is the server's: a burst of writes runs the user's timestamps ahead of the
	// clock (each is at least 10 ms past the one before), and the newest record must
	// not look old. The user's last-modified is the latest timestamp the server issued.
	_, last, err := s.opts.Blob.Client.InfoCollections(ctx, 0)
	if err != nil {
		return res, err
	}
	cutoff := max(wbo.TimestampOf(time.Now()), last) - wbo.Timestamp(opts.Grace.Milliseconds())
	coll := s.opts.Blob.Collection
	if coll == "" {
		coll = "blobs"
	}
	// Listings of ids carry no timestamps: the server filters by them (older, newer).
	// A blob is kept or removed whole: one whose manifest is within the grace period
	// keeps every chunk, however old (a chunk removed under a manifest that stays would
	// make the blob look present and be missing).
	young := map[string]bool{}
	_, err = s.opts.Blob.Client.GetCollection(ctx, coll, storage.Query{Newer: cutoff - 1}, func(r wbo.Record) error {
		if !strings.Contains(r.ID, ".") && !used[r.ID] {
			young[r.ID] = true
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	res.Young = len(young)
	var manifests, chunks []string
	unused := map[string]bool{}
	_, err = s.opts.Blob.Client.GetCollection(ctx, coll, storage.Query{Older: cutoff}, func(r wbo.Record) error {
		base, _, isChunk := strings.Cut(r.ID, ".")
		switch {
		case used[base], young[base]:
		case isChunk:
			chunks = append(chunks, r.ID)
		default:
			manifests = append(manifests, r.ID)
			unused[base] = true
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	res.Removed, res.Records = len(manifests), len(manifests)+len(chunks)
	if opts.DryRun {
		return res, nil
	}
	for _, ids := range [][]string{manifests, chunks} {
		if _, err := s.opts.Blob.Client.DeleteRecords(ctx, coll, ids, nil); err != nil {
			return res, err
		}
	}
	// The local store stops taking these for on the server.
	for id := range unused {
		if err := s.store.Forget(ctx, id); err != nil {
			return res, err
		}
	}
	return res, nil
}

// index fetches (into the local store, unless it is there) and parses a directory's
// index.
func (s *Syncer) index(ctx context.Context, d Dir) (Index, error) {
	need, err := s.store.Need(ctx, map[string]int64{d.Index: 0})
	if err != nil {
		return Index{}, err
	}
	if len(need) > 0 {
		if _, err := s.transfer(ctx, "download", map[string]bool{d.Index: true}, 0, nil); err != nil {
			return Index{}, err
		}
	}
	r, err := s.store.Open(ctx, d.Index)
	if err != nil {
		return Index{}, err
	}
	defer r.Close()
	raw, err := io.ReadAll(r) // verified against its id at the end
	if err != nil {
		return Index{}, err
	}
	return ParseIndex(raw)
}

// ServerUsage is what the blobs take on the server, in bytes (as info/collection_usage
// counts them: the encrypted records).
func (s *Syncer) ServerUsage(ctx context.Context) (int64, error) {
	usage, err := s.opts.Blob.Client.InfoCollectionUsage(ctx)
	if err != nil {
		return 0, err
	}
	coll := s.opts.Blob.Collection
	if coll == "" {
		coll = "blobs"
	}
	return int64(usage[coll] * 1024), nil
}
