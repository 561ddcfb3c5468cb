package firefox_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/engine"
	"github.com/syncctl/syncctl/firefox"
	"github.com/syncctl/syncctl/internal/servertest"
	"github.com/syncctl/syncctl/repository/sqlite"
	"github.com/syncctl/syncctl/server"
	"github.com/syncctl/syncctl/wbo"
)

func TestHistoryVisitsMergeByDateAndTypeAndAreCapped(t *testing.T) {
	t.Parallel()
	visits := func(from, n int) []firefox.Visit {
		var v []firefox.Visit
		for i := range n {
			v = append(v, firefox.Visit{Date: int64(from + i), Type: 1})
		}
		return v
	}
	rec := func(v []firefox.Visit, modified wbo.Timestamp) wbo.Record {
		p, _ := firefox.Encode(&firefox.History{ID: "h", HistURI: "https://x", Visits: v})
		return wbo.Record{ID: "h", Payload: p, Modified: modified}
	}
	got := firefox.HistoryRule{}.Reconcile(rec(visits(100, 3), 2000), rec(visits(101, 3), 1000), nil)
	h, _ := firefox.Parse[firefox.History](got.Payload)
	if len(h.Visits) != 4 || h.Visits[0].Date != 103 || h.Visits[3].Date != 100 {
		t.Errorf("merged %v", h.Visits)
	}
	got = firefox.HistoryRule{}.Reconcile(rec(visits(0, 15), 2000), rec(visits(100, 15), 1000), nil)
	h, _ = firefox.Parse[firefox.History](got.Payload)
	if len(h.Visits) != firefox.MaxVisits || h.Visits[0].Date != 114 {
		t.Errorf("capped to %d, newest %d", len(h.Visits), h.Visits[0].Date)
	}
}

func TestTheSameLoginUnderTwoGUIDsIsDeduped(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	kB := make([]byte, 32)
	sk, _ := crypto.SyncKeyBundle(kB)
	device := func() (*sqlite.DB, *engine.Session) {
		db, _ := sqlite.Open(t.TempDir()+"/p.db", nil)
		t.Cleanup(func() { db.Close() })
		var engines []engine.Engine
		for _, e := range firefox.Engines(func(c string) firefox.Store { return db.Collection(c) }) {
			if e.Name() == "passwords" {
				engines = append(engines, e)
			}
		}
		s, _ := engine.NewSession(engine.Options{Tokens: srv.Tokens("alice"), SyncKey: sk, State: db, Engines: engine.NewRegistry(engines...)})
		return db, s
	}
	login := func(id, password string) wbo.Record {
		form := "https://example.org"
		p, _ := firefox.Encode(&firefox.Login{ID: id, Hostname: "https://example.org", FormSubmitURL: &form, Username: "me", Password: password})
		return wbo.Record{ID: id, Payload: p}
	}
	dbA, a := device()
	dbA.Collection("passwords").Store(context.Background(), []wbo.Record{login("{guid-on-a}", "pw")})
	if _, err := a.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	dbB, b := device()
	dbB.Collection("passwords").Store(context.Background(), []wbo.Record{login("{guid-on-b}", "pw")})
	res, err := b.Sync(context.Background())
	if err != nil || res.Engines["passwords"].Deduped != 1 {
		t.Fatalf("%+v %v", res.Engines["passwords"], err)
	}
	live := map[string]string{}
	dbB.Collection("passwords").FetchSince(context.Background(), 0, func(r wbo.Record) error {
		var m map[string]any
		json.Unmarshal(r.Payload, &m)
		if m["deleted"] != true {
			live[r.ID] = m["password"].(string)
		}
		return nil
	})
	if len(live) != 1 || live["{guid-on-a}"] != "pw" {
		t.Errorf("b holds %v, want only a's GUID", live)
	}
}
