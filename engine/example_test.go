package engine_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/engine"
	"github.com/syncctl/syncctl/repository/sqlite"
	"github.com/syncctl/syncctl/server"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/wbo"
)

// A custom engine: a collection of your own, synced the way Firefox syncs its own, here
// with the embedded server on 127.0.0.1 (syncctl serve).
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "engine-example")
	defer os.RemoveAll(dir)
	srv, _ := server.New(server.Options{DataDir: filepath.Join(dir, "server"), Users: map[string]string{"alice": "alice-secret"}})
	defer srv.Close()
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	secret := func(context.Context) (string, error) { return "alice-secret", nil }
	kB := make([]byte, 32) // the account's key, from Firefox Accounts

	db, _ := sqlite.Open(filepath.Join(dir, "notes.db"), nil)
	defer db.Close()
	notes := db.Collection("notes") // local store with a change tracker
	notes.Store(ctx, []wbo.Record{{ID: "n1", Payload: []byte(`{"id":"n1","text":"hi"}`)}})

	reg := engine.NewRegistry(&engine.Collection{CollectionName: "notes", FormatVersion: 1, Store: notes})
	syncKey, _ := crypto.SyncKeyBundle(kB)
	session, _ := engine.NewSession(engine.Options{
		Tokens:  &storage.TokenServer{URL: hs.URL, Bearer: secret},
		SyncKey: syncKey, State: db, Engines: reg,
	})
	res, err := session.Sync(ctx) // res.Engines["notes"]: applied, uploaded, …
	fmt.Println(res.FreshStart, res.Engines["notes"].Uploaded, err)
	// Output: true 1 <nil>
}
