// Package remote is a Repository over one collection on a SyncStorage 1.5 server. Reads
// stream through storage.Client; writes are planned into POSTs within the server's limits
// and sent through the batch API, so an upload of many POSTs becomes visible all at once
// or not at all.
package remote

import (
	"context"
	"sync"

	"github.com/syncctl/syncctl/repository"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/wbo"
)

// Options configure a Repository.
type Options struct {
	Client     *storage.Client
	Collection string
	// MaxPostRecords and MaxPostBytes cap each POST below the server's own limits
	// (defaults: 100 records and 1 MB, the protocol's advice).
	MaxPostRecords int64
	MaxPostBytes   int64
	// PageSize is the number of records per GET (default 1000).
	PageSize int
}

// Repository is one server collection.
type Repository struct {
	opts Options

	// writing serializes Stores: each sends X-If-Unmodified-Since of what the one before
	// committed, so this repository's own writes never look like someone else's.
	writing sync.Mutex

	mu           sync.Mutex
	cfg          *storage.Configuration
	lastModified wbo.Timestamp
	known        bool // lastModified came from the server
}

// New returns the repository for opts.Collection.
func New(opts Options) *Repository {
	if opts.MaxPostRecords <= 0 {
		opts.MaxPostRecords = 100
	}
	if opts.MaxPostBytes <= 0 {
		opts.MaxPostBytes = 1 << 20
	}
	return &Repository{opts: opts}
}

// LastModified is the collection timestamp last seen (after a fetch or a commit); Store
// sends it as X-If-Unmodified-Since, so an upload never overwrites a change it has not
// seen. ok is false before the first fetch.
func (r *Repository) LastModified() (ts wbo.Timestamp, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastModified, r.known
}

// SetLastModified sets what Store will send as X-If-Unmodified-Since (0: "only if the
// collection is empty"); the synchronizer restores it from its saved state.
func (r *Repository) SetLastModified(ts wbo.Timestamp) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastModified, r.known = ts, true
}

func (r *Repository) seen(ts wbo.Timestamp) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ts > r.lastModified || !r.known {
		r.lastModified, r.known = ts, true
	}
}

// FetchSince implements repository.Repository.
func (r *Repository) FetchSince(ctx context.Context, since wbo.Timestamp, fn func(wbo.Record) error) error {
	return r.fetchSince(ctx, since, false, fn)
}

// FetchSinceLent implements repository.Lender: each payload is decoded where the
// response was read (storage.Query.Borrow).
func (r *Repository) FetchSinceLent(ctx context.Context, since wbo.Timestamp, fn func(wbo.Record) error) error {
	return r.fetchSince(ctx, since, true, fn)
}

func (r *Repository) fetchSince(ctx context.Context, since wbo.Timestamp, lend bool, fn func(wbo.Record) error) error {
	ts, err := r.opts.Client.GetCollection(ctx, r.opts.Collection, storage.Query{Newer: since, Full: true, Sort: "oldest", PageSize: r.opts.PageSize, Borrow: lend}, fn)
	if err == nil {
		r.seen(ts)
	}
	return err
}

// GUIDsSince implements repository.Repository.
func (r *Repository) GUIDsSince(ctx context.Context, since wbo.Timestamp) ([]string, error) {
	var ids []string
	_, err := r.opts.Client.GetCollection(ctx, r.opts.Collection, storage.Query{Newer: since, Sort: "oldest", PageSize: r.opts.PageSize}, func(rec wbo.Record) error {
		ids = append(ids, rec.ID)
		return nil
	})
	return ids, err
}

// Fetch implements repository.Repository; ids go 100 to a request.
func (r *Repository) Fetch(ctx context.Context, ids []string, fn func(wbo.Record) error) error {
	return r.fetch(ctx, ids, false, fn)
}

// FetchLent implements repository.Lender.
func (r *Repository) FetchLent(ctx context.Context, ids []string, fn func(wbo.Record) error) error {
	return r.fetch(ctx, ids, true, fn)
}

func (r *Repository) fetch(ctx context.Context, ids []string, lend bool, fn func(wbo.Record) error) error {
	if err := ctx.Err(); err != nil || len(ids) == 0 {
		return err
	}
	_, err := r.opts.Client.GetCollection(ctx, r.opts.Collection, storage.Query{IDs: repository.Unique(ids), Full: true, PageSize: r.opts.PageSize, Borrow: lend}, fn)
	return err
}

// Wipe implements repository.Repository.
func (r *Repository) Wipe(ctx context.Context) error {
	return r.opts.Client.DeleteCollection(ctx, r.opts.Collection, nil)
}

func (r *Repository) config(ctx context.Context) (storage.Configuration, error) {
	r.mu.Lock()
	cfg := r.cfg
	r.mu.Unlock()
	if cfg != nil {
		return *cfg, nil
	}
	c, err := r.opts.Client.Configuration(ctx)
	if err != nil {
		return c, err
	}
	r.mu.Lock()
	r.cfg = &c
	r.mu.Unlock()
	return c, nil
}

var (
	_ repository.Repository = (*Repository)(nil)
	_ repository.Lender     = (*Repository)(nil)
)
