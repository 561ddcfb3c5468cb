package firefox

import (
	"slices"
	"sort"
)

// Tree is a set of bookmark records read as a tree, by one rule that the tree view, the
// HTML export and Repair share: an item hangs under the folder its parentid names; a
// folder's children are those items in the order the folder lists them, then the ones
// it does not list, by id. An item whose parent is missing or not a folder, or whose
// parents form a cycle, hangs from nothing: Repair moves it to unfiled, the view and the
// export show it after the roots.
type Tree struct {
	items map[string]*Bookmark
	named map[string][]string // parentid → the items that name it, by id
}

// NewTree reads items (by id; tombstones left out by the caller) as a tree. It keeps the
// pointers: a change to an item's ParentID shows in Rooted at once, and in Children after
// a new NewTree.
func NewTree(items map[string]*Bookmark) *Tree {
	t := &Tree{items: items, named: map[string][]string{}}
	ids := make([]string, 0, len(items))
	for id := range items {
		if id != RootID {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		p := items[id].ParentID
		t.named[p] = append(t.named[p], id)
	}
	return t
}

// IsFolder reports whether an item can hold children.
func IsFolder(b *Bookmark) bool { return b.Type == "folder" }

// Children lists a folder's children by the tree's rule (nil for anything else).
func (t *Tree) Children(id string) []string {
	f, ok := t.items[id]
	if !ok || !IsFolder(f) {
		return nil
	}
	out := []string{}
	for _, c := range f.Children {
		if it, ok := t.items[c]; ok && it.ParentID == id && c != RootID && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	for _, c := range t.named[id] {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// Rooted reports whether an item hangs, through folders and without a cycle, from the
// places root.
func (t *Tree) Rooted(id string) bool {
	if id == RootID {
		return true
	}
	seen := map[string]bool{id: true}
	for p := t.items[id].ParentID; ; {
		if p == RootID {
			return true // the places root is the top, whether or not it has a record
		}
		parent, ok := t.items[p]
		if !ok || !IsFolder(parent) || seen[p] {
			return false
		}
		seen[p] = true
		p = parent.ParentID
	}
}

// Visitor receives a walk of the tree. Enter sees each item, a folder before its
// children; Leave, if set, sees a folder after them (for formats that close a folder).
// Orphan is set for the items the roots do not reach and what hangs from them.
type Visitor struct {
	Enter func(b *Bookmark, depth int, orphan bool)
	Leave func(b *Bookmark, depth int)
}

// Walk visits every item but the places root once, depth first: the roots that exist
// (menu, toolbar, unfiled, mobile, in that order) at depth 0 with everything under them,
// then each item they did not reach, by id, with what hangs from it, also from depth 0.
func (t *Tree) Walk(v Visitor) {
	seen := map[string]bool{RootID: true}
	var walk func(id string, depth int, orphan bool)
	walk = func(id string, depth int, orphan bool) {
		b, ok := t.items[id]
		if !ok || seen[id] {
			return
		}
		seen[id] = true
		v.Enter(b, depth, orphan)
		if !IsFolder(b) {
			return
		}
		for _, c := range t.Children(id) {
			walk(c, depth+1, orphan)
		}
		if v.Leave != nil {
			v.Leave(b, depth)
		}
	}
	for _, r := range RootIDs {
		walk(r, 0, false)
	}
	rest := make([]string, 0, len(t.items))
	for id := range t.items {
		if !seen[id] {
			rest = append(rest, id)
		}
	}
	sort.Strings(rest)
	// An item under an unreached folder is shown under it, not on its own: start with
	// the tops, the items whose parent is not an unreached item.
	for _, id := range rest {
		if p, ok := t.items[t.items[id].ParentID]; !ok || !IsFolder(p) || seen[p.ID] {
			walk(id, 0, true)
		}
	}
	for _, id := range rest { // what is left: cycles
		walk(id, 0, true)
	}
}

// rootTitles are the names Firefox shows for the roots, whose records carry no title.
var rootTitles = map[string]string{"menu": "Bookmarks Menu", "toolbar": "Bookmarks Toolbar", "unfiled": "Other Bookmarks", "mobile": "Mobile Bookmarks"}

// DisplayTitle is an item's title as Firefox shows it: a root's own name when its record
// has none, or has its id for a title (as Firefox 153 writes the roots: "menu", "toolbar").
func DisplayTitle(b *Bookmark) string {
	if t, ok := rootTitles[b.ID]; ok && (b.Title == "" || b.Title == b.ID) {
		return t
	}
	return b.Title
}

// AddedAt is dateAdded in milliseconds since 1970 (0 when absent or unreadable), from
// either of the forms Firefox writes: a number or a string of digits.
func (b *Bookmark) AddedAt() int64 {
	if n, err := b.DateAdded.Int64(); err == nil {
		return n
	}
	if f, err := b.DateAdded.Float64(); err == nil {
		return int64(f)
	}
	return 0
}

// Under reports whether an item hangs, through folders, from the folder ancestor.
func (t *Tree) Under(id, ancestor string) bool {
	seen := map[string]bool{}
	for p := t.items[id].ParentID; p != "" && !seen[p]; {
		if p == ancestor {
			return true
		}
		seen[p] = true
		parent, ok := t.items[p]
		if !ok {
			return false
		}
		p = parent.ParentID
	}
	return false
}
