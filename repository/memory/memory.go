// Package memory is an in-memory Repository: a stand-in server for examples and unit
// tests, and the simplest implementation of the contract in repositorytest. It stamps
// records with its own clock, always increasing.
package memory

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/syncctl/syncctl/repository"
	"github.com/syncctl/syncctl/wbo"
)

// Repository is an in-memory repository.
type Repository struct {
	mu      sync.Mutex
	records map[string]wbo.Record
	last    wbo.Timestamp
	now     func() time.Time
}

// New returns an empty repository; now may be nil for time.Now.
func New(now func() time.Time) *Repository {
	if now == nil {
		now = time.Now
	}
	return &Repository{records: map[string]wbo.Record{}, now: now}
}

// tick returns a timestamp after every one given before.
func (r *Repository) tick() wbo.Timestamp {
	ts := wbo.TimestampOf(r.now())
	if ts <= r.last {
		ts = r.last + 10
	}
	r.last = ts
	return ts
}

func (r *Repository) sorted(keep func(wbo.Record) bool) []wbo.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []wbo.Record
	for _, rec := range r.records {
		if keep(rec) {
			out = append(out, rec)
		}
	}
	slices.SortFunc(out, func(a, b wbo.Record) int {
		return cmp.Or(cmp.Compare(a.Modified, b.Modified), strings.Compare(a.ID, b.ID))
	})
	return out
}

// FetchSince implements repository.Repository.
func (r *Repository) FetchSince(ctx context.Context, since wbo.Timestamp, fn func(wbo.Record) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, rec := range r.sorted(func(rec wbo.Record) bool { return rec.Modified > since }) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return nil
}

// GUIDsSince implements repository.Repository.
func (r *Repository) GUIDsSince(ctx context.Context, since wbo.Timestamp) ([]string, error) {
	var ids []string
	err := r.FetchSince(ctx, since, func(rec wbo.Record) error { ids = append(ids, rec.ID); return nil })
	return ids, err
}

// Fetch implements repository.Repository.
func (r *Repository) Fetch(ctx context.Context, ids []string, fn func(wbo.Record) error) error {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, rec := range r.sorted(func(rec wbo.Record) bool { return want[rec.ID] }) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return nil
}

// Store implements repository.Repository; invalid records fail one by one. A cancelled
// context stores nothing.
func (r *Repository) Store(ctx context.Context, recs []wbo.Record) (repository.StoreResult, error) {
	if err := ctx.Err(); err != nil {
		return repository.StoreResult{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	res := repository.StoreResult{Modified: r.tick()}
	for _, rec := range recs {
		if err := rec.Validate(wbo.Limits{}); err != nil {
			res.Fail(rec.ID, err)
			continue
		}
		rec.Modified = res.Modified
		rec.Payload = append([]byte(nil), rec.Payload...)
		r.records[rec.ID] = rec
		res.Stored = append(res.Stored, rec.ID)
	}
	return res, nil
}

// Wipe implements repository.Repository.
func (r *Repository) Wipe(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = map[string]wbo.Record{}
	return nil
}

var _ repository.Repository = (*Repository)(nil)
