package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/syncctl/syncctl/internal/pgtest"
)

// A client that gives up mid-write cancels the request's context, and database/sql then
// rolls the transaction back on its own. The write lock must still be released, or every
// later write and token request waits forever.
func TestCancelledWriteReleasesTheWriteLock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st, err := openStore(dir, pgtest.For(t, dir), time.Now, false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := st.beginWrite(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	for i := 0; ; i++ { // until database/sql has ended the transaction itself
		if _, err := w.tx.tx.ExecContext(context.Background(), `SELECT 1`); errors.Is(err, sql.ErrTxDone) {
			break
		}
		if i == 500 {
			t.Fatal("database/sql never ended the cancelled transaction")
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.rollback()

	got := make(chan error, 1)
	go func() {
		w, err := st.beginWrite(context.Background(), 1)
		if err == nil {
			err = w.commit()
		}
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the write lock was never released")
	}
}

// Records past their TTL and batches past their lifetime are deleted, not only hidden:
// they would take disk forever. Live records stay.
func TestExpiredRecordsArePurged(t *testing.T) {
	t.Parallel()
	now := time.Now()
	clock := func() time.Time { return now }
	dir := t.TempDir()
	st, err := openStore(dir, pgtest.For(t, dir), clock, false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	w, err := st.beginWrite(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	for i, ttl := range []int64{60, 60, 3600} {
		in := bsoInput{ID: fmt.Sprint("r", i), HasPayload: true, Payload: "p", HasTTL: true, TTLSet: true, TTL: ttl}
		if err := w.put("tabs", &in); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.createBatch("tabs", 1000); err != nil {
		t.Fatal(err)
	}
	if err := w.commit(); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	purged, err := st.purgeExpired()
	if err != nil || purged != 2 {
		t.Fatalf("purged %d (%v), want the 2 expired records", purged, err)
	}
	var records, batches int
	st.r.QueryRow(`SELECT COUNT(*) FROM bsos`).Scan(&records)
	st.r.QueryRow(`SELECT COUNT(*) FROM batches`).Scan(&batches)
	if records != 1 || batches != 0 {
		t.Fatalf("left: %d records, %d batches; want the live record only", records, batches)
	}
}
