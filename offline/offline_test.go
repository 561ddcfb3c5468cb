package offline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/internal/servertest"
	"github.com/syncctl/syncctl/offline"
	"github.com/syncctl/syncctl/server"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/wbo"
)

// fakeClock moves only when told; After channels fire when it passes their time.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// network is a device's connection: when down, every request fails as with no network.
type network struct{ down atomic.Bool }

var errOffline = errors.New("network is down")

func (n *network) RoundTrip(r *http.Request) (*http.Response, error) {
	if n.down.Load() {
		return nil, errOffline
	}
	return http.DefaultTransport.RoundTrip(r)
}

type device struct {
	store *offline.Store
	loop  *offline.Loop
	net   *network
}

var keys, _ = crypto.GenerateKeys(nil)

func newDevice(t *testing.T, srv *servertest.Server, net *network, clock offline.Clock) *device {
	t.Helper()
	st, err := offline.Open(filepath.Join(t.TempDir(), "offline.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// One quick retry, as a real client has: a connection cut during an outage is retried.
	client := srv.Client("alice", storage.Options{MaxRetries: 1, RetryBase: time.Millisecond, HTTPClient: &http.Client{Transport: net}})
	l := offline.NewLoop(offline.Options{
		Store: st, Client: client, Collections: []string{"notes"}, Clock: clock, WatchEvery: -1, // the events in exact order
		Keys: func(context.Context) (*crypto.Keys, error) { return keys, nil },
	})
	return &device{store: st, loop: l, net: net}
}

func (d *device) set(t *testing.T, id string, fields map[string]any) {
	t.Helper()
	if err := d.store.Set(context.Background(), "notes", id, fields); err != nil {
		t.Fatal(err)
	}
}

func (d *device) list(t *testing.T) string {
	t.Helper()
	m, err := d.store.List(context.Background(), "notes")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func (d *device) syncNow(t *testing.T) {
	t.Helper()
	if err := d.loop.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func next(t *testing.T, l *offline.Loop) offline.Event {
	t.Helper()
	select {
	case e := <-l.Events():
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
	return offline.Event{}
}

func expect(t *testing.T, l *offline.Loop, kind string, pause time.Duration) offline.Event {
	t.Helper()
	e := next(t, l)
	if e.Kind != kind || (pause >= 0 && e.Pause != pause) {
		t.Fatalf("event %+v, want %s with pause %v", e, kind, pause)
	}
	return e
}

func TestThePauseScheduleAndWakingOnALocalWrite(t *testing.T) {
	t.Parallel()
	net := &network{}
	srv := servertest.Start(t, server.Options{}, nil)
	clock := &fakeClock{now: time.Now()}
	a := newDevice(t, srv, net, clock)
	a.loop.Start(context.Background())
	defer a.loop.Stop()

	expect(t, a.loop, "idle", 60*time.Second)    // nothing to do: 60 s
	a.set(t, "n1", map[string]any{"text": "hi"}) // a local write wakes it at once
	expect(t, a.loop, "uploaded", 0)
	expect(t, a.loop, "idle", 60*time.Second) // no pause after work, then idle again

	net.down.Store(true)
	clock.Advance(60 * time.Second)
	expect(t, a.loop, "error", 5*time.Second) // a network failure: 5 s
	clock.Advance(5 * time.Second)
	expect(t, a.loop, "error", 5*time.Second)
	net.down.Store(false)
	clock.Advance(5 * time.Second)
	expect(t, a.loop, "idle", 60*time.Second)

	st := a.loop.Status()
	if st.State != "waiting" || st.Pending != 0 || st.LastError != "" {
		t.Errorf("status %+v", st)
	}
}

func TestTheServersBackoffWins(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	clock := &fakeClock{now: time.Now()}
	a := newDevice(t, srv, &network{}, clock)
	srv.InjectFault(server.Fault{PathPrefix: "/1.5/", Count: 1, Backoff: 600})
	a.loop.Start(context.Background())
	defer a.loop.Stop()
	e := next(t, a.loop)
	if e.Pause < 590*time.Second {
		t.Errorf("pause %v under a 600 s backoff", e.Pause)
	}
}

func TestADeviceOfflineForManyEditsConvergesAfterReconnecting(t *testing.T) {
	t.Parallel()
	net := &network{}
	srv := servertest.Start(t, server.Options{}, nil)
	clock := &fakeClock{now: time.Now()}
	a, b := newDevice(t, srv, net, clock), newDevice(t, srv, &network{}, clock)
	a.set(t, "shared", map[string]any{"v": 0})
	a.syncNow(t)
	b.syncNow(t)

	net.down.Store(true) // a goes offline
	for i := range 60 {
		a.set(t, fmt.Sprintf("a%02d", i), map[string]any{"i": i})
		if i%10 == 0 {
			a.set(t, "shared", map[string]any{"v": i, "by": "a"})
		}
	}
	a.store.Remove(context.Background(), "notes", "a05")
	if err := a.loop.SyncOnce(context.Background()); err == nil {
		t.Fatal("synced while offline")
	}
	b.set(t, "b1", map[string]any{"from": "b"})
	b.syncNow(t)

	net.down.Store(false)
	a.syncNow(t)
	b.syncNow(t)
	if a.list(t) != b.list(t) {
		t.Errorf("a %s\nb %s", a.list(t), b.list(t))
	}
	if n, _ := a.store.Pending(context.Background()); n != 0 {
		t.Errorf("%d operations still pending", n)
	}
}

func TestTwoDevicesEditingDifferentFieldsBothKeepTheirChange(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	clock := &fakeClock{now: time.Now()}
	a, b := newDevice(t, srv, &network{}, clock), newDevice(t, srv, &network{}, clock)
	a.set(t, "n", map[string]any{"title": "t", "body": "b", "tag": "x"})
	a.syncNow(t)
	b.syncNow(t)
	a.set(t, "n", map[string]any{"title": "title from a", "body": "b", "tag": "x"})
	b.set(t, "n", map[string]any{"title": "t", "body": "body from b", "tag": "y"})
	a.syncNow(t)
	b.syncNow(t)
	a.syncNow(t)
	want := `{"n":{"body":"body from b","tag":"y","title":"title from a"}}`
	if a.list(t) != want || b.list(t) != want {
		t.Errorf("a %s\nb %s", a.list(t), b.list(t))
	}
	// The same field on both: the later write to reach the server wins, on both.
	a.set(t, "n", map[string]any{"title": "A", "body": "body from b", "tag": "y"})
	b.set(t, "n", map[string]any{"title": "B", "body": "body from b", "tag": "y"})
	a.syncNow(t)
	b.syncNow(t)
	a.syncNow(t)
	if a.list(t) != b.list(t) || !json.Valid([]byte(a.list(t))) {
		t.Errorf("a %s\nb %s", a.list(t), b.list(t))
	}
	var got map[string]map[string]string
	json.Unmarshal([]byte(a.list(t)), &got)
	if got["n"]["title"] != "B" {
		t.Errorf("title %q, want b's (uploaded last)", got["n"]["title"])
	}
}

func TestRemoveAgainstUpdateLeavesTheRecordRemovedInEitherOrder(t *testing.T) {
	t.Parallel()
	for _, removerFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("remover uploads first: %v", removerFirst), func(t *testing.T) {
			srv := servertest.Start(t, server.Options{}, nil)
			clock := &fakeClock{now: time.Now()}
			a, b := newDevice(t, srv, &network{}, clock), newDevice(t, srv, &network{}, clock)
			a.set(t, "n", map[string]any{"text": "x"})
			a.syncNow(t)
			b.syncNow(t)
			a.store.Remove(context.Background(), "notes", "n")
			b.set(t, "n", map[string]any{"text": "edited"})
			first, second := a, b
			if !removerFirst {
				first, second = b, a
			}
			first.syncNow(t)
			second.syncNow(t)
			first.syncNow(t)
			for _, d := range []*device{a, b} {
				if d.list(t) != "{}" {
					t.Errorf("a device holds %s", d.list(t))
				}
			}
			if err := b.store.Set(context.Background(), "notes", "n", map[string]any{"text": "again"}); err != offline.ErrRemoved {
				t.Errorf("writing a removed record: %v", err)
			}
		})
	}
}

func TestOnlyChangedFieldsAreSent(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	a := newDevice(t, srv, &network{}, &fakeClock{now: time.Now()})
	body := "a long body that should not travel again"
	a.set(t, "n", map[string]any{"title": "t", "body": body})
	a.set(t, "n", map[string]any{"title": "t2", "body": body})
	a.set(t, "n", map[string]any{"title": "t2", "body": body}) // no change: no operation
	if n, _ := a.store.Pending(context.Background()); n != 2 {
		t.Fatalf("%d pending, want 2", n)
	}
	a.syncNow(t)
	c := srv.Client("alice", storage.Options{})
	var ops []offline.Op
	_, err := c.GetCollection(context.Background(), "notes.ops", storage.Query{Full: true, Sort: "oldest"}, func(r wbo.Record) error {
		clear, err := keys.For("notes.ops").DecryptRecord(r)
		if err != nil {
			return err
		}
		var op offline.Op
		json.Unmarshal(clear.Payload, &op)
		ops = append(ops, op)
		return nil
	})
	if err != nil || len(ops) != 2 {
		t.Fatalf("%d operations on the server, %v", len(ops), err)
	}
	up := ops[1]
	if up.Kind != offline.Update || len(up.Fields) != 1 || string(up.Fields["title"]) != `"t2"` {
		t.Errorf("the update carries %v", up.Fields)
	}
}

// A write by another process (another Store on the same file: `syncctl offline set` in
// another shell) wakes the loop at once and shows in its status, not at the next timer.
func TestAWriteFromAnotherProcessWakesTheLoop(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	path := filepath.Join(t.TempDir(), "offline.db")
	st, err := offline.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	status := filepath.Join(t.TempDir(), "status.json")
	clock := &fakeClock{now: time.Now()} // its timers never fire: only a wake-up moves the loop
	l := offline.NewLoop(offline.Options{
		Store: st, Client: srv.Client("alice", storage.Options{}), Collections: []string{"notes"}, Clock: clock,
		Keys: func(context.Context) (*crypto.Keys, error) { return keys, nil }, StatusFile: status, WatchEvery: 20 * time.Millisecond,
	})
	l.Start(context.Background())
	defer l.Stop()
	expect(t, l, "idle", 60*time.Second)

	other, err := offline.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Set(context.Background(), "notes", "n1", map[string]any{"text": "from another shell"}); err != nil {
		t.Fatal(err)
	}
	expect(t, l, "uploaded", 0)
	e := expect(t, l, "idle", 60*time.Second)
	if e.Pending != 0 {
		t.Errorf("pending after the upload: %d", e.Pending)
	}
	b, _ := os.ReadFile(status)
	var saved offline.Status
	if json.Unmarshal(b, &saved) != nil || saved.Pending != 0 || saved.LastError != "" {
		t.Errorf("status file %s", b)
	}
}
