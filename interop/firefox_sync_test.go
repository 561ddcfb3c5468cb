package interop_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/engine"
	"github.com/syncctl/syncctl/internal/servertest"
	"github.com/syncctl/syncctl/repository/sqlite"
	"github.com/syncctl/syncctl/server"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/wbo"
)

// written is what syncctl uploads: a record of each shape, with unusual characters.
var written = map[string][]string{
	"bookmarks": {
		`{"id":"menu","type":"folder","title":"Bookmarks Menu","parentid":"places","children":["bmk1aaaaaaaa","sep1aaaaaaaa"]}`,
		`{"id":"bmk1aaaaaaaa","type":"bookmark","title":"Ünïcode & \"quotes\" <tags>","bmkUri":"https://example.org/?a=1&b=2","tags":["x"],"parentid":"menu","dateAdded":1326254123650}`,
		`{"id":"sep1aaaaaaaa","type":"separator","pos":1,"parentid":"menu"}`,
	},
	"passwords": {`{"id":"{4f1a2b3c-0000-1111-2222-333344445555}","hostname":"https://example.org","formSubmitURL":"https://example.org","httpRealm":null,"username":"u","password":"p\\\\w\"","usernameField":"user","passwordField":"pass","timeCreated":1,"timePasswordChanged":2}`},
	"history":   {`{"id":"hist1aaaaaaa","histUri":"https://example.org/page","title":"A page","visits":[{"date":1319149012372425,"type":1},{"date":1319149012372426,"type":2}]}`},
}

func TestFirefoxSyncNpmReadsWhatSyncctlWritesAndTheReverse(t *testing.T) {
	requireNode(t, true)
	srv := servertest.Start(t, server.Options{}, nil)
	kB := make([]byte, 32)
	rand.Read(kB)
	syncKey, _ := crypto.SyncKeyBundle(kB)
	kid := crypto.KeyID(1, kB)
	tokens := srv.Tokens("alice")
	tokens.KeyID = kid
	ctx := context.Background()

	// syncctl: one device's session, generic engines over a local store.
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "local.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	reg := engine.NewRegistry()
	for coll, recs := range written {
		reg.Register(&engine.Collection{CollectionName: coll, FormatVersion: 1, Store: db.Collection(coll)})
		var in []wbo.Record
		for _, p := range recs {
			var m map[string]any
			json.Unmarshal([]byte(p), &m)
			in = append(in, wbo.Record{ID: m["id"].(string), Payload: []byte(p)})
		}
		if _, err := db.Collection(coll).Store(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	session, _ := engine.NewSession(engine.Options{Tokens: tokens, SyncKey: syncKey, State: db, Engines: reg})
	if _, err := session.Sync(ctx); err != nil {
		t.Fatal(err)
	}

	enc := base64.StdEncoding.EncodeToString(syncKey.EncryptionKey())
	mac := base64.StdEncoding.EncodeToString(syncKey.HMACKey())
	out := node(t, "firefox_sync_client.mjs", "read", srv.URL, "alice-secret", enc, mac, kid, "bookmarks", "passwords", "history")
	var got map[string][]map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for coll, recs := range written {
		want := map[string]map[string]any{}
		for _, p := range recs {
			var m map[string]any
			json.Unmarshal([]byte(p), &m)
			want[m["id"].(string)] = m
		}
		if len(got[coll]) != len(want) {
			t.Errorf("%s: firefox-sync read %d records, syncctl wrote %d", coll, len(got[coll]), len(want))
		}
		for _, g := range got[coll] {
			if !reflect.DeepEqual(g, want[g["id"].(string)]) {
				t.Errorf("%s/%v: firefox-sync read %v\nsyncctl wrote %v", coll, g["id"], g, want[g["id"].(string)])
			}
		}
	}

	// The reverse: records encrypted by firefox-sync's own code, decrypted by syncctl.
	forms := `[{"id":"form1aaaaaaa","name":"q","value":"search ünïcode"},{"id":"form2aaaaaaa","name":"email","value":"a@b.c"}]`
	if out := node(t, "firefox_sync_client.mjs", "write", srv.URL, "alice-secret", enc, mac, kid, "forms", forms); out != "ok 2" {
		t.Fatalf("write: %s", out)
	}
	client := storage.New(storage.Options{Tokens: tokens})
	rec, err := client.GetRecord(ctx, crypto.KeysCollection, crypto.KeysID)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := crypto.DecryptKeys(rec, syncKey)
	if err != nil {
		t.Fatal(err)
	}
	var wantForms []map[string]any
	json.Unmarshal([]byte(forms), &wantForms)
	for _, w := range wantForms {
		raw, err := client.GetRecord(ctx, "forms", w["id"].(string))
		if err != nil {
			t.Fatal(err)
		}
		clear, err := keys.For("forms").DecryptRecord(raw)
		if err != nil {
			t.Fatalf("syncctl cannot read firefox-sync's record: %v", err)
		}
		var g map[string]any
		json.Unmarshal(clear.Payload, &g)
		if !reflect.DeepEqual(g, w) {
			t.Errorf("syncctl read %v, firefox-sync wrote %v", g, w)
		}
	}
	t.Logf("firefox-sync read %d collections written by syncctl; syncctl read %d records written by firefox-sync", len(written), len(wantForms))
}
