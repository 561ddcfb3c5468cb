package offline_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/offline"
	"github.com/syncctl/syncctl/server"
	"github.com/syncctl/syncctl/storage"
)

// Two devices edit different fields of one record, each offline; once both have synced,
// both edits are on both.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "offline-example")
	defer os.RemoveAll(dir)
	srv, _ := server.New(server.Options{DataDir: filepath.Join(dir, "server"), Users: map[string]string{"alice": "alice-secret"}})
	defer srv.Close()
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	secret := func(context.Context) (string, error) { return "alice-secret", nil }
	keys, _ := crypto.GenerateKeys(nil) // the account's crypto/keys
	device := func(name string) (*offline.Store, *offline.Loop) {
		client := storage.New(storage.Options{Tokens: &storage.TokenServer{URL: hs.URL, Bearer: secret}})
		st, _ := offline.Open(filepath.Join(dir, name+".db"))
		loop := offline.NewLoop(offline.Options{Store: st, Client: client, Collections: []string{"notes"},
			Keys: func(context.Context) (*crypto.Keys, error) { return keys, nil }})
		return st, loop // loop.Start(ctx) keeps it in sync; Stop(), Notify(), Events(), Status()
	}
	laptop, laptopLoop := device("laptop")
	defer laptop.Close()
	phone, phoneLoop := device("phone")
	defer phone.Close()

	laptop.Set(ctx, "notes", "n1", map[string]any{"title": "shopping", "text": "milk"})
	laptopLoop.SyncOnce(ctx)
	phoneLoop.SyncOnce(ctx)
	laptop.Set(ctx, "notes", "n1", map[string]any{"title": "Shopping", "text": "milk"}) // offline
	phone.Set(ctx, "notes", "n1", map[string]any{"title": "shopping", "text": "eggs"})  // offline
	laptopLoop.SyncOnce(ctx)
	phoneLoop.SyncOnce(ctx)
	laptopLoop.SyncOnce(ctx)
	for _, st := range []*offline.Store{laptop, phone} {
		n1, _, _ := st.Get(ctx, "notes", "n1")
		fmt.Println(string(n1["title"]), string(n1["text"]))
	}
	// Output:
	// "Shopping" "eggs"
	// "Shopping" "eggs"
}
