package firefox_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/syncctl/syncctl/firefox"
	"github.com/syncctl/syncctl/wbo"
)

// memRecords is Records in memory, every write validated as Firefox would keep it.
type memRecords struct {
	recs   map[string][]byte
	writes []string
}

func (m *memRecords) Get(_ context.Context, coll, id string) ([]byte, error) {
	p, ok := m.recs[coll+"/"+id]
	if !ok || wbo.IsTombstone(p) {
		return nil, firefox.ErrNoSuchRecord
	}
	return p, nil
}

func (m *memRecords) Put(_ context.Context, coll string, recs ...firefox.Record) error {
	var ps [][]byte
	var ids []string
	for _, r := range recs {
		p, err := firefox.Encode(r)
		if err != nil {
			return err
		}
		var id struct{ ID string }
		json.Unmarshal(p, &id)
		if err := firefox.Validate(coll, id.ID, p); err != nil {
			return err
		}
		ps, ids = append(ps, p), append(ids, id.ID)
	}
	for i, p := range ps {
		m.recs[coll+"/"+ids[i]] = p
		m.writes = append(m.writes, ids[i])
	}
	return nil
}

func (m *memRecords) Delete(_ context.Context, coll, id string) error {
	m.recs[coll+"/"+id] = wbo.Tombstone(id).Payload
	m.writes = append(m.writes, "-"+id)
	return nil
}

func (m *memRecords) children(t *testing.T, id string) []string {
	t.Helper()
	b, err := firefox.Parse[firefox.Bookmark](m.recs["bookmarks/"+id])
	if err != nil {
		t.Fatal(err)
	}
	return b.Children
}

func TestTheEditorKeepsFoldersAndItemsInStep(t *testing.T) {
	ctx := context.Background()
	m := &memRecords{recs: map[string][]byte{}}
	e := firefox.Editor{R: m}
	now := time.Now()
	folder := firefox.NewFolder("Reading", "toolbar", now)
	if err := e.Add(ctx, folder); err != nil {
		t.Fatal(err)
	}
	a := firefox.NewBookmark("A", "https://a.example/", folder.ID, now)
	b := firefox.NewBookmark("B", "https://b.example/", folder.ID, now)
	for _, x := range []*firefox.Bookmark{a, b} {
		if err := e.Add(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	if got := m.children(t, folder.ID); !slices.Equal(got, []string{a.ID, b.ID}) {
		t.Errorf("folder children %v", got)
	}
	if got := m.children(t, "toolbar"); !slices.Equal(got, []string{folder.ID}) {
		t.Errorf("toolbar children %v (a root with no record is made)", got)
	}
	if m.writes[len(m.writes)-2] != b.ID || m.writes[len(m.writes)-1] != folder.ID {
		t.Errorf("the item goes before its folder: %v", m.writes)
	}

	if _, err := e.Update(ctx, a.ID, "menu", func(x *firefox.Bookmark) { x.Title = "A moved" }); err != nil {
		t.Fatal(err)
	}
	if got := m.children(t, folder.ID); !slices.Equal(got, []string{b.ID}) {
		t.Errorf("old folder after the move %v", got)
	}
	if got := m.children(t, "menu"); !slices.Equal(got, []string{a.ID}) {
		t.Errorf("new folder after the move %v", got)
	}
	moved, _ := e.Bookmark(ctx, a.ID)
	if moved.ParentID != "menu" || moved.ParentName != "Bookmarks Menu" || moved.Title != "A moved" {
		t.Errorf("moved: %+v", moved)
	}

	if err := e.Remove(ctx, folder.ID); !errors.Is(err, firefox.ErrFolderNotEmpty) {
		t.Errorf("removing a folder with items: %v", err)
	}
	if err := e.Remove(ctx, "menu"); !errors.Is(err, firefox.ErrRoot) {
		t.Errorf("removing a root: %v", err)
	}
	if err := e.Add(ctx, firefox.NewBookmark("X", "https://x.example/", a.ID, now)); !errors.Is(err, firefox.ErrNotAFolder) {
		t.Errorf("adding into a bookmark: %v", err)
	}
	if err := e.Remove(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.Remove(ctx, folder.ID); err != nil {
		t.Fatal(err)
	}
	if got := m.children(t, "toolbar"); len(got) != 0 {
		t.Errorf("toolbar after removing the folder: %v", got)
	}
	if _, err := e.Bookmark(ctx, b.ID); !errors.Is(err, firefox.ErrNoSuchRecord) {
		t.Errorf("a removed bookmark reads as %v", err)
	}
}
