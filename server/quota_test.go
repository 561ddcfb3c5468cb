package server_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncctl/syncctl/server"
)

// A user at their quota is refused writes (403, body 14, as syncstorage-rs) but may
// delete, and is let write again once under it; info/quota and X-Weave-Quota-Remaining
// say where they stand. Other users are not affected.
func TestAQuotaRefusesWritesButNotDeletes(t *testing.T) {
	t.Parallel()
	var ahead atomic.Int64 // the server's clock, ahead of the wall's
	_, ts := startServer(t, server.Options{Quota: 10 << 10, Now: func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }})
	c := login(t, ts.URL, "alice-secret")
	big := strings.Repeat("x", 6<<10)
	r := c.mustStatus(c.do("POST", "/storage/blobs", `[{"id":"a","payload":"`+big+`"}]`), 200)
	if got := r.header.Get("X-Weave-Quota-Remaining"); got != "10.00" { // counted before the write
		t.Errorf("X-Weave-Quota-Remaining = %q", got)
	}
	c.mustStatus(c.do("PUT", "/storage/blobs/b", `{"payload":"`+big+`"}`), 200) // 6 KB used: under
	var quota []float64
	c.do("GET", "/info/quota", "").json(t, &quota)
	if len(quota) != 2 || quota[0] != 12 || quota[1] != 10 {
		t.Errorf("info/quota = %v", quota)
	}
	for _, w := range []struct{ method, path, body string }{
		{"POST", "/storage/blobs", `[{"id":"c","payload":"c"}]`},
		{"PUT", "/storage/blobs/c", `{"payload":"c"}`},
		{"PUT", "/storage/meta/global", `{"payload":"m"}`},
	} {
		r := c.do(w.method, w.path, w.body)
		if r.status != 403 || strings.TrimSpace(r.body) != "14" || r.header.Get("X-Weave-Quota-Remaining") != "0.00" {
			t.Errorf("%s %s over quota: %d %q %v", w.method, w.path, r.status, r.body, r.header)
		}
	}
	bob := login(t, ts.URL, "bob-secret")
	bob.mustStatus(bob.do("PUT", "/storage/blobs/x", `{"payload":"x"}`), 200)

	c.mustStatus(c.do("DELETE", "/storage/blobs?ids=a,b", ""), 200)
	// The count is trusted for 10 s (deletes are not taken off until a recount); after
	// it, the user is under the quota again.
	ahead.Store(int64(11 * time.Second))
	r = c.mustStatus(c.do("PUT", "/storage/blobs/c", `{"payload":"c"}`), 200)
	if got := r.header.Get("X-Weave-Quota-Remaining"); got != "10.00" {
		t.Errorf("after deleting: X-Weave-Quota-Remaining = %q", got)
	}
}
