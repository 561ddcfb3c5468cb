package server_test

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/syncctl/syncctl/internal/pgtest"
)

var multiNodeRun = flag.Duration("multinode", 30*time.Second, "how long TestManyNodesOnOnePostgres writes and reads")

// cluster is several server processes on one database, which clients use round-robin.
type cluster struct {
	db, users  string
	dirs, urls []string
}

// node is the base URL of the i-th node.
func (c *cluster) node(i int) string { return c.urls[i%len(c.urls)] }

// outcome of one request against the cluster.
type outcome int

const (
	answered  outcome = iota
	refused           // nothing listened: the request was never sent, and is safe to send again
	ambiguous         // the connection broke mid-request: it may or may not have been applied
)

// call sends a request to node first, and, while nodes refuse connections (one is
// down), to the next ones; retries counts each such move, and each 503 waited out.
func call(c *client, cl *cluster, node int, method, path, body string, retries *atomic.Int64) (reply, outcome) {
	for attempt := 0; ; attempt++ {
		r, err := c.send(method, cl.node(node+attempt)+path, body)
		switch {
		case err == nil && r.status == 503:
			retries.Add(1)
			wait, _ := strconv.Atoi(r.header.Get("Retry-After"))
			time.Sleep(min(time.Duration(wait)*time.Second, time.Second))
			continue
		case err == nil:
			return r, answered
		case errors.Is(err, syscall.ECONNREFUSED):
			retries.Add(1)
			if attempt > 50 {
				return reply{}, refused
			}
			time.Sleep(20 * time.Millisecond)
			continue
		default:
			retries.Add(1)
			return reply{}, ambiguous
		}
	}
}

// Three server processes on one PostgreSQL, behind no balancer but their clients, which
// go round-robin: 8 writers commit batches begun on one node, appended on a second and
// committed on a third, while 8 readers read the same collections from any node; one
// node is killed mid-run and started again. Nothing acknowledged is lost, no reader
// sees part of a batch or goes back in time, and each user's timestamps strictly increase.
func TestManyNodesOnOnePostgres(t *testing.T) {
	db := pgtest.Require(t)
	const nodes, writers, readers, users, perBatch = 3, 8, 8, 4, 6
	var specs []string
	for u := range users {
		specs = append(specs, fmt.Sprintf("u%d:u%d-secret", u, u))
	}
	cl := &cluster{db: db, users: strings.Join(specs, ",")}
	procs := make([]interface{ Kill() error }, nodes)
	for i := range nodes {
		cl.dirs = append(cl.dirs, t.TempDir())
		cmd, u := startNode(t, cl.dirs[i], "", db, cl.users)
		procs[i] = cmd.Process
		cl.urls = append(cl.urls, u)
	}
	clients := make([]*client, users)
	for u := range users {
		clients[u] = login(t, cl.node(u), fmt.Sprintf("u%d-secret", u))
	}
	path := func(c *client, rest string) string {
		u, _ := url.Parse(c.endpoint)
		return u.Path + rest
	}

	var (
		retries, reads, batches, records atomic.Int64
		acked                            [writers]atomic.Int64 // the last batch acknowledged per writer
		mu                               sync.Mutex
		stamps                           = map[int][]float64{} // user → commit timestamps
		failures                         []string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	deadline := time.Now().Add(*multiNodeRun)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := clients[w%users]
			coll := path(c, "/storage/w"+strconv.Itoa(w))
			var last float64
			for k := int64(1); time.Now().Before(deadline); k++ {
				items := func(from int) string {
					var s []string
					for i := from; i < from+2; i++ {
						s = append(s, fmt.Sprintf(`{"id":"r%d","payload":"w%d-%d"}`, i, w, k))
					}
					return "[" + strings.Join(s, ",") + "]"
				}
				r, o := call(c, cl, int(k), "POST", coll+"?batch=true", items(0), &retries)
				if o != answered || r.status != 202 {
					if o == answered {
						fail("writer %d: batch begin: %d %s", w, r.status, r.body)
					}
					continue
				}
				var res struct{ Batch string }
				r.json(t, &res)
				id := url.QueryEscape(res.Batch)
				if r, o = call(c, cl, int(k)+1, "POST", coll+"?batch="+id, items(2), &retries); o != answered || r.status != 202 {
					if o == answered {
						fail("writer %d: batch append on another node: %d %s", w, r.status, r.body)
					}
					continue
				}
				r, o = call(c, cl, int(k)+2, "POST", coll+"?batch="+id+"&commit=true", items(4), &retries)
				if o != answered {
					continue // not acknowledged: either outcome is right
				}
				if r.status != 200 {
					fail("writer %d: commit on a third node: %d %s", w, r.status, r.body)
					continue
				}
				ts := r.ts("X-Last-Modified")
				if ts <= last {
					fail("writer %d: commit at %.2f after one at %.2f", w, ts, last)
				}
				last = ts
				acked[w].Store(k)
				batches.Add(1)
				records.Add(perBatch)
				mu.Lock()
				stamps[w%users] = append(stamps[w%users], ts)
				mu.Unlock()
			}
		}()
	}
	for rd := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := rd // each reader watches one writer's collection
			c := clients[w%users]
			coll := path(c, "/storage/w"+strconv.Itoa(w)+"?full=1")
			var seen int64
			for n := 0; time.Now().Before(deadline); n++ {
				before := acked[w].Load()
				r, o := call(c, cl, n, "GET", coll, "", &retries)
				if o != answered {
					continue
				}
				if r.status != 200 {
					fail("reader %d: %d %s", rd, r.status, r.body)
					continue
				}
				reads.Add(1)
				var recs []struct{ ID, Payload string }
				r.json(t, &recs)
				if len(recs) == 0 {
					if before > 0 {
						fail("reader %d: no records, but batch %d was acknowledged", rd, before)
					}
					continue
				}
				batch := int64(-1)
				for _, rec := range recs {
					var ww, k int64
					fmt.Sscanf(rec.Payload, "w%d-%d", &ww, &k)
					if batch >= 0 && k != batch {
						fail("reader %d: records of batches %d and %d in one answer: half a batch visible", rd, batch, k)
					}
					batch = k
				}
				if len(recs) != perBatch {
					fail("reader %d: %d records of batch %d, want %d", rd, len(recs), batch, perBatch)
				}
				if batch < seen {
					fail("reader %d: batch %d after batch %d: back in time", rd, batch, seen)
				}
				if batch < before {
					fail("reader %d: batch %d, but batch %d was acknowledged before the read began: lost", rd, batch, before)
				}
				seen = batch
			}
		}()
	}

	// One node dies a third of the way in (SIGKILL: no goodbye), and comes back on its
	// address, its data dir and the database.
	killed := time.NewTimer(*multiNodeRun / 3)
	<-killed.C
	procs[1].Kill()
	time.Sleep(*multiNodeRun / 6)
	addr := strings.TrimPrefix(cl.urls[1], "http://")
	startNode(t, cl.dirs[1], addr, db, cl.users)
	wg.Wait()

	for _, f := range failures {
		t.Error(f)
	}
	for w := range writers {
		c := clients[w%users]
		r := c.mustStatus(c.doURL("GET", cl.node(0)+path(c, "/storage/w"+strconv.Itoa(w)+"?full=1"), ""), 200)
		var recs []struct{ ID, Payload string }
		r.json(t, &recs)
		for _, rec := range recs {
			var ww, k int64
			fmt.Sscanf(rec.Payload, "w%d-%d", &ww, &k)
			if k < acked[w].Load() {
				t.Errorf("writer %d: %s holds batch %d, but batch %d was acknowledged", w, rec.ID, k, acked[w].Load())
			}
		}
		if acked[w].Load() > 0 && len(recs) != perBatch {
			t.Errorf("writer %d: %d records at the end, want %d", w, len(recs), perBatch)
		}
	}
	for u, ts := range stamps {
		seen := map[float64]bool{}
		for _, s := range ts {
			if seen[s] {
				t.Errorf("user %d: two commits at %.2f: timestamps must strictly increase per user", u, s)
			}
			seen[s] = true
		}
	}
	if batches.Load() == 0 || reads.Load() == 0 {
		t.Fatalf("nothing happened: %d batches, %d reads", batches.Load(), reads.Load())
	}
	t.Logf("multi-node %s: %d nodes (one killed and restarted), %d writers, %d readers: %d batches acknowledged (%d records, each begun, appended and committed on three nodes), %d reads, %d retries, 0 acknowledged writes lost",
		*multiNodeRun, nodes, writers, readers, batches.Load(), records.Load(), reads.Load(), retries.Load())
}
