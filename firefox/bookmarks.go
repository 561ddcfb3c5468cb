package firefox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/syncctl/syncctl/engine"
	"github.com/syncctl/syncctl/synchronizer"
	"github.com/syncctl/syncctl/wbo"
)

// The fixed roots, as their ids travel on the wire.
var (
	RootID  = "places"
	RootIDs = []string{"menu", "toolbar", "unfiled", "mobile"}
)

// BookmarkRule merges a bookmark changed on both sides field by field (three-way against
// the mirror), and a folder whose children both sides changed structurally: the server's
// order, less the children removed locally, plus those added locally.
type BookmarkRule struct{}

// Reconcile implements synchronizer.Reconciler.
func (BookmarkRule) Reconcile(local, remote wbo.Record, mirror []byte) wbo.Record {
	merged := synchronizer.ThreeWay{}.Reconcile(local, remote, mirror)
	if mirror == nil || wbo.IsTombstone(merged.Payload) || wbo.IsTombstone(local.Payload) || wbo.IsTombstone(remote.Payload) {
		return merged
	}
	l, err1 := Parse[Bookmark](local.Payload)
	r, err2 := Parse[Bookmark](remote.Payload)
	base, err3 := Parse[Bookmark](mirror)
	m, err4 := Parse[Bookmark](merged.Payload)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || m.Type != "folder" {
		return merged
	}
	if slices.Equal(l.Children, base.Children) || slices.Equal(r.Children, base.Children) {
		return merged // one side only: the field merge already took it
	}
	m.Children = mergeChildren(base.Children, l.Children, r.Children)
	if p, err := Encode(m); err == nil {
		merged.Payload = p
	}
	return merged
}

// mergeChildren is a three-way merge of ordered lists: remote's order, without what local
// removed, with what local added (in local's order) at the end.
func mergeChildren(base, local, remote []string) []string {
	out := make([]string, 0, len(remote)+len(local))
	for _, id := range remote {
		if slices.Contains(base, id) && !slices.Contains(local, id) {
			continue // removed locally
		}
		out = append(out, id)
	}
	for _, id := range local {
		if !slices.Contains(base, id) && !slices.Contains(out, id) {
			out = append(out, id) // added locally
		}
	}
	return out
}

// Bookmarks is the bookmarks engine: after every incoming pass it repairs the local tree,
// and the repairs are uploaded like any local change.
type Bookmarks struct {
	engine.Collection
}

// Repair makes the local bookmarks a tree again, deterministically (so that two devices
// repairing the same state agree): the roots exist under "places"; an item whose parent
// is missing, not a folder, or part of a cycle moves to "unfiled"; every folder's children
// are exactly the items whose parentid names it, in the folder's order, with newcomers
// appended. It returns how many records it changed.
func (b *Bookmarks) Repair(ctx context.Context) (int, error) {
	items := map[string]*Bookmark{}
	err := b.Store.FetchSince(ctx, 0, func(r wbo.Record) error {
		if wbo.IsTombstone(r.Payload) {
			return nil
		}
		if bm, err := Parse[Bookmark](r.Payload); err == nil {
			items[r.ID] = bm
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	changed := map[string]bool{}
	// The places root is the tree's top, but it is never a record: Firefox keeps it
	// local and deletes a "places" record it finds on the server. It lives here in
	// memory only, and is never stored or uploaded.
	if _, ok := items[RootID]; !ok {
		items[RootID] = &Bookmark{ID: RootID, Type: "folder", ParentID: RootID}
	}
	for _, id := range RootIDs {
		if it, ok := items[id]; !ok || it.Type != "folder" || it.ParentID != RootID {
			if !ok {
				it = &Bookmark{ID: id}
				items[id] = it
			}
			it.Type, it.ParentID = "folder", RootID
			changed[id] = true
		}
	}
	ids := make([]string, 0, len(items))
	for id := range items {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	isRoot := func(id string) bool { return id == RootID || slices.Contains(RootIDs, id) }
	// Parents: every item must hang, through folders, from the root; an orphan, or an
	// item in a cycle, moves to unfiled (which breaks the cycle for the rest).
	tree := NewTree(items)
	for _, id := range ids {
		if !isRoot(id) && !tree.Rooted(id) {
			items[id].ParentID = "unfiled"
			changed[id] = true
		}
	}
	// Children: by the tree's rule, from the repaired parents.
	tree = NewTree(items)
	for _, id := range ids {
		f := items[id]
		want := tree.Children(id)
		if !IsFolder(f) {
			if f.Children != nil {
				f.Children = nil
				changed[id] = true
			}
			continue
		}
		if !slices.Equal(want, f.Children) {
			f.Children = want
			changed[id] = true
		}
	}
	if len(changed) == 0 {
		return 0, nil
	}
	delete(changed, RootID)
	if len(changed) == 0 {
		return 0, nil
	}
	var recs []wbo.Record
	for _, id := range ids {
		if changed[id] {
			p, err := Encode(items[id])
			if err != nil {
				return 0, err
			}
			recs = append(recs, wbo.Record{ID: id, Payload: p})
		}
	}
	_, err = b.Store.Store(ctx, recs)
	return len(recs), err
}

// ErrBadBookmarkID: a bookmark id that is neither a root nor a 12-character Places GUID.
// Firefox re-ids such an item and deletes the original, so it is refused before upload.
var ErrBadBookmarkID = errors.New("firefox: a bookmark id is a 12-character Places GUID (letters, digits, - and _) or a root")

// ValidBookmarkID checks a bookmark record's id as Firefox will.
func ValidBookmarkID(id string) error {
	if slices.Contains(RootIDs, id) {
		return nil
	}
	if len(id) != 12 {
		return fmt.Errorf("%w: %q", ErrBadBookmarkID, id)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%w: %q", ErrBadBookmarkID, id)
		}
	}
	return nil
}
