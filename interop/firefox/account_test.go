package firefox_test

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/syncctl/syncctl/wbo"
)

// liveIDs is the ids of syncctl's live local records of a collection.
func (s *syncctl) liveIDs(coll string) []string {
	s.t.Helper()
	var ids []string
	err := s.db.Collection(coll).FetchSince(context.Background(), 0, func(r wbo.Record) error {
		if !wbo.IsTombstone(r.Payload) {
			ids = append(ids, r.ID)
		}
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
	sort.Strings(ids)
	return ids
}

// firefoxBookmarkCount counts Firefox's bookmarks, folders and separators outside the roots.
func (b *browser) firefoxBookmarkCount() int {
	b.t.Helper()
	var n int
	b.run(`
const roots = [PlacesUtils.bookmarks.menuGuid, PlacesUtils.bookmarks.toolbarGuid, PlacesUtils.bookmarks.unfiledGuid, PlacesUtils.bookmarks.mobileGuid];
let n = 0;
const count = (t) => { for (const c of (t.children || [])) { n++; count(c); } };
for (const r of roots) count(await PlacesUtils.promiseBookmarksTree(r));
return n;`, nil, &n)
	return n
}

// Scenario 5: account-wide events. syncctl rotates the keys: Firefox recovers at its next
// sync and both still hold everything. syncctl wipes bookmarks: Firefox acts on the
// wipeEngine command. Firefox resets Sync (a new syncID): syncctl notices and syncs again
// without losing or duplicating anything.
func TestKeyRotationWipeAndAFirefoxResetKeepBothSidesWhole(t *testing.T) {
	t.Parallel() // each test its own Firefox, profile, port and server
	e := newEnv(t)
	ff := e.startFirefox("Firefox")
	ff.run(`
const f = await PlacesUtils.bookmarks.insert({parentGuid: PlacesUtils.bookmarks.menuGuid, type: PlacesUtils.bookmarks.TYPE_FOLDER, title: "Kept"});
for (let i = 0; i < 5; i++) await PlacesUtils.bookmarks.insert({parentGuid: f.guid, url: "https://kept.example/" + i, title: "kept " + i});
await Services.logins.addLoginAsync(newLogin("https://kept.example", "kept", "pw"));
return true;`, nil, nil)
	ff.signIn()
	ff.sync()
	sc := e.newSyncctl("syncctl")
	sc.sync()
	sameTrees(t, ff, sc, "at the start")
	before := ff.firefoxBookmarkCount()
	if before < 6 {
		t.Fatalf("Firefox holds %d bookmarks", before)
	}

	// syncctl rotates the keys.
	rot, err := sc.session.RotateKeys(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rotation: %+v", rot)
	ff.sync()
	sc.sync()
	ff.sync()
	sameTrees(t, ff, sc, "after syncctl rotated the keys")
	if n := ff.firefoxBookmarkCount(); n != before {
		t.Errorf("after the rotation Firefox holds %d bookmarks, had %d", n, before)
	}
	for _, coll := range []string{"bookmarks", "passwords", "clients"} {
		sc.serverRecords(coll) // every record opens under the new keys
	}

	// Firefox resets Sync: it wipes the server and sets the account up anew with a new
	// syncID and keys, then uploads its data; syncctl resyncs.
	ff.run(`await Weave.Service.wipeServer(); return true;`, nil, nil)
	ff.sync()
	idsBefore := sc.liveIDs("bookmarks")
	sc.sync()
	ff.sync()
	sameTrees(t, ff, sc, "after Firefox reset Sync")
	if after := sc.liveIDs("bookmarks"); !slices.Equal(after, idsBefore) {
		t.Errorf("after Firefox's reset syncctl holds bookmarks %v, held %v", after, idsBefore)
	}
	if n := ff.firefoxBookmarkCount(); n != before {
		t.Errorf("after its reset Firefox holds %d bookmarks, had %d", n, before)
	}

	// syncctl wipes the bookmarks: on the server, locally, and on Firefox.
	if _, err := sc.session.Wipe(context.Background(), "bookmarks"); err != nil {
		t.Fatal(err)
	}
	ff.sync()
	ff.sync()
	sc.sync()
	if n := ff.firefoxBookmarkCount(); n != 0 {
		t.Errorf("after syncctl's wipe Firefox still holds %d bookmarks", n)
	}
	sameTrees(t, ff, sc, "after syncctl wiped the bookmarks")
	for id, p := range sc.serverRecords("bookmarks") {
		if strings.Contains(string(p), "kept.example") && !wbo.IsTombstone(p) {
			t.Errorf("a wiped bookmark came back to the server: %s", id)
		}
	}
	found := false
	for _, p := range sc.serverRecords("passwords") {
		found = found || strings.Contains(string(p), "kept.example")
	}
	if !found {
		t.Error("the bookmarks wipe took the passwords with it")
	}
}
