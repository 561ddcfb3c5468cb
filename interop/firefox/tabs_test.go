package firefox_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/syncctl/syncctl/firefox"
)

// Firefox's open tabs reach syncctl: a tab opened in Firefox's window is in Firefox's
// tabs record, which syncctl parses into its type without losing a member.
func TestAnOpenFirefoxTabReachesSyncctl(t *testing.T) {
	t.Parallel() // each test its own Firefox, profile, port and server
	e := newEnv(t)
	ff := e.startFirefox("Firefox with tabs")
	page := e.syncURL + "/__heartbeat__" // a page on loopback: there is no other network
	ff.run(`
const win = Services.wm.getMostRecentWindow("navigator:browser");
const tab = win.gBrowser.addTab(args[0], {triggeringPrincipal: Services.scriptSecurityManager.getSystemPrincipal()});
win.gBrowser.selectedTab = tab;
for (let i = 0; i < 100 && tab.linkedBrowser.currentURI.spec != args[0]; i++) await new Promise(r => setTimeout(r, 100));
return tab.linkedBrowser.currentURI.spec;`, []any{page}, nil)
	ff.signIn()
	ff.sync()
	sc := e.newSyncctl("syncctl reads tabs")
	var urls []string
	for id, p := range sc.serverRecords("tabs") {
		tabs, err := firefox.Parse[firefox.Tabs](p)
		if err != nil {
			t.Fatalf("tabs/%s: %v", id, err)
		}
		again, _ := firefox.Encode(tabs)
		if diff := memberDiff(p, again); len(diff) > 0 {
			t.Errorf("tabs/%s loses members: %v", id, diff)
		}
		for _, tab := range tabs.Tabs {
			urls = append(urls, tab.URLHistory...)
		}
	}
	if !strings.Contains(strings.Join(urls, " "), page) {
		b, _ := json.Marshal(urls)
		t.Errorf("syncctl sees Firefox's tabs as %s; the open tab %s is not among them", b, page)
	}
}
