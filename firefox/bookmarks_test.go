package firefox_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"pgregory.net/rapid"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/engine"
	"github.com/syncctl/syncctl/firefox"
	"github.com/syncctl/syncctl/internal/servertest"
	"github.com/syncctl/syncctl/repository/sqlite"
	"github.com/syncctl/syncctl/server"
	"github.com/syncctl/syncctl/wbo"
)

// fataler is what testing.TB and rapid.T share.
type fataler interface {
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

type tree struct {
	t     fataler
	store *sqlite.Repository
}

func (tr tree) put(recs ...firefox.Bookmark) {
	var out []wbo.Record
	for _, b := range recs {
		p, _ := firefox.Encode(&b)
		out = append(out, wbo.Record{ID: b.ID, Payload: p})
	}
	if _, err := tr.store.Store(context.Background(), out); err != nil {
		tr.t.Fatal(err)
	}
}

func (tr tree) all() map[string]*firefox.Bookmark {
	out := map[string]*firefox.Bookmark{}
	tr.store.FetchSince(context.Background(), 0, func(r wbo.Record) error {
		if !wbo.IsTombstone(r.Payload) {
			b, err := firefox.Parse[firefox.Bookmark](r.Payload)
			if err != nil {
				tr.t.Fatal(err)
			}
			out[r.ID] = b
		}
		return nil
	})
	return out
}

// valid reports why the items are not one tree under "places", or "".
func valid(items map[string]*firefox.Bookmark) string {
	placed := map[string]string{}
	for id, it := range items {
		for _, c := range it.Children {
			if p, dup := placed[c]; dup {
				return fmt.Sprintf("%s is a child of %s and %s", c, p, id)
			}
			placed[c] = id
			if items[c] == nil {
				return fmt.Sprintf("%s lists a missing child %s", id, c)
			}
			if items[c].ParentID != id {
				return fmt.Sprintf("%s lists %s, whose parentid is %s", id, c, items[c].ParentID)
			}
		}
	}
	if items["places"] != nil {
		return "places is stored as a record; Firefox keeps its roots local and deletes it on the server"
	}
	for id := range items {
		if slices.Contains(firefox.RootIDs, id) {
			if items[id].ParentID != "places" {
				return fmt.Sprintf("root %s hangs from %s", id, items[id].ParentID)
			}
			continue
		}
		if placed[id] == "" {
			return fmt.Sprintf("%s is in no folder", id)
		}
		seen := map[string]bool{}
		for p := id; p != "places"; p = items[p].ParentID {
			if seen[p] || items[p] == nil {
				return fmt.Sprintf("%s does not reach the root", id)
			}
			seen[p] = true
		}
	}
	return ""
}

func newStore(t testing.TB) *sqlite.Repository {
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "b.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db.Collection("bookmarks")
}

func TestRepairMakesATreeOfOrphansCyclesAndStrayChildren(t *testing.T) {
	t.Parallel()
	tr := tree{t, newStore(t)}
	tr.put(
		firefox.Bookmark{ID: "a", Type: "folder", ParentID: "b", Children: []string{"b", "gone"}},
		firefox.Bookmark{ID: "b", Type: "folder", ParentID: "a", Children: []string{"a"}}, // a cycle
		firefox.Bookmark{ID: "orphan", Type: "bookmark", ParentID: "nowhere"},
		firefox.Bookmark{ID: "x", Type: "bookmark", ParentID: "menu"},                             // not in menu's children
		firefox.Bookmark{ID: "y", Type: "bookmark", ParentID: "x"},                                // under a non-folder
		firefox.Bookmark{ID: "menu", Type: "folder", ParentID: "places", Children: []string{"z"}}, // lists an unknown child
	)
	e := &firefox.Bookmarks{Collection: engine.Collection{CollectionName: "bookmarks", Store: tr.store}}
	n, err := e.Repair(context.Background())
	if err != nil || n == 0 {
		t.Fatalf("%d %v", n, err)
	}
	items := tr.all()
	if why := valid(items); why != "" {
		t.Fatal(why)
	}
	for _, id := range []string{"a", "b", "orphan", "x", "y"} {
		if items[id] == nil {
			t.Errorf("%s was lost", id)
		}
	}
	if items["orphan"].ParentID != "unfiled" || items["y"].ParentID != "unfiled" {
		t.Errorf("orphan under %s, y under %s", items["orphan"].ParentID, items["y"].ParentID)
	}
	if n, _ := e.Repair(context.Background()); n != 0 {
		t.Errorf("a second repair changed %d records", n)
	}
}

func TestFolderChildrenMergeStructurally(t *testing.T) {
	t.Parallel()
	mk := func(children ...string) wbo.Record {
		p, _ := json.Marshal(map[string]any{"id": "f", "type": "folder", "children": children})
		return wbo.Record{ID: "f", Payload: p}
	}
	base := mk("a", "b", "c")
	local := mk("a", "c", "L") // removed b, added L
	remote := mk("c", "a", "b", "R")
	local.Modified, remote.Modified = 2000, 1000
	got := firefox.BookmarkRule{}.Reconcile(local, remote, base.Payload)
	b, _ := firefox.Parse[firefox.Bookmark](got.Payload)
	if want := []string{"c", "a", "R", "L"}; !slices.Equal(b.Children, want) {
		t.Errorf("children %v, want %v", b.Children, want)
	}
}

// device is one browser profile syncing bookmarks through a real session.
type bdevice struct {
	tree
	session *engine.Session
}

func newBDevice(t testing.TB, srv *servertest.Server, kB []byte, dir string) *bdevice {
	db, err := sqlite.Open(filepath.Join(dir, "b.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	store := db.Collection("bookmarks")
	reg := engine.NewRegistry(firefox.Engines(func(c string) firefox.Store { return db.Collection(c) })[0])
	sk, _ := crypto.SyncKeyBundle(kB)
	s, err := engine.NewSession(engine.Options{Tokens: srv.Tokens("alice"), SyncKey: sk, State: db, Engines: reg})
	if err != nil {
		t.Fatal(err)
	}
	return &bdevice{tree: tree{t, store}, session: s}
}

func (d *bdevice) sync() (moved int) {
	res, err := d.session.Sync(context.Background())
	if err != nil {
		d.t.Fatalf("sync: %v", err)
	}
	r := res.Engines["bookmarks"]
	if r.Err != nil {
		d.t.Fatalf("bookmarks: %v", r.Err)
	}
	return r.Applied + r.Uploaded
}

// TestBookmarkTreesStayTreesUnderConcurrentEdits: two devices start from one tree, make
// random concurrent edits (add bookmarks and folders, move, delete, reorder), and sync
// until nothing moves. They must hold the same, valid tree, with every item that only one
// side touched and nobody deleted still present, exactly once.
func TestBookmarkTreesStayTreesUnderConcurrentEdits(t *testing.T) {
	t.Parallel()
	if f := flag.Lookup("rapid.checks"); f != nil && f.Value.String() == "100" {
		f.Value.Set("20")
	}
	run := 0
	rapid.Check(t, func(rt *rapid.T) {
		run++
		srv := servertest.Start(t, server.Options{}, nil)
		kB := make([]byte, 32)
		kB[0] = byte(run)
		a := newBDevice(t, srv, kB, t.TempDir())
		a.t = rt
		b := newBDevice(t, srv, kB, t.TempDir())
		b.t = rt
		a.sync()
		a.put(
			firefox.Bookmark{ID: "fold1aaaaaaa", Type: "folder", ParentID: "menu"},
			firefox.Bookmark{ID: "fold2aaaaaaa", Type: "folder", ParentID: "toolbar"},
			firefox.Bookmark{ID: "bm1aaaaaaaaa", Type: "bookmark", ParentID: "fold1aaaaaaa", BmkURI: "https://1"},
			firefox.Bookmark{ID: "bm2aaaaaaaaa", Type: "bookmark", ParentID: "fold2aaaaaaa", BmkURI: "https://2"},
		)
		a.sync()
		b.sync()
		created := map[string]bool{}
		deleted := map[string]bool{}
		devs := []*bdevice{a, b}
		for i := range rapid.IntRange(1, 12).Draw(rt, "edits") {
			d := devs[rapid.IntRange(0, 1).Draw(rt, "dev")]
			items := d.all()
			var folders, all []string
			for id, it := range items {
				if id == "places" {
					continue
				}
				all = append(all, id)
				if it.Type == "folder" {
					folders = append(folders, id)
				}
			}
			sort.Strings(folders)
			sort.Strings(all)
			pick := func(l []string, label string) string { return l[rapid.IntRange(0, len(l)-1).Draw(rt, label)] }
			switch rapid.IntRange(0, 3).Draw(rt, "op") {
			case 0, 1: // add a bookmark or a folder
				id := fmt.Sprintf("new%d%d%07d", run%10, i, rapid.IntRange(0, 9999999).Draw(rt, "n"))
				kind := map[bool]string{true: "folder", false: "bookmark"}[rapid.Bool().Draw(rt, "folder")]
				parent := items[pick(folders, "parent")]
				d.put(firefox.Bookmark{ID: id, Type: kind, ParentID: parent.ID})
				parent.Children = append(parent.Children, id)
				d.put(*parent)
				created[id] = true
			case 2: // move a non-root item to another folder
				id := pick(all, "item")
				if slices.Contains(firefox.RootIDs, id) {
					continue
				}
				it := items[id]
				to := items[pick(folders, "to")]
				if to.ID == id {
					continue
				}
				if old := items[it.ParentID]; old != nil {
					old.Children = slices.DeleteFunc(old.Children, func(c string) bool { return c == id })
					d.put(*old)
				}
				it.ParentID = to.ID
				to.Children = append(to.Children, id)
				d.put(*it, *to)
				delete(created, id) // touched by this side
			case 3: // delete a non-root leaf
				id := pick(all, "victim")
				it := items[id]
				if slices.Contains(firefox.RootIDs, id) || len(it.Children) > 0 {
					continue
				}
				if old := items[it.ParentID]; old != nil {
					old.Children = slices.DeleteFunc(old.Children, func(c string) bool { return c == id })
					d.put(*old)
				}
				d.store.Store(context.Background(), []wbo.Record{wbo.Tombstone(id)})
				deleted[id] = true
			}
		}
		for round := 0; ; round++ {
			if a.sync()+b.sync() == 0 {
				break
			}
			if round > 8 {
				rt.Fatalf("not quiescent")
			}
		}
		ta, tb := a.all(), b.all()
		if why := valid(ta); why != "" {
			rt.Fatalf("a: %s", why)
		}
		ja, _ := json.Marshal(ta)
		jb, _ := json.Marshal(tb)
		if string(ja) != string(jb) {
			rt.Fatalf("the devices differ:\n%s\n%s", ja, jb)
		}
		for id := range created {
			if !deleted[id] && ta[id] == nil {
				rt.Fatalf("%s, made by one side and deleted by none, was lost", id)
			}
		}
	})
}

func TestBookmarkIDsAreRootsOrPlacesGUIDs(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"menu", "toolbar", "unfiled", "mobile", "abcdefABC123", "a-b_c-d_e-f_", wbo.NewGUID(nil)} {
		if err := firefox.ValidBookmarkID(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"bm1", "places", "", "abcdefABC12", "abcdefABC1234", "abcdefABC12+", "abcdéfABC12"} {
		if err := firefox.ValidBookmarkID(bad); !errors.Is(err, firefox.ErrBadBookmarkID) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
