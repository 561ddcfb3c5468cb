package server_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncctl/syncctl/server"
)

// Eight writers and eight readers on one collection for two seconds. Writers alternate
// plain POSTs and three-part batches, each record tagged with its writer and sequence.
// Afterwards every acknowledged record is present with its last payload, every
// acknowledged timestamp is unique and increasing per writer, and no reader ever saw a
// batch in part.
func TestConcurrentWritersAndReaders(t *testing.T) {
	t.Parallel()
	_, ts := startServer(t, server.Options{})
	c := login(t, ts.URL, "alice-secret")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()

	var (
		mu     sync.Mutex
		acked  = map[string]string{} // id → last acknowledged payload
		stamps = map[float64]string{}
		errs   []string
	)
	fail := func(format string, a ...any) {
		mu.Lock()
		errs = append(errs, fmt.Sprintf(format, a...))
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := 0.0
			for seq := 0; ctx.Err() == nil; seq++ {
				var ids []string
				var r batchReply
				payload := fmt.Sprintf("w%d-%d", w, seq)
				if seq%2 == 0 {
					body := fmt.Sprintf(`[{"id":"w%d-a","payload":"%s"},{"id":"w%d-b","payload":"%s"}]`, w, payload, w, payload)
					res := c.do("POST", "/storage/busy", body)
					if res.status != 200 {
						fail("post: %d", res.status)
						return
					}
					res.json(t, &r)
					ids = []string{fmt.Sprintf("w%d-a", w), fmt.Sprintf("w%d-b", w)}
				} else {
					// A batch whose three parts carry the same tag: a reader must see all
					// three with it or none.
					var b batchReply
					c.do("POST", "/storage/busy?batch=true", fmt.Sprintf(`[{"id":"w%d-x","payload":"%s"}]`, w, payload)).json(t, &b)
					c.do("POST", "/storage/busy?batch="+url.QueryEscape(b.Batch), fmt.Sprintf(`[{"id":"w%d-y","payload":"%s"}]`, w, payload))
					res := c.do("POST", "/storage/busy?commit=true&batch="+url.QueryEscape(b.Batch), fmt.Sprintf(`[{"id":"w%d-z","payload":"%s"}]`, w, payload))
					if res.status != 200 {
						fail("commit: %d %s", res.status, res.body)
						return
					}
					res.json(t, &r)
					ids = []string{fmt.Sprintf("w%d-x", w), fmt.Sprintf("w%d-y", w), fmt.Sprintf("w%d-z", w)}
				}
				if r.Modified <= last {
					fail("writer %d: timestamp %v not after %v", w, r.Modified, last)
				}
				last = r.Modified
				mu.Lock()
				if other, dup := stamps[r.Modified]; dup {
					errs = append(errs, fmt.Sprintf("timestamp %v given to %s and %s", r.Modified, other, payload))
				}
				stamps[r.Modified] = payload
				for _, id := range ids {
					acked[id] = payload
				}
				mu.Unlock()
			}
		}()
	}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				var recs []bso
				c.do("GET", "/storage/busy?full=1", "").json(t, &recs)
				tags := map[string]map[string]bool{} // writer → tags of its x/y/z records
				for _, r := range recs {
					if len(r.ID) > 2 && strings.ContainsAny(r.ID[len(r.ID)-1:], "xyz") {
						w := r.ID[:len(r.ID)-2]
						if tags[w] == nil {
							tags[w] = map[string]bool{}
						}
						tags[w][r.Payload] = true
					}
				}
				for w, set := range tags {
					if len(set) != 1 {
						fail("reader saw a half-committed batch of %s: %v", w, set)
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		t.Error(e)
	}
	var recs []bso
	c.do("GET", "/storage/busy?full=1", "").json(t, &recs)
	if len(recs) != len(acked) {
		t.Errorf("%d records stored, %d acknowledged", len(recs), len(acked))
	}
	for _, r := range recs {
		if acked[r.ID] != r.Payload {
			t.Errorf("%s = %q, last acknowledged %q", r.ID, r.Payload, acked[r.ID])
		}
	}
	t.Logf("%d writes acknowledged", len(stamps))
}
