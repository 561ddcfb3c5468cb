package firefox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncctl/syncctl/firefox"
	"github.com/syncctl/syncctl/wbo"
)

// put writes cleartext records into syncctl's local store, as local changes.
func (s *syncctl) put(coll string, payloads ...string) {
	s.t.Helper()
	var recs []wbo.Record
	for _, p := range payloads {
		var probe struct{ ID string }
		if err := json.Unmarshal([]byte(p), &probe); err != nil || probe.ID == "" {
			s.t.Fatalf("bad record %s: %v", p, err)
		}
		recs = append(recs, wbo.Record{ID: probe.ID, Payload: []byte(p)})
	}
	res, err := s.db.Collection(coll).Store(context.Background(), recs)
	if err != nil || len(res.Failed) > 0 {
		s.t.Fatalf("store %s: %v %v", coll, err, res.Failed)
	}
}

// local reads one record of syncctl's local store.
func (s *syncctl) local(coll, id string) ([]byte, bool) {
	s.t.Helper()
	rec, ok, err := s.db.Collection(coll).Get(context.Background(), id)
	if err != nil {
		s.t.Fatal(err)
	}
	return rec.Payload, ok
}

// bookmark reads a bookmark of syncctl's local store.
func (s *syncctl) bookmark(id string) *firefox.Bookmark {
	s.t.Helper()
	p, ok := s.local("bookmarks", id)
	if !ok {
		s.t.Fatalf("syncctl holds no bookmark %s", id)
	}
	b, err := firefox.Parse[firefox.Bookmark](p)
	if err != nil {
		s.t.Fatal(err)
	}
	return b
}

// putBookmark writes a bookmark record built from b (keeping what else it holds).
func (s *syncctl) putBookmark(b *firefox.Bookmark) {
	s.t.Helper()
	p, err := firefox.Encode(b)
	if err != nil {
		s.t.Fatal(err)
	}
	s.put("bookmarks", string(p))
}

// node is a bookmark as Firefox's tree shows it.
type node struct {
	GUID     string `json:"guid"`
	Type     int    `json:"type"` // 1 bookmark, 2 folder, 3 separator
	Title    string `json:"title"`
	URL      string `json:"url"`
	Children []node `json:"children"`
}

func (n node) String() string {
	var b strings.Builder
	var walk func(n node, depth int)
	walk = func(n node, depth int) {
		kind := map[int]string{1: "bookmark", 2: "folder", 3: "separator"}[n.Type]
		fmt.Fprintf(&b, "%s%s %s %q %s\n", strings.Repeat("  ", depth), n.GUID, kind, n.Title, n.URL)
		for _, c := range n.Children {
			walk(c, depth+1)
		}
	}
	walk(n, 0)
	return b.String()
}

// firefoxTree is Firefox's bookmark tree under a root (a wire id: menu, toolbar, …).
func (b *browser) firefoxTree(root string) node {
	b.t.Helper()
	var n node
	b.run(`
const guids = {menu: PlacesUtils.bookmarks.menuGuid, toolbar: PlacesUtils.bookmarks.toolbarGuid,
  unfiled: PlacesUtils.bookmarks.unfiledGuid, mobile: PlacesUtils.bookmarks.mobileGuid};
return await tree(guids[args[0]] || args[0]);`, []any{root}, &n)
	return n
}

// Scenario 2: syncctl writes, and Firefox reads through its own APIs: a folder with a
// bookmark, a separator and a query in order; a history page with two visits; a login;
// a form entry; a pref that Firefox syncs.
func TestSyncctlWritesAndFirefoxReadsEveryKind(t *testing.T) {
	t.Parallel() // each test its own Firefox, profile, port and server
	e := newEnv(t)
	ff, sc := e.bothSynced("Firefox reads", "syncctl writes")

	toolbar := sc.bookmark("toolbar")
	toolbar.Children = append(toolbar.Children, "fldrSyncctl1")
	sc.putBookmark(toolbar)
	sc.put("bookmarks",
		`{"id":"fldrSyncctl1","type":"folder","title":"From syncctl","parentid":"toolbar","parentName":"Bookmarks Toolbar","children":["bmrkSyncctl1","sepaSyncctl1","qerySyncctl1","bmrkSyncctl2"]}`,
		`{"id":"bmrkSyncctl1","type":"bookmark","title":"Ünïcode & <first>","bmkUri":"https://first.example/?a=1&b=2","parentid":"fldrSyncctl1","parentName":"From syncctl","tags":[]}`,
		`{"id":"sepaSyncctl1","type":"separator","pos":1,"parentid":"fldrSyncctl1","parentName":"From syncctl"}`,
		`{"id":"qerySyncctl1","type":"query","title":"Recent","bmkUri":"place:sort=8&maxResults=10","parentid":"fldrSyncctl1","parentName":"From syncctl"}`,
		`{"id":"bmrkSyncctl2","type":"bookmark","title":"Second","bmkUri":"https://second.example/","parentid":"fldrSyncctl1","parentName":"From syncctl"}`)
	now := time.Now()
	sc.put("history", fmt.Sprintf(`{"id":"histSyncctl1","histUri":"https://history.example/page","title":"A page from syncctl","visits":[{"date":%d,"type":1},{"date":%d,"type":2}]}`,
		now.Add(-2*time.Hour).UnixMicro(), now.Add(-time.Hour).UnixMicro()))
	sc.put("passwords", fmt.Sprintf(`{"id":"{6d1f3ac5-0c4c-4d6e-9d4a-1a2b3c4d5e6f}","hostname":"https://login.example","formSubmitURL":"https://login.example","httpRealm":null,"username":"synced user","password":"s3cret \"pw\"","usernameField":"user","passwordField":"pass","timeCreated":%d,"timePasswordChanged":%d}`,
		now.UnixMilli(), now.UnixMilli()))
	sc.put("forms", `{"id":"formSyncctl1","name":"searchbar-history","value":"asked by syncctl"}`)
	prefsID, prefs := "", map[string]any{}
	for id, p := range sc.serverRecords("prefs") {
		prefsID = id
		var rec struct {
			Value map[string]any `json:"value"`
		}
		json.Unmarshal(p, &rec)
		prefs = rec.Value
	}
	if prefsID == "" {
		t.Fatal("Firefox uploaded no prefs record")
	}
	p, _ := sc.local("prefs", prefsID)
	var prefRec map[string]any
	json.Unmarshal(p, &prefRec)
	prefs["browser.startup.homepage"] = "https://home.from.syncctl.example"
	prefRec["value"] = prefs
	b, _ := json.Marshal(prefRec)
	sc.put("prefs", string(b))

	res := sc.sync()
	for coll, n := range map[string]int{"bookmarks": 6, "history": 1, "passwords": 1, "forms": 1, "prefs": 1} {
		if res.Engines[coll].Uploaded < n {
			t.Errorf("syncctl uploaded %d %s, want %d", res.Engines[coll].Uploaded, coll, n)
		}
	}
	ff.sync()

	folder := ff.firefoxTree("fldrSyncctl1")
	want := []node{{GUID: "bmrkSyncctl1", Type: 1, Title: "Ünïcode & <first>", URL: "https://first.example/?a=1&b=2"},
		{GUID: "sepaSyncctl1", Type: 3}, {GUID: "qerySyncctl1", Type: 1, Title: "Recent", URL: "place:sort=8&maxResults=10"},
		{GUID: "bmrkSyncctl2", Type: 1, Title: "Second", URL: "https://second.example/"}}
	got := folder.Children
	for i := range got {
		got[i].Children = nil
	}
	if folder.Title != "From syncctl" || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Firefox's folder:\n%s\nwant its children, in order:\n%v", folder, want)
	}
	if tb := ff.firefoxTree("toolbar"); !slices.ContainsFunc(tb.Children, func(n node) bool { return n.GUID == "fldrSyncctl1" }) {
		t.Errorf("the folder is not on Firefox's toolbar:\n%s", tb)
	}

	var seen struct {
		History struct {
			Title  string
			Visits int
		}
		Logins []struct{ Origin, Username, Password string }
		Forms  []string
		Pref   string
	}
	ff.run(`
const page = await PlacesUtils.history.fetch("https://history.example/page", {includeVisits: true});
const logins = (await Services.logins.getAllLogins()).filter(l => !l.origin.startsWith("chrome://")).map(l => ({Origin: l.origin, Username: l.username, Password: l.password}));
const forms = (await FormHistory.search(["value"], {fieldname: "searchbar-history"})).map(f => f.value);
return {History: {Title: page ? page.title : "", Visits: page ? page.visits.length : 0}, Logins: logins, Forms: forms,
  Pref: Services.prefs.getStringPref("browser.startup.homepage", "")};`, nil, &seen)
	if seen.History.Title != "A page from syncctl" || seen.History.Visits != 2 {
		t.Errorf("Firefox's history: %+v", seen.History)
	}
	if len(seen.Logins) != 1 || seen.Logins[0].Username != "synced user" || seen.Logins[0].Password != `s3cret "pw"` || seen.Logins[0].Origin != "https://login.example" {
		t.Errorf("Firefox's logins: %+v", seen.Logins)
	}
	if !slices.Contains(seen.Forms, "asked by syncctl") {
		t.Errorf("Firefox's form history: %v", seen.Forms)
	}
	if seen.Pref != "https://home.from.syncctl.example" {
		t.Errorf("Firefox's homepage pref: %q", seen.Pref)
	}
}
