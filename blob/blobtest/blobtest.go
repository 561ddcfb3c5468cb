// Package blobtest is the test rig of the blob and dirsync tests: the real embedded
// server on 127.0.0.1, with request counters, and one account's keys; each device opens
// its own blob store.
package blobtest

import (
	"context"
	"crypto/rand"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncctl/syncctl/blob"
	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/internal/servertest"
	"github.com/syncctl/syncctl/server"
	"github.com/syncctl/syncctl/storage"
)

// Rig is one server and an account's keys.
type Rig struct {
	Srv  *servertest.Server
	Keys *crypto.Keys
	// InFlight is the requests being served now, PeakInFlight the most at once;
	// Writes counts POST and PUT requests.
	InFlight, PeakInFlight, Writes atomic.Int32
}

// SmallRecords is the limits of a server whose records hold at most 16 KB, so that a
// blob of a few hundred KB spans tens of chunks.
func SmallRecords() server.Limits { return server.Limits{MaxRecordPayloadBytes: 16 << 10} }

// New starts a server with limits and makes the account's keys.
func New(t testing.TB, limits server.Limits) *Rig {
	t.Helper()
	return NewWith(t, server.Options{Limits: limits})
}

// NewWith is New with the server's options (a quota, say).
func NewWith(t testing.TB, opts server.Options) *Rig {
	t.Helper()
	r := &Rig{}
	r.Srv = servertest.Start(t, opts, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			n := r.InFlight.Add(1)
			defer r.InFlight.Add(-1)
			for p := r.PeakInFlight.Load(); n > p && !r.PeakInFlight.CompareAndSwap(p, n); p = r.PeakInFlight.Load() {
			}
			if req.Method == http.MethodPost || req.Method == http.MethodPut {
				r.Writes.Add(1)
			}
			h.ServeHTTP(w, req)
		})
	})
	k, err := crypto.GenerateKeys(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	r.Keys = k
	return r
}

// Client is a storage client of the account that retries without sleeping.
func (r *Rig) Client() *storage.Client {
	return r.Srv.Client("alice", storage.Options{Sleep: func(context.Context, time.Duration) error { return nil }})
}

// Store opens a device's blob store in a temporary directory, closed when t ends.
func (r *Rig) Store(t testing.TB) *blob.Store {
	t.Helper()
	st, err := blob.Open(t.TempDir(), r.Keys.For("blobs"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
