// Command notes is a small notes app that syncs through syncctl's framework: how to
// build a custom engine. Its records are {"id","text","created"}; a note deleted on one
// device is deleted on all; two devices editing one note merge field by field.
//
//	notes -db a.db -server http://127.0.0.1:8000 -secret S -key HEX add "buy milk"
//	notes -db a.db ... list
//	notes -db a.db ... sync
//	notes -db a.db ... rm ID
package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/engine"
	"github.com/syncctl/syncctl/repository/sqlite"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/wbo"
)

// note is the engine's cleartext record.
type note struct {
	ID      string `json:"id"`
	Text    string `json:"text"`
	Created int64  `json:"created"`
	Deleted bool   `json:"deleted,omitempty"`
}

func main() {
	db := flag.String("db", "notes.db", "local database")
	server := flag.String("server", "http://127.0.0.1:8000", "sync server (its token endpoint)")
	secret := flag.String("secret", "", "your secret on that server")
	key := flag.String("key", "", "the account's key, 64 hex digits (the same on every device)")
	flag.Parse()
	if err := run(*db, *server, *secret, *key, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "notes:", err)
		os.Exit(1)
	}
}

func run(dbPath, server, secret, key string, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: notes [flags] add TEXT | list | rm ID | sync")
	}
	ctx := context.Background()
	db, err := sqlite.Open(dbPath, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	notes := db.Collection("notes")

	switch args[0] {
	case "add":
		n := note{ID: wbo.NewGUID(nil), Text: strings.Join(args[1:], " "), Created: time.Now().Unix()}
		p, _ := json.Marshal(n)
		_, err := notes.Store(ctx, []wbo.Record{{ID: n.ID, Payload: p}})
		fmt.Println(n.ID)
		return err
	case "rm":
		_, err := notes.Store(ctx, []wbo.Record{wbo.Tombstone(args[1])})
		return err
	case "list":
		return notes.FetchSince(ctx, 0, func(r wbo.Record) error {
			var n note
			// Another app's record in the collection is not a note: not listed.
			if json.Unmarshal(r.Payload, &n) == nil && !n.Deleted {
				fmt.Printf("%s  %s\n", n.ID, n.Text)
			}
			return nil
		})
	case "sync":
		kB, err := hex.DecodeString(key)
		if err != nil {
			return fmt.Errorf("-key: %w", err)
		}
		syncKey, err := crypto.SyncKeyBundle(kB)
		if err != nil {
			return err
		}
		// The custom engine: a collection, its local store, its format version.
		reg := engine.NewRegistry(&engine.Collection{CollectionName: "notes", FormatVersion: 1, Store: notes})
		session, err := engine.NewSession(engine.Options{
			Tokens:  &storage.TokenServer{URL: server, Bearer: func(context.Context) (string, error) { return secret, nil }},
			SyncKey: syncKey, State: db, Engines: reg, ClientName: "notes example",
		})
		if err != nil {
			return err
		}
		res, err := session.Sync(ctx)
		if err != nil {
			return err
		}
		r := res.Engines["notes"]
		fmt.Printf("synced: %d in, %d out\n", r.Applied, r.Uploaded)
		return r.Err
	}
	return fmt.Errorf("unknown command %q", args[0])
}
