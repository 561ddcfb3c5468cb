package firefox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/firefox"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/wbo"
)

// serverRecords reads a collection as it is on the server, decrypted with the
// account's keys: id → cleartext. Every record must decrypt.
func (s *syncctl) serverRecords(coll string) map[string][]byte {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	keys := s.keys()
	out := map[string][]byte{}
	_, err := s.client.GetCollection(ctx, coll, storage.Query{Full: true}, func(r wbo.Record) error {
		if coll == "meta" {
			out[r.ID] = r.Payload
			return nil
		}
		clear, err := keys.For(coll).DecryptRecord(r)
		if err != nil {
			return fmt.Errorf("%s/%s does not decrypt: %w", coll, r.ID, err)
		}
		out[r.ID] = clear.Payload
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

func (s *syncctl) keys() *crypto.Keys {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rec, err := s.client.GetRecord(ctx, crypto.KeysCollection, crypto.KeysID)
	if err != nil {
		s.t.Fatal(err)
	}
	keys, err := crypto.DecryptKeys(rec, s.syncKey)
	if err != nil {
		s.t.Fatalf("crypto/keys: %v", err)
	}
	return keys
}

// memberDiff lists the members in which two JSON objects differ.
func memberDiff(a, b []byte) []string {
	var ma, mb map[string]any
	json.Unmarshal(a, &ma)
	json.Unmarshal(b, &mb)
	var out []string
	for k, va := range ma {
		if vb, ok := mb[k]; !ok || !reflect.DeepEqual(va, vb) {
			out = append(out, fmt.Sprintf("%s: %v → %v", k, va, mb[k]))
		}
	}
	for k, vb := range mb {
		if _, ok := ma[k]; !ok {
			out = append(out, fmt.Sprintf("%s: (none) → %v", k, vb))
		}
	}
	sort.Strings(out)
	return out
}

// roundTrip parses a cleartext into its firefox type and encodes it again.
func roundTrip(coll string, p []byte) ([]byte, error) {
	switch coll {
	case "bookmarks":
		return reencode[firefox.Bookmark](p)
	case "history":
		return reencode[firefox.History](p)
	case "passwords":
		return reencode[firefox.Login](p)
	case "forms":
		return reencode[firefox.FormEntry](p)
	case "tabs":
		return reencode[firefox.Tabs](p)
	case "prefs":
		return reencode[firefox.Prefs](p)
	case "addons":
		return reencode[firefox.Addon](p)
	}
	return nil, nil // no type of ours: checked as JSON only
}

func reencode[T any, P interface {
	*T
	firefox.Record
}](p []byte) ([]byte, error) {
	v, err := firefox.Parse[T, P](p)
	if err != nil {
		return nil, err
	}
	return firefox.Encode[P](v)
}

// Scenario 1: Firefox syncs first. syncctl reads every collection Firefox uploaded:
// every record decrypts and parses into syncctl's types, and encoding it again loses no
// member; syncctl's own sync of the account applies everything with no failure.
func TestFirefoxUploadsAndSyncctlReadsEveryCollectionWhole(t *testing.T) {
	t.Parallel() // each test its own Firefox, profile, port and server
	e := newEnv(t)
	ff := e.startFirefox("Firefox writes first")
	ff.run(`
const folder = await PlacesUtils.bookmarks.insert({parentGuid: PlacesUtils.bookmarks.toolbarGuid, type: PlacesUtils.bookmarks.TYPE_FOLDER, title: "Ünïcode folder"});
await PlacesUtils.bookmarks.insert({parentGuid: folder.guid, url: "https://example.org/a?x=1&y=2", title: "A \"quoted\" <title>"});
await PlacesUtils.bookmarks.insert({parentGuid: folder.guid, type: PlacesUtils.bookmarks.TYPE_SEPARATOR});
await PlacesUtils.bookmarks.insert({parentGuid: PlacesUtils.bookmarks.menuGuid, url: "place:sort=8&maxResults=10", title: "Most visited"});
await PlacesUtils.history.insert({url: "https://example.org/visited", title: "Visited page",
  visits: [{date: new Date(Date.now() - 3600000), transition: PlacesUtils.history.TRANSITIONS.LINK},
           {date: new Date(), transition: PlacesUtils.history.TRANSITIONS.TYPED}]});
await Services.logins.addLoginAsync(newLogin("https://login.example.org", "me", "p@ss w0rd"));
await FormHistory.update({op: "add", fieldname: "q", value: "a search"});
Services.prefs.setStringPref("browser.startup.homepage", "https://home.example.org");
return true;`, nil, nil)
	ff.signIn()
	ff.sync()

	sc := e.newSyncctl("syncctl reads")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	colls, _, err := sc.client.InfoCollections(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for c := range colls {
		names = append(names, c)
	}
	sort.Strings(names)
	t.Logf("Firefox uploaded: %v", names)
	for _, want := range []string{"meta", "crypto", "clients", "bookmarks", "history", "passwords", "forms", "prefs"} {
		if _, ok := colls[want]; !ok {
			t.Errorf("Firefox uploaded no %s", want)
		}
	}
	var meta struct {
		StorageVersion int                       `json:"storageVersion"`
		Engines        map[string]map[string]any `json:"engines"`
	}
	json.Unmarshal(sc.serverRecords("meta")["global"], &meta)
	if meta.StorageVersion != 5 || len(meta.Engines) == 0 {
		t.Errorf("meta/global: %+v", meta)
	}
	total := 0
	for _, coll := range names {
		if coll == "meta" || coll == "crypto" {
			continue
		}
		for id, p := range sc.serverRecords(coll) {
			total++
			if !json.Valid(p) {
				t.Errorf("%s/%s: not JSON", coll, id)
				continue
			}
			again, err := roundTrip(coll, p)
			if err != nil {
				t.Errorf("%s/%s does not parse: %v\n%s", coll, id, err, p)
				continue
			}
			if again != nil {
				if diff := memberDiff(p, again); len(diff) > 0 {
					t.Errorf("%s/%s loses members when encoded again:\n  %s", coll, id, strings.Join(diff, "\n  "))
				}
			}
		}
	}
	t.Logf("%d records decrypted, parsed and encoded again", total)
	wantContains := map[string]string{"bookmarks": "Ünïcode folder", "history": "https://example.org/visited",
		"passwords": "login.example.org", "forms": "a search", "prefs": "home.example.org"}
	for coll, s := range wantContains {
		found := false
		for _, p := range sc.serverRecords(coll) {
			found = found || strings.Contains(string(p), s)
		}
		if !found {
			t.Errorf("%s: no record holds %q", coll, s)
		}
	}

	res := sc.sync()
	for _, coll := range []string{"bookmarks", "history", "passwords", "forms", "prefs"} {
		if res.Engines[coll].Applied == 0 {
			t.Errorf("syncctl applied nothing of %s: %+v", coll, res.Engines[coll])
		}
	}
	if up := res.Engines["bookmarks"].Uploaded; up != 0 {
		t.Errorf("syncctl uploaded %d bookmarks after reading Firefox's tree: nothing needed repair", up)
	}
	if _, ok := sc.serverRecords("bookmarks")["places"]; ok {
		t.Error("syncctl uploaded a places root; Firefox keeps its roots local and deletes it")
	}
	// And Firefox, syncing again, finds nothing wrong with what syncctl did.
	ff.sync()
}
