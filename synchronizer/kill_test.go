package synchronizer_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/internal/race"
	"github.com/syncctl/syncctl/internal/servertest"
	"github.com/syncctl/syncctl/middleware"
	"github.com/syncctl/syncctl/repository/remote"
	"github.com/syncctl/syncctl/repository/sqlite"
	"github.com/syncctl/syncctl/server"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/synchronizer"
	"github.com/syncctl/syncctl/wbo"
)

// killChild, when set, makes this test binary the device process of
// TestAKilledSyncLosesNothing: "URL|keys file|local database".
const killChild = "SYNCCTL_KILLTEST_CHILD"

func killTestSync(ctx context.Context, url, keysFile, dbPath string) (synchronizer.Result, error) {
	clear, err := os.ReadFile(keysFile)
	if err != nil {
		return synchronizer.Result{}, err
	}
	keys, err := crypto.ParseKeys(clear)
	if err != nil {
		return synchronizer.Result{}, err
	}
	db, err := sqlite.Open(dbPath, nil)
	if err != nil {
		return synchronizer.Result{}, err
	}
	defer db.Close()
	client := storage.New(storage.Options{Tokens: &storage.TokenServer{URL: url, Bearer: func(context.Context) (string, error) { return "alice-secret", nil }}})
	s := synchronizer.New(synchronizer.Options{
		Local:     db.Collection("history"),
		Remote:    middleware.NewCrypto(remote.New(remote.Options{Client: client, Collection: "history"}), "history", keys, nil),
		Key:       "history",
		ChunkSize: 1000, // many transactions, so that a kill lands between and inside them
	})
	return s.Sync(ctx)
}

// deviceState says how far a killed sync got: records held, changes pending.
func deviceState(t *testing.T, dbPath string) string {
	db, err := sqlite.Open(dbPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	held, pending := 0, 0
	coll := db.Collection("history")
	coll.FetchSince(context.Background(), 0, func(wbo.Record) error { held++; return nil })
	coll.Changes(context.Background(), func(wbo.Record) error { pending++; return nil })
	return fmt.Sprintf("%d records, %d pending", held, pending)
}

func historyRecord(id string, n int) wbo.Record {
	return wbo.Record{ID: id, Payload: fmt.Appendf(nil, `{"id":%q,"histUri":"https://example.com/%s","title":"v%d","visits":[]}`, id, id, n)}
}

// A device's sync process killed (SIGKILL) at random moments of a first sync that
// downloads 20,000 records and uploads 3,000 local changes, then restarted, again and
// again: once a sync finally runs to its end, the device holds every record of both
// sides, the server every local change, each exactly as written, and nothing is left
// pending. Neither what the server acknowledged nor what the device wrote is lost, and
// a repeated download or upload changes nothing.
func TestAKilledSyncLosesNothing(t *testing.T) { killedSyncLosesNothing(t, 3_000) }

// The same for a fresh device, with nothing of its own: its first sync may apply several
// chunks in one transaction (TxTime), and a kill inside one loses all of that
// transaction, which the next sync fetches again.
func TestAKilledFirstSyncOfAFreshDeviceLosesNothing(t *testing.T) { killedSyncLosesNothing(t, 0) }

// killedSyncLosesNothing is the kill test with local changes made on the device first.
func killedSyncLosesNothing(t *testing.T, local int) {
	if spec := os.Getenv(killChild); spec != "" {
		var url, keysFile, dbPath string
		if _, err := fmt.Sscanf(spec, "%s %s %s", &url, &keysFile, &dbPath); err != nil {
			t.Fatal(err)
		}
		if _, err := killTestSync(context.Background(), url, keysFile, dbPath); err != nil {
			t.Fatal(err)
		}
		return
	}
	if race.Enabled {
		// A race-built process starts and syncs ten times slower, and the test is about
		// crashes, not data races: the plain run (CI runs both) covers it.
		t.Skip("killing processes under the race detector: left to the plain run")
	}
	t.Parallel()
	const onServer = 20_000
	ctx := context.Background()
	srv := servertest.Start(t, server.Options{}, nil)
	keys, err := crypto.GenerateKeys(nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keysFile, dbPath := filepath.Join(dir, "keys.json"), filepath.Join(dir, "local.db")
	if err := os.WriteFile(keysFile, keys.Cleartext(), 0o600); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	up := middleware.NewCrypto(remote.New(remote.Options{Client: srv.Client("alice", storage.Options{}), Collection: "history"}), "history", keys, nil)
	for i := 0; i < onServer; i += 1000 {
		var batch []wbo.Record
		for j := i; j < i+1000; j++ {
			rec := historyRecord(guidOf(j), 1)
			want[rec.ID] = string(rec.Payload)
			batch = append(batch, rec)
		}
		if _, err := up.Store(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sqlite.Open(dbPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	var changes []wbo.Record
	for j := range local {
		rec := historyRecord(fmt.Sprintf("local%07d", j), 2)
		want[rec.ID] = string(rec.Payload)
		changes = append(changes, rec)
	}
	if _, err := db.Collection("history").Store(ctx, changes); err != nil {
		t.Fatal(err)
	}
	db.Close()

	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(uint64(seed), 0))
	// Each round lets the process run a little longer, so that the kills land in the
	// download, in the upload and between them, until one finishes on its own.
	kills := 0
	for round := 0; ; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1")
		cmd.Env = append(os.Environ(), killChild+"="+fmt.Sprintf("%s %s %s", srv.URL, keysFile, dbPath))
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		finished := false
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("round %d: the device process failed on its own: %v", round, err)
			}
			finished = true
			t.Logf("round %d: the sync finished on its own in %v", round, time.Since(start).Round(time.Millisecond))
		case <-time.After(time.Duration(30+40*round+rnd.IntN(40)) * time.Millisecond):
			cmd.Process.Kill()
			<-done
			kills++
			t.Logf("round %d: killed after %v; the device then held %s", round, time.Since(start).Round(time.Millisecond), deviceState(t, dbPath))
		}
		if finished || round == 60 {
			break
		}
	}
	if kills < 3 {
		t.Fatalf("only %d syncs were killed before one finished", kills)
	}

	res, err := killTestSync(ctx, srv.URL, keysFile, dbPath)
	if err != nil {
		t.Fatalf("the sync after %d kills: %v", kills, err)
	}
	t.Logf("%d kills; the last sync: %+v", kills, res)
	if again, err := killTestSync(ctx, srv.URL, keysFile, dbPath); err != nil || again.Applied != 0 || again.Uploaded != 0 {
		t.Errorf("a sync after that one moved records: %+v, %v", again, err)
	}

	db, err = sqlite.Open(dbPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got := map[string]string{}
	if err := db.Collection("history").FetchSince(ctx, 0, func(r wbo.Record) error { got[r.ID] = string(r.Payload); return nil }); err != nil {
		t.Fatal(err)
	}
	onDevice := 0
	if err := db.Collection("history").Changes(ctx, func(wbo.Record) error { onDevice++; return nil }); err != nil || onDevice != 0 {
		t.Errorf("%d records still pending (%v)", onDevice, err)
	}
	server := map[string]string{}
	if err := up.FetchSince(ctx, 0, func(r wbo.Record) error { server[r.ID] = string(r.Payload); return nil }); err != nil {
		t.Fatal(err)
	}
	for side, have := range map[string]map[string]string{"device": got, "server": server} {
		if len(have) != len(want) {
			t.Errorf("the %s holds %d records, want %d", side, len(have), len(want))
		}
		wrong := 0
		for id, payload := range want {
			if have[id] != payload {
				if wrong++; wrong <= 3 {
					t.Errorf("the %s's %s = %q, want %q", side, id, have[id], payload)
				}
			}
		}
	}
}
