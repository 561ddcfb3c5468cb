package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/syncctl/syncctl/internal/race"

	"pgregory.net/rapid"

	"github.com/syncctl/syncctl/engine"
	"github.com/syncctl/syncctl/wbo"
)

// The life of a sync, proven by a model. A generator draws sequences of what users and
// servers do to an account with two or three devices: put, edit a field, rm, import N
// records (N around the chunk, page and batch sizes), sync (with a 412, a 503 or a
// dropped connection injected mid-upload), wipe one collection, wipe all, fresh start,
// key rotation, a new device logging in, a server restart, a node reassignment. A small
// reference model says what every device may hold, and is checked after every step;
// settling (every device syncs twice in a row) checks that all devices hold the same
// records, exactly the model's where the outcome is decided by the rules (a record one
// device wrote since the last settle), and that a sync with nothing changed asks the
// server for nothing.
//
// What the model says:
//   - every field value a device holds was written by a device that was allowed to: no
//     value is invented, and none written before a wipe comes back;
//   - a wipe is honoured by every device on its next sync (it delivers a command at
//     once): writes a device makes before it hears of the wipe are discarded with it;
//   - a fresh start and a key rotation lose nothing: devices merge their data back in;
//   - a node reassignment loses the server's data, including wipe commands not yet
//     heard of, so the devices' data comes back as they hold it (that is the protocol:
//     the server forgot);
//   - a failed engine keeps its local changes pending, and the others still sync.

var lifecycleLogs = flag.Bool("lifecycle.logs", false, "lifecycle model test: show the sessions' debug logs with a failure")

var lifecycleLong = flag.Bool("lifecycle.long", false, "lifecycle model test: longer sequences and bigger imports")

// token is a field value: unique per write, so the model knows who wrote what.
type token = string

type recKey struct{ coll, id string }

// state is a record as the model expects it.
type state struct {
	deleted bool
	fields  map[string]token
}

// write is one write since the last settle.
type write struct {
	dev   int
	state state // the record as the writer left it
}

type model struct {
	devices  int
	vals     map[recKey]map[token]bool // values validly written since the collection's last wipe
	baseline map[recKey]state          // the state verified at the last settle
	writes   map[recKey][]write        // since then
	// ambiguous: since the last settle, a fresh start or a node reassignment made
	// last-writer-wins decide between devices' copies; exact values wait for a settle.
	ambiguous   bool
	pendingWipe []map[string]bool // per device: collections wiped elsewhere, not heard of yet
	registered  []bool            // the device has a client record on the current node
	// unsynced: the device joined after the last settle and has not synced yet, so it
	// has not seen the baseline; its write to a record the baseline holds is a
	// concurrent one, which newest-wins decides by the clocks.
	unsynced  []bool
	contested map[recKey]bool
}

func newModel() *model {
	return &model{vals: map[recKey]map[token]bool{}, baseline: map[recKey]state{}, writes: map[recKey][]write{}, contested: map[recKey]bool{}}
}

func (m *model) addDevice() int {
	m.devices++
	m.pendingWipe = append(m.pendingWipe, map[string]bool{})
	m.registered = append(m.registered, false)
	m.unsynced = append(m.unsynced, true)
	return m.devices - 1
}

// wrote records a write by dev; a write by a device that has not heard of a wipe of the
// collection will be discarded with the wipe, so it counts for nothing.
func (m *model) wrote(dev int, k recKey, st state) {
	if m.pendingWipe[dev][k.coll] {
		return
	}
	if b, ok := m.baseline[k]; ok && !b.deleted && m.unsynced[dev] {
		m.contested[k] = true
	}
	for _, v := range st.fields {
		if m.vals[k] == nil {
			m.vals[k] = map[token]bool{}
		}
		m.vals[k][v] = true
	}
	m.writes[k] = append(m.writes[k], write{dev: dev, state: st})
}

func (m *model) wiped(by int, coll string) {
	for k := range m.vals {
		if k.coll == coll {
			delete(m.vals, k)
		}
	}
	for k := range m.baseline {
		if k.coll == coll {
			delete(m.baseline, k)
		}
	}
	for k := range m.writes {
		if k.coll == coll {
			delete(m.writes, k)
		}
	}
	for d := range m.devices {
		if d != by && m.registered[d] {
			m.pendingWipe[d][coll] = true
		}
	}
}

// allow adds every value the devices hold (but for collections they will wipe) to the
// values that may appear: what a last-writer-wins event can bring back.
func (m *model) allow(rt *rapid.T, devs []*lifeDevice) {
	for d, dev := range devs {
		for _, coll := range lifecycleCollections {
			if m.pendingWipe[d][coll] {
				continue
			}
			recs, err := dev.records(coll)
			if err != nil {
				rt.Fatal(err)
			}
			for id, p := range recs {
				st := parseState(p)
				k := recKey{coll, id}
				for _, v := range st.fields {
					if m.vals[k] == nil {
						m.vals[k] = map[token]bool{}
					}
					m.vals[k][v] = true
				}
			}
		}
	}
}

// expected is what a record must be at a settle, if the rules decide it.
func (m *model) expected(k recKey) (state, bool) {
	if m.ambiguous || m.contested[k] {
		return state{}, false
	}
	ws := m.writes[k]
	if len(ws) == 0 {
		st, ok := m.baseline[k]
		if !ok {
			st = state{deleted: true}
		}
		return st, true
	}
	for _, w := range ws {
		if w.dev != ws[0].dev {
			return state{}, false // several writers: the merge rules choose
		}
	}
	return ws[len(ws)-1].state, true
}

func parseState(p []byte) state {
	if wbo.IsTombstone(p) {
		return state{deleted: true}
	}
	var m map[string]any
	json.Unmarshal(p, &m)
	st := state{fields: map[string]token{}}
	for k, v := range m {
		if s, ok := v.(string); ok && k != "id" {
			st.fields[k] = s
		}
	}
	return st
}

func (s state) String() string {
	if s.deleted {
		return "(deleted)"
	}
	keys := slices.Sorted(maps.Keys(s.fields))
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s ", k, s.fields[k])
	}
	return strings.TrimSpace(b.String())
}

func (s state) equal(o state) bool {
	if s.deleted || o.deleted {
		return s.deleted == o.deleted
	}
	return maps.Equal(s.fields, o.fields)
}

func payload(id string, st state) []byte {
	if st.deleted {
		return wbo.Tombstone(id).Payload
	}
	m := map[string]string{"id": id}
	maps.Copy(m, st.fields)
	b, _ := json.Marshal(m)
	return b
}

// life is one generated sequence: the cluster, the devices and the model.
type life struct {
	rt      *rapid.T
	t       *testing.T
	c       *cluster
	dir     string
	devs    []*lifeDevice
	m       *model
	step    int
	imports int
	moves   int // node reassignments
	log     []string
	logs    bytes.Buffer // the sessions' own logs, shown with -lifecycle.logs
}

func (l *life) logf(format string, args ...any) {
	l.log = append(l.log, fmt.Sprintf("%3d ", l.step)+fmt.Sprintf(format, args...))
	if *lifecycleLogs {
		fmt.Fprintf(&l.logs, "--- %s\n", l.log[len(l.log)-1])
	}
}

func (l *life) fatalf(format string, args ...any) {
	if *lifecycleLogs {
		l.t.Logf("session logs:\n%s", l.logs.String())
	}
	l.rt.Fatalf("%s\nsteps:\n%s", fmt.Sprintf(format, args...), strings.Join(l.log, "\n"))
}

func (l *life) newDevice() {
	d := l.m.addDevice()
	l.devs = append(l.devs, newLifeDevice(l.t, l.c, l.dir, fmt.Sprintf("dev%d-%d", d, len(l.log)), &l.logs))
	l.logf("device %d logs in", d)
}

func (l *life) close() {
	for _, d := range l.devs {
		d.close()
	}
	l.c.close()
	os.RemoveAll(l.dir)
}

// local reads one record of a device.
func (l *life) local(d int, k recKey) (state, bool) {
	rec, ok, err := l.devs[d].colls[k.coll].Get(context.Background(), k.id)
	if err != nil {
		l.fatalf("%v", err)
	}
	if !ok {
		return state{deleted: true}, false
	}
	return parseState(rec.Payload), true
}

func (l *life) store(d int, k recKey, st state) {
	if _, err := l.devs[d].colls[k.coll].Store(context.Background(), []wbo.Record{{ID: k.id, Payload: payload(k.id, st)}}); err != nil {
		l.fatalf("%v", err)
	}
	l.m.wrote(d, k, st)
}

func (l *life) tok() token { return fmt.Sprintf("v%d", l.step) }

// ids a device may write: its own, and a few every device shares.
func (l *life) drawKey(d int) recKey {
	coll := rapid.SampledFrom(lifecycleCollections).Draw(l.rt, "coll")
	if rapid.Bool().Draw(l.rt, "shared") {
		return recKey{coll, fmt.Sprintf("shared%d", rapid.IntRange(0, 2).Draw(l.rt, "k"))}
	}
	return recKey{coll, fmt.Sprintf("own%d-%d", d, rapid.IntRange(0, 3).Draw(l.rt, "k"))}
}

func (l *life) put(d int) {
	k := l.drawKey(d)
	t := l.tok()
	l.store(d, k, state{fields: map[string]token{"title": t, "body": t}})
	l.logf("device %d puts %s/%s", d, k.coll, k.id)
}

func (l *life) edit(d int) {
	k := l.drawKey(d)
	st, ok := l.local(d, k)
	if !ok || st.deleted {
		return
	}
	field := rapid.SampledFrom([]string{"title", "body"}).Draw(l.rt, "field")
	st.fields[field] = l.tok()
	l.store(d, k, st)
	l.logf("device %d edits %s/%s %s", d, k.coll, k.id, field)
}

func (l *life) rm(d int) {
	k := l.drawKey(d)
	if st, ok := l.local(d, k); !ok || st.deleted {
		return
	}
	l.store(d, k, state{deleted: true})
	l.logf("device %d removes %s/%s", d, k.coll, k.id)
}

func (l *life) importN(d int) {
	sizes := []int{1, 499, 500, 501, 999, 1000, 1001}
	if *lifecycleLong {
		sizes = append(sizes, 10_000)
	}
	n := rapid.SampledFrom(sizes).Draw(l.rt, "n")
	coll := rapid.SampledFrom(lifecycleCollections).Draw(l.rt, "coll")
	recs := make([]wbo.Record, n)
	t := l.tok()
	for i := range recs {
		k := recKey{coll, fmt.Sprintf("imp%d-%d-%d", d, l.step, i)}
		st := state{fields: map[string]token{"title": t, "body": t}}
		recs[i] = wbo.Record{ID: k.id, Payload: payload(k.id, st)}
		l.m.wrote(d, k, st)
	}
	if _, err := l.devs[d].colls[coll].Store(context.Background(), recs); err != nil {
		l.fatalf("%v", err)
	}
	l.imports++
	l.logf("device %d imports %d into %s", d, n, coll)
}

// syncOnce runs one sync of device d and feeds what it did into the model.
func (l *life) syncOnce(d int, what string) (*engine.Result, error) {
	res, err := l.devs[d].session.Sync(context.Background())
	if err == nil {
		l.m.unsynced[d] = false
	}
	if slices.Contains(res.Stages, engine.StageClients) && res.Engines[engine.ClientsCollection].Err == nil {
		l.m.pendingWipe[d] = map[string]bool{} // heard of every wipe
		l.m.registered[d] = true
	} else if slices.Contains(res.Stages, engine.StageClients) {
		l.m.pendingWipe[d] = map[string]bool{} // the commands ran; only our upload failed
	}
	errs := []string{}
	for name, e := range res.Engines {
		if e.Err != nil {
			errs = append(errs, name+": "+e.Err.Error())
		}
	}
	sort.Strings(errs)
	l.logf("device %d syncs%s: err=%v engines=%v", d, what, err, errs)
	return res, err
}

// faults injected into a sync, mid-upload.
var syncFaults = []struct {
	name string
	f    fault
}{
	{"a 503 on an upload", fault{method: http.MethodPost, status: http.StatusServiceUnavailable}},
	{"a dropped connection on an upload", fault{method: http.MethodPost, drop: true}},
	{"a 412 on an upload", fault{method: http.MethodPost, status: http.StatusPreconditionFailed}},
	{"a 412 on the clients upload", fault{method: http.MethodPost, coll: engine.ClientsCollection, status: http.StatusPreconditionFailed}},
}

func (l *life) sync(d int) {
	what := ""
	faulted := rapid.IntRange(0, 2).Draw(l.rt, "faulted") == 0
	if faulted {
		sf := rapid.IntRange(0, len(syncFaults)-1).Draw(l.rt, "fault")
		f := syncFaults[sf].f
		if f.coll == "" {
			f.coll = rapid.SampledFrom(lifecycleCollections).Draw(l.rt, "faultColl")
		}
		f.count = rapid.IntRange(1, 3).Draw(l.rt, "count")
		l.c.node().inject(f)
		what = fmt.Sprintf(" with %s (%s, %d×)", syncFaults[sf].name, f.coll, f.count)
	}
	before := map[string]map[string]bool{}
	beforeRecs := map[string]map[string][]byte{}
	for _, coll := range lifecycleCollections {
		p, _ := l.devs[d].pending(coll)
		before[coll] = p
		beforeRecs[coll] = l.mustRecords(d, coll)
	}
	res, err := l.syncOnce(d, what)
	l.c.node().clearFaults()
	if err != nil && !faulted && !errors.Is(err, context.Canceled) && l.moves == 0 {
		l.fatalf("device %d: sync failed with no fault: %v", d, err)
	}
	if err != nil {
		return
	}
	// One engine's failure leaves its changes pending and the others synced.
	for _, coll := range lifecycleCollections {
		after, _ := l.devs[d].pending(coll)
		e := res.Engines[coll]
		if e.Err == nil && e.Skipped == "" && len(after) > 0 {
			l.fatalf("device %d: %s synced without error but %d changes are still pending", d, coll, len(after))
		}
		if e.Err != nil {
			// A change may stop being pending only if an incoming record replaced it
			// (or a wipe heard of in this sync emptied the store).
			now := l.mustRecords(d, coll)
			for id := range before[coll] {
				p, stillThere := now[id]
				if stillThere && !after[id] && bytes.Equal(p, beforeRecs[coll][id]) {
					l.fatalf("device %d: %s failed (%v) but its change to %s is no longer pending", d, coll, e.Err, id)
				}
			}
		}
	}
}

func (l *life) mustRecords(d int, coll string) map[string][]byte {
	recs, err := l.devs[d].records(coll)
	if err != nil {
		l.fatalf("%v", err)
	}
	return recs
}

func (l *life) wipe(d int, all bool) {
	var names []string
	if !all {
		names = []string{rapid.SampledFrom(lifecycleCollections).Draw(l.rt, "coll")}
	}
	_, err := l.devs[d].session.Wipe(context.Background(), names...)
	l.logf("device %d wipes %v: %v", d, names, err)
	if err != nil {
		if l.moves > 0 {
			return // the node moved under it; the next sync resets
		}
		l.fatalf("wipe: %v", err)
	}
	l.m.pendingWipe[d] = map[string]bool{} // its Wipe ran its clients stage
	l.m.registered[d] = true
	if all {
		names = lifecycleCollections
	}
	for _, coll := range names {
		l.m.wiped(d, coll)
		// A device with no client record yet cannot be told; what it holds was never on
		// the server and goes up at its first sync.
		for o := range l.m.devices {
			if o == d || l.m.registered[o] {
				continue
			}
			for id, p := range l.mustRecords(o, coll) {
				l.m.wrote(o, recKey{coll, id}, parseState(p))
			}
		}
	}
}

func (l *life) freshStart(d int) {
	l.m.allow(l.rt, l.devs)
	res, err := l.devs[d].session.FreshStart(context.Background())
	l.logf("device %d starts afresh: %v", d, err)
	if err != nil {
		if l.moves > 0 {
			return
		}
		l.fatalf("fresh start: %v", err)
	}
	if slices.Contains(res.Stages, engine.StageClients) {
		l.m.pendingWipe[d] = map[string]bool{}
		l.m.registered[d] = true
	}
	l.m.ambiguous = true
}

func (l *life) rotate(d int) {
	_, err := l.devs[d].session.RotateKeys(context.Background(), nil)
	l.logf("device %d rotates the keys: %v", d, err)
	if err != nil && l.moves == 0 && !errors.Is(err, engine.ErrNoKeys) {
		l.fatalf("rotate: %v", err)
	}
}

func (l *life) restart() {
	l.c.node().restart()
	l.logf("the server restarts")
}

func (l *life) reassign() {
	// What the devices hold comes back, including data wiped elsewhere that a device had
	// not heard of: the commands were on the old node.
	for d := range l.m.devices {
		l.m.pendingWipe[d] = map[string]bool{}
		l.m.registered[d] = false
	}
	l.m.allow(l.rt, l.devs)
	l.m.ambiguous = true
	l.c.reassign()
	l.moves++
	l.logf("the user moves to a new node")
}

// settle: every device syncs twice in a row; then they all hold the same records, the
// model's where the rules decide, and one more round asks the server for nothing.
func (l *life) settle() {
	l.logf("settle")
	for round := range 2 {
		for d := range l.devs {
			if _, err := l.syncOnce(d, fmt.Sprintf(" (settle round %d)", round+1)); err != nil {
				if round == 0 && l.moves > 0 {
					// the first sync after a node move ends in a 401 and resets
					if _, err = l.syncOnce(d, " (again)"); err == nil {
						continue
					}
				}
				l.fatalf("settle: device %d: %v", d, err)
			}
		}
	}
	for d := range l.m.devices {
		if len(l.m.pendingWipe[d]) > 0 {
			l.fatalf("settle: device %d never heard of the wipe of %v", d, l.m.pendingWipe[d])
		}
	}
	l.checkAllowed()
	for _, coll := range lifecycleCollections {
		ref := l.mustRecords(0, coll)
		for d := 1; d < len(l.devs); d++ {
			other := l.mustRecords(d, coll)
			if diff := diffStates(ref, other); diff != "" {
				l.fatalf("settle: devices 0 and %d differ in %s:\n%s", d, coll, diff)
			}
		}
		keys := map[recKey]bool{}
		for id := range ref {
			keys[recKey{coll, id}] = true
		}
		for k := range l.m.writes {
			if k.coll == coll {
				keys[k] = true
			}
		}
		for k := range l.m.baseline {
			if k.coll == coll {
				keys[k] = true
			}
		}
		for k := range keys {
			want, decided := l.m.expected(k)
			if !decided {
				continue
			}
			got := state{deleted: true}
			if p, ok := ref[k.id]; ok {
				got = parseState(p)
			}
			if !got.equal(want) {
				l.fatalf("settle: %s/%s is %v on every device; the model says %v", k.coll, k.id, got, want)
			}
		}
	}
	// Nothing changed anywhere: a round of syncs fetches no record and writes nothing.
	l.c.node().takeCounts()
	for d := range l.devs {
		res, err := l.syncOnce(d, " (idle)")
		if err != nil {
			l.fatalf("idle sync: device %d: %v", d, err)
		}
		for name, e := range res.Engines {
			if e.Applied+e.Uploaded > 0 {
				l.fatalf("idle sync: device %d %s applied %d, uploaded %d", d, name, e.Applied, e.Uploaded)
			}
		}
		if n := l.c.node().takeCounts(); n.recordsServed != 0 || n.writes != 0 || n.collectionGets != 0 {
			l.fatalf("idle sync: device %d asked the server for %v (%d records) and wrote %d times", d, n.gets, n.recordsServed, n.writes)
		}
	}
	// The converged state is the new baseline.
	l.m.baseline = map[recKey]state{}
	for _, coll := range lifecycleCollections {
		for id, p := range l.mustRecords(0, coll) {
			l.m.baseline[recKey{coll, id}] = parseState(p)
		}
	}
	l.m.writes = map[recKey][]write{}
	l.m.ambiguous = false
	l.m.contested = map[recKey]bool{}
}

// checkAllowed: every value a device holds was validly written (nothing invented,
// nothing resurrected after a wipe), for every device that has heard of every wipe.
func (l *life) checkAllowed() {
	for d := range l.devs {
		for _, coll := range lifecycleCollections {
			if l.m.pendingWipe[d][coll] {
				continue
			}
			for id, p := range l.mustRecords(d, coll) {
				st := parseState(p)
				for f, v := range st.fields {
					if !l.m.vals[recKey{coll, id}][v] {
						l.fatalf("device %d holds %s/%s %s=%s, which no device wrote since the last wipe of %s", d, coll, id, f, v, coll)
					}
				}
			}
		}
	}
}

func diffStates(a, b map[string][]byte) string {
	var out []string
	for id, p := range a {
		sa := parseState(p)
		sb := state{deleted: true}
		if q, ok := b[id]; ok {
			sb = parseState(q)
		}
		if !sa.equal(sb) {
			out = append(out, fmt.Sprintf("  %s: %v | %v", id, sa, sb))
		}
	}
	for id, q := range b {
		if _, ok := a[id]; !ok && !parseState(q).deleted {
			out = append(out, fmt.Sprintf("  %s: (absent) | %v", id, parseState(q)))
		}
	}
	sort.Strings(out)
	if len(out) > 20 {
		out = append(out[:20], fmt.Sprintf("  … and %d more", len(out)-20))
	}
	return strings.Join(out, "\n")
}

// runLife draws and runs one sequence.
func runLife(t *testing.T, rt *rapid.T, maxSteps int) {
	dir, err := os.MkdirTemp("", "lifecycle-")
	if err != nil {
		rt.Fatal(err)
	}
	l := &life{rt: rt, t: t, c: startCluster(t, nil), dir: dir, m: newModel()}
	defer l.close()
	l.newDevice()
	l.newDevice()
	steps := rapid.IntRange(1, maxSteps).Draw(rt, "steps")
	for l.step = 1; l.step <= steps; l.step++ {
		d := rapid.IntRange(0, len(l.devs)-1).Draw(rt, "device")
		switch op := rapid.IntRange(0, 19).Draw(rt, "op"); {
		case op < 3:
			l.put(d)
		case op < 5:
			l.edit(d)
		case op < 6:
			l.rm(d)
		case op < 11:
			l.sync(d)
		case op < 12 && l.imports < 2:
			l.importN(d)
		case op < 13:
			l.wipe(d, rapid.IntRange(0, 3).Draw(rt, "all") == 0)
		case op < 14:
			l.freshStart(d)
		case op < 15:
			l.rotate(d)
		case op < 16 && len(l.devs) < 3:
			l.newDevice()
		case op < 17:
			l.restart()
		case op < 18 && l.moves == 0:
			l.reassign()
		case op < 20:
			l.settle()
		}
		l.checkAllowed()
	}
	l.step++
	l.settle()
}

func TestTheLifeOfASyncKeepsToTheModel(t *testing.T) {
	t.Parallel()
	if f := flag.Lookup("rapid.checks"); f != nil && f.Value.String() == "100" {
		// The everyday budget: 40 sequences (~8 s on 2 cores), 10 under the race
		// detector, which slows it about fivefold. CI runs the full budget on its own,
		// without the race detector: -rapid.checks=200 (~40 s).
		f.Value.Set("40")
		if race.Enabled {
			f.Value.Set("10")
		}
	}
	maxSteps := 40
	if *lifecycleLong {
		maxSteps = 80
	}
	rapid.Check(t, func(rt *rapid.T) { runLife(t, rt, maxSteps) })
}
