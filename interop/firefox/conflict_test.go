package firefox_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/syncctl/syncctl/fxa"
)

// Scenario 4: Firefox and syncctl edit the same bookmark between syncs, and both reorder
// one folder; after two rounds both trees are identical.
func TestConcurrentEditsAndReordersConvergeInBothTrees(t *testing.T) {
	t.Parallel() // each test its own Firefox, profile, port and server
	e := newEnv(t)
	ff := e.startFirefox("Firefox edits")
	var ids struct {
		Folder, X string
		Kids      []string
	}
	ff.run(`
const f = await PlacesUtils.bookmarks.insert({parentGuid: PlacesUtils.bookmarks.menuGuid, type: PlacesUtils.bookmarks.TYPE_FOLDER, title: "Reordered"});
const kids = [];
for (const n of ["a", "b", "c", "d"]) kids.push((await PlacesUtils.bookmarks.insert({parentGuid: f.guid, url: "https://" + n + ".example/", title: n})).guid);
const x = await PlacesUtils.bookmarks.insert({parentGuid: PlacesUtils.bookmarks.toolbarGuid, url: "https://x.example/", title: "x"});
return {Folder: f.guid, X: x.guid, Kids: kids};`, nil, &ids)
	ff.signIn()
	ff.sync()
	sc := e.newSyncctl("syncctl edits")
	sc.sync()
	sameTrees(t, ff, sc, "before the edits")

	// Firefox: a new title for x, and d first.
	ff.run(`
const [x, d] = args;
await PlacesUtils.bookmarks.update({guid: x, title: "x, as Firefox named it"});
await PlacesUtils.bookmarks.update({guid: d, index: 0});
return true;`, []any{ids.X, ids.Kids[3]}, nil)
	// syncctl: a new URL for x, and the folder reversed.
	x := sc.bookmark(ids.X)
	x.BmkURI = "https://x.syncctl.example/"
	sc.putBookmark(x)
	f := sc.bookmark(ids.Folder)
	slices.Reverse(f.Children)
	sc.putBookmark(f)

	for range 2 {
		sc.sync()
		ff.sync()
	}
	sameTrees(t, ff, sc, "after both edited and reordered, and two rounds of syncs")
	got := sc.bookmark(ids.Folder).Children
	slices.Sort(got)
	want := slices.Clone(ids.Kids)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the folder lost or gained children: %v, want %v", got, want)
	}
	t.Logf("x is now %q <%s> on both sides", sc.bookmark(ids.X).Title, sc.bookmark(ids.X).BmkURI)
}

// Scenario 7: the clients engine. syncctl's device appears in Firefox's device list with
// its name and type, and Firefox's in syncctl's, as Firefox names itself.
func TestDevicesSeeEachOther(t *testing.T) {
	t.Parallel() // each test its own Firefox, profile, port and server
	e := newEnv(t)
	ff := e.startFirefox("The Firefox device")
	ff.signIn()
	ff.sync()
	var local struct{ Name, Type, ID string }
	ff.run(`const c = Weave.Service.clientsEngine;
return {Name: c.localName, Type: c.localType, ID: c.localID};`, nil, &local)
	sc := e.newSyncctl("The syncctl device")
	res := sc.sync()
	if !slices.ContainsFunc(res.Clients, func(c engineClient) bool {
		return c.ID == local.ID && c.Name == local.Name && c.Type == local.Type
	}) {
		t.Errorf("syncctl's device list %+v lacks Firefox's device %+v", res.Clients, local)
	}
	ff.sync()
	var devices []struct{ Name, Type string }
	ff.run(`return Weave.Service.clientsEngine.remoteClients.map(c => ({Name: c.name, Type: c.type}));`, nil, &devices)
	if !slices.ContainsFunc(devices, func(d struct{ Name, Type string }) bool {
		return d.Name == "The syncctl device" && d.Type == "desktop"
	}) {
		t.Errorf("Firefox's device list: %+v", devices)
	}
}

// Scenario 7, send tab: Firefox ignores the clients engine's displayURI command ("unknown
// command"); it receives tabs as Firefox Accounts device commands. A tab syncctl sends that
// way reaches Firefox, which decrypts it with its own keys.
func TestATabSentFromSyncctlReachesFirefox(t *testing.T) {
	t.Parallel() // each test its own Firefox, profile, port and server
	e := newEnv(t)
	ff, sc := e.bothSynced("Receives tabs", "Sends tabs")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var target *fxa.Device
	for target == nil && ctx.Err() == nil {
		devices, err := e.fxaClient().Devices(ctx, sc.cr)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range devices {
			if _, ok := d.AvailableCommands[fxa.CommandOpenURI]; ok {
				target = &d
			}
		}
		if target == nil {
			time.Sleep(200 * time.Millisecond) // Firefox registers its device after signing in
		}
	}
	if target == nil {
		ff.fatalf("Firefox registered no device that receives tabs: %+v", e.fxa.Devices(email))
	}
	ff.run(`
Services.prefs.setStringPref("test.received", "[]");
Services.obs.addObserver({observe(subject) {
  const tabs = subject.wrappedJSObject.object;
  const got = JSON.parse(Services.prefs.getStringPref("test.received"));
  for (const tab of tabs) got.push({Title: tab.title, URI: tab.uri});
  Services.prefs.setStringPref("test.received", JSON.stringify(got));
}}, "fxaccounts:commands:open-uri");
return true;`, nil, nil)
	if err := e.fxaClient().SendTab(ctx, sc.cr, sc.syncKey, *target, "A tab from syncctl", "https://sent.example/tab?a=1"); err != nil {
		t.Fatal(err)
	}
	var got []struct{ Title, URI string }
	ff.run(`
const { getFxAccountsSingleton } = ChromeUtils.importESModule("resource://gre/modules/FxAccounts.sys.mjs");
await getFxAccountsSingleton().commands.pollDeviceCommands();
return JSON.parse(Services.prefs.getStringPref("test.received"));`, nil, &got)
	if len(got) != 1 || got[0].Title != "A tab from syncctl" || got[0].URI != "https://sent.example/tab?a=1" {
		t.Errorf("Firefox received %+v", got)
	}
}
