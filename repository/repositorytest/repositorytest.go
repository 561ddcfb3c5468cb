// Package repositorytest is the contract of repository.Repository and
// repository.TrackedRepository, written as tests: every implementation (memory, sqlite,
// remote over a real server) and the crypto middleware over each runs the same suite, so
// the promises on the interfaces are kept by all of them or the suite says which breaks
// one. A new implementation is done when Run passes.
package repositorytest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/syncctl/syncctl/repository"
	"github.com/syncctl/syncctl/wbo"
)

// Factory returns a new, empty repository for one test, and arranges (with t.Cleanup)
// whatever closing it needs.
type Factory func(t *testing.T) repository.Repository

// Payload is a cleartext every implementation accepts for the record id: a JSON object
// naming its id (which the crypto middleware requires), with n to tell versions apart.
func Payload(id string, n int) []byte {
	return fmt.Appendf(nil, `{"id":%q,"n":%d}`, id, n)
}

func records(prefix string, count, n int) []wbo.Record {
	out := make([]wbo.Record, count)
	for i := range out {
		id := fmt.Sprintf("%s%04d", prefix, i)
		out[i] = wbo.Record{ID: id, Payload: Payload(id, n)}
	}
	return out
}

func idsOf(recs []wbo.Record) []string {
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	return ids
}

func sorted(ids []string) []string {
	out := slices.Clone(ids)
	sort.Strings(out)
	return out
}

// all fetches every record, failing the test on an error.
func all(t *testing.T, r repository.Repository) []wbo.Record {
	t.Helper()
	var out []wbo.Record
	if err := r.FetchSince(context.Background(), 0, func(rec wbo.Record) error { out = append(out, rec); return nil }); err != nil {
		t.Fatalf("FetchSince(0): %v", err)
	}
	return out
}

func store(t *testing.T, r repository.Repository, recs []wbo.Record) repository.StoreResult {
	t.Helper()
	res, err := r.Store(context.Background(), recs)
	if err != nil {
		t.Fatalf("Store of %d records: %v", len(recs), err)
	}
	if len(res.Failed) > 0 {
		t.Fatalf("Store of %d valid records: failed %v", len(recs), res.Failed)
	}
	return res
}

// Run runs the Repository contract against repositories made by newRepo.
func Run(t *testing.T, newRepo Factory) {
	t.Run("a store is fetched back whole, with its time and sort index", func(t *testing.T) {
		r := newRepo(t)
		recs := records("a", 3, 1)
		si := int64(-42)
		recs[1].SortIndex = &si
		res := store(t, r, recs)
		if !slices.Equal(sorted(res.Stored), idsOf(recs)) {
			t.Fatalf("Stored = %v, want %v", res.Stored, idsOf(recs))
		}
		if res.Modified <= 0 {
			t.Errorf("Modified = %v, want a time", res.Modified)
		}
		got := all(t, r)
		if len(got) != len(recs) {
			t.Fatalf("fetched %d records, want %d", len(got), len(recs))
		}
		for _, g := range got {
			i := slices.IndexFunc(recs, func(w wbo.Record) bool { return w.ID == g.ID })
			if i < 0 {
				t.Fatalf("fetched %q, never stored", g.ID)
			}
			if string(g.Payload) != string(recs[i].Payload) {
				t.Errorf("%s: payload %s, want %s", g.ID, g.Payload, recs[i].Payload)
			}
			if g.Modified != res.Modified {
				t.Errorf("%s: modified %v, want the store's %v", g.ID, g.Modified, res.Modified)
			}
			if (g.SortIndex == nil) != (recs[i].SortIndex == nil) || g.SortIndex != nil && *g.SortIndex != *recs[i].SortIndex {
				t.Errorf("%s: sortindex %v, want %v", g.ID, g.SortIndex, recs[i].SortIndex)
			}
		}
	})

	t.Run("FetchSince streams oldest first and only what is newer", func(t *testing.T) {
		r := newRepo(t)
		first := store(t, r, records("b", 2, 1))
		second := store(t, r, records("c", 2, 1))
		third := store(t, r, []wbo.Record{{ID: "b0000", Payload: Payload("b0000", 2)}})
		if !(first.Modified < second.Modified && second.Modified < third.Modified) {
			t.Fatalf("store times %v, %v, %v: want increasing", first.Modified, second.Modified, third.Modified)
		}
		got := all(t, r)
		if !slices.IsSortedFunc(got, func(a, b wbo.Record) int { return int(a.Modified - b.Modified) }) {
			t.Errorf("not oldest first: %v", got)
		}
		if len(got) != 4 || got[len(got)-1].ID != "b0000" || string(got[len(got)-1].Payload) != string(Payload("b0000", 2)) {
			t.Errorf("after an overwrite: %v, want 4 records, b0000 last with its new payload", got)
		}
		var newer []string
		err := r.FetchSince(context.Background(), first.Modified, func(rec wbo.Record) error { newer = append(newer, rec.ID); return nil })
		if err != nil || !slices.Equal(sorted(newer), []string{"b0000", "c0000", "c0001"}) {
			t.Errorf("FetchSince(first) = %v, %v: want what the later stores wrote", newer, err)
		}
		ids, err := r.GUIDsSince(context.Background(), first.Modified)
		if err != nil || !slices.Equal(sorted(ids), sorted(newer)) {
			t.Errorf("GUIDsSince(first) = %v, %v: want FetchSince's ids %v", ids, err, newer)
		}
		var none []string
		err = r.FetchSince(context.Background(), third.Modified, func(rec wbo.Record) error { none = append(none, rec.ID); return nil })
		if err != nil || len(none) != 0 {
			t.Errorf("FetchSince(the last store's time) = %v, %v: want nothing", none, err)
		}
	})

	t.Run("a lender lends what it fetches", func(t *testing.T) {
		r := newRepo(t)
		l, ok := r.(repository.Lender)
		if !ok {
			t.Skip("not a repository.Lender")
		}
		recs := records("l", 250, 1)
		for i := 0; i < len(recs); i += 100 {
			store(t, r, recs[i:min(i+100, len(recs))])
		}
		// What fn sees while it runs is what FetchSince and Fetch give; the lent
		// payloads are copied there, as a borrower that keeps one must.
		kept := func(dst *[]string) func(wbo.Record) error {
			return func(rec wbo.Record) error {
				*dst = append(*dst, fmt.Sprintf("%s %v %s", rec.ID, rec.Modified, rec.Payload))
				return nil
			}
		}
		var lent, owned []string
		if err := l.FetchSinceLent(context.Background(), 0, kept(&lent)); err != nil {
			t.Fatal(err)
		}
		if err := r.FetchSince(context.Background(), 0, kept(&owned)); err != nil {
			t.Fatal(err)
		}
		if len(owned) != len(recs) || !slices.Equal(lent, owned) {
			t.Errorf("FetchSinceLent gave %d records, FetchSince %d (of %d), or others", len(lent), len(owned), len(recs))
		}
		ask := []string{recs[7].ID, "absent", recs[201].ID, recs[7].ID}
		lent, owned = nil, nil
		if err := l.FetchLent(context.Background(), ask, kept(&lent)); err != nil {
			t.Fatal(err)
		}
		if err := r.Fetch(context.Background(), ask, kept(&owned)); err != nil {
			t.Fatal(err)
		}
		if len(owned) != 2 || !slices.Equal(sorted(lent), sorted(owned)) {
			t.Errorf("FetchLent gave %q, Fetch %q", lent, owned)
		}
	})

	t.Run("Fetch skips absent ids and delivers each record once", func(t *testing.T) {
		r := newRepo(t)
		recs := records("d", 1200, 1)
		for i := 0; i < len(recs); i += 100 {
			store(t, r, recs[i:i+100])
		}
		// More ids than one request or query takes, with repeats that fall into
		// different chunks, and ids never stored.
		var ask []string
		for i := 0; i < 1200; i += 2 {
			ask = append(ask, recs[i].ID, fmt.Sprintf("absent%d", i))
		}
		ask = append(ask, recs[0].ID, recs[1198].ID)
		seen := map[string]int{}
		err := r.Fetch(context.Background(), ask, func(rec wbo.Record) error {
			seen[rec.ID]++
			if string(rec.Payload) != string(Payload(rec.ID, 1)) {
				t.Errorf("%s: payload %s", rec.ID, rec.Payload)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(seen) != 600 {
			t.Errorf("fetched %d distinct records, want the 600 asked for that exist", len(seen))
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("%s delivered %d times", id, n)
			}
			if i := slices.Index(idsOf(recs), id); i < 0 || i%2 != 0 {
				t.Errorf("%s delivered, not asked for", id)
			}
		}
		if err := r.Fetch(context.Background(), nil, func(wbo.Record) error { return errors.New("called") }); err != nil {
			t.Errorf("Fetch of no ids: %v", err)
		}
	})

	t.Run("a store of more than one request holds lands whole", func(t *testing.T) {
		r := newRepo(t)
		recs := records("q", 250, 1)
		res := store(t, r, recs)
		if len(res.Stored) != len(recs) {
			t.Errorf("Stored %d of %d", len(res.Stored), len(recs))
		}
		got := all(t, r)
		if !slices.Equal(sorted(idsOf(got)), idsOf(recs)) {
			t.Errorf("holds %d records, want all %d", len(got), len(recs))
		}
		for _, g := range got {
			if g.Modified > res.Modified {
				t.Errorf("%s modified %v, after the store's time %v", g.ID, g.Modified, res.Modified)
			}
		}
	})

	t.Run("a bad record fails alone, in the result", func(t *testing.T) {
		r := newRepo(t)
		recs := records("e", 3, 1)
		bad := int64(wbo.MaxSortIndex + 1)
		recs[1].SortIndex = &bad
		res, err := r.Store(context.Background(), recs)
		if err != nil {
			t.Fatalf("Store: %v (a bad record is not a failure of the whole call)", err)
		}
		if _, ok := res.Failed[recs[1].ID]; !ok || len(res.Failed) != 1 {
			t.Errorf("Failed = %v, want only %s", res.Failed, recs[1].ID)
		}
		if !slices.Equal(sorted(res.Stored), []string{"e0000", "e0002"}) {
			t.Errorf("Stored = %v, want the two good records", res.Stored)
		}
		if got := idsOf(all(t, r)); !slices.Equal(sorted(got), []string{"e0000", "e0002"}) {
			t.Errorf("holds %v, want the two good records", got)
		}
	})

	t.Run("a fetch stops at its callback's first error and returns it", func(t *testing.T) {
		r := newRepo(t)
		store(t, r, records("f", 5, 1))
		stop := errors.New("enough")
		calls := 0
		err := r.FetchSince(context.Background(), 0, func(wbo.Record) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("FetchSince: err %v after %d calls, want the callback's error after 1", err, calls)
		}
		calls = 0
		err = r.Fetch(context.Background(), []string{"f0000", "f0001", "f0002"}, func(wbo.Record) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("Fetch: err %v after %d calls, want the callback's error after 1", err, calls)
		}
	})

	t.Run("a cancelled context stops every call, and Stored says what got through", func(t *testing.T) {
		r := newRepo(t)
		store(t, r, records("g", 2, 1))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		noop := func(wbo.Record) error { return nil }
		if err := r.FetchSince(ctx, 0, noop); !errors.Is(err, context.Canceled) {
			t.Errorf("FetchSince: %v, want context.Canceled", err)
		}
		if err := r.Fetch(ctx, []string{"g0000"}, noop); !errors.Is(err, context.Canceled) {
			t.Errorf("Fetch: %v, want context.Canceled", err)
		}
		if _, err := r.GUIDsSince(ctx, 0); !errors.Is(err, context.Canceled) {
			t.Errorf("GUIDsSince: %v, want context.Canceled", err)
		}
		recs := records("h", 3, 1)
		res, err := r.Store(ctx, recs)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Store: %v, want context.Canceled", err)
		}
		var held []string
		for _, rec := range all(t, r) {
			if rec.ID[0] == 'h' {
				held = append(held, rec.ID)
			}
		}
		if !slices.Equal(sorted(held), sorted(res.Stored)) {
			t.Errorf("after a failed Store the repository holds %v of its records, Stored says %v", held, res.Stored)
		}
		if err := r.Wipe(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("Wipe: %v, want context.Canceled", err)
		}
		if got := all(t, r); len(got) < 2 {
			t.Errorf("a cancelled Wipe deleted records: %d left", len(got))
		}
	})

	t.Run("concurrent stores and fetches lose nothing", func(t *testing.T) {
		r := newRepo(t)
		const writers, each = 4, 5
		var wg sync.WaitGroup
		errs := make(chan error, writers*each+writers)
		for w := range writers {
			wg.Add(2)
			go func() {
				defer wg.Done()
				for i := range each {
					recs := records(fmt.Sprintf("w%d_%d_", w, i), 3, 1)
					if res, err := r.Store(context.Background(), recs); err != nil || len(res.Stored) != 3 {
						errs <- fmt.Errorf("writer %d: %v, stored %v", w, err, res.Stored)
					}
				}
			}()
			go func() {
				defer wg.Done()
				for range each {
					if err := r.FetchSince(context.Background(), 0, func(wbo.Record) error { return nil }); err != nil {
						errs <- fmt.Errorf("reader: %w", err)
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if got := all(t, r); len(got) != writers*each*3 {
			t.Errorf("holds %d records, want %d", len(got), writers*each*3)
		}
	})

	t.Run("Wipe empties it, and it takes records again after", func(t *testing.T) {
		r := newRepo(t)
		store(t, r, records("i", 3, 1))
		if err := r.Wipe(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := all(t, r); len(got) != 0 {
			t.Errorf("after Wipe: %d records", len(got))
		}
		if ids, err := r.GUIDsSince(context.Background(), 0); err != nil || len(ids) != 0 {
			t.Errorf("GUIDsSince after Wipe: %v, %v", ids, err)
		}
		store(t, r, records("j", 1, 1))
		if got := all(t, r); len(got) != 1 || got[0].ID != "j0000" {
			t.Errorf("after a store that followed Wipe: %v", got)
		}
	})
}
