package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/engine"
	"github.com/syncctl/syncctl/internal/servertest"
	"github.com/syncctl/syncctl/repository/sqlite"
	"github.com/syncctl/syncctl/server"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/wbo"
)

var kB = fixturesKB() // the account's key, shared by its devices

func fixturesKB() []byte {
	b := make([]byte, 32)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

type device struct {
	t       *testing.T
	db      *sqlite.DB
	notes   *sqlite.Repository
	session *engine.Session
	shown   []string // displayURI commands received
}

type deviceOpts struct {
	kB       []byte
	declined []string
	tokens   storage.TokenSource
}

func newDevice(t *testing.T, srv *servertest.Server, name string, o deviceOpts) *device {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), name+".db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if o.kB == nil {
		o.kB = kB
	}
	if o.tokens == nil {
		o.tokens = srv.Tokens("alice")
	}
	syncKey, _ := crypto.SyncKeyBundle(o.kB)
	d := &device{t: t, db: db, notes: db.Collection("notes")}
	reg := engine.NewRegistry(&engine.Collection{CollectionName: "notes", FormatVersion: 1, Store: d.notes})
	d.session, err = engine.NewSession(engine.Options{
		Tokens: o.tokens, SyncKey: syncKey, State: db, Engines: reg, ClientName: name, Declined: o.declined,
		OnDisplayURI: func(uri, sender, title string) { d.shown = append(d.shown, uri+"|"+title) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *device) write(id, text string) {
	d.t.Helper()
	p, _ := json.Marshal(map[string]string{"id": id, "text": text})
	if _, err := d.notes.Store(context.Background(), []wbo.Record{{ID: id, Payload: p}}); err != nil {
		d.t.Fatal(err)
	}
}

func (d *device) texts() map[string]string {
	d.t.Helper()
	out := map[string]string{}
	d.notes.FetchSince(context.Background(), 0, func(r wbo.Record) error {
		var n struct{ Text string }
		json.Unmarshal(r.Payload, &n)
		out[r.ID] = n.Text
		return nil
	})
	return out
}

func (d *device) sync() *engine.Result {
	d.t.Helper()
	res, err := d.session.Sync(context.Background())
	if err != nil {
		d.t.Fatalf("sync: %v (stages %v)", err, res.Stages)
	}
	for name, e := range res.Engines {
		if e.Err != nil {
			d.t.Fatalf("engine %s: %v", name, e.Err)
		}
	}
	return res
}

func raw(t *testing.T, srv *servertest.Server) *storage.Client {
	return srv.Client("alice", storage.Options{})
}

func sameMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestFirstSyncSetsTheAccountUpAndASecondDeviceJoins(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	a := newDevice(t, srv, "a", deviceOpts{})
	a.write("n1", "from a")
	res := a.sync()
	if !res.FreshStart || !slices.Contains(res.Stages, engine.StageFreshStart) {
		t.Errorf("first sync: %v", res.Stages)
	}
	if res.Engines["notes"].Uploaded != 1 {
		t.Errorf("uploaded %+v", res.Engines["notes"])
	}
	b := newDevice(t, srv, "b", deviceOpts{})
	res = b.sync()
	if res.FreshStart || b.texts()["n1"] != "from a" {
		t.Errorf("second device: %v %v", res.Stages, b.texts())
	}
	if len(res.Clients) != 1 || res.Clients[0].Name != "a" {
		t.Errorf("b sees clients %+v", res.Clients)
	}
	want := []string{engine.StagePreconditions, engine.StageClusterURL, engine.StageInfo, engine.StageMeta, engine.StageKeys, engine.StageClients, engine.StageEngines, engine.StageUploadMeta}
	if !slices.Equal(res.Stages, want) {
		t.Errorf("stages %v", res.Stages)
	}
}

func TestMissingKeysOrMetaGlobalMeanAFreshStart(t *testing.T) {
	t.Parallel()
	for _, coll := range []string{"crypto", "meta"} {
		t.Run("missing "+coll, func(t *testing.T) {
			srv := servertest.Start(t, server.Options{}, nil)
			a := newDevice(t, srv, "a", deviceOpts{})
			a.write("n1", "x")
			a.sync()
			if err := raw(t, srv).DeleteCollection(context.Background(), coll, nil); err != nil {
				t.Fatal(err)
			}
			res := a.sync()
			if !res.FreshStart || res.Engines["notes"].Uploaded != 1 {
				t.Errorf("%v %+v", res.Stages, res.Engines["notes"])
			}
			b := newDevice(t, srv, "b", deviceOpts{})
			b.sync()
			if b.texts()["n1"] != "x" {
				t.Errorf("data lost across the fresh start: %v", b.texts())
			}
		})
	}
}

func putMeta(t *testing.T, srv *servertest.Server, edit func(m map[string]any)) {
	c := raw(t, srv)
	rec, err := c.GetRecord(context.Background(), "meta", "global")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(rec.Payload, &m)
	edit(m)
	rec.Payload, _ = json.Marshal(m)
	if _, err := c.PutRecord(context.Background(), "meta", rec, nil); err != nil {
		t.Fatal(err)
	}
}

func TestANewerStorageVersionStopsTheClientWithoutWriting(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	a := newDevice(t, srv, "a", deviceOpts{})
	a.sync()
	putMeta(t, srv, func(m map[string]any) { m["storageVersion"] = 6 })
	before, _, _ := raw(t, srv).InfoCollections(context.Background(), 0)
	a.write("n1", "pending")
	_, err := a.session.Sync(context.Background())
	if !errors.Is(err, engine.ErrClientTooOld) || !strings.Contains(err.Error(), "upgrade") {
		t.Fatalf("err = %v", err)
	}
	after, _, _ := raw(t, srv).InfoCollections(context.Background(), 0)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("the server changed: %v → %v", before, after)
	}
}

func TestAnOlderStorageVersionMeansAFreshStart(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	a := newDevice(t, srv, "a", deviceOpts{})
	a.sync()
	putMeta(t, srv, func(m map[string]any) { m["storageVersion"] = 4 })
	if res := a.sync(); !res.FreshStart {
		t.Errorf("stages %v", res.Stages)
	}
}

func TestASyncIDChangeResetsEnginesAndTheyReconverge(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	a := newDevice(t, srv, "a", deviceOpts{})
	b := newDevice(t, srv, "b", deviceOpts{})
	a.write("n1", "one")
	a.sync()
	b.sync()
	b.write("n2", "two, only on b")
	// Someone else starts over: the server is wiped with a new syncID.
	raw(t, srv).DeleteAll(context.Background())
	c := newDevice(t, srv, "c", deviceOpts{})
	c.sync()
	res := b.sync() // new syncID: b resets and uploads all it has
	if res.Engines["notes"].Uploaded != 2 {
		t.Errorf("b after the reset: %+v", res.Engines["notes"])
	}
	a.sync()
	c.sync()
	if !sameMaps(a.texts(), b.texts()) || !sameMaps(b.texts(), c.texts()) || len(c.texts()) != 2 {
		t.Errorf("a %v b %v c %v", a.texts(), b.texts(), c.texts())
	}
}

func TestAWrongSyncKeyStopsClearlyAndOverwritesNothing(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	a := newDevice(t, srv, "a", deviceOpts{})
	a.sync()
	keysBefore, _ := raw(t, srv).GetRecord(context.Background(), "crypto", "keys")
	wrong := newDevice(t, srv, "wrong", deviceOpts{kB: make([]byte, 32)})
	_, err := wrong.session.Sync(context.Background())
	if !errors.Is(err, engine.ErrWrongSyncKey) {
		t.Fatalf("err = %v", err)
	}
	keysAfter, _ := raw(t, srv).GetRecord(context.Background(), "crypto", "keys")
	if keysAfter.Modified != keysBefore.Modified || string(keysAfter.Payload) != string(keysBefore.Payload) {
		t.Error("crypto/keys was overwritten")
	}
	a.sync() // the real key still works
}

func TestNodeReassignmentResetsAndReuploads(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	tokens := srv.Tokens("alice")
	tokens.KeyID = "1000-qqo"
	a := newDevice(t, srv, "a", deviceOpts{tokens: tokens})
	a.write("n1", "survives")
	a.sync()
	// The account's keys change elsewhere; the tokenserver now puts this user on fresh,
	// empty storage. Our old token meets a 401, the refreshed one names another node.
	tokens.KeyID = "2000-u7s"
	srv.InjectFault(server.Fault{PathPrefix: "/1.5/", Count: 1, Status: 401})
	_, err := a.session.Sync(context.Background())
	if !errors.Is(err, storage.ErrNodeReassigned) {
		t.Fatalf("err = %v", err)
	}
	res := a.sync()
	if !res.FreshStart || res.Engines["notes"].Uploaded != 1 {
		t.Errorf("after reassignment: %v %+v", res.Stages, res.Engines["notes"])
	}
}

func TestDeclinedEnginesAreSkippedAndRecorded(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	a := newDevice(t, srv, "a", deviceOpts{declined: []string{"notes"}})
	a.write("n1", "stays local")
	res := a.sync()
	if res.Engines["notes"].Skipped != "declined" {
		t.Errorf("%+v", res.Engines)
	}
	rec, _ := raw(t, srv).GetRecord(context.Background(), "meta", "global")
	if !strings.Contains(string(rec.Payload), `"declined":["notes"]`) {
		t.Errorf("meta/global %s", rec.Payload)
	}
	b := newDevice(t, srv, "b", deviceOpts{})
	if res := b.sync(); res.Engines["notes"].Skipped != "declined" {
		t.Errorf("another device must honour the account's declined list: %+v", res.Engines)
	}
}

func TestClientCommands(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T) (*device, *device) {
		srv := servertest.Start(t, server.Options{}, nil)
		a := newDevice(t, srv, "a", deviceOpts{})
		b := newDevice(t, srv, "b", deviceOpts{})
		a.write("shared", "on the server")
		a.sync()
		b.sync()
		a.write("localonly", "never uploaded") // pending on a
		return a, b
	}
	send := func(t *testing.T, from, to *device, cmd string, args ...string) {
		id, _ := to.session.ClientID(context.Background())
		if err := from.session.SendCommand(context.Background(), id, cmd, args...); err != nil {
			t.Fatal(err)
		}
		from.sync()
	}
	t.Run("wipeEngine deletes local data, then the server's comes back", func(t *testing.T) {
		a, b := setup(t)
		send(t, b, a, "wipeEngine", "notes")
		a.sync()
		if got := a.texts(); len(got) != 1 || got["shared"] != "on the server" {
			t.Errorf("%v", got)
		}
	})
	t.Run("wipeAll does the same for every engine", func(t *testing.T) {
		a, b := setup(t)
		send(t, b, a, "wipeAll")
		a.sync()
		if _, ok := a.texts()["localonly"]; ok {
			t.Error("wipeAll kept local data")
		}
	})
	for _, cmd := range []string{"resetEngine", "resetAll"} {
		t.Run(cmd+" keeps local data and uploads it", func(t *testing.T) {
			a, b := setup(t)
			if cmd == "resetEngine" {
				send(t, b, a, cmd, "notes")
			} else {
				send(t, b, a, cmd)
			}
			// The reset downloads everything again (the shared note is applied, found
			// equal, and not sent back) and uploads what only a had.
			res := a.sync()
			if e := res.Engines["notes"]; e.Applied != 1 || e.Uploaded != 1 || len(a.texts()) != 2 {
				t.Errorf("%+v %v", e, a.texts())
			}
			b.sync()
			if b.texts()["localonly"] != "never uploaded" {
				t.Errorf("b %v", b.texts())
			}
		})
	}
	t.Run("displayURI reaches the app", func(t *testing.T) {
		a, b := setup(t)
		bid, _ := b.session.ClientID(context.Background())
		send(t, b, a, "displayURI", "https://example.org", bid, "a page")
		a.sync()
		if !slices.Equal(a.shown, []string{"https://example.org|a page"}) {
			t.Errorf("%v", a.shown)
		}
		if res := a.sync(); len(a.shown) != 1 {
			t.Errorf("a command ran twice: %v %v", a.shown, res.Stages)
		}
	})
	t.Run("logout stops syncing until logged in again", func(t *testing.T) {
		a, b := setup(t)
		send(t, b, a, "logout")
		if _, err := a.session.Sync(context.Background()); !errors.Is(err, engine.ErrLoggedOut) {
			t.Fatalf("err = %v", err)
		}
		if _, err := a.session.Sync(context.Background()); !errors.Is(err, engine.ErrLoggedOut) {
			t.Errorf("second sync: %v", err)
		}
		a.session.LogIn(context.Background())
		a.sync()
	})
	t.Run("a command with the wrong arity is refused when sent", func(t *testing.T) {
		a, b := setup(t)
		id, _ := a.session.ClientID(context.Background())
		if err := b.session.SendCommand(context.Background(), id, "wipeEngine"); err == nil {
			t.Error("accepted")
		}
	})
}

func TestA401MidSyncStopsAndTheNextSyncStartsOver(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	a := newDevice(t, srv, "a", deviceOpts{})
	a.write("n1", "x")
	a.sync()
	srv.InjectFault(server.Fault{PathPrefix: "/1.5/1/storage/notes", Count: -1, Status: 401})
	a.write("n2", "y")
	_, err := a.session.Sync(context.Background())
	if !errors.Is(err, storage.ErrUnauthorized) {
		t.Fatalf("err = %v", err)
	}
	srv.ClearFaults()
	// Starting over: n1, long synced, is downloaded again; n2 goes up.
	res := a.sync()
	if e := res.Engines["notes"]; e.Applied != 1 || e.Uploaded != 1 {
		t.Errorf("after the 401 the engine should start over: %+v", e)
	}
}

func TestBackoffIsHonouredBetweenSyncs(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	a := newDevice(t, srv, "a", deviceOpts{})
	srv.InjectFault(server.Fault{PathPrefix: "/1.5/", Count: 1, Backoff: 3600})
	res := a.sync()
	if res.Backoff.IsZero() {
		t.Fatal("no backoff recorded")
	}
	_, err := a.session.Sync(context.Background())
	var be *storage.BackoffError
	if !errors.As(err, &be) {
		t.Errorf("err = %v", err)
	}
}

func TestThreeDevicesConverge(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	devs := []*device{newDevice(t, srv, "a", deviceOpts{}), newDevice(t, srv, "b", deviceOpts{}), newDevice(t, srv, "c", deviceOpts{})}
	for round := range 4 {
		for i, d := range devs {
			d.write(fmt.Sprintf("own-%d-%d", i, round), "x")
			d.write(fmt.Sprintf("shared-%d", round%2), fmt.Sprintf("%d wrote in round %d", i, round))
			d.sync()
		}
	}
	for range 2 {
		for _, d := range devs {
			d.sync()
		}
	}
	if !sameMaps(devs[0].texts(), devs[1].texts()) || !sameMaps(devs[1].texts(), devs[2].texts()) || len(devs[0].texts()) != 14 {
		t.Errorf("a %v\nb %v\nc %v", devs[0].texts(), devs[1].texts(), devs[2].texts())
	}
}

// The real token server's node assignment, end to end: a device syncs to the node it was
// given; the operator retires that node (takes it off the token server's list, and it
// answers 401); the device's next sync learns its new node from a fresh token, starts
// over there and uploads everything it has.
func TestARetiredNodeSendsItsUsersToANewNode(t *testing.T) {
	t.Parallel()
	const secret = "nodes"
	a := servertest.Start(t, server.Options{MasterSecret: secret}, nil)
	b := servertest.Start(t, server.Options{MasterSecret: secret}, nil)
	frontDir := t.TempDir()
	front := servertest.Start(t, server.Options{DataDir: frontDir, MasterSecret: secret, Nodes: []string{a.URL}}, nil)
	tokens := front.Tokens("alice")
	dev := newDevice(t, front, "a", deviceOpts{tokens: tokens})
	dev.write("n1", "survives the move")
	dev.sync()
	tok, err := tokens.Token(context.Background(), false)
	if err != nil || !strings.HasPrefix(tok.APIEndpoint, a.URL+"/") {
		t.Fatalf("the token's node: %q (%v), want %s", tok.APIEndpoint, err, a.URL)
	}

	moved := servertest.Start(t, server.Options{DataDir: frontDir, MasterSecret: secret, Nodes: []string{b.URL}}, nil)
	tokens.URL = moved.URL
	a.Retire()
	if _, err := dev.session.Sync(context.Background()); !errors.Is(err, storage.ErrNodeReassigned) {
		t.Fatalf("the first sync after the move: %v, want ErrNodeReassigned", err)
	}
	res := dev.sync()
	if !res.FreshStart || res.Engines["notes"].Uploaded != 1 {
		t.Fatalf("on the new node: %v %+v", res.Stages, res.Engines["notes"])
	}
	onB := storage.New(storage.Options{Tokens: tokens})
	var ids []string
	if _, err := onB.GetCollection(context.Background(), "notes", storage.Query{}, func(r wbo.Record) error {
		ids = append(ids, r.ID)
		return nil
	}); err != nil || len(ids) != 1 || ids[0] != "n1" {
		t.Fatalf("notes on the new node: %v %v", ids, err)
	}
	if tok, _ := tokens.Token(context.Background(), false); !strings.HasPrefix(tok.APIEndpoint, b.URL+"/") {
		t.Fatalf("the new token's node: %q, want %s", tok.APIEndpoint, b.URL)
	}
}
