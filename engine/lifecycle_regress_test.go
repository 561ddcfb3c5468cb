package engine_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/syncctl/syncctl/engine"
	"github.com/syncctl/syncctl/wbo"
)

// Regression tests for the defects of issue 16 and for what the lifecycle model found,
// each the shrunk sequence written out.

type lifeTest struct {
	t    *testing.T
	c    *cluster
	dir  string
	devs []*lifeDevice
}

func newLifeTest(t *testing.T, devices int, now func() time.Time) *lifeTest {
	lt := &lifeTest{t: t, c: startCluster(t, now), dir: t.TempDir()}
	for i := range devices {
		lt.addDevice(fmt.Sprintf("dev%d", i))
	}
	return lt
}

func (lt *lifeTest) addDevice(name string) *lifeDevice {
	d := newLifeDevice(lt.t, lt.c, lt.dir, name, nopWriter{})
	lt.t.Cleanup(d.close)
	lt.devs = append(lt.devs, d)
	return d
}

type nopWriter struct{}

func (nopWriter) Write(b []byte) (int, error) { return len(b), nil }

func (lt *lifeTest) put(d int, coll, id, text string) {
	lt.t.Helper()
	if _, err := lt.devs[d].colls[coll].Store(context.Background(), []wbo.Record{{ID: id, Payload: payload(id, state{fields: map[string]token{"text": text}})}}); err != nil {
		lt.t.Fatal(err)
	}
}

func (lt *lifeTest) remove(d int, coll, id string) {
	lt.t.Helper()
	if _, err := lt.devs[d].colls[coll].Store(context.Background(), []wbo.Record{{ID: id, Payload: payload(id, state{deleted: true})}}); err != nil {
		lt.t.Fatal(err)
	}
}

func (lt *lifeTest) sync(d int) *engine.Result {
	lt.t.Helper()
	res, err := lt.devs[d].session.Sync(context.Background())
	if err != nil {
		lt.t.Fatalf("dev%d sync: %v", d, err)
	}
	return res
}

// settle syncs every device twice.
func (lt *lifeTest) settle() {
	lt.t.Helper()
	for range 2 {
		for d := range lt.devs {
			lt.sync(d)
		}
	}
}

// live is a device's live records of a collection: id → text.
func (lt *lifeTest) live(d int, coll string) map[string]string {
	lt.t.Helper()
	recs, err := lt.devs[d].records(coll)
	if err != nil {
		lt.t.Fatal(err)
	}
	out := map[string]string{}
	for id, p := range recs {
		if st := parseState(p); !st.deleted {
			out[id] = st.fields["text"]
		}
	}
	return out
}

func (lt *lifeTest) wantLive(d int, coll string, want map[string]string) {
	lt.t.Helper()
	got := lt.live(d, coll)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		lt.t.Errorf("dev%d %s: %v, want %v", d, coll, got, want)
	}
}

// Defect 1: a wipe on one device clears the other device's local copy at its next sync,
// also after a key rotation.
func TestAWipeClearsTheOtherDeviceAfterAKeyRotation(t *testing.T) {
	t.Parallel()
	lt := newLifeTest(t, 2, nil)
	lt.put(0, "notes", "n1", "one")
	lt.put(0, "notes", "n2", "two")
	lt.settle()
	if _, err := lt.devs[0].session.RotateKeys(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	lt.settle()
	lt.wantLive(1, "notes", map[string]string{"n1": "one", "n2": "two"})
	if _, err := lt.devs[1].session.Wipe(context.Background(), "notes"); err != nil {
		t.Fatal(err)
	}
	lt.sync(0)
	lt.wantLive(0, "notes", map[string]string{})
	lt.settle()
	lt.wantLive(1, "notes", map[string]string{})
}

// Defect 1, the fresh-start half: a wipe, then a fresh start on the same device, and the
// other device does not upload the wiped records again.
func TestAWipeThenAFreshStartDoesNotBringTheWipedRecordsBack(t *testing.T) {
	t.Parallel()
	lt := newLifeTest(t, 2, nil)
	lt.put(0, "notes", "n1", "one")
	lt.put(0, "tasks", "t1", "task")
	lt.settle()
	if _, err := lt.devs[1].session.Wipe(context.Background(), "notes"); err != nil {
		t.Fatal(err)
	}
	if _, err := lt.devs[1].session.FreshStart(context.Background()); err != nil {
		t.Fatal(err)
	}
	lt.settle()
	for d := range lt.devs {
		lt.wantLive(d, "notes", map[string]string{})
		lt.wantLive(d, "tasks", map[string]string{"t1": "task"}) // a fresh start loses nothing
	}
}

// Defect 3: a 412 on the clients upload (another device wrote its record meanwhile) no
// longer ends the sync: the engines still sync, and the clients engine tries again.
func TestAConflictOnTheClientsUploadDoesNotStopTheEngines(t *testing.T) {
	t.Parallel()
	lt := newLifeTest(t, 2, nil)
	lt.settle()
	// dev1 has a tab to send: its clients pass uploads dev0's record with the command.
	if err := lt.devs[1].session.SendCommand(context.Background(), "*", "displayURI", "https://example.org", "dev1", "a tab"); err != nil {
		t.Fatal(err)
	}
	lt.put(1, "notes", "n1", "one")
	lt.c.node().inject(fault{method: http.MethodPost, coll: engine.ClientsCollection, status: http.StatusPreconditionFailed, count: 3})
	res := lt.sync(1)
	if res.Engines[engine.ClientsCollection].Err == nil {
		t.Errorf("the clients engine met three 412s and reports no error: %+v", res.Engines)
	}
	if res.Engines["notes"].Err != nil || res.Engines["notes"].Uploaded != 1 {
		t.Errorf("notes after a clients conflict: %+v", res.Engines["notes"])
	}
	// The command is still queued; one 412 is absorbed: the stage fetches again and
	// retries, and the tab reaches dev0.
	lt.put(1, "notes", "n2", "two")
	lt.c.node().inject(fault{method: http.MethodPost, coll: engine.ClientsCollection, status: http.StatusPreconditionFailed, count: 1})
	if res := lt.sync(1); res.Engines[engine.ClientsCollection].Err != nil {
		t.Errorf("one 412: %v", res.Engines[engine.ClientsCollection].Err)
	}
	lt.sync(0)
	if got := lt.devs[0].shown(); len(got) != 1 || got[0] != "https://example.org" {
		t.Errorf("dev0 was shown %v", got)
	}
}

// Found by the model: every device re-uploaded its client record at every sync, so the
// others fetched the clients collection again, and uploaded theirs, forever. A round of
// syncs with nothing changed now asks the server for nothing.
func TestARoundOfSyncsWithNothingChangedAsksTheServerNothing(t *testing.T) {
	t.Parallel()
	lt := newLifeTest(t, 3, nil)
	lt.put(0, "notes", "n1", "one")
	lt.settle()
	lt.c.node().takeCounts()
	for d := range lt.devs {
		lt.sync(d)
	}
	if n := lt.c.node().takeCounts(); n.collectionGets != 0 || n.writes != 0 {
		t.Errorf("an idle round fetched %v and wrote %d times", n.gets, n.writes)
	}
}

// Found by the model: a deletion (or an edit) waiting on a device was lost when the keys
// were rotated: the rotation rewrote every record with a new server time, and the
// unchanged server copy won as "newer".
func TestAChangeWaitingOnADeviceSurvivesAKeyRotation(t *testing.T) {
	t.Parallel()
	lt := newLifeTest(t, 2, nil)
	lt.put(0, "notes", "gone", "one")
	lt.put(0, "notes", "edited", "two")
	lt.settle()
	lt.remove(1, "notes", "gone")
	lt.put(1, "notes", "edited", "two, edited")
	if _, err := lt.devs[0].session.RotateKeys(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	lt.settle()
	for d := range lt.devs {
		lt.wantLive(d, "notes", map[string]string{"edited": "two, edited"})
	}
}

// Found by the model: after a node reassignment a device compared the clients
// collection's time on the new node with the one it remembered from the old node; with a
// 10 ms clock they can be equal, and the device then never registered on the new node.
// (The nodes' clock is frozen here, so that they are.)
func TestAfterANodeMoveEveryDeviceRegistersOnTheNewNode(t *testing.T) {
	t.Parallel()
	frozen := time.Now()
	lt := newLifeTest(t, 2, func() time.Time { return frozen })
	// dev1 sets the account up and remembers the clients collection's time after its
	// own upload; on the new node dev0 sets the account up, and its record gets the very
	// same time.
	lt.sync(1)
	lt.sync(0)
	lt.c.reassign()
	for range 2 {
		for d := range lt.devs {
			if _, err := lt.devs[d].session.Sync(context.Background()); err != nil {
				lt.sync(d) // the first sync on a moved account ends in the 401
			}
		}
	}
	res := lt.sync(0)
	if len(res.Clients) != 1 {
		t.Errorf("dev0 sees %d other devices on the new node, want 1", len(res.Clients))
	}
}

// Found by the model: a command whose acknowledgement (our record's upload) failed ran
// again at the next sync, and a wipe run twice also wiped what was written in between.
func TestACommandRunsOnceEvenIfItsAcknowledgementFails(t *testing.T) {
	t.Parallel()
	lt := newLifeTest(t, 2, nil)
	lt.put(1, "notes", "old", "before the wipe")
	lt.settle()
	if _, err := lt.devs[0].session.Wipe(context.Background(), "notes"); err != nil {
		t.Fatal(err)
	}
	lt.c.node().inject(fault{method: http.MethodPost, coll: engine.ClientsCollection, status: http.StatusPreconditionFailed, count: 3})
	lt.sync(1) // runs the wipe; cannot clear the command
	lt.wantLive(1, "notes", map[string]string{})
	lt.put(1, "notes", "new", "after the wipe")
	lt.settle()
	for d := range lt.devs {
		lt.wantLive(d, "notes", map[string]string{"new": "after the wipe"})
	}
}

// Found while modelling: a fresh start kept only the client records that had commands,
// so a wipe sent after it missed the devices that had not synced since.
func TestAWipeAfterAFreshStartReachesEveryDevice(t *testing.T) {
	t.Parallel()
	lt := newLifeTest(t, 2, nil)
	lt.put(1, "notes", "n1", "one")
	lt.settle()
	if _, err := lt.devs[0].session.FreshStart(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := lt.devs[0].session.Wipe(context.Background(), "notes"); err != nil {
		t.Fatal(err)
	}
	lt.settle()
	for d := range lt.devs {
		lt.wantLive(d, "notes", map[string]string{})
	}
}

// Found by the long model run: a device ran a wipeAll it could not clear (its upload met
// 412s); a second wipeAll from another device, equal to the first, was merged into the
// old entry, which the device skipped as done. The second wipe never ran there.
func TestASecondEqualWipeRunsEvenIfTheFirstWasNeverCleared(t *testing.T) {
	t.Parallel()
	lt := newLifeTest(t, 3, nil)
	lt.put(1, "notes", "old", "before the wipes")
	lt.settle()
	if _, err := lt.devs[2].session.Wipe(context.Background()); err != nil {
		t.Fatal(err)
	}
	lt.c.node().inject(fault{method: http.MethodPost, coll: engine.ClientsCollection, status: http.StatusPreconditionFailed, count: 3})
	lt.sync(1) // runs the first wipeAll, cannot clear it
	lt.put(1, "notes", "between", "written between the wipes")
	if _, err := lt.devs[0].session.Wipe(context.Background()); err != nil {
		t.Fatal(err)
	}
	lt.settle()
	for d := range lt.devs {
		lt.wantLive(d, "notes", map[string]string{})
	}
}

// Found by the long model run: a device whose first client record did not reach the
// server (three 412s) synced its engines anyway, so a wipe sent meanwhile could never
// address it and it kept stale copies for ever. Its engines now wait until it is
// registered; its own changes wait with them and go up then.
func TestADeviceSyncsDataOnlyOnceOthersCanAddressIt(t *testing.T) {
	t.Parallel()
	lt := newLifeTest(t, 2, nil)
	lt.put(1, "notes", "theirs", "synced before the wipe")
	lt.sync(1)
	lt.put(0, "notes", "mine", "written before its first sync")
	lt.c.node().inject(fault{method: http.MethodPost, coll: engine.ClientsCollection, status: http.StatusPreconditionFailed, count: 3})
	res := lt.sync(0)
	if res.Engines["notes"].Skipped == "" || res.Engines["notes"].Applied != 0 {
		t.Errorf("an unregistered device synced notes: %+v", res.Engines["notes"])
	}
	if _, err := lt.devs[1].session.Wipe(context.Background(), "notes"); err != nil {
		t.Fatal(err)
	}
	lt.settle()
	for d := range lt.devs {
		lt.wantLive(d, "notes", map[string]string{"mine": "written before its first sync"})
	}
}

// A registered device that finds a collection it synced gone from the server, with no
// wipe command for it, takes it as lost by the server and uploads its copy again.
func TestACollectionTheServerLostComesBackFromTheDevices(t *testing.T) {
	t.Parallel()
	lt := newLifeTest(t, 2, nil)
	lt.put(0, "notes", "n1", "one")
	lt.settle()
	if err := lt.devs[0].session.Client().DeleteCollection(context.Background(), "notes", nil); err != nil {
		t.Fatal(err)
	}
	lt.settle()
	lt.addDevice("dev2") // it can only get n1 from the server
	lt.settle()
	for d := range lt.devs {
		lt.wantLive(d, "notes", map[string]string{"n1": "one"})
	}
}
