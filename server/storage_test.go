package server_test

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncctl/syncctl/server"
)

var twoDecimals = regexp.MustCompile(`^[0-9]+\.[0-9]{2}$`)

type bso struct {
	ID        string  `json:"id"`
	Modified  float64 `json:"modified"`
	Payload   string  `json:"payload"`
	SortIndex *int    `json:"sortindex"`
}

func TestInfoViews(t *testing.T) {
	t.Parallel()
	_, ts := startServer(t, server.Options{})
	c := login(t, ts.URL, "alice-secret")
	t.Run("a fresh user has empty views", func(t *testing.T) {
		for _, p := range []string{"/info/collections", "/info/collection_counts", "/info/collection_usage"} {
			r := c.mustStatus(c.do("GET", p, ""), 200)
			if r.body != "{}" || r.header.Get("X-Weave-Records") != "0" {
				t.Errorf("%s = %s", p, r.body)
			}
		}
		if r := c.do("GET", "/info/quota", ""); r.body != "[0.0,null]" {
			t.Errorf("quota = %s", r.body)
		}
	})
	var mod struct{ Modified float64 }
	c.mustStatus(c.do("POST", "/storage/bookmarks", `[{"id":"a","payload":"`+strings.Repeat("x", 512)+`"},{"id":"b","payload":"`+strings.Repeat("y", 512)+`"}]`), 200).json(t, &mod)
	c.mustStatus(c.do("PUT", "/storage/meta/global", `{"payload":"m"}`), 200)
	t.Run("collections, counts and usage reflect the writes", func(t *testing.T) {
		var colls map[string]float64
		r := c.do("GET", "/info/collections", "")
		r.json(t, &colls)
		if colls["bookmarks"] != mod.Modified || len(colls) != 2 || r.header.Get("X-Weave-Records") != "2" {
			t.Errorf("collections = %v", colls)
		}
		if r.ts("X-Last-Modified") != colls["meta"] {
			t.Errorf("X-Last-Modified %v, want the newest collection %v", r.header.Get("X-Last-Modified"), colls["meta"])
		}
		var counts map[string]int
		c.do("GET", "/info/collection_counts", "").json(t, &counts)
		if counts["bookmarks"] != 2 || counts["meta"] != 1 {
			t.Errorf("counts = %v", counts)
		}
		var usage map[string]float64
		c.do("GET", "/info/collection_usage", "").json(t, &usage)
		if usage["bookmarks"] != 1.0 {
			t.Errorf("usage = %v", usage)
		}
		var quota []any
		c.do("GET", "/info/quota", "").json(t, &quota)
		if quota[0] != 1025.0/1024 || quota[1] != nil {
			t.Errorf("quota = %v", quota)
		}
	})
	t.Run("configuration advertises the limits with X-Last-Modified 0.00", func(t *testing.T) {
		var cfg map[string]int64
		r := c.mustStatus(c.do("GET", "/info/configuration", ""), 200)
		r.json(t, &cfg)
		if cfg["max_post_records"] != 100 || cfg["max_request_bytes"] <= cfg["max_post_bytes"] || r.header.Get("X-Last-Modified") != "0.00" {
			t.Errorf("%v %v", cfg, r.header)
		}
	})
	t.Run("X-If-Modified-Since gives 304 on every info view", func(t *testing.T) {
		lm := c.do("GET", "/info/collections", "").header.Get("X-Last-Modified")
		for _, p := range []string{"/info/collections", "/info/quota", "/info/collection_usage", "/info/collection_counts"} {
			c.mustStatus(c.do("GET", p, "", "X-If-Modified-Since", lm), 304)
			c.mustStatus(c.do("GET", p, "", "X-If-Modified-Since", "1.00"), 200)
		}
	})
}

func TestItems(t *testing.T) {
	t.Parallel()
	_, ts := startServer(t, server.Options{})
	c := login(t, ts.URL, "alice-secret")
	t.Run("PUT answers its timestamp in body, X-Last-Modified and X-Weave-Timestamp", func(t *testing.T) {
		r := c.mustStatus(c.do("PUT", "/storage/col/a", `{"payload":"one","sortindex":5,"modified":1}`), 200)
		if !twoDecimals.MatchString(r.body) || r.header.Get("X-Last-Modified") != r.body || r.header.Get("X-Weave-Timestamp") != r.body {
			t.Errorf("body %s headers %v", r.body, r.header)
		}
		var got bso
		g := c.mustStatus(c.do("GET", "/storage/col/a", ""), 200)
		g.json(t, &got)
		if got.Payload != "one" || *got.SortIndex != 5 || fmt.Sprintf("%.2f", got.Modified) != r.body || g.header.Get("X-Last-Modified") != r.body {
			t.Errorf("%+v", got)
		}
		if strings.Contains(g.body, "ttl") || strings.Contains(g.body, "collection") {
			t.Errorf("internal fields echoed: %s", g.body)
		}
	})
	t.Run("partial updates keep omitted fields; null resets", func(t *testing.T) {
		c.do("PUT", "/storage/col/p", `{"payload":"keep","sortindex":3}`)
		c.do("PUT", "/storage/col/p", `{"sortindex":4}`)
		var got bso
		c.do("GET", "/storage/col/p", "").json(t, &got)
		if got.Payload != "keep" || *got.SortIndex != 4 {
			t.Errorf("%+v", got)
		}
		c.do("PUT", "/storage/col/p", `{"sortindex":null}`)
		got = bso{}
		c.do("GET", "/storage/col/p", "").json(t, &got)
		if got.SortIndex != nil || got.Payload != "keep" {
			t.Errorf("after null: %+v", got)
		}
	})
	t.Run("a ttl-only update leaves modified alone but bumps the collection", func(t *testing.T) {
		c.do("PUT", "/storage/ttlc/x", `{"payload":"p"}`)
		var before, after bso
		c.do("GET", "/storage/ttlc/x", "").json(t, &before)
		time.Sleep(20 * time.Millisecond)
		put := c.mustStatus(c.do("PUT", "/storage/ttlc/x", `{"ttl":100}`), 200)
		c.do("GET", "/storage/ttlc/x", "").json(t, &after)
		if after.Modified != before.Modified || after.Payload != "p" {
			t.Errorf("before %+v after %+v", before, after)
		}
		if put.ts("X-Last-Modified") <= before.Modified {
			t.Errorf("collection not bumped")
		}
	})
	t.Run("the URL's id wins over the body's", func(t *testing.T) {
		c.mustStatus(c.do("PUT", "/storage/col/urlid", `{"id":"other","payload":"x"}`), 200)
		c.mustStatus(c.do("GET", "/storage/col/urlid", ""), 200)
		c.mustStatus(c.do("GET", "/storage/col/other", ""), 404)
	})
	t.Run("bad bodies are 400 with WEAVE code 8 and change nothing", func(t *testing.T) {
		c.do("PUT", "/storage/col/safe", `{"payload":"safe"}`)
		for _, body := range []string{`"notabso"`, `42`, `{"id":["a"],"payload":{}}`, `{"sortindex":"xxx_meh"}`, `{"sortindex":"2.6"}`, `{"sortindex":1000000000}`,
			`{"payload":42}`, `{"ttl":"eh?"}`, `{"ttl":"4.2"}`, `{"ttl":-1}`, `{"unexpected":1}`, `{bad json`} {
			r := c.do("PUT", "/storage/col/safe", body)
			if r.status != 400 || r.body != "8" {
				t.Errorf("%s: %d %s", body, r.status, r.body)
			}
		}
		var got bso
		c.do("GET", "/storage/col/safe", "").json(t, &got)
		if got.Payload != "safe" {
			t.Errorf("payload now %q", got.Payload)
		}
		c.mustStatus(c.do("PUT", "/storage/col/neg", `{"sortindex":-42}`), 200)
	})
	t.Run("content types", func(t *testing.T) {
		c.mustStatus(c.do("PUT", "/storage/col/ct", `{"payload":"a"}`, "Content-Type", "application/json; charset=utf-8"), 200)
		c.mustStatus(c.do("PUT", "/storage/col/ct", `{"payload":"b"}`, "Content-Type", "text/plain"), 200)
		c.mustStatus(c.do("PUT", "/storage/col/ct", `{"payload":"c"}`, "Content-Type", "application/octet-stream"), 415)
		var got bso
		c.do("GET", "/storage/col/ct", "").json(t, &got)
		if got.Payload != "b" {
			t.Errorf("415 wrote: %q", got.Payload)
		}
	})
	t.Run("missing items are 404 with a JSON 0", func(t *testing.T) {
		for _, p := range []string{"/storage/col/missing", "/storage/nevercol/x"} {
			r := c.mustStatus(c.do("GET", p, ""), 404)
			if r.body != "0" || r.header.Get("Content-Type") != "application/json" {
				t.Errorf("%s: %q", p, r.body)
			}
		}
		c.mustStatus(c.do("DELETE", "/storage/col/missing", ""), 404)
	})
	t.Run("DELETE of an item bumps the collection", func(t *testing.T) {
		c.do("PUT", "/storage/del/a", `{"payload":"x"}`)
		before := c.do("GET", "/storage/del", "").ts("X-Last-Modified")
		var mod struct{ Modified float64 }
		c.mustStatus(c.do("DELETE", "/storage/del/a", ""), 200).json(t, &mod)
		if mod.Modified <= before {
			t.Errorf("modified %v not after %v", mod.Modified, before)
		}
		c.mustStatus(c.do("GET", "/storage/del/a", ""), 404)
	})
	t.Run("the known-bad crypto payload is refused only in crypto", func(t *testing.T) {
		bad := `{"payload":"{\"IV\": \"AAAAAAAAAAAAAAAAAAAAAA==\"}"}`
		c.mustStatus(c.do("PUT", "/storage/crypto/keys", bad), 400)
		c.mustStatus(c.do("POST", "/storage/crypto", `[{"id":"k","payload":"{\"IV\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}"}]`), 400)
		c.mustStatus(c.do("PUT", "/storage/col/iv", bad), 200)
	})
	t.Run("ids and collection names outside the rules are 404", func(t *testing.T) {
		c.mustStatus(c.do("GET", "/storage/col/"+strings.Repeat("x", 65), ""), 404)
		c.mustStatus(c.do("GET", "/storage/"+strings.Repeat("c", 33), ""), 404)
		c.mustStatus(c.do("GET", "/storage/bad!name", ""), 404)
	})
}

func TestPost(t *testing.T) {
	t.Parallel()
	_, ts := startServer(t, server.Options{Limits: server.Limits{MaxPostRecords: 10, MaxPostBytes: 1000, MaxRecordPayloadBytes: 400, MaxRequestBytes: 4000}})
	c := login(t, ts.URL, "alice-secret")
	type result struct {
		Modified float64
		Success  []string
		Failed   map[string]string
	}
	t.Run("creates and updates, with one shared timestamp", func(t *testing.T) {
		var res result
		r := c.mustStatus(c.do("POST", "/storage/p", `[{"id":"a","payload":"1"},{"id":"b","payload":"2","sortindex":1}]`), 200)
		r.json(t, &res)
		if len(res.Success) != 2 || len(res.Failed) != 0 || r.ts("X-Last-Modified") != res.Modified {
			t.Errorf("%+v", res)
		}
		c.mustStatus(c.do("POST", "/storage/p", `[{"id":"b","payload":"3"}]`), 200)
		var got bso
		c.do("GET", "/storage/p/b", "").json(t, &got)
		if got.Payload != "3" || *got.SortIndex != 1 {
			t.Errorf("%+v", got)
		}
	})
	t.Run("bad items fail alone, with reasons", func(t *testing.T) {
		var res result
		c.mustStatus(c.do("POST", "/storage/p", `[{"id":"ok","payload":"x"},{"id":"bad","sortindex":"FAIL"},{"id":"A\nB"},{"id":"","payload":"x"},{"id":"u","what":1},{"id":"`+strings.Repeat("X", 65)+`"}]`), 200).json(t, &res)
		if !slices.Equal(res.Success, []string{"ok"}) || len(res.Failed) != 5 || res.Failed["u"] != "unknown field what" || !strings.HasPrefix(res.Failed["bad"], "invalid bso") {
			t.Errorf("%+v", res)
		}
		c.mustStatus(c.do("GET", "/storage/p/bad", ""), 404)
	})
	t.Run("whole-request errors are 400 code 8 and write nothing", func(t *testing.T) {
		for _, body := range []string{`"notalist"`, `42`, `[{"id":"z1"},"BAD"]`, `[{"payload":"noid"}]`, `[{"id":"d"},{"id":"d"}]`, `[`} {
			r := c.do("POST", "/storage/p", body)
			if r.status != 400 || r.body != "8" {
				t.Errorf("%s: %d %s", body, r.status, r.body)
			}
		}
		c.mustStatus(c.do("GET", "/storage/p/z1", ""), 404)
	})
	t.Run("limits: max_post_records and bytes fail the surplus items", func(t *testing.T) {
		var items []string
		for i := range 15 {
			items = append(items, fmt.Sprintf(`{"id":"r%d","payload":"x"}`, i))
		}
		var res result
		c.mustStatus(c.do("POST", "/storage/lim", "["+strings.Join(items, ",")+"]"), 200).json(t, &res)
		if len(res.Success) != 10 || len(res.Failed) != 5 || res.Failed["r14"] != "retry bso" {
			t.Errorf("%+v", res)
		}
		big := strings.Repeat("b", 300)
		res = result{}
		c.mustStatus(c.do("POST", "/storage/lim", `[{"id":"b1","payload":"`+big+`"},{"id":"b2","payload":"`+big+`"},{"id":"b3","payload":"`+big+`"},{"id":"huge","payload":"`+strings.Repeat("h", 401)+`"}]`), 200).json(t, &res)
		if len(res.Success) != 3 || res.Failed["huge"] != "retry bytes" {
			t.Errorf("%+v", res)
		}
		res = result{}
		c.mustStatus(c.do("POST", "/storage/lim", `[{"id":"c1","payload":"`+big+`"},{"id":"c2","payload":"`+big+`"},{"id":"c3","payload":"`+big+`"},{"id":"c4","payload":"`+big+`"}]`), 200).json(t, &res)
		if len(res.Success) != 3 || res.Failed["c4"] != "retry bytes" {
			t.Errorf("cumulative bytes: %+v", res)
		}
	})
	t.Run("X-Weave headers: the limit passes, one more is 400 code 17", func(t *testing.T) {
		c.mustStatus(c.do("POST", "/storage/lim", `[]`, "X-Weave-Records", "10"), 200)
		for _, h := range [][2]string{{"X-Weave-Records", "11"}, {"X-Weave-Bytes", "1001"}, {"X-Weave-Total-Records", "10001"}, {"X-Weave-Total-Bytes", "262144001"}} {
			r := c.do("POST", "/storage/lim?batch=true", `[]`, h[0], h[1])
			if r.status != 400 || r.body != "17" {
				t.Errorf("%s: %d %s", h[0], r.status, r.body)
			}
		}
		c.mustStatus(c.do("POST", "/storage/lim", `[]`, "X-Weave-Records", "ten"), 400)
	})
	t.Run("a body over max_request_bytes is 413", func(t *testing.T) {
		c.mustStatus(c.do("POST", "/storage/lim", `[{"id":"x","payload":"`+strings.Repeat("z", 5000)+`"}]`), 413)
	})
	t.Run("newline bodies, payloads holding newlines, 415 for other types", func(t *testing.T) {
		var res result
		c.mustStatus(c.do("POST", "/storage/nl", "{\"id\":\"n1\",\"payload\":\"line\\nbreak\"}\n{\"id\":\"n2\",\"payload\":\"2\"}\n", "Content-Type", "application/newlines"), 200).json(t, &res)
		if len(res.Success) != 2 {
			t.Errorf("%+v", res)
		}
		r := c.mustStatus(c.do("GET", "/storage/nl?full=1&sort=oldest", "", "Accept", "application/newlines"), 200)
		lines := strings.Split(strings.TrimSuffix(r.body, "\n"), "\n")
		if r.header.Get("Content-Type") != "application/newlines" || len(lines) != 2 || !strings.HasSuffix(r.body, "\n") || !strings.Contains(lines[0], `line\nbreak`) {
			t.Errorf("%q", r.body)
		}
		c.mustStatus(c.do("POST", "/storage/nl", `[]`, "Content-Type", "application/octet-stream"), 415)
	})
}

func TestCollectionGET(t *testing.T) {
	t.Parallel()
	_, ts := startServer(t, server.Options{})
	c := login(t, ts.URL, "alice-secret")
	c.mustStatus(c.do("GET", "/storage/empty", ""), 200)
	if r := c.do("GET", "/storage/empty", ""); r.body != "[]" || r.header.Get("X-Weave-Records") != "0" {
		t.Errorf("empty collection: %s", r.body)
	}
	// Five writes, one id each, at increasing timestamps; sortindex runs the other way.
	var stamps []float64
	for i := range 5 {
		var res struct{ Modified float64 }
		c.mustStatus(c.do("POST", "/storage/g", fmt.Sprintf(`[{"id":"i%d","payload":"p%d","sortindex":%d}]`, i, i, 10-i)), 200).json(t, &res)
		stamps = append(stamps, res.Modified)
	}
	ids := func(path string, headers ...string) ([]string, reply) {
		var out []string
		r := c.mustStatus(c.do("GET", path, "", headers...), 200)
		r.json(t, &out)
		return out, r
	}
	t.Run("ids, newer and older filter strictly", func(t *testing.T) {
		got, r := ids("/storage/g?ids=i1,i3,nothere&sort=oldest")
		if !slices.Equal(got, []string{"i1", "i3"}) || r.header.Get("X-Weave-Records") != "2" {
			t.Errorf("ids: %v", got)
		}
		got, _ = ids(fmt.Sprintf("/storage/g?newer=%.2f&sort=oldest", stamps[2]))
		if !slices.Equal(got, []string{"i3", "i4"}) {
			t.Errorf("newer: %v", got)
		}
		got, _ = ids(fmt.Sprintf("/storage/g?older=%.2f&newer=%.2f", stamps[3], stamps[0]))
		if !slices.Equal(got, []string{"i2", "i1"}) {
			t.Errorf("interval: %v", got)
		}
		got, _ = ids("/storage/g?ids=" + url.QueryEscape("i0,i4") + "&sort=oldest")
		if !slices.Equal(got, []string{"i0", "i4"}) {
			t.Errorf("percent-encoded ids: %v", got)
		}
	})
	t.Run("each sort order", func(t *testing.T) {
		for sort, want := range map[string][]string{
			"newest": {"i4", "i3", "i2", "i1", "i0"}, "oldest": {"i0", "i1", "i2", "i3", "i4"},
			"index": {"i0", "i1", "i2", "i3", "i4"}, "": {"i4", "i3", "i2", "i1", "i0"},
		} {
			if got, _ := ids("/storage/g?sort=" + sort); sort != "" && !slices.Equal(got, want) {
				t.Errorf("sort=%s: %v", sort, got)
			}
		}
	})
	t.Run("limit and offset page through every order without gaps", func(t *testing.T) {
		for _, sort := range []string{"newest", "oldest", "index", ""} {
			for limit := 1; limit <= 6; limit++ {
				var all []string
				path := fmt.Sprintf("/storage/g?limit=%d&sort=%s", limit, sort)
				for page := 0; page < 10; page++ {
					got, r := ids(path)
					all = append(all, got...)
					next := r.header.Get("X-Weave-Next-Offset")
					if next == "" {
						break
					}
					path = fmt.Sprintf("/storage/g?limit=%d&sort=%s&offset=%s", limit, sort, url.QueryEscape(next))
				}
				if len(all) != 5 || len(slices.Compact(slices.Sorted(slices.Values(all)))) != 5 {
					t.Errorf("sort=%s limit=%d: %v", sort, limit, all)
				}
			}
		}
	})
	t.Run("full records", func(t *testing.T) {
		var recs []bso
		c.mustStatus(c.do("GET", "/storage/g?full=&sort=oldest&limit=1", ""), 200).json(t, &recs)
		if len(recs) != 1 || recs[0].ID != "i0" || recs[0].Payload != "p0" || *recs[0].SortIndex != 10 || recs[0].Modified != stamps[0] {
			t.Errorf("%+v", recs)
		}
	})
	t.Run("bad parameters are 400; unknown ones are ignored", func(t *testing.T) {
		for _, q := range []string{"newer=x", "older=-1", "limit=-1", "limit=a", "offset=x", "sort=sideways", "ids=" + strings.Repeat("a,", 100) + "a", "ids=bad%0Aid"} {
			c.mustStatus(c.do("GET", "/storage/g?"+q, ""), 400)
		}
		c.mustStatus(c.do("GET", "/storage/g?blabla=1", ""), 200)
		c.mustStatus(c.do("GET", "/storage/g?ids="+strings.Repeat("a,", 99)+"a", ""), 200)
	})
	t.Run("Accept", func(t *testing.T) {
		for _, a := range []string{"application/json", "*/*", "application/*", ""} {
			if r := c.do("GET", "/storage/g", "", "Accept", a); r.status != 200 || r.header.Get("Content-Type") != "application/json" {
				t.Errorf("Accept %q: %d %s", a, r.status, r.header.Get("Content-Type"))
			}
		}
		c.mustStatus(c.do("GET", "/storage/g", "", "Accept", "x/yy"), 406)
	})
}

func TestPreconditions(t *testing.T) {
	t.Parallel()
	_, ts := startServer(t, server.Options{})
	c := login(t, ts.URL, "alice-secret")
	put := c.mustStatus(c.do("PUT", "/storage/pc/a", `{"payload":"1"}`), 200)
	c.mustStatus(c.do("PUT", "/storage/pc/b", `{"payload":"2"}`), 200)
	collTS := c.do("GET", "/storage/pc", "").header.Get("X-Last-Modified")
	itemTS := put.body
	t.Run("X-If-Modified-Since: 304 when not newer, with X-Last-Modified", func(t *testing.T) {
		r := c.mustStatus(c.do("GET", "/storage/pc", "", "X-If-Modified-Since", collTS), 304)
		if r.header.Get("X-Last-Modified") != collTS {
			t.Errorf("304 X-Last-Modified %s", r.header.Get("X-Last-Modified"))
		}
		c.mustStatus(c.do("GET", "/storage/pc/a", "", "X-If-Modified-Since", itemTS), 304)
		c.mustStatus(c.do("GET", "/storage/pc/a", "", "X-If-Modified-Since", "1.00"), 200)
	})
	t.Run("X-If-Unmodified-Since: 412 when newer, on every verb; equal passes", func(t *testing.T) {
		old := "1.00"
		for _, r := range []reply{
			c.do("GET", "/storage/pc", "", "X-If-Unmodified-Since", old),
			c.do("GET", "/storage/pc/a", "", "X-If-Unmodified-Since", old),
			c.do("PUT", "/storage/pc/a", `{"payload":"x"}`, "X-If-Unmodified-Since", old),
			c.do("POST", "/storage/pc", `[{"id":"a","payload":"x"}]`, "X-If-Unmodified-Since", old),
			c.do("DELETE", "/storage/pc/a", "", "X-If-Unmodified-Since", old),
			c.do("DELETE", "/storage/pc?ids=a", "", "X-If-Unmodified-Since", itemTS),
			c.do("DELETE", "/storage/pc", "", "X-If-Unmodified-Since", old),
		} {
			if r.status != 412 || r.header.Get("X-Last-Modified") == "" {
				t.Errorf("%d %v", r.status, r.header)
			}
		}
		var got bso
		c.do("GET", "/storage/pc/a", "").json(t, &got)
		if got.Payload != "1" {
			t.Errorf("412 wrote: %q", got.Payload)
		}
		c.mustStatus(c.do("GET", "/storage/pc", "", "X-If-Unmodified-Since", collTS), 200)
		c.mustStatus(c.do("PUT", "/storage/pc/new", `{"payload":"n"}`, "X-If-Unmodified-Since", "0"), 200)
	})
	t.Run("both headers, negatives and junk are 400", func(t *testing.T) {
		c.mustStatus(c.do("GET", "/storage/pc", "", "X-If-Modified-Since", "-3"), 400)
		c.mustStatus(c.do("PUT", "/storage/pc/a", `{}`, "X-If-Unmodified-Since", "-3"), 400)
		c.mustStatus(c.do("GET", "/storage/pc", "", "X-If-Unmodified-Since", "soon"), 400)
		r := c.do("GET", "/storage/pc", "", "X-If-Unmodified-Since", collTS, "X-If-Modified-Since", collTS)
		if r.status != 400 {
			t.Errorf("both: %d", r.status)
		}
	})
}

func TestTimestampsAndDeletes(t *testing.T) {
	t.Parallel()
	// The server's clock runs ahead when a case moves it (a TTL's expiry), instead of
	// the test sleeping; Hawk's skew allows the difference.
	var ahead atomic.Int64
	_, ts := startServer(t, server.Options{Now: func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }})
	c := login(t, ts.URL, "alice-secret")
	t.Run("back-to-back writes get strictly increasing two-decimal timestamps", func(t *testing.T) {
		last := 0.0
		for i := range 200 {
			r := c.mustStatus(c.do("PUT", "/storage/t/x", fmt.Sprintf(`{"payload":"%d"}`, i)), 200)
			f := r.ts("X-Last-Modified")
			if r.header.Get("X-Weave-Timestamp") != r.body || r.header.Get("X-Last-Modified") != r.body {
				t.Fatalf("write %d: body %s, X-Last-Modified %s, X-Weave-Timestamp %s", i, r.body, r.header.Get("X-Last-Modified"), r.header.Get("X-Weave-Timestamp"))
			}
			if f <= last || !twoDecimals.MatchString(r.header.Get("X-Weave-Timestamp")) {
				t.Fatalf("write %d: %v after %v", i, f, last)
			}
			last = f
		}
	})
	t.Run("X-Weave-Timestamp is on every response, even 404 and 401", func(t *testing.T) {
		for _, r := range []reply{c.do("GET", "/storage/t/none", ""), c.do("GET", "/nowhere", ""), c.do("GET", "/info/collections", "", "Authorization", "-")} {
			if !twoDecimals.MatchString(r.header.Get("X-Weave-Timestamp")) {
				t.Errorf("%d without X-Weave-Timestamp", r.status)
			}
		}
	})
	t.Run("DELETE ids, DELETE collection, DELETE storage", func(t *testing.T) {
		c.do("POST", "/storage/d", `[{"id":"a"},{"id":"b"},{"id":"c"}]`)
		r := c.mustStatus(c.do("DELETE", "/storage/d?ids=a,b", ""), 200)
		if !twoDecimals.MatchString(r.body) || r.header.Get("X-Last-Modified") != r.body {
			t.Errorf("ids delete: %s", r.body)
		}
		var left []string
		c.do("GET", "/storage/d", "").json(t, &left)
		if !slices.Equal(left, []string{"c"}) {
			t.Errorf("left %v", left)
		}
		c.mustStatus(c.do("DELETE", "/storage/d", ""), 200)
		var colls map[string]float64
		c.do("GET", "/info/collections", "").json(t, &colls)
		if _, ok := colls["d"]; ok {
			t.Errorf("deleted collection still listed")
		}
		c.mustStatus(c.do("DELETE", "/storage/neverwas", ""), 200)
		c.do("PUT", "/storage/meta/global", `{"payload":"x"}`)
		if r := c.mustStatus(c.do("DELETE", "/storage", ""), 200); r.body != "null" {
			t.Errorf("delete storage body %s", r.body)
		}
		c.mustStatus(c.do("GET", "/storage/meta/global", ""), 404)
		if r := c.do("GET", "/info/collection_counts", ""); r.body != "{}" {
			t.Errorf("counts after wipe %s", r.body)
		}
		c.do("PUT", "/storage/meta/global", `{"payload":"x"}`)
		c.mustStatus(c.doURL("DELETE", c.endpoint, ""), 200)
		c.mustStatus(c.do("GET", "/storage/meta/global", ""), 404)
	})
	t.Run("ttl: 0 expires at once, 1 s later, null means forever; expired items can be overwritten", func(t *testing.T) {
		c.mustStatus(c.do("PUT", "/storage/ttl/zero", `{"payload":"z","ttl":0}`), 200)
		c.mustStatus(c.do("PUT", "/storage/ttl/one", `{"payload":"o","ttl":1}`), 200)
		c.mustStatus(c.do("PUT", "/storage/ttl/null", `{"payload":"n","ttl":null}`), 200)
		c.mustStatus(c.do("GET", "/storage/ttl/zero", ""), 404)
		c.mustStatus(c.do("GET", "/storage/ttl/one", ""), 200)
		ahead.Add(int64(1100 * time.Millisecond))
		var left []string
		c.do("GET", "/storage/ttl", "").json(t, &left)
		if !slices.Equal(left, []string{"null"}) {
			t.Errorf("after expiry: %v", left)
		}
		c.mustStatus(c.do("PUT", "/storage/ttl/one", `{"ttl":60}`), 200)
		var got bso
		c.do("GET", "/storage/ttl/one", "").json(t, &got)
		if got.Payload != "" {
			t.Errorf("expired payload came back: %q", got.Payload)
		}
	})
}

func TestRoutesMethodsCORSAndHealth(t *testing.T) {
	t.Parallel()
	_, ts := startServer(t, server.Options{})
	c := login(t, ts.URL, "alice-secret")
	r := c.do("PATCH", "/storage/col", "{}")
	if r.status != 405 || !strings.Contains(r.header.Get("Allow"), "POST") {
		t.Errorf("PATCH: %d %v", r.status, r.header)
	}
	for _, p := range []string{"/storage/col/id/extra", "/info/nope", "/nothing"} {
		if r := c.do("GET", p, ""); r.status != 404 || r.body != "0" {
			t.Errorf("%s: %d %s", p, r.status, r.body)
		}
	}
	pre := c.do("OPTIONS", "/__heartbeat__", "", "Origin", "https://example.org", "Authorization", "-")
	if pre.header.Get("Access-Control-Allow-Origin") != "https://example.org" || pre.header.Get("Access-Control-Max-Age") == "" {
		t.Errorf("CORS: %v", pre.header)
	}
	for _, p := range []string{"/__heartbeat__", "/__lbheartbeat__", "/__version__"} {
		c.mustStatus(c.doURL("GET", ts.URL+p, "", "Authorization", "-"), 200)
	}
}

func TestFaultHooks(t *testing.T) {
	t.Parallel()
	srv, ts := startServer(t, server.Options{TestHooks: true})
	c := login(t, ts.URL, "alice-secret")
	srv.InjectFault(server.Fault{PathPrefix: "/1.5/", Count: 1, Status: 503, RetryAfter: 7})
	r := c.do("GET", "/info/collections", "")
	if r.status != 503 || r.header.Get("Retry-After") != "7" {
		t.Errorf("%d %v", r.status, r.header)
	}
	c.mustStatus(c.do("GET", "/info/collections", ""), 200)
	c.mustStatus(c.doURL("POST", ts.URL+"/__testhooks__/fault", `{"path_prefix":"/1.5/","count":1,"backoff":30}`), 200)
	if r := c.mustStatus(c.do("GET", "/info/collections", ""), 200); r.header.Get("X-Weave-Backoff") != "30" {
		t.Errorf("backoff header: %v", r.header)
	}
}

// One user's burst of writes runs ahead of the clock (each 10 ms past the last). Another
// user's write right after must still be answered with X-Weave-Timestamp equal to its own
// X-Last-Modified, and no response may read a clock behind a timestamp already issued.
func TestTheServerClockNeverReadsBehindAnIssuedTimestamp(t *testing.T) {
	t.Parallel()
	// a clock that moves in whole seconds: a burst within one runs ahead of it
	_, ts := startServer(t, server.Options{Now: func() time.Time { return time.Now().Truncate(time.Second) }})
	alice, bob := login(t, ts.URL, "alice-secret"), login(t, ts.URL, "bob-secret")
	var last float64
	for i := range 5 {
		last = bob.mustStatus(bob.do("PUT", "/storage/burst/a", fmt.Sprintf(`{"payload":"%d"}`, i)), 200).ts("X-Last-Modified")
	}
	r := alice.mustStatus(alice.do("PUT", "/storage/after/a", `{"payload":"x"}`), 200)
	if r.header.Get("X-Weave-Timestamp") != r.header.Get("X-Last-Modified") || r.ts("X-Last-Modified") < last {
		t.Errorf("after a burst to %.2f: X-Weave-Timestamp %s, X-Last-Modified %s", last, r.header.Get("X-Weave-Timestamp"), r.header.Get("X-Last-Modified"))
	}
	if g := alice.do("GET", "/info/configuration", ""); g.ts("X-Weave-Timestamp") < r.ts("X-Last-Modified") {
		t.Errorf("a later GET reads the clock at %.2f, behind the write at %.2f", g.ts("X-Weave-Timestamp"), r.ts("X-Last-Modified"))
	}
}

// TestAPostOfWholeRecordsMergesAsOneByOne: a POST of several records that all carry a
// payload goes in one statement per shape; a record already there keeps the sortindex
// and expiry the POST does not give, and one that expired keeps nothing, exactly as a
// PUT of each would.
func TestAPostOfWholeRecordsMergesAsOneByOne(t *testing.T) {
	t.Parallel()
	var ahead atomic.Int64
	_, ts := startServer(t, server.Options{Now: func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }})
	c := login(t, ts.URL, "alice-secret")
	c.mustStatus(c.do("PUT", "/storage/m/live", `{"payload":"old","sortindex":7}`), 200)
	c.mustStatus(c.do("PUT", "/storage/m/gone", `{"payload":"old","sortindex":8,"ttl":1}`), 200)
	ahead.Add(int64(1100 * time.Millisecond)) // gone has expired
	c.mustStatus(c.do("POST", "/storage/m", `[{"id":"live","payload":"new"},{"id":"gone","payload":"new"},{"id":"fresh","payload":"new","sortindex":3,"ttl":1}]`), 200)
	want := map[string]*int{"live": ptr(7), "gone": nil, "fresh": ptr(3)}
	for id, si := range want {
		var got bso
		c.do("GET", "/storage/m/"+id, "").json(t, &got)
		if got.Payload != "new" || (got.SortIndex == nil) != (si == nil) || si != nil && *got.SortIndex != *si {
			t.Errorf("%s: %+v, want payload new and sortindex %v", id, got, si)
		}
	}
	ahead.Add(int64(1100 * time.Millisecond)) // fresh's ttl of 1 s is over; live kept its default expiry
	c.mustStatus(c.do("GET", "/storage/m/fresh", ""), 404)
	c.mustStatus(c.do("GET", "/storage/m/live", ""), 200)
}

func ptr(i int) *int { return &i }
