package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/syncctl/syncctl/internal/servertest"
	"github.com/syncctl/syncctl/server"
)

func TestStatusSaysWhatTheSavedStateHolds(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	a := newDevice(t, srv, "a", deviceOpts{})
	ctx := context.Background()
	st, err := a.session.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.ClientID != "" || !st.LastSync.IsZero() || st.Engines["notes"].LastServer != 0 {
		t.Errorf("before any sync: %+v", st)
	}
	a.write("n1", "one")
	if st, _ = a.session.Status(ctx); st.Engines["notes"].Pending != 1 {
		t.Errorf("one local write: %+v", st.Engines)
	}
	before := time.Now().Add(-time.Second)
	a.sync()
	st, err = a.session.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.ClientID == "" || st.LastSync.Before(before) || st.RotatingKeys || st.LoggedOut {
		t.Errorf("after a sync: %+v", st)
	}
	if n := st.Engines["notes"]; n.Pending != 0 || n.LastServer == 0 {
		t.Errorf("notes after a sync: %+v", n)
	}
	srv.InjectFault(server.Fault{PathPrefix: "/1.5/", Count: 1, Backoff: 3600})
	a.sync()
	if st, _ = a.session.Status(ctx); time.Until(st.BackoffUntil) < 50*time.Minute {
		t.Errorf("after a backoff of an hour: until %v", st.BackoffUntil)
	}
}

func TestAnUnreadableOutboxIsReportedNotOverwritten(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	a := newDevice(t, srv, "a", deviceOpts{})
	ctx := context.Background()
	if err := a.db.SetState(ctx, map[string]string{"session.outbox": "{not json"}); err != nil {
		t.Fatal(err)
	}
	if err := a.session.SendCommand(ctx, "*", "wipeAll"); err == nil {
		t.Error("SendCommand over an unreadable outbox succeeded: the commands queued before would be lost")
	}
	if v, _ := a.db.State(ctx, "session.outbox"); v != "{not json" {
		t.Errorf("the outbox was overwritten: %q", v)
	}
}
