package repositorytest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/syncctl/syncctl/repository"
	"github.com/syncctl/syncctl/wbo"
)

// TrackedFactory returns a new, empty tracked repository for one test.
type TrackedFactory func(t *testing.T) repository.TrackedRepository

func changes(t *testing.T, r repository.TrackedRepository) []string {
	t.Helper()
	var ids []string
	if err := r.Changes(context.Background(), func(rec wbo.Record) error { ids = append(ids, rec.ID); return nil }); err != nil {
		t.Fatalf("Changes: %v", err)
	}
	return sorted(ids)
}

func state(t *testing.T, r repository.TrackedRepository, key string) string {
	t.Helper()
	v, err := r.State(context.Background(), key)
	if err != nil {
		t.Fatalf("State(%q): %v", key, err)
	}
	return v
}

// RunTracked runs the Repository contract and the TrackedRepository one against
// repositories made by newRepo.
func RunTracked(t *testing.T, newRepo TrackedFactory) {
	Run(t, func(t *testing.T) repository.Repository { return newRepo(t) })
	ctx := context.Background()

	t.Run("a local store is a change until the server acknowledges it", func(t *testing.T) {
		r := newRepo(t)
		store(t, r, records("k", 2, 1))
		if got := changes(t, r); !slices.Equal(got, []string{"k0000", "k0001"}) {
			t.Fatalf("Changes = %v, want both stored records", got)
		}
		look, err := r.Lookup(ctx, []string{"k0000", "absent"})
		if err != nil {
			t.Fatal(err)
		}
		if l, ok := look["k0000"]; !ok || !l.Changed || l.Mirror != nil {
			t.Errorf("Lookup(k0000) = %+v, %v: want a change with no mirror (never synced)", l, ok)
		}
		if _, ok := look["absent"]; ok || len(look) != 1 {
			t.Errorf("Lookup returned %d records, want only the one that exists", len(look))
		}
		var read []wbo.Record
		r.Changes(ctx, func(rec wbo.Record) error { read = append(read, rec); return nil })
		if err := r.MarkSynced(ctx, read[:1], map[string]string{"test.lastServer": "1234.5"}); err != nil {
			t.Fatal(err)
		}
		if got := changes(t, r); !slices.Equal(got, []string{"k0001"}) {
			t.Errorf("after MarkSynced(k0000): Changes = %v, want only k0001", got)
		}
		if v := state(t, r, "test.lastServer"); v != "1234.5" {
			t.Errorf("state written with MarkSynced = %q", v)
		}
		look, _ = r.Lookup(ctx, []string{"k0000"})
		if l := look["k0000"]; l.Changed || string(l.Mirror) != string(read[0].Payload) {
			t.Errorf("a synced record: %+v, want no change and itself as mirror", l)
		}
	})

	t.Run("a record changed again while it uploaded stays a change", func(t *testing.T) {
		r := newRepo(t)
		store(t, r, records("l", 1, 1))
		var read []wbo.Record
		r.Changes(ctx, func(rec wbo.Record) error { read = append(read, rec); return nil })
		store(t, r, []wbo.Record{{ID: "l0000", Payload: Payload("l0000", 2)}})
		if err := r.MarkSynced(ctx, read, nil); err != nil {
			t.Fatal(err)
		}
		if got := changes(t, r); !slices.Equal(got, []string{"l0000"}) {
			t.Errorf("Changes = %v, want the record edited during its upload", got)
		}
	})

	t.Run("a synced record edited twice keeps its synced version as the mirror", func(t *testing.T) {
		r := newRepo(t)
		// One record arrived from the server, one went up and was acknowledged.
		in := []repository.Resolved{{Record: wbo.Record{ID: "p0000", Payload: Payload("p0000", 1)}, Mirror: Payload("p0000", 1), Expect: repository.AnyVersion}}
		if _, err := r.ApplyIncoming(ctx, in, nil, nil); err != nil {
			t.Fatal(err)
		}
		store(t, r, records("p", 2, 1)[1:])
		var read []wbo.Record
		r.Changes(ctx, func(rec wbo.Record) error { read = append(read, rec); return nil })
		if err := r.MarkSynced(ctx, read, nil); err != nil {
			t.Fatal(err)
		}
		for edit := 2; edit <= 3; edit++ {
			store(t, r, records("p", 2, edit))
		}
		look, err := r.Lookup(ctx, []string{"p0000", "p0001"})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"p0000", "p0001"} {
			l := look[id]
			if !l.Changed || string(l.Record.Payload) != string(Payload(id, 3)) || string(l.Mirror) != string(Payload(id, 1)) {
				t.Errorf("%s: %+v, want the third version as a change over the first as its mirror", id, l)
			}
		}
	})

	t.Run("incoming records are not changes, and land with their progress", func(t *testing.T) {
		r := newRepo(t)
		store(t, r, records("m", 2, 1)) // m0000, m0001: local changes
		in := []repository.Resolved{
			{Record: wbo.Record{ID: "n0000", Payload: Payload("n0000", 1)}, Mirror: Payload("n0000", 1)},
			{Record: wbo.Record{ID: "m0000", Payload: Payload("m0000", 9)}, Mirror: Payload("m0000", 9), Expect: repository.AnyVersion},
		}
		res, err := r.ApplyIncoming(ctx, in, []string{"m0001"}, map[string]string{"test.lastServer": "99.5"})
		if err != nil || len(res.Failed) != 0 {
			t.Fatalf("ApplyIncoming: %v, failed %v", err, res.Failed)
		}
		if !slices.Equal(sorted(res.Stored), []string{"m0000", "n0000"}) {
			t.Errorf("Stored = %v", res.Stored)
		}
		if got := changes(t, r); len(got) != 0 {
			t.Errorf("Changes = %v, want none (incoming, removed)", got)
		}
		if got := sorted(idsOf(all(t, r))); !slices.Equal(got, []string{"m0000", "n0000"}) {
			t.Errorf("holds %v, want m0001 removed", got)
		}
		if v := state(t, r, "test.lastServer"); v != "99.5" {
			t.Errorf("progress = %q", v)
		}
		look, _ := r.Lookup(ctx, []string{"n0000"})
		if l := look["n0000"]; l.Changed || string(l.Mirror) != string(Payload("n0000", 1)) {
			t.Errorf("incoming record: %+v", l)
		}
	})

	t.Run("a record reconciled as absent loses to one created here meanwhile; the others go in", func(t *testing.T) {
		r := newRepo(t)
		store(t, r, []wbo.Record{{ID: "q0001", Payload: Payload("q0001", 2)}}) // written meanwhile
		in := []repository.Resolved{
			{Record: wbo.Record{ID: "q0000", Payload: Payload("q0000", 7)}, Mirror: Payload("q0000", 7), Expect: 0},
			{Record: wbo.Record{ID: "q0001", Payload: Payload("q0001", 7)}, Mirror: Payload("q0001", 7), Expect: 0},
			{Record: wbo.Record{ID: "q0002", Payload: Payload("q0002", 7)}, Mirror: Payload("q0002", 7), Expect: 0},
		}
		res, err := r.ApplyIncoming(ctx, in, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, failed := res.Failed["q0001"]; !failed || len(res.Stored) != 2 || res.Stored[0] != "q0000" || res.Stored[1] != "q0002" {
			t.Errorf("ApplyIncoming of absent records over one created meanwhile: %+v", res)
		}
		got := map[string]string{}
		for _, rec := range all(t, r) {
			got[rec.ID] = string(rec.Payload)
		}
		if len(got) != 3 || got["q0001"] != string(Payload("q0001", 2)) || got["q0000"] != string(Payload("q0000", 7)) {
			t.Errorf("holds %v, want the local q0001 and the incoming others", got)
		}
	})

	t.Run("a resolution made against an old local version loses to the newer local write", func(t *testing.T) {
		r := newRepo(t)
		store(t, r, records("o", 1, 1))
		look, _ := r.Lookup(ctx, []string{"o0000"})
		seen := look["o0000"].Record.Modified
		store(t, r, []wbo.Record{{ID: "o0000", Payload: Payload("o0000", 2)}}) // written meanwhile
		res, err := r.ApplyIncoming(ctx, []repository.Resolved{{Record: wbo.Record{ID: "o0000", Payload: Payload("o0000", 7)}, Expect: seen}}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, failed := res.Failed["o0000"]; !failed || len(res.Stored) != 0 {
			t.Errorf("ApplyIncoming over a newer local write: %+v, want o0000 failed", res)
		}
		got := all(t, r)
		if len(got) != 1 || string(got[0].Payload) != string(Payload("o0000", 2)) {
			t.Errorf("holds %v, want the newer local write", got)
		}
	})

	t.Run("ApplyIncoming with a cancelled context writes neither records nor progress", func(t *testing.T) {
		r := newRepo(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := r.ApplyIncoming(cctx, []repository.Resolved{{Record: wbo.Record{ID: "p0000", Payload: Payload("p0000", 1)}, Expect: repository.AnyVersion}}, nil, map[string]string{"test.lastServer": "5"})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("ApplyIncoming: %v, want context.Canceled", err)
		}
		if len(all(t, r)) != 0 || state(t, r, "test.lastServer") != "" {
			t.Error("a cancelled ApplyIncoming wrote something")
		}
	})
}
