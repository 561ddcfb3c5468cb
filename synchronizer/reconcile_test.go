package synchronizer_test

import (
	"encoding/json"
	"testing"

	"github.com/syncctl/syncctl/synchronizer"
	"github.com/syncctl/syncctl/wbo"
)

func rec(payload string, modified wbo.Timestamp) wbo.Record {
	return wbo.Record{ID: "x", Payload: []byte(payload), Modified: modified}
}

func decode(t *testing.T, r wbo.Record) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Payload, &m); err != nil {
		t.Fatalf("%s: %v", r.Payload, err)
	}
	return m
}

func TestThreeWayMergesFieldByField(t *testing.T) {
	t.Parallel()
	mirror := []byte(`{"id":"x","title":"old","url":"u1","tags":["a"]}`)
	local := rec(`{"id":"x","title":"local title","url":"u1","tags":["a"],"note":"added locally"}`, 2000)
	remote := rec(`{"id":"x","title":"old","url":"u2","tags":["a"]}`, 1000)
	got := decode(t, synchronizer.ThreeWay{}.Reconcile(local, remote, mirror))
	if got["title"] != "local title" || got["url"] != "u2" || got["note"] != "added locally" {
		t.Errorf("merged %v", got)
	}
}

func TestThreeWayBothChangedTheSameFieldNewerWins(t *testing.T) {
	t.Parallel()
	mirror := []byte(`{"id":"x","title":"old"}`)
	for _, tc := range []struct {
		localTS, remoteTS wbo.Timestamp
		want              string
	}{{2000, 1000, "local"}, {1000, 2000, "remote"}} {
		got := decode(t, synchronizer.ThreeWay{}.Reconcile(rec(`{"id":"x","title":"local"}`, tc.localTS), rec(`{"id":"x","title":"remote"}`, tc.remoteTS), mirror))
		if got["title"] != tc.want {
			t.Errorf("local@%d remote@%d: %v", tc.localTS, tc.remoteTS, got)
		}
	}
}

func TestThreeWayRemovedFieldsAndDeletes(t *testing.T) {
	t.Parallel()
	mirror := []byte(`{"id":"x","a":1,"b":2}`)
	got := decode(t, synchronizer.ThreeWay{}.Reconcile(rec(`{"id":"x","a":1}`, 2000), rec(`{"id":"x","a":1,"b":2,"c":3}`, 1000), mirror))
	if _, ok := got["b"]; ok || got["c"] != 3.0 {
		t.Errorf("a local removal and a remote addition: %v", got)
	}
	del := rec(`{"id":"x","deleted":true}`, 1000)
	upd := rec(`{"id":"x","a":5}`, 2000)
	if r := (synchronizer.ThreeWay{}).Reconcile(upd, del, mirror); wbo.IsTombstone(r.Payload) {
		t.Error("an older delete beat a newer update")
	}
	del.Modified = 3000
	if r := (synchronizer.ThreeWay{}).Reconcile(upd, del, mirror); !wbo.IsTombstone(r.Payload) {
		t.Error("a newer delete lost to an older update")
	}
}

func TestWithoutAMirrorNewestWins(t *testing.T) {
	t.Parallel()
	got := synchronizer.ThreeWay{}.Reconcile(rec(`{"id":"x","v":"l"}`, 5000), rec(`{"id":"x","v":"r"}`, 1000), nil)
	if string(got.Payload) != `{"id":"x","v":"l"}` {
		t.Errorf("%s", got.Payload)
	}
	if got := (synchronizer.NewestWins{}).Reconcile(rec("l", 1000), rec("r", 1000), nil); string(got.Payload) != "r" {
		t.Errorf("a tie goes to the server: %s", got.Payload)
	}
}
