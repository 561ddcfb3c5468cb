package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/syncctl/syncctl/internal/servertest"
	"github.com/syncctl/syncctl/repository/sqlite"
	"github.com/syncctl/syncctl/server"
	"github.com/syncctl/syncctl/wbo"
)

// The defects of issue 16 as a user met them, each a sequence of commands on two devices
// against `syncctl serve`'s server.

// localCount counts the live records a device keeps locally for a collection.
func (d *device) localCount(coll string) int {
	d.t.Helper()
	db, err := sqlite.Open(filepath.Join(d.home, "data", "syncctl", "default.db"), nil)
	if err != nil {
		d.t.Fatal(err)
	}
	defer db.Close()
	n := 0
	if err := db.Collection(coll).FetchSince(context.Background(), 0, func(r wbo.Record) error {
		if !wbo.IsTombstone(r.Payload) {
			n++
		}
		return nil
	}); err != nil {
		d.t.Fatal(err)
	}
	return n
}

func putHistory(d *device, n int) {
	for i := range n {
		d.ok("put", "history", fmt.Sprintf("hist%07d", i), fmt.Sprintf(`{"histUri":"https://example.org/%d","title":"page %d","visits":[{"date":1700000000000000,"type":1}]}`, i, i))
	}
}

// Defect 1: after a key rotation, B's wipe clears A's local copy at A's next sync; and a
// fresh start on B after a wipe does not make A upload the wiped records again.
func TestAWipeIsHonouredByTheOtherDeviceAfterAKeyRotationAndAFreshStart(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	a, b := newDevice(t), newDevice(t)
	key := a.login(srv, "alice", "")
	putHistory(a, 3)
	a.ok("sync")
	b.login(srv, "alice", key)
	b.ok("sync")
	a.ok("keys", "rotate", "--yes")
	a.ok("sync")
	b.ok("sync")
	if n := a.localCount("history"); n != 3 {
		t.Fatalf("a holds %d history records before the wipe", n)
	}

	b.ok("wipe", "history", "--yes")
	a.ok("sync")
	if n := a.localCount("history"); n != 0 {
		t.Errorf("a still holds %d history records after b's wipe and a sync", n)
	}

	putHistory(a, 2) // written on the server, then synced down by a
	a.ok("sync")
	b.ok("wipe", "history", "--yes")
	b.ok("fresh-start", "--yes")
	a.ok("sync")
	if out := a.ok("history", "ls"); strings.Contains(out, "example.org") {
		t.Errorf("after b's wipe and fresh start, a uploaded the wiped history again:\n%s", out)
	}
}

// Defect 4: two syncs of one profile at once no longer collide: the second waits for the
// first (and says so), and both succeed.
func TestTwoSyncsOfOneProfileAtOnceBothSucceed(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	a := newDevice(t)
	a.login(srv, "alice", "")
	for round := range 3 {
		putHistory(a, 20*(round+1))
		var wg sync.WaitGroup
		results := make([]result, 2)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = a.run("sync")
			}()
		}
		wg.Wait()
		for i, r := range results {
			if r.code != 0 {
				t.Errorf("round %d, sync %d: exit %d\n%s%s", round, i, r.code, r.stdout, r.stderr)
			}
		}
	}
}

// Defect 5: with a wrong saved secret, sync and status both fail with the
// authentication exit code (3), instead of sync succeeding on the cached token.
func TestAWrongSavedSecretFailsSyncAndStatus(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	a := newDevice(t)
	a.login(srv, "alice", "")
	a.ok("sync")
	path := filepath.Join(a.home, "config", "syncctl", "secrets.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]map[string]any
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatal(err)
	}
	all["default"]["secret"] = "not-alices-secret"
	b, _ = json.Marshal(all)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"sync"}, {"status"}} {
		if r := a.run(args...); r.code != 3 {
			t.Errorf("%v with a wrong secret: exit %d, want 3\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
}

// Found with Firefox: crypto/keys is encrypted with the sync key bundle, not a bulk key;
// `get crypto keys` opens it, and shows fingerprints, never the keys.
func TestGetCryptoKeysShowsFingerprints(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	a := newDevice(t)
	a.login(srv, "alice", "")
	out := a.ok("get", "crypto", "keys")
	keys := fingerprints(t, a)
	if !strings.Contains(out, keys["default bulk key"]) || strings.Contains(out, "[") {
		t.Errorf("get crypto keys:\n%s\nwant the default key's fingerprint %s and no key", out, keys["default bulk key"])
	}
}

// Found with Firefox: a bookmark id that is not a 12-character Places GUID makes Firefox
// re-id the item and delete the original. put refuses it clearly; the id new makes one.
func TestPutRefusesBookmarkIDsFirefoxWouldReplace(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	a := newDevice(t)
	a.login(srv, "alice", "")
	r := a.run("put", "bookmarks", "bm1", `{"type":"bookmark","bmkUri":"https://a.example"}`)
	if r.code != 2 || !strings.Contains(r.stderr, "12-character Places GUID") {
		t.Errorf("put with id bm1: exit %d, %s", r.code, r.stderr)
	}
	var put struct{ ID string }
	a.json(&put, "put", "bookmarks", "new", `{"type":"bookmark","bmkUri":"https://a.example","parentid":"unfiled"}`)
	if len(put.ID) != 12 {
		t.Errorf("put new made the id %q", put.ID)
	}
	a.ok("put", "history", "any-id-goes", `{"histUri":"https://a.example","visits":[{"date":1700000000000000,"type":1}]}`)
}
