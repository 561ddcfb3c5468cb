package firefox

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Records is where an Editor reads and writes cleartexts: the server through the
// crypto layer (syncctl's record commands), or a local store.
type Records interface {
	// Get returns a record's cleartext; ErrNoSuchRecord if there is none (or a
	// tombstone).
	Get(ctx context.Context, collection, id string) ([]byte, error)
	// Put writes records in order, each checked first: none is written unless all pass.
	Put(ctx context.Context, collection string, recs ...Record) error
	// Delete writes a record's tombstone.
	Delete(ctx context.Context, collection, id string) error
}

// ErrNoSuchRecord: Records holds no such record.
var ErrNoSuchRecord = errors.New("firefox: no such record")

// ErrNotAFolder, ErrFolderNotEmpty and ErrRoot are the bookmark edits Firefox refuses.
var (
	ErrNotAFolder     = errors.New("firefox: not a folder")
	ErrFolderNotEmpty = errors.New("firefox: the folder is not empty")
	ErrRoot           = errors.New("firefox: a root cannot be moved or deleted")
)

// Editor changes bookmarks as Firefox does: an item and the folder that lists it change
// together, so that every device reads the same tree.
type Editor struct{ R Records }

// folder reads a folder, or makes the record of a root that has none yet.
func (e Editor) folder(ctx context.Context, id string) (*Bookmark, error) {
	p, err := e.R.Get(ctx, "bookmarks", id)
	if errors.Is(err, ErrNoSuchRecord) && slices.Contains(RootIDs, id) {
		return &Bookmark{ID: id, Type: "folder", ParentID: RootID, Children: []string{}}, nil
	}
	if err != nil {
		return nil, err
	}
	f, err := Parse[Bookmark](p)
	if err != nil {
		return nil, err
	}
	if !IsFolder(f) {
		return nil, fmt.Errorf("%w: bookmarks/%s is a %s", ErrNotAFolder, id, f.Type)
	}
	return f, nil
}

// Bookmark reads one bookmark.
func (e Editor) Bookmark(ctx context.Context, id string) (*Bookmark, error) {
	p, err := e.R.Get(ctx, "bookmarks", id)
	if err != nil {
		return nil, err
	}
	return Parse[Bookmark](p)
}

// Add puts b (from NewBookmark or NewFolder) last in its parent folder. The item is
// written first, then the folder that lists it: a device that syncs between the two
// sees an item its folder does not list yet, which Firefox reads as the folder's last
// child, never a child that does not exist.
func (e Editor) Add(ctx context.Context, b *Bookmark) error {
	parent, err := e.folder(ctx, b.ParentID)
	if err != nil {
		return err
	}
	b.ParentName = DisplayTitle(parent)
	parent.Children = append(parent.Children, b.ID)
	if err := e.R.Put(ctx, "bookmarks", b); err != nil {
		return err
	}
	return e.R.Put(ctx, "bookmarks", parent)
}

// Update changes a bookmark with change and, when to is not "" nor its folder, moves
// it last into the folder to: the item, then its new folder, then its old one.
func (e Editor) Update(ctx context.Context, id, to string, change func(*Bookmark)) (*Bookmark, error) {
	b, err := e.Bookmark(ctx, id)
	if err != nil {
		return nil, err
	}
	change(b)
	recs := []Record{b}
	if to != "" && to != b.ParentID {
		if slices.Contains(RootIDs, id) {
			return nil, fmt.Errorf("%w: %s", ErrRoot, id)
		}
		from, err := e.folder(ctx, b.ParentID)
		if err != nil {
			return nil, err
		}
		into, err := e.folder(ctx, to)
		if err != nil {
			return nil, err
		}
		from.Children = slices.DeleteFunc(from.Children, func(c string) bool { return c == id })
		into.Children = append(into.Children, id)
		b.ParentID, b.ParentName = into.ID, DisplayTitle(into)
		recs = append(recs, into, from)
	}
	return b, e.R.Put(ctx, "bookmarks", recs...)
}

// Remove deletes a bookmark, a separator or an empty folder, and takes it out of its
// folder's children.
func (e Editor) Remove(ctx context.Context, id string) error {
	if slices.Contains(RootIDs, id) {
		return fmt.Errorf("%w: %s", ErrRoot, id)
	}
	b, err := e.Bookmark(ctx, id)
	if err != nil {
		return err
	}
	if IsFolder(b) && len(b.Children) > 0 {
		return fmt.Errorf("%w: bookmarks/%s holds %d items", ErrFolderNotEmpty, id, len(b.Children))
	}
	if err := e.R.Delete(ctx, "bookmarks", id); err != nil {
		return err
	}
	parent, err := e.folder(ctx, b.ParentID)
	if err != nil {
		return nil // an item outside the tree: no folder lists it
	}
	parent.Children = slices.DeleteFunc(parent.Children, func(c string) bool { return c == id })
	return e.R.Put(ctx, "bookmarks", parent)
}
