package synchronizer_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/middleware"
	"github.com/syncctl/syncctl/repository/memory"
	"github.com/syncctl/syncctl/repository/sqlite"
	"github.com/syncctl/syncctl/synchronizer"
	"github.com/syncctl/syncctl/wbo"
)

// Two devices sync a collection of their own through a shared repository: here an
// in-memory one standing in for the server, holding only ciphertext.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "synchronizer-example")
	defer os.RemoveAll(dir)

	keys, _ := crypto.GenerateKeys(nil) // the account's, shared by its devices
	server := memory.New(nil)
	device := func(name string) (*sqlite.Repository, *synchronizer.Synchronizer) {
		db, _ := sqlite.Open(filepath.Join(dir, name+".db"), nil)
		notes := db.Collection("notes") // a local store that tracks changes
		return notes, synchronizer.New(synchronizer.Options{
			Local:  notes,
			Remote: middleware.NewCrypto(server, "notes", keys, nil), // encrypts on the way
			Key:    "notes",
		})
	}
	laptop, laptopSync := device("laptop")
	phone, phoneSync := device("phone")

	laptop.Store(ctx, []wbo.Record{{ID: "n1", Payload: []byte(`{"id":"n1","text":"buy milk"}`)}})
	up, _ := laptopSync.Sync(ctx)
	down, _ := phoneSync.Sync(ctx)
	got, _, _ := phone.Get(ctx, "n1")
	fmt.Printf("laptop uploaded %d, phone applied %d: %s\n", up.Uploaded, down.Applied, got.Payload)
	// Output: laptop uploaded 1, phone applied 1: {"id":"n1","text":"buy milk"}
}
