package server

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"
)

// A text run twice is prepared once its transaction has ended, never inside one: with
// every reader connection held by a transaction, and the writer's one connection by a
// write, each running the same texts again and again, nothing waits. Later transactions
// run the prepared statements, the cache stays within its bound while texts come and go,
// and a statement evicted while a transaction reads from it still reads to the end.
func TestStatementsArePreparedBetweenTransactionsAndBounded(t *testing.T) {
	t.Parallel()
	st, err := openStore(t.TempDir(), "", time.Now, false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	if st.r.stmts == nil || st.w.stmts == nil {
		t.Fatal("no statement cache on SQLite")
	}
	const q = `SELECT ? + 1`
	answer := func(t *tx, n int) {
		var got int
		if err := t.QueryRow(q, n).Scan(&got); err != nil || got != n+1 {
			panic(fmt.Sprintf("SELECT %d + 1: %d, %v", n, got, err))
		}
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		var txs []*tx
		for range 8 { // the reader pool's bound: all of its connections
			rt, err := st.readTx(context.Background())
			if err != nil {
				panic(err)
			}
			txs = append(txs, rt)
		}
		for i, rt := range txs {
			for n := range 3 {
				answer(rt, i*10+n)
			}
		}
		w, err := st.beginWrite(context.Background(), 1)
		if err != nil {
			panic(err)
		}
		for n := range 3 {
			answer(w.tx, n)
		}
		if err := w.commit(); err != nil {
			panic(err)
		}
		for _, rt := range txs {
			rt.Rollback()
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("transactions waited on a Prepare")
	}
	for name, c := range map[string]*stmtCache{"reader": st.r.stmts, "writer": st.w.stmts} {
		if _, ok := c.stmts[q]; !ok {
			t.Errorf("the %s's cache does not hold a text run twice", name)
		}
	}

	// A transaction reads rows from a cached statement while others push it out.
	const series = `WITH RECURSIVE s(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM s WHERE value < 1000) SELECT value FROM s`
	readSeries := func() (*tx, *sql.Rows) {
		rt, err := st.readTx(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		rows, err := rt.Query(series)
		if err != nil {
			t.Fatal(err)
		}
		return rt, rows
	}
	for range 2 {
		rt, rows := readSeries()
		rows.Close()
		rt.Rollback()
	}
	if _, ok := st.r.stmts.stmts[series]; !ok {
		t.Fatal("the series is not cached")
	}
	rt, rows := readSeries()
	for i := range 3 * maxCachedStmts {
		other, err := st.readTx(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		text := fmt.Sprintf(`SELECT ? + %d`, i)
		for range 2 {
			var got int
			if err := other.QueryRow(text, 1).Scan(&got); err != nil || got != i+1 {
				t.Fatalf("%s: %d, %v", text, got, err)
			}
		}
		other.Rollback()
		if n := len(st.r.stmts.stmts); n > maxCachedStmts {
			t.Fatalf("%d statements cached, bound %d", n, maxCachedStmts)
		}
	}
	if s, ok := st.r.stmts.stmts[series]; ok { // evicted by now, most likely; if not, so
		s.Close()
		delete(st.r.stmts.stmts, series)
	}
	sum := 0
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		sum += v
	}
	if err := rows.Err(); err != nil || sum != 1000*1001/2 {
		t.Errorf("read %d (%v) past an eviction, want %d", sum, err, 1000*1001/2)
	}
	rows.Close()
	rt.Rollback()
}
