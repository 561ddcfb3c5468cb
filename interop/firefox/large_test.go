package firefox_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/syncctl/syncctl/wbo"
)

const (
	manyBookmarks = 2000
	manyPages     = 5000 // Firefox uploads and downloads at most 5,000 history records a sync
)

// Scenario 6: 2,000 bookmarks and 5,000 history pages made in Firefox arrive whole in
// syncctl, and the same again made in syncctl arrive whole in Firefox.
func TestThousandsOfBookmarksAndPagesArriveWholeBothWays(t *testing.T) {
	t.Parallel() // each test its own Firefox, profile, port and server
	if testing.Short() {
		t.Skip("a large transfer")
	}
	e := newEnv(t)
	ff := e.startFirefox("Firefox, many")
	var folder string
	ff.run(`
const [nb, np] = args;
const children = [];
for (let i = 0; i < nb; i++) children.push({url: "https://ff-bookmark.example/" + i, title: "Firefox bookmark " + i});
const [f] = await PlacesUtils.bookmarks.insertTree({guid: PlacesUtils.bookmarks.unfiledGuid,
  children: [{type: PlacesUtils.bookmarks.TYPE_FOLDER, title: "Many from Firefox", children}]});
const now = Date.now();
const pages = [];
for (let i = 0; i < np; i++) pages.push({url: "https://ff-page.example/" + i, title: "Firefox page " + i,
  visits: [{date: new Date(now - 60000 - i * 1000), transition: PlacesUtils.history.TRANSITIONS.LINK}]});
await PlacesUtils.history.insertMany(pages);
return f.guid;`, []any{manyBookmarks, manyPages}, &folder)
	ff.signIn()
	ff.sync()
	sc := e.newSyncctl("syncctl, many")
	start := time.Now()
	res := sc.sync()
	t.Logf("syncctl's first sync: %d bookmarks, %d history in %v", res.Engines["bookmarks"].Applied, res.Engines["history"].Applied, time.Since(start).Round(time.Millisecond))
	if got := len(sc.bookmark(folder).Children); got != manyBookmarks {
		t.Errorf("syncctl's copy of Firefox's folder has %d children, want %d", got, manyBookmarks)
	}
	pages := 0
	for _, id := range sc.liveIDs("history") {
		if p, _ := sc.local("history", id); strings.Contains(string(p), "https://ff-page.example/") {
			pages++
		}
	}
	if pages != manyPages {
		t.Errorf("syncctl holds %d of Firefox's %d pages", pages, manyPages)
	}

	// The reverse: syncctl makes as many, Firefox reads them.
	const scFolder = "manySyncctl1"
	unfiled := sc.bookmark("unfiled")
	unfiled.Children = append(unfiled.Children, scFolder)
	sc.putBookmark(unfiled)
	kids := make([]string, manyBookmarks)
	recs := make([]string, 0, manyBookmarks+1)
	for i := range kids {
		kids[i] = wbo.NewGUID(nil)
		recs = append(recs, fmt.Sprintf(`{"id":%q,"type":"bookmark","title":"syncctl bookmark %d","bmkUri":"https://sc-bookmark.example/%d","parentid":%q,"parentName":"Many from syncctl"}`, kids[i], i, i, scFolder))
	}
	kj, _ := json.Marshal(kids)
	recs = append(recs, fmt.Sprintf(`{"id":%q,"type":"folder","title":"Many from syncctl","parentid":"unfiled","parentName":"Other Bookmarks","children":%s}`, scFolder, kj))
	sc.put("bookmarks", recs...)
	now := time.Now()
	hist := make([]string, manyPages)
	for i := range hist {
		hist[i] = fmt.Sprintf(`{"id":%q,"histUri":"https://sc-page.example/%d","title":"syncctl page %d","visits":[{"date":%d,"type":1}]}`,
			wbo.NewGUID(nil), i, i, now.Add(-time.Duration(i)*time.Second).UnixMicro())
	}
	sc.put("history", hist...)
	res = sc.sync()
	if res.Engines["bookmarks"].Uploaded < manyBookmarks+1 || res.Engines["history"].Uploaded != manyPages {
		t.Errorf("syncctl uploaded %d bookmarks and %d pages", res.Engines["bookmarks"].Uploaded, res.Engines["history"].Uploaded)
	}
	ff.sync()
	var got struct{ Children, Pages int }
	ff.run(`
const t = await PlacesUtils.promiseBookmarksTree(args[0]);
const db = await PlacesUtils.promiseDBConnection();
const rows = await db.execute("SELECT COUNT(*) AS n FROM moz_places WHERE url LIKE :p", {p: "https://sc-page.example/%"});
return {Children: (t.children || []).length, Pages: rows[0].getResultByName("n")};`, []any{scFolder}, &got)
	if got.Children != manyBookmarks || got.Pages != manyPages {
		t.Errorf("Firefox holds %d of syncctl's %d bookmarks and %d of its %d pages", got.Children, manyBookmarks, got.Pages, manyPages)
	}
}
