package server_test

import (
	"net/url"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncctl/syncctl/server"
)

type batchReply struct {
	Batch    string
	Modified float64
	Success  []string
	Failed   map[string]string
}

func TestBatchUploads(t *testing.T) {
	t.Parallel()
	_, ts := startServer(t, server.Options{Limits: server.Limits{MaxTotalRecords: 5, MaxPostRecords: 3}})
	c := login(t, ts.URL, "alice-secret")
	c.mustStatus(c.do("PUT", "/storage/b/old", `{"payload":"old","sortindex":17}`), 200)
	before := c.do("GET", "/storage/b", "").header.Get("X-Last-Modified")

	t.Run("create, append and commit; nothing is visible before the commit", func(t *testing.T) {
		var created batchReply
		r := c.mustStatus(c.do("POST", "/storage/b?batch=true", `[{"id":"x1","payload":"1"}]`), 202)
		r.json(t, &created)
		if created.Batch == "" || !slices.Equal(created.Success, []string{"x1"}) || r.header.Get("X-Last-Modified") != before {
			t.Fatalf("%+v %v", created, r.header)
		}
		id := url.QueryEscape(created.Batch)
		c.mustStatus(c.do("POST", "/storage/b?batch="+id, `[{"id":"x2","payload":"2"},{"id":"x1","payload":"1b"}]`), 202)
		var visible []string
		g := c.do("GET", "/storage/b", "")
		g.json(t, &visible)
		if !slices.Equal(visible, []string{"old"}) || g.header.Get("X-Last-Modified") != before {
			t.Errorf("staged items visible: %v", visible)
		}
		var colls map[string]float64
		c.do("GET", "/info/collections", "").json(t, &colls)

		time.Sleep(20 * time.Millisecond)
		var done batchReply
		cr := c.mustStatus(c.do("POST", "/storage/b?commit=true&batch="+id, `[{"id":"x3","payload":"3"},{"id":"old","ttl":100}]`), 200)
		cr.json(t, &done)
		if done.Batch != "" || cr.ts("X-Last-Modified") != done.Modified || !slices.Equal(done.Success, []string{"x3", "old"}) {
			t.Errorf("%+v", done)
		}
		var recs []bso
		c.do("GET", "/storage/b?full=1&sort=oldest", "").json(t, &recs)
		got := map[string]bso{}
		for _, r := range recs {
			got[r.ID] = r
		}
		if got["x1"].Payload != "1b" || got["x1"].Modified != done.Modified || got["x3"].Modified != done.Modified || got["x2"].Modified != done.Modified {
			t.Errorf("after commit: %+v", got)
		}
		if got["old"].Payload != "old" || *got["old"].SortIndex != 17 {
			t.Errorf("partial update lost fields: %+v", got["old"])
		}
		c.do("GET", "/info/collections", "").json(t, &colls)
		if colls["b"] != done.Modified {
			t.Errorf("info/collections %v, want %v", colls["b"], done.Modified)
		}
		c.mustStatus(c.do("POST", "/storage/b?batch="+id, `[]`), 400) // committed batches are gone
	})
	t.Run("batch=true&commit=true is a plain POST", func(t *testing.T) {
		var r batchReply
		c.mustStatus(c.do("POST", "/storage/b?batch=true&commit=true", `[{"id":"now","payload":"n"}]`), 200).json(t, &r)
		if r.Batch != "" || r.Modified == 0 {
			t.Errorf("%+v", r)
		}
	})
	t.Run("bad batch ids and commits are 400", func(t *testing.T) {
		c.mustStatus(c.do("POST", "/storage/b?batch=sammich", `[]`), 400)
		c.mustStatus(c.do("POST", "/storage/b?commit=true", `[]`), 400)
		var created batchReply
		c.mustStatus(c.do("POST", "/storage/b?batch=true", `[]`), 202).json(t, &created)
		c.mustStatus(c.do("POST", "/storage/b?batch="+url.QueryEscape(created.Batch)+"&commit=false", `[]`), 400)
	})
	t.Run("a batch belongs to its collection and its user", func(t *testing.T) {
		var created batchReply
		c.mustStatus(c.do("POST", "/storage/b?batch=true", `[{"id":"s1","payload":"s"}]`), 202).json(t, &created)
		id := url.QueryEscape(created.Batch)
		c.mustStatus(c.do("POST", "/storage/other?batch="+id+"&commit=true", `[]`), 400)
		bob := login(t, ts.URL, "bob-secret")
		bob.mustStatus(bob.do("POST", "/storage/b?batch="+id+"&commit=true", `[]`), 400)
		c.mustStatus(c.do("POST", "/storage/b?batch="+id+"&commit=true", `[]`), 200)
		c.mustStatus(c.do("GET", "/storage/b/s1", ""), 200)
		bob.mustStatus(bob.do("GET", "/storage/b/s1", ""), 404)
	})
	t.Run("invalid items are reported and skipped; the commit applies the rest", func(t *testing.T) {
		var created, done batchReply
		c.mustStatus(c.do("POST", "/storage/f?batch=true", `[{"id":"ok1","payload":"a"},{"id":"bad1","sortindex":"x"}]`), 202).json(t, &created)
		if _, ok := created.Failed["bad1"]; !ok {
			t.Errorf("%+v", created)
		}
		c.mustStatus(c.do("POST", "/storage/f?commit=true&batch="+url.QueryEscape(created.Batch), `[{"id":"bad2","ttl":-5},{"id":"ok2"}]`), 200).json(t, &done)
		var ids []string
		c.do("GET", "/storage/f?sort=oldest", "").json(t, &ids)
		slices.Sort(ids)
		if !slices.Equal(ids, []string{"ok1", "ok2"}) {
			t.Errorf("%v", ids)
		}
	})
	t.Run("max_total_records caps what one batch can stage", func(t *testing.T) {
		var a, b batchReply
		c.mustStatus(c.do("POST", "/storage/cap?batch=true", `[{"id":"c1"},{"id":"c2"},{"id":"c3"}]`), 202).json(t, &a)
		c.mustStatus(c.do("POST", "/storage/cap?batch="+url.QueryEscape(a.Batch), `[{"id":"c4"},{"id":"c5"},{"id":"c6"}]`), 202).json(t, &b)
		if len(b.Success) != 2 || b.Failed["c6"] != "retry bso" {
			t.Errorf("%+v", b)
		}
	})
	t.Run("empty commit bodies: the forms bug 1397357 pins", func(t *testing.T) {
		for _, tc := range []struct {
			ct, body string
			want     int
		}{
			{"application/json", "[]", 200}, {"application/json", "{}", 400}, {"application/json", "", 400},
			{"application/newlines", "", 200}, {"application/newlines", "\n", 400}, {"application/newlines", "{}", 400}, {"application/newlines", "[]", 400},
		} {
			var created batchReply
			c.mustStatus(c.do("POST", "/storage/e?batch=true", `[{"id":"e1","payload":"e"}]`), 202).json(t, &created)
			r := c.do("POST", "/storage/e?commit=true&batch="+url.QueryEscape(created.Batch), tc.body, "Content-Type", tc.ct)
			if r.status != tc.want {
				t.Errorf("%s %q: %d, want %d", tc.ct, tc.body, r.status, tc.want)
			}
		}
	})
	t.Run("X-If-Unmodified-Since is checked on every batch request against the collection", func(t *testing.T) {
		var created batchReply
		lm := c.do("GET", "/storage/iu", "").header.Get("X-Last-Modified")
		c.mustStatus(c.do("POST", "/storage/iu?batch=true", `[{"id":"a"}]`, "X-If-Unmodified-Since", lm), 202).json(t, &created)
		c.mustStatus(c.do("PUT", "/storage/iu/intruder", `{"payload":"x"}`), 200)
		r := c.do("POST", "/storage/iu?commit=true&batch="+url.QueryEscape(created.Batch), `[]`, "X-If-Unmodified-Since", lm)
		if r.status != 412 {
			t.Errorf("commit after a concurrent write: %d", r.status)
		}
		c.mustStatus(c.do("GET", "/storage/iu/a", ""), 404)
	})
}

func TestBatchesExpire(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	_, ts := startServer(t, server.Options{BatchLifetime: time.Minute, HawkSkew: time.Hour,
		Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
	c := login(t, ts.URL, "alice-secret")
	var created batchReply
	c.mustStatus(c.do("POST", "/storage/x?batch=true", `[{"id":"a"}]`), 202).json(t, &created)
	offset.Store(int64(2 * time.Minute))
	c.mustStatus(c.do("POST", "/storage/x?commit=true&batch="+url.QueryEscape(created.Batch), `[]`), 400)
	c.mustStatus(c.do("GET", "/storage/x/a", ""), 404)
}
