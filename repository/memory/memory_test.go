package memory_test

import (
	"context"
	"errors"
	"testing"

	"github.com/syncctl/syncctl/repository/memory"
	"github.com/syncctl/syncctl/wbo"
)

func TestMemoryRepository(t *testing.T) {
	ctx := context.Background()
	r := memory.New(nil)
	first, _ := r.Store(ctx, []wbo.Record{{ID: "a", Payload: []byte("1")}, {ID: "b", Payload: []byte("2")}})
	second, _ := r.Store(ctx, []wbo.Record{{ID: "c", Payload: []byte("3")}, {ID: "bad\n"}})
	if second.Modified <= first.Modified || !errors.Is(second.Failed["bad\n"], wbo.ErrInvalidID) {
		t.Errorf("%+v %+v", first, second)
	}
	ids, _ := r.GUIDsSince(ctx, first.Modified)
	if len(ids) != 1 || ids[0] != "c" {
		t.Errorf("since: %v", ids)
	}
	var got []string
	r.Fetch(ctx, []string{"a", "c", "zz"}, func(rec wbo.Record) error { got = append(got, rec.ID); return nil })
	if len(got) != 2 {
		t.Errorf("fetch: %v", got)
	}
	r.Wipe(ctx)
	if ids, _ := r.GUIDsSince(ctx, 0); len(ids) != 0 {
		t.Errorf("after wipe: %v", ids)
	}
}
