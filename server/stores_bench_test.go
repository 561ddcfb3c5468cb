package server_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/syncctl/syncctl/internal/pgtest"
	"github.com/syncctl/syncctl/server"
)

// BenchmarkStores is the server's throughput on each database, side by side in one run:
// SQLite, PostgreSQL with one node, and three nodes on one PostgreSQL (in this process,
// each with its own connection pool, the clients going round-robin), with 1 and with 8
// users (distinct accounts) at once. A POST round is one 100-record POST per user, a GET
// round one full read of each user's 1,000-record collection. ns/record is the request
// path's cost per record: wall time over records moved.
func BenchmarkStores(b *testing.B) {
	for _, store := range []struct {
		name  string
		nodes int
		pg    bool
	}{{"sqlite", 1, false}, {"postgres-1-node", 1, true}, {"postgres-3-nodes", 3, true}} {
		for _, users := range []int{1, 8} {
			for _, op := range []string{"post", "get"} {
				b.Run(fmt.Sprintf("%s/%d-users/%s", store.name, users, op), func(b *testing.B) {
					db := ""
					if store.pg {
						db = pgtest.Require(b)
					}
					benchStore(b, db, store.nodes, users, op)
				})
			}
		}
	}
}

func benchStore(b *testing.B, db string, nodes, users int, op string) {
	accounts := map[string]string{}
	for u := range users {
		accounts[fmt.Sprintf("u%d", u)] = fmt.Sprintf("u%d-secret", u)
	}
	dir := b.TempDir()
	var urls []string
	for range nodes {
		srv, err := server.New(server.Options{DataDir: dir, Database: db, MasterSecret: "bench", Users: accounts})
		if err != nil {
			b.Fatal(err)
		}
		hs := httptest.NewServer(srv.Handler())
		b.Cleanup(func() { hs.Close(); srv.Close() })
		urls = append(urls, hs.URL)
	}
	clients := make([]*client, users)
	for u := range users {
		clients[u] = login(b, urls[0], fmt.Sprintf("u%d-secret", u))
	}
	body := func(from int) string {
		var recs []string
		for i := from; i < from+100; i++ {
			recs = append(recs, fmt.Sprintf(`{"id":"r%04d","payload":"%s"}`, i, benchPayload))
		}
		return "[" + strings.Join(recs, ",") + "]"
	}
	path := func(c *client, u, rest string) string {
		return u + c.endpoint[strings.Index(c.endpoint, "/1.5/"):] + rest
	}
	send := func(c *client, method, url, body string, want int) {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", c.sign(method, url))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Error(err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			b.Errorf("%s: %d", method, resp.StatusCode)
		}
	}
	const perGet = 1000
	if op == "get" {
		for u, c := range clients {
			for i := 0; i < perGet; i += 100 {
				send(c, "POST", path(c, urls[u%nodes], "/storage/bench"), body(i), 200)
			}
		}
	}
	posts := []string{body(0), body(100), body(200), body(300)}
	b.ReportAllocs()
	round := 0
	for b.Loop() {
		var wg sync.WaitGroup
		for u, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				node := urls[(round+u)%nodes]
				if op == "post" {
					send(c, "POST", path(c, node, "/storage/bench"), posts[round%len(posts)], 200)
				} else {
					send(c, "GET", path(c, node, "/storage/bench?full=1"), "", 200)
				}
			}()
		}
		wg.Wait()
		round++
	}
	per := 100
	if op == "get" {
		per = perGet
	}
	moved := float64(b.N * users * per)
	b.ReportMetric(moved/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/moved, "ns/record")
}
