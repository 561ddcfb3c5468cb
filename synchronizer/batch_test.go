package synchronizer_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/syncctl/syncctl/repository"
	"github.com/syncctl/syncctl/repository/memory"
	"github.com/syncctl/syncctl/repository/sqlite"
	"github.com/syncctl/syncctl/synchronizer"
	"github.com/syncctl/syncctl/wbo"
)

// batching is a local store that counts its shared incoming transactions and the
// chunks that went through them.
type batching struct {
	*sqlite.Repository
	txs, chunks int
}

func (b *batching) BeginIncoming(ctx context.Context) (repository.Incoming, error) {
	tx, err := b.Repository.BeginIncoming(ctx)
	if err != nil {
		return nil, err
	}
	b.txs++
	return &countedIncoming{Incoming: tx, b: b}, nil
}

type countedIncoming struct {
	repository.Incoming
	b *batching
}

func (c *countedIncoming) ApplyIncoming(ctx context.Context, in []repository.Resolved, remove []string, state map[string]string) (repository.StoreResult, error) {
	c.b.chunks++
	return c.Incoming.ApplyIncoming(ctx, in, remove, state)
}

// A fresh device's first sync puts the chunks that are fetched ahead of their apply into
// one transaction (here a remote in memory: every next chunk is ready at once), with
// TxTime bounding how long one runs; the device then holds every record and the
// progress of the last, and the next sync moves nothing. A store that is not empty
// applies each chunk in a transaction of its own, as does any sync with a Deduper.
func TestAFirstSyncSharesTransactionsAmongTheChunksFetchedAhead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	remote := memory.New(nil)
	const n, chunk = 3_000, 100
	for i := 0; i < n; i += 500 {
		var recs []wbo.Record
		for j := i; j < i+500; j++ {
			id := fmt.Sprintf("r%05d", j)
			recs = append(recs, wbo.Record{ID: id, Payload: []byte(fmt.Sprintf(`{"id":%q}`, id))})
		}
		if _, err := remote.Store(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name      string
		txTime    time.Duration
		deduper   synchronizer.Deduper
		notEmpty  bool
		wantFewer bool // fewer transactions than chunks
	}{
		{name: "fresh", wantFewer: true},
		{name: "fresh, TxTime 1ns", txTime: time.Nanosecond},
		{name: "fresh, with a Deduper", deduper: noDupes{}},
		{name: "not empty", notEmpty: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			db, err := sqlite.Open(filepath.Join(t.TempDir(), "local.db"), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			local := &batching{Repository: db.Collection("notes")}
			if c.notEmpty {
				if _, err := local.Store(ctx, []wbo.Record{{ID: "mine", Payload: []byte(`{"id":"mine"}`)}}); err != nil {
					t.Fatal(err)
				}
			}
			opts := synchronizer.Options{Local: local, Remote: remote, Key: "notes", ChunkSize: chunk, TxTime: c.txTime, Deduper: c.deduper}
			res, err := synchronizer.New(opts).Sync(ctx)
			if err != nil || res.Applied != n {
				t.Fatalf("%+v, %v", res, err)
			}
			switch {
			case c.wantFewer && (local.chunks < n/chunk || local.txs > local.chunks/2):
				t.Errorf("%d chunks in %d transactions: want at least %d chunks, in fewer than half as many", local.chunks, local.txs, n/chunk)
			case !c.wantFewer && c.txTime > 0 && local.txs != local.chunks:
				t.Errorf("%d chunks in %d transactions: want one each", local.chunks, local.txs)
			case !c.wantFewer && c.txTime == 0 && local.txs != 0:
				t.Errorf("%d shared transactions: want none", local.txs)
			}
			got := 0
			if err := local.FetchSince(ctx, 0, func(wbo.Record) error { got++; return nil }); err != nil {
				t.Fatal(err)
			}
			want := n
			if c.notEmpty {
				want++
			}
			if got != want {
				t.Errorf("the device holds %d records, want %d", got, want)
			}
			again, err := synchronizer.New(opts).Sync(ctx)
			if err != nil || again.Applied != 0 {
				t.Errorf("the next sync: %+v, %v", again, err)
			}
		})
	}
}

type noDupes struct{}

func (noDupes) FindDupe(context.Context, wbo.Record) (string, bool, error) { return "", false, nil }
