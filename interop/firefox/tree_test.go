package firefox_test

import (
	"context"
	"strings"
	"testing"

	"github.com/syncctl/syncctl/firefox"
	"github.com/syncctl/syncctl/wbo"
)

// Bookmark trees, compared whole: Firefox's (from Places) and syncctl's (from its local
// store), in one shape, with Firefox's root GUIDs as the wire ids.

var rootGUIDs = map[string]string{"menu________": "menu", "toolbar_____": "toolbar", "unfiled_____": "unfiled", "mobile______": "mobile"}

func normalize(n node) node {
	if id, ok := rootGUIDs[n.GUID]; ok {
		n.GUID = id
		n.Title = "" // root titles are Firefox's own, and localized
	}
	kids := make([]node, len(n.Children))
	for i, c := range n.Children {
		kids[i] = normalize(c)
	}
	n.Children = kids
	return n
}

// syncctlTree is syncctl's local tree under a root, in the same shape.
func (s *syncctl) syncctlTree(root string) node {
	s.t.Helper()
	items := map[string]*firefox.Bookmark{}
	err := s.db.Collection("bookmarks").FetchSince(context.Background(), 0, func(r wbo.Record) error {
		if !wbo.IsTombstone(r.Payload) {
			if b, err := firefox.Parse[firefox.Bookmark](r.Payload); err == nil {
				items[r.ID] = b
			}
		}
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
	var walk func(id string, depth int) node
	walk = func(id string, depth int) node {
		b := items[id]
		if b == nil || depth > 64 {
			return node{GUID: id + " (missing)"}
		}
		n := node{GUID: id, Title: b.Title, URL: b.BmkURI, Children: []node{}}
		switch b.Type {
		case "folder":
			n.Type = 2
		case "separator":
			n.Type = 3
		default:
			n.Type = 1
		}
		if n.Type == 3 {
			n.Title = ""
		}
		for _, c := range b.Children {
			n.Children = append(n.Children, walk(c, depth+1))
		}
		if _, isRoot := map[string]bool{"menu": true, "toolbar": true, "unfiled": true, "mobile": true}[id]; isRoot {
			n.Title = ""
		}
		return n
	}
	return walk(root, 0)
}

// sameTrees fails the test with both trees, side by side, unless they are equal under
// every root.
func sameTrees(t *testing.T, ff *browser, sc *syncctl, why string) {
	t.Helper()
	for _, root := range []string{"menu", "toolbar", "unfiled", "mobile"} {
		a := normalize(ff.firefoxTree(root))
		b := sc.syncctlTree(root)
		if a.String() != b.String() {
			t.Errorf("%s: the %s trees differ.\nFirefox holds:\n%s\nsyncctl holds:\n%s", why, root, indent(a.String()), indent(b.String()))
		}
	}
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// removeBookmark deletes a bookmark in syncctl's store: its tombstone, and its parent's
// children without it.
func (s *syncctl) removeBookmark(id string) {
	s.t.Helper()
	b := s.bookmark(id)
	parent := s.bookmark(b.ParentID)
	parent.Children = without(parent.Children, id)
	s.putBookmark(parent)
	if _, err := s.db.Collection("bookmarks").Store(context.Background(), []wbo.Record{wbo.Tombstone(id)}); err != nil {
		s.t.Fatal(err)
	}
}

// moveBookmark moves a bookmark to the start of another folder in syncctl's store.
func (s *syncctl) moveBookmark(id, to string) {
	s.t.Helper()
	b := s.bookmark(id)
	from := s.bookmark(b.ParentID)
	from.Children = without(from.Children, id)
	dest := s.bookmark(to)
	dest.Children = append([]string{id}, without(dest.Children, id)...)
	b.ParentID, b.ParentName = to, dest.Title
	s.putBookmark(from)
	s.putBookmark(dest)
	s.putBookmark(b)
}

func without(ids []string, id string) []string {
	out := []string{}
	for _, x := range ids {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}

// Scenario 3: Firefox writes, syncctl reads; deletions go both ways (a tombstone removes
// the item on the other side); a moved bookmark keeps its place in both trees.
func TestFirefoxWritesSyncctlReadsAndDeletionsAndMovesGoBothWays(t *testing.T) {
	t.Parallel() // each test its own Firefox, profile, port and server
	e := newEnv(t)
	ff := e.startFirefox("Firefox writes")
	var ids struct{ Folder, B1, B2, B3, Form string }
	ff.run(`
const f = await PlacesUtils.bookmarks.insert({parentGuid: PlacesUtils.bookmarks.menuGuid, type: PlacesUtils.bookmarks.TYPE_FOLDER, title: "Firefox folder"});
const b1 = await PlacesUtils.bookmarks.insert({parentGuid: f.guid, url: "https://one.example/", title: "One"});
const b2 = await PlacesUtils.bookmarks.insert({parentGuid: f.guid, url: "https://two.example/", title: "Two"});
const b3 = await PlacesUtils.bookmarks.insert({parentGuid: PlacesUtils.bookmarks.unfiledGuid, url: "https://three.example/", title: "Three"});
await PlacesUtils.history.insert({url: "https://visited.example/", title: "Visited", visits: [{date: new Date(), transition: PlacesUtils.history.TRANSITIONS.LINK}]});
await Services.logins.addLoginAsync(newLogin("https://ff-login.example", "ffuser", "ffpass"));
await FormHistory.update({op: "add", fieldname: "email", value: "me@ff.example"});
const form = (await FormHistory.search(["guid"], {fieldname: "email", value: "me@ff.example"}))[0];
return {Folder: f.guid, B1: b1.guid, B2: b2.guid, B3: b3.guid, Form: form.guid};`, nil, &ids)
	ff.signIn()
	ff.sync()
	sc := e.newSyncctl("syncctl reads")
	sc.sync()
	sameTrees(t, ff, sc, "after syncctl's first sync")
	if menu := sc.syncctlTree("menu").String(); !strings.Contains(menu, `"One"`) || !strings.Contains(menu, `"Two"`) {
		t.Fatalf("syncctl's menu lacks Firefox's bookmarks:\n%s", menu)
	}
	if f := sc.bookmark(ids.Folder); f.Title != "Firefox folder" || strings.Join(f.Children, ",") != ids.B1+","+ids.B2 {
		t.Errorf("syncctl's folder: %+v", f)
	}
	var page string
	for _, p := range sc.serverRecords("history") {
		if strings.Contains(string(p), "https://visited.example/") {
			page = string(p)
		}
	}
	if _, ok := sc.local("history", historyID(t, page)); !ok {
		t.Errorf("syncctl holds no history for the visited page")
	}
	form, ok := sc.local("forms", ids.Form)
	if !ok || !strings.Contains(string(form), "me@ff.example") {
		t.Errorf("syncctl's form entry: %s", form)
	}

	// Firefox deletes and moves.
	ff.run(`
const [b1, b2] = args;
await PlacesUtils.bookmarks.remove(b1);
await PlacesUtils.bookmarks.update({guid: b2, parentGuid: PlacesUtils.bookmarks.toolbarGuid, index: 0});
for (const l of await Services.logins.getAllLogins()) if (l.origin == "https://ff-login.example") await (Services.logins.removeLoginAsync ? Services.logins.removeLoginAsync(l) : Services.logins.removeLogin(l));
await FormHistory.update({op: "remove", fieldname: "email", value: "me@ff.example"});
return true;`, []any{ids.B1, ids.B2}, nil)
	ff.sync()
	sc.sync()
	sameTrees(t, ff, sc, "after Firefox deleted and moved bookmarks")
	if p, _ := sc.local("bookmarks", ids.B1); !wbo.IsTombstone(p) {
		t.Errorf("Firefox's deleted bookmark is live in syncctl: %s", p)
	}
	if p, _ := sc.local("forms", ids.Form); !wbo.IsTombstone(p) {
		t.Errorf("Firefox's deleted form entry is live in syncctl: %s", p)
	}
	for id, p := range sc.serverRecords("passwords") {
		if strings.Contains(string(p), "ff-login.example") && !wbo.IsTombstone(p) {
			t.Errorf("Firefox's deleted login %s is live on the server", id)
		}
	}

	// syncctl deletes and moves.
	sc.removeBookmark(ids.B3)
	sc.moveBookmark(ids.B2, ids.Folder)
	histID := historyID(t, page)
	if _, err := sc.db.Collection("history").Store(context.Background(), []wbo.Record{wbo.Tombstone(histID)}); err != nil {
		t.Fatal(err)
	}
	sc.sync()
	ff.sync()
	sameTrees(t, ff, sc, "after syncctl deleted and moved bookmarks")
	var gone struct{ Bookmark, Page bool }
	ff.run(`
return {Bookmark: !(await PlacesUtils.bookmarks.fetch(args[0])), Page: !(await PlacesUtils.history.fetch("https://visited.example/"))};`,
		[]any{ids.B3}, &gone)
	if !gone.Bookmark || !gone.Page {
		t.Errorf("what syncctl deleted is still in Firefox: %+v", gone)
	}
}

func historyID(t *testing.T, record string) string {
	t.Helper()
	h, err := firefox.Parse[firefox.History]([]byte(record))
	if err != nil {
		t.Fatalf("history record %q: %v", record, err)
	}
	return h.ID
}
