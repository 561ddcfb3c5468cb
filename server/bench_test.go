package server_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/syncctl/syncctl/hawk"
	"github.com/syncctl/syncctl/internal/cputime"
	"github.com/syncctl/syncctl/internal/servertest"
	"github.com/syncctl/syncctl/server"
)

// A payload the size of an encrypted bookmark.
var benchPayload = strings.Repeat("A", 600)

func signed(c *client, method, path, body string) *http.Request {
	req, _ := http.NewRequest(method, c.endpoint+path, strings.NewReader(body))
	a := hawk.Target(method, req.URL)
	a.TS = time.Now().Unix()
	a.Nonce = fmt.Sprintf("b%d-%d", nonceSeq.Add(1), time.Now().UnixNano())
	req.Header.Set("Authorization", hawk.Header(c.id, []byte(c.key), &a))
	req.Header.Set("Content-Type", "application/json")
	return req
}

// BenchmarkPost100 posts batches of 100 records of 600 bytes over HTTP.
func BenchmarkPost100(b *testing.B) {
	_, ts := startServer(b, server.Options{})
	c := login(b, ts.URL, "alice-secret")
	var recs []string
	for i := range 100 {
		recs = append(recs, fmt.Sprintf(`{"id":"r%03d","payload":"%s"}`, i, benchPayload))
	}
	body := "[" + strings.Join(recs, ",") + "]"
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		resp, err := http.DefaultClient.Do(signed(c, "POST", fmt.Sprintf("/storage/bench%d", i%50), body))
		if err != nil || resp.StatusCode != 200 {
			b.Fatal(err, resp.StatusCode)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkGet10000 reads a 10,000-record collection in full, streamed.
func BenchmarkGet10000(b *testing.B) {
	_, ts := startServer(b, server.Options{})
	c := login(b, ts.URL, "alice-secret")
	for batch := range 100 {
		var recs []string
		for i := range 100 {
			recs = append(recs, fmt.Sprintf(`{"id":"r%05d","payload":"%s"}`, batch*100+i, benchPayload))
		}
		c.mustStatus(c.do("POST", "/storage/big", "["+strings.Join(recs, ",")+"]"), 200)
	}
	var n int64
	b.ReportAllocs()
	for b.Loop() {
		resp, err := http.DefaultClient.Do(signed(c, "GET", "/storage/big?full=1&"+url.Values{"sort": {"oldest"}}.Encode(), ""))
		if err != nil || resp.StatusCode != 200 || resp.Header.Get("X-Weave-Records") != "10000" {
			b.Fatal(err)
		}
		n, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.SetBytes(n)
	b.ReportMetric(float64(b.N*10000)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkCommit10000 commits a batch of 10,000 staged records of 600 bytes (the commit
// POST alone is timed), against SQLite inserting the same rows into the same table in one
// transaction by itself, measured in the same run: the ratio is the figure (goal ≤ 5×).
func BenchmarkCommit10000(b *testing.B) {
	_, ts := startServer(b, server.Options{})
	c := login(b, ts.URL, "alice-secret")
	post := func(path, body string) map[string]any {
		resp, err := http.DefaultClient.Do(signed(c, "POST", path, body))
		if err != nil || resp.StatusCode/100 != 2 {
			b.Fatal(path, err, resp.StatusCode)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			b.Fatal(err)
		}
		return out
	}
	page := func(round, from int) string {
		recs := make([]string, 0, 100)
		for i := from; i < from+100; i++ {
			recs = append(recs, fmt.Sprintf(`{"id":"r%d_%05d","payload":"%s"}`, round, i, benchPayload))
		}
		return "[" + strings.Join(recs, ",") + "]"
	}
	var commit, raw time.Duration
	round := 0
	for b.Loop() {
		round++
		coll := fmt.Sprintf("/storage/commit%d", round)
		batch := post(coll+"?batch=true", page(round, 0))["batch"].(string)
		for from := 100; from < 9_900; from += 100 {
			post(coll+"?batch="+batch, page(round, from))
		}
		last := page(round, 9_900)
		start := time.Now()
		post(coll+"?batch="+batch+"&commit=true", last)
		commit += time.Since(start)
		raw += rawInsert(b, 10_000)
	}
	b.ReportMetric(commit.Seconds()*1000/float64(b.N), "commit-ms")
	b.ReportMetric(raw.Seconds()*1000/float64(b.N), "sqlite-insert-ms")
	b.ReportMetric(commit.Seconds()/raw.Seconds(), "commit/sqlite")
}

// rawInsert is SQLite by itself inserting n rows of the commit's shape (see
// servertest.InsertFloor).
func rawInsert(b *testing.B, n int) time.Duration {
	rows := make([]servertest.Row, n)
	for i := range rows {
		rows[i] = servertest.Row{ID: fmt.Sprintf("r%05d", i), Payload: benchPayload}
	}
	return servertest.InsertFloor(b, "commit", rows)
}

// apartServers gives each user of BenchmarkPostConcurrentUsers a server of its own: eight
// databases and eight writers in one process, the most any split of SQLite's one writer
// (a database per shard of users) could give the same load on the same cores.
var apartServers = flag.Bool("concurrent.apart", false, "BenchmarkPostConcurrentUsers: a server (and database) per user")

// BenchmarkPostConcurrentUsers measures POST ingest (batches of 100 records of 600
// bytes) by one user, then by 8 users at once (distinct accounts), on one server in the
// same run: the ratio of their records per second is the figure (goal ≥ 1.5×). It also
// reports the cores the process kept busy in each half (its CPU time over the wall
// time): what the machine gave it to work with.
func BenchmarkPostConcurrentUsers(b *testing.B) {
	const users, posts = 8, 40 // posts per user per iteration
	secrets := map[string]string{}
	for i := range users {
		secrets[fmt.Sprintf("user%d", i)] = fmt.Sprintf("secret%d", i)
	}
	_, ts := startServer(b, server.Options{Users: secrets})
	clients := make([]*client, users)
	for i := range users {
		if *apartServers && i > 0 {
			_, ts = startServer(b, server.Options{Users: secrets})
		}
		clients[i] = login(b, ts.URL, fmt.Sprintf("secret%d", i))
	}
	var recs []string
	for i := range 100 {
		recs = append(recs, fmt.Sprintf(`{"id":"r%03d","payload":"%s"}`, i, benchPayload))
	}
	body := "[" + strings.Join(recs, ",") + "]"
	ingest := func(c *client, round int) error {
		for p := range posts {
			resp, err := http.DefaultClient.Do(signed(c, "POST", fmt.Sprintf("/storage/ingest%d_%d", round, p), body))
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		return nil
	}
	var one, many, oneCPU, manyCPU time.Duration
	round := 0
	for b.Loop() {
		round++
		start := time.Now()
		c0 := cputime.Self()
		if err := ingest(clients[0], round); err != nil {
			b.Fatal(err)
		}
		one += time.Since(start)
		oneCPU += cputime.Self() - c0
		round++
		start = time.Now()
		c1 := cputime.Self()
		errs := make(chan error, users)
		for _, c := range clients {
			go func() { errs <- ingest(c, round) }()
		}
		for range users {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
		many += time.Since(start)
		manyCPU += cputime.Self() - c1
	}
	oneRate := float64(b.N*posts*100) / one.Seconds()
	manyRate := float64(b.N*posts*100*users) / many.Seconds()
	b.ReportMetric(oneRate, "records/s-1-user")
	b.ReportMetric(manyRate, "records/s-8-users")
	b.ReportMetric(manyRate/oneRate, "8-users/1-user")
	b.ReportMetric(oneCPU.Seconds()/one.Seconds(), "cores-1-user")
	b.ReportMetric(manyCPU.Seconds()/many.Seconds(), "cores-8-users")
}
