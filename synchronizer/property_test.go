package synchronizer_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"path/filepath"
	"testing"

	"pgregory.net/rapid"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/internal/servertest"
	"github.com/syncctl/syncctl/middleware"
	"github.com/syncctl/syncctl/repository/remote"
	"github.com/syncctl/syncctl/repository/sqlite"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/synchronizer"
	"github.com/syncctl/syncctl/wbo"
)

// TestDevicesConvergeUnderRandomEditsAndFaults: three devices make random creates,
// updates and deletes (some records belong to one device, some are shared), sync in a
// random order while POSTs randomly fail with a 503 or a dropped connection. Once the
// faults stop and everyone syncs until nothing moves, all three hold the same records,
// and every record only one device wrote holds that device's last write.
func TestDevicesConvergeUnderRandomEditsAndFaults(t *testing.T) {
	t.Parallel()
	if f := flag.Lookup("rapid.checks"); f != nil && f.Value.String() == "100" {
		f.Value.Set("25") // each check runs a real server; 25 keep the suite quick
	}
	srv, keys, faults := setup(t)
	dir := t.TempDir()
	run := 0
	rapid.Check(t, func(rt *rapid.T) {
		run++
		coll := fmt.Sprintf("prop%d", run)
		devs := make([]*propDevice, 3)
		for i := range devs {
			devs[i] = newPropDevice(rt, srv, keys, filepath.Join(dir, fmt.Sprintf("%s-%d.db", coll, i)), coll)
			defer devs[i].db.Close()
		}
		lastOwned := map[string]int{} // owned id → the owner's last value
		steps := rapid.IntRange(5, 40).Draw(rt, "steps")
		for step := range steps {
			d := rapid.IntRange(0, 2).Draw(rt, "device")
			switch rapid.IntRange(0, 3).Draw(rt, "op") {
			case 0: // write a record only this device touches
				id := fmt.Sprintf("own%d-%d", d, rapid.IntRange(0, 2).Draw(rt, "k"))
				devs[d].write(rt, id, step)
				lastOwned[id] = step
			case 1: // write a shared record
				devs[d].write(rt, fmt.Sprintf("shared%d", rapid.IntRange(0, 3).Draw(rt, "k")), step)
			case 2: // delete a shared record
				devs[d].remove(rt, fmt.Sprintf("shared%d", rapid.IntRange(0, 3).Draw(rt, "k")))
			case 3: // sync, maybe with a fault in the middle of the upload
				if fault := rapid.IntRange(0, 3).Draw(rt, "fault"); fault > 0 {
					faults.drop.Store(fault == 3)
					faults.failPost.Store(int32(rapid.IntRange(1, 3).Draw(rt, "nth")))
				}
				devs[d].sync.Sync(context.Background()) // errors are the faults'
				faults.failPost.Store(0)
			}
		}
		faults.failPost.Store(0)
		for round := 0; ; round++ {
			moved := 0
			for _, d := range devs {
				res, err := d.sync.Sync(context.Background())
				if err != nil {
					rt.Fatalf("round %d: %v", round, err)
				}
				moved += res.Applied + res.Uploaded
			}
			if moved == 0 {
				break
			}
			if round > 6 {
				rt.Fatalf("not quiescent after %d rounds", round)
			}
		}
		first := devs[0].snapshot(rt)
		for _, d := range devs[1:] {
			if diff, ok := equalMaps(first, d.snapshot(rt)); !ok {
				rt.Fatalf("devices differ: %s", diff)
			}
		}
		for id, v := range lastOwned {
			var got struct{ V int }
			if err := json.Unmarshal([]byte(first[id]), &got); err != nil || got.V != v {
				rt.Fatalf("%s = %s, its only writer last wrote %d", id, first[id], v)
			}
		}
	})
}

type propDevice struct {
	db    *sqlite.DB
	notes *sqlite.Repository
	sync  *synchronizer.Synchronizer
}

func newPropDevice(rt *rapid.T, srv *servertest.Server, keys *crypto.Keys, path, coll string) *propDevice {
	db, err := sqlite.Open(path, nil)
	if err != nil {
		rt.Fatal(err)
	}
	client := srv.Client("alice", storage.Options{MaxRetries: -1})
	notes := db.Collection(coll)
	s := synchronizer.New(synchronizer.Options{
		Local:  notes,
		Remote: middleware.NewCrypto(remote.New(remote.Options{Client: client, Collection: coll, MaxPostRecords: 3}), coll, keys, nil),
		Key:    coll,
	})
	return &propDevice{db: db, notes: notes, sync: s}
}

func (d *propDevice) write(rt *rapid.T, id string, v int) {
	p, _ := json.Marshal(map[string]any{"id": id, "v": v})
	if _, err := d.notes.Store(context.Background(), []wbo.Record{{ID: id, Payload: p}}); err != nil {
		rt.Fatal(err)
	}
}

func (d *propDevice) remove(rt *rapid.T, id string) {
	if _, err := d.notes.Store(context.Background(), []wbo.Record{wbo.Tombstone(id)}); err != nil {
		rt.Fatal(err)
	}
}

func (d *propDevice) snapshot(rt *rapid.T) map[string]string {
	out := map[string]string{}
	if err := d.notes.FetchSince(context.Background(), 0, func(r wbo.Record) error {
		out[r.ID] = canonical(r.Payload)
		return nil
	}); err != nil {
		rt.Fatal(err)
	}
	return out
}
