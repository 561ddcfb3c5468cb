package engine_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/engine"
	"github.com/syncctl/syncctl/internal/pgtest"
	"github.com/syncctl/syncctl/repository/sqlite"
	"github.com/syncctl/syncctl/server"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/wbo"
)

// The lifecycle harness: real embedded servers on 127.0.0.1, reached through the real
// storage client, that can be restarted, replaced by an empty node (a node
// reassignment), and made to fail a request on demand; and devices, each with its own
// SQLite store and session.

// lifecycleCollections are the engines every device syncs.
var lifecycleCollections = []string{"notes", "tasks"}

// lifecycleLimits keep the server's batch limit low, so imports cross it cheaply.
var lifecycleLimits = server.Limits{MaxTotalRecords: 1000}

// fault answers the next matching request itself.
type fault struct {
	method string // "" any
	coll   string // the storage collection ("" any)
	status int    // answer with this status…
	drop   bool   // …or drop the connection
	count  int
}

// node is one storage node: an embedded server at a fixed URL, restartable.
type node struct {
	t       testing.TB
	dir     string
	url     string
	hs      *httptest.Server
	srv     atomic.Pointer[server.Server]
	retired atomic.Bool // answers 401 to storage requests: its users moved
	now     func() time.Time

	mu     sync.Mutex
	faults []fault
	counts requestCounts
}

// requestCounts are what a node was asked, by kind.
type requestCounts struct {
	collectionGets int      // GETs of a collection or record (info/* not counted)
	gets           []string // their collections
	recordsServed  int      // records in those answers
	writes         int      // POST, PUT and DELETE of storage
}

const masterSecret = "lifecycle-master-secret"

func startNode(t testing.TB, now func() time.Time) *node {
	n := &node{t: t, dir: t.TempDir(), now: now}
	n.hs = httptest.NewServer(http.HandlerFunc(n.serve))
	n.url = n.hs.URL
	n.open()
	return n
}

func (n *node) close() {
	n.hs.Close()
	n.srv.Load().Close()
	os.RemoveAll(n.dir)
}

func (n *node) open() {
	srv, err := server.New(server.Options{DataDir: n.dir, Database: pgtest.For(n.t, n.dir), MasterSecret: masterSecret, PublicURL: n.url, Limits: lifecycleLimits, Now: n.now,
		Users: map[string]string{"alice": "alice-secret"}})
	if err != nil {
		n.t.Fatal(err)
	}
	n.srv.Store(srv)
}

// restart closes the server and opens it again on the same data.
func (n *node) restart() {
	old := n.srv.Load()
	old.Close()
	n.open()
}

func (n *node) inject(f fault) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.faults = append(n.faults, f)
}

func (n *node) clearFaults() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.faults = nil
}

func (n *node) takeCounts() requestCounts {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := n.counts
	n.counts = requestCounts{}
	return c
}

// storageCollection is the collection a storage request names ("" for info/* and others).
func storageCollection(path string) string {
	_, rest, ok := strings.Cut(path, "/storage/")
	if !ok {
		return ""
	}
	coll, _, _ := strings.Cut(rest, "/")
	return coll
}

func (n *node) serve(w http.ResponseWriter, r *http.Request) {
	isStorage := strings.HasPrefix(r.URL.Path, "/1.5/")
	if isStorage && n.retired.Load() {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	coll := storageCollection(r.URL.Path)
	n.mu.Lock()
	var hit *fault
	for i := range n.faults {
		f := &n.faults[i]
		if f.count > 0 && isStorage && (f.method == "" || f.method == r.Method) && (f.coll == "" || f.coll == coll) {
			f.count--
			hit = f
			break
		}
	}
	if isStorage && r.Method != http.MethodGet {
		n.counts.writes++
	}
	n.mu.Unlock()
	if hit != nil {
		if hit.drop {
			if hj, ok := w.(http.Hijacker); ok {
				conn, _, _ := hj.Hijack()
				conn.Close()
				return
			}
		}
		if hit.status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "0")
		}
		w.WriteHeader(hit.status)
		return
	}
	if isStorage && r.Method == http.MethodGet && coll != "" {
		rec := &headerPeek{ResponseWriter: w}
		n.srv.Load().Handler().ServeHTTP(rec, r)
		n.mu.Lock()
		n.counts.collectionGets++
		n.counts.gets = append(n.counts.gets, coll)
		n.counts.recordsServed += rec.records
		n.mu.Unlock()
		return
	}
	n.srv.Load().Handler().ServeHTTP(w, r)
}

// headerPeek reads X-Weave-Records (or counts one record for a single-record GET).
type headerPeek struct {
	http.ResponseWriter
	records int
	wrote   bool
}

func (h *headerPeek) WriteHeader(code int) {
	if !h.wrote {
		h.wrote = true
		if code == http.StatusOK {
			if v := h.Header().Get("X-Weave-Records"); v != "" {
				fmt.Sscan(v, &h.records)
			} else {
				h.records = 1
			}
		}
	}
	h.ResponseWriter.WriteHeader(code)
}

func (h *headerPeek) Write(b []byte) (int, error) {
	if !h.wrote {
		h.WriteHeader(http.StatusOK)
	}
	return h.ResponseWriter.Write(b)
}

// cluster is the token endpoint in front of the current node.
type cluster struct {
	t       testing.TB
	front   *httptest.Server
	mu      sync.Mutex
	nodes   []*node
	current *node
	now     func() time.Time
}

// startCluster starts a cluster of one node; now, if set, is the nodes' clock.
func startCluster(t testing.TB, now func() time.Time) *cluster {
	c := &cluster{t: t, now: now}
	c.current = startNode(t, now)
	c.nodes = []*node{c.current}
	c.front = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		n := c.current
		c.mu.Unlock()
		n.serve(w, r)
	}))
	t.Cleanup(c.close)
	return c
}

// close stops every node (a sequence ends with it, not only the whole test).
func (c *cluster) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.front == nil {
		return
	}
	c.front.Close()
	for _, n := range c.nodes {
		n.close()
	}
	c.front, c.nodes = nil, nil
}

func (c *cluster) node() *node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current
}

// reassign moves the user to a new, empty node; the old one answers 401 from now on.
func (c *cluster) reassign() {
	fresh := startNode(c.t, c.now)
	c.mu.Lock()
	old := c.current
	c.current = fresh
	c.nodes = append(c.nodes, fresh)
	c.mu.Unlock()
	old.retired.Store(true)
}

func (c *cluster) tokens() storage.TokenSource {
	return &storage.TokenServer{URL: c.front.URL, Bearer: func(context.Context) (string, error) { return "alice-secret", nil }}
}

// lifeDevice is one device of the account.
type lifeDevice struct {
	http    *http.Client
	mu      sync.Mutex
	uris    []string // displayURI commands received
	name    string
	db      *sqlite.DB
	session *engine.Session
	colls   map[string]*sqlite.Repository
}

func newLifeDevice(t testing.TB, c *cluster, dir, name string, logs io.Writer) *lifeDevice {
	db, err := sqlite.Open(filepath.Join(dir, name+".db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	d := &lifeDevice{name: name, db: db, colls: map[string]*sqlite.Repository{}, http: &http.Client{Transport: &http.Transport{}}}
	var engines []engine.Engine
	for _, coll := range lifecycleCollections {
		d.colls[coll] = db.Collection(coll)
		engines = append(engines, &engine.Collection{CollectionName: coll, FormatVersion: 1, Store: d.colls[coll]})
	}
	syncKey, _ := crypto.SyncKeyBundle(kB)
	log := zerolog.New(logs).Level(zerolog.DebugLevel).With().Str("device", name).Logger()
	d.session, err = engine.NewSession(engine.Options{Tokens: c.tokens(), SyncKey: syncKey, State: db,
		Engines: engine.NewRegistry(engines...), ClientName: name,
		OnDisplayURI: func(uri, _, _ string) { d.mu.Lock(); d.uris = append(d.uris, uri); d.mu.Unlock() }, HTTPClient: d.http, Logger: &log})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// close ends the device: its database and its connections.
func (d *lifeDevice) close() {
	d.db.Close()
	d.http.CloseIdleConnections()
}

// shown is the URIs other devices sent this one.
func (d *lifeDevice) shown() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.uris)
}

// records is every local record of a collection: id → cleartext.
func (d *lifeDevice) records(coll string) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := d.colls[coll].FetchSince(context.Background(), 0, func(r wbo.Record) error {
		out[r.ID] = r.Payload
		return nil
	})
	return out, err
}

// pending is the set of ids holding a local change not yet acknowledged (not the
// records a reset left to be checked against the server).
func (d *lifeDevice) pending(coll string) (map[string]bool, error) {
	ctx := context.Background()
	var ids []string
	if err := d.colls[coll].Changes(ctx, func(r wbo.Record) error {
		ids = append(ids, r.ID)
		return nil
	}); err != nil {
		return nil, err
	}
	tracked, err := d.colls[coll].Lookup(ctx, ids)
	out := map[string]bool{}
	for id, tr := range tracked {
		if tr.Changed {
			out[id] = true
		}
	}
	return out, err
}
