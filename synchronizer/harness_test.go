package synchronizer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/internal/servertest"
	"github.com/syncctl/syncctl/middleware"
	"github.com/syncctl/syncctl/repository/remote"
	"github.com/syncctl/syncctl/repository/sqlite"
	"github.com/syncctl/syncctl/server"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/synchronizer"
	"github.com/syncctl/syncctl/wbo"
)

// faults breaks POSTs on demand: failPost = n makes the n-th POST from now fail, with a
// 503 or, when drop is set, a dropped connection.
type faults struct {
	failPost atomic.Int32
	drop     atomic.Bool
}

func (f *faults) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" && f.failPost.Load() > 0 && f.failPost.Add(-1) == 0 {
			if f.drop.Load() {
				if hj, ok := w.(http.Hijacker); ok {
					conn, _, _ := hj.Hijack()
					conn.Close()
					return
				}
			}
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(503)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// device is one client: its own local database and a synchronizer for "notes".
type device struct {
	name  string
	db    *sqlite.DB
	notes *sqlite.Repository
	sync  *synchronizer.Synchronizer
}

func newDevice(t testing.TB, srv *servertest.Server, keys *crypto.Keys, name string, opts synchronizer.Options) *device {
	t.Helper()
	return newDeviceFor(t, srv, keys, name, "notes", opts)
}

// newDeviceFor is newDevice for another collection (its records still sit in d.notes).
func newDeviceFor(t testing.TB, srv *servertest.Server, keys *crypto.Keys, name, coll string, opts synchronizer.Options) *device {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), name+".db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	client := srv.Client("alice", storage.Options{MaxRetries: -1})
	opts.Local = db.Collection(coll)
	opts.Remote = middleware.NewCrypto(remote.New(remote.Options{Client: client, Collection: coll}), coll, keys, nil)
	opts.Key = coll
	return &device{name: name, db: db, notes: db.Collection(coll), sync: synchronizer.New(opts)}
}

func (d *device) write(t testing.TB, id string, fields map[string]any) {
	t.Helper()
	fields["id"] = id
	p, _ := json.Marshal(fields)
	if _, err := d.notes.Store(context.Background(), []wbo.Record{{ID: id, Payload: p}}); err != nil {
		t.Fatal(err)
	}
}

func (d *device) remove(t testing.TB, id string) {
	t.Helper()
	if _, err := d.notes.Store(context.Background(), []wbo.Record{wbo.Tombstone(id)}); err != nil {
		t.Fatal(err)
	}
}

// snapshot is id → cleartext of every local record, tombstones included.
func (d *device) snapshot(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err := d.notes.FetchSince(context.Background(), 0, func(r wbo.Record) error {
		out[r.ID] = canonical(r.Payload)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func canonical(p []byte) string {
	var v any
	if json.Unmarshal(p, &v) != nil {
		return string(p)
	}
	b, _ := json.Marshal(v) // sorted keys
	return string(b)
}

func (d *device) mustSync(t testing.TB) synchronizer.Result {
	t.Helper()
	res, err := d.sync.Sync(context.Background())
	if err != nil {
		t.Fatalf("%s: %v", d.name, err)
	}
	return res
}

func equalMaps(a, b map[string]string) (string, bool) {
	for k, v := range a {
		if b[k] != v {
			return fmt.Sprintf("%s: %s vs %s", k, v, b[k]), false
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			return fmt.Sprintf("%s only on one side", k), false
		}
	}
	return "", true
}

func setup(t testing.TB) (*servertest.Server, *crypto.Keys, *faults) {
	f := &faults{}
	srv := servertest.Start(t, server.Options{}, f.wrap)
	keys, err := crypto.GenerateKeys(nil)
	if err != nil {
		t.Fatal(err)
	}
	return srv, keys, f
}

// remoteOf is the encrypted notes collection of alice, for a second synchronizer.
func remoteOf(t testing.TB, srv *servertest.Server, keys *crypto.Keys) *middleware.Crypto {
	return remoteFor(t, srv, keys, "notes")
}

// remoteFor is alice's encrypted collection coll.
func remoteFor(_ testing.TB, srv *servertest.Server, keys *crypto.Keys, coll string) *middleware.Crypto {
	client := srv.Client("alice", storage.Options{MaxRetries: -1})
	return middleware.NewCrypto(remote.New(remote.Options{Client: client, Collection: coll}), coll, keys, nil)
}
