package conformance

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/syncctl/syncctl/wbo"
)

// pageAll follows X-Weave-Next-Offset with the given query and returns every id.
func pageAll(t *T, coll, query string) []string {
	var all []string
	path := "/storage/" + coll + "?" + query
	for page := 0; ; page++ {
		t.Check(page < 100, "paging %s did not end", coll)
		r := t.Do("GET", path, "").Expect(200)
		all = append(all, r.IDs()...)
		next := r.Header.Get("X-Weave-Next-Offset")
		if next == "" {
			return all
		}
		path = "/storage/" + coll + "?" + query + "&offset=" + url.QueryEscape(next)
	}
}

var getCases = []Case{
	{ID: "get.never-written-collection-is-empty", Clause: "1.1; case 26", Level: Must, Run: func(t *T) {
		t.Do("GET", "/storage/"+t.Coll("none"), "").Expect(200).BodyIs("[]")
	}},
	{ID: "get.ids-and-x-weave-records", Clause: "1.4 GET /storage/<coll>; cases 27, 33", Level: Must, Run: func(t *T) {
		c := t.Coll("ids")
		fill(t, c, "a", "b", "c")
		r := t.Do("GET", "/storage/"+c, "").Expect(200)
		ids := r.IDs()
		t.Check(sameSet(ids, list("a,b,c")), "ids %v, expected a, b, c", ids)
		t.Check(r.Header.Get("X-Weave-Records") == "3", "X-Weave-Records %q, expected 3", r.Header.Get("X-Weave-Records"))
	}},
	{ID: "get.ids-parameter-selects", Clause: "1.4 ids; case 28", Level: Must, Run: func(t *T) {
		c := t.Coll("sel")
		fill(t, c, "a", "b", "c")
		ids := t.Do("GET", "/storage/"+c+"?ids=a,c,nothere", "").Expect(200).IDs()
		t.Check(sameSet(ids, list("a,c")), "ids=a,c,nothere gave %v", ids)
	}},
	{ID: "get.newer-is-strict", Clause: "1.4 newer; case 29", Level: Must, Run: func(t *T) {
		c := t.Coll("newer")
		ts := fill(t, c, "a", "b", "c")
		ids := t.Do("GET", "/storage/"+c+"?newer="+ts[1].String(), "").Expect(200).IDs()
		t.Check(sameSet(ids, list("c")), "newer=%s gave %v, expected only c (strictly newer)", ts[1], ids)
	}},
	{ID: "get.older-is-strict", Clause: "1.4 older; case 30", Level: Must, Run: func(t *T) {
		c := t.Coll("older")
		ts := fill(t, c, "a", "b", "c")
		ids := t.Do("GET", "/storage/"+c+"?older="+ts[1].String(), "").Expect(200).IDs()
		t.Check(sameSet(ids, list("a")), "older=%s gave %v, expected only a", ts[1], ids)
	}},
	{ID: "get.newer-and-older-combine", Clause: "1.4; case 31", Level: Must, Run: func(t *T) {
		c := t.Coll("between")
		ts := fill(t, c, "a", "b", "c", "d")
		ids := t.Do("GET", fmt.Sprintf("/storage/%s?newer=%s&older=%s", c, ts[0], ts[3]), "").Expect(200).IDs()
		t.Check(sameSet(ids, list("b,c")), "the interval gave %v, expected b, c", ids)
	}},
	{ID: "get.full-returns-exactly-the-public-fields", Clause: "1.2; case 32", Level: Must, Run: func(t *T) {
		c := t.Coll("full")
		postOK(t, c, `[{"id":"a","payload":"pa","ttl":1000},{"id":"b","payload":"pb","sortindex":3}]`)
		var recs []map[string]any
		t.Do("GET", "/storage/"+c+"?full=1&sort=oldest", "").Expect(200).JSON(&recs)
		t.Check(len(recs) == 2, "full=1 gave %d records", len(recs))
		for _, r := range recs {
			keys := make([]string, 0, len(r))
			for k := range r {
				keys = append(keys, k)
			}
			want := list("id,modified,payload")
			if r["id"] == "b" {
				want = append(want, "sortindex")
			}
			t.Check(sameSet(keys, want), "record %v has keys %v, expected %v", r["id"], keys, want)
		}
	}},
	{ID: "get.full-with-any-value", Clause: "1.4 full; case 32", Level: Must, Run: func(t *T) {
		c := t.Coll("fullany")
		fill(t, c, "a")
		recs := t.Do("GET", "/storage/"+c+"?full=", "").Expect(200).Records()
		t.Check(len(recs) == 1 && recs[0].Payload == "p0", "full= gave %+v", recs)
	}},
	{ID: "get.limit-sets-next-offset", Clause: "1.4 limit; case 34", Level: Must, Run: func(t *T) {
		c := t.Coll("limit")
		fill(t, c, "a", "b", "c", "d", "e")
		r := t.Do("GET", "/storage/"+c+"?limit=2&sort=oldest", "").Expect(200)
		ids := r.IDs()
		t.Check(slices.Equal(ids, list("a,b")), "limit=2&sort=oldest gave %v", ids)
		t.Check(r.Header.Get("X-Weave-Next-Offset") != "", "no X-Weave-Next-Offset with 3 records left")
		t.Check(r.Header.Get("X-Weave-Records") == "2", "X-Weave-Records %q for a page of 2", r.Header.Get("X-Weave-Records"))
	}},
	{ID: "get.offset-pages-through-everything-once", Clause: "1.4 offset; cases 35, 38", Level: Must, Run: func(t *T) {
		c := t.Coll("pages")
		fill(t, c, "a", "b", "c", "d", "e")
		for _, sort := range []string{"oldest", "newest", "index", ""} {
			for limit := 1; limit <= 6; limit++ {
				all := pageAll(t, c, fmt.Sprintf("limit=%d&sort=%s", limit, sort))
				want := t.Do("GET", "/storage/"+c+"?sort="+sort, "").Expect(200).IDs()
				t.Check(len(want) == 5, "sort=%q listed %v, expected the 5 records", sort, want)
				t.Check(slices.Equal(all, want), "sort=%s limit=%d paged to %v, unpaged %v", sort, limit, all, want)
			}
		}
	}},
	{ID: "get.last-page-has-no-next-offset", Clause: "1.4; case 35", Level: Must, Run: func(t *T) {
		c := t.Coll("lastpage")
		fill(t, c, "a", "b")
		r := t.Do("GET", "/storage/"+c+"?limit=5", "").Expect(200)
		t.Check(r.Header.Get("X-Weave-Next-Offset") == "", "X-Weave-Next-Offset %q on the last page", r.Header.Get("X-Weave-Next-Offset"))
	}},
	{ID: "get.sort-newest", Clause: "1.4 sort; case 37", Level: Must, Run: func(t *T) {
		c := t.Coll("snew")
		fill(t, c, "a", "b", "c")
		ids := t.Do("GET", "/storage/"+c+"?sort=newest", "").Expect(200).IDs()
		t.Check(slices.Equal(ids, list("c,b,a")), "sort=newest gave %v", ids)
	}},
	{ID: "get.sort-oldest", Clause: "1.4 sort; case 37", Level: Must, Run: func(t *T) {
		c := t.Coll("sold")
		fill(t, c, "a", "b", "c")
		ids := t.Do("GET", "/storage/"+c+"?sort=oldest", "").Expect(200).IDs()
		t.Check(slices.Equal(ids, list("a,b,c")), "sort=oldest gave %v", ids)
	}},
	{ID: "get.sort-index", Clause: "1.4 sort; case 37", Level: Must, Run: func(t *T) {
		c := t.Coll("sidx")
		postOK(t, c, `[{"id":"low","payload":"l","sortindex":1},{"id":"high","payload":"h","sortindex":50},{"id":"mid","payload":"m","sortindex":20}]`)
		ids := t.Do("GET", "/storage/"+c+"?sort=index", "").Expect(200).IDs()
		t.Check(slices.Equal(ids, list("high,mid,low")), "sort=index gave %v", ids)
	}},
	{ID: "get.paging-newer-oldest", Clause: "case 39", Level: Must, Run: func(t *T) {
		c := t.Coll("pno")
		ts := fill(t, c, "a", "b", "c", "d", "e", "f", "g")
		for limit := 2; limit <= 6; limit++ {
			got := pageAll(t, c, fmt.Sprintf("newer=%s&sort=oldest&limit=%d", ts[1], limit))
			t.Check(slices.Equal(got, list("c,d,e,f,g")), "newer+oldest limit=%d gave %v", limit, got)
		}
	}},
	{ID: "get.paging-older-newest", Clause: "case 40", Level: Must, Run: func(t *T) {
		c := t.Coll("pon")
		ts := fill(t, c, "a", "b", "c", "d", "e", "f", "g")
		for limit := 2; limit <= 6; limit++ {
			got := pageAll(t, c, fmt.Sprintf("older=%s&sort=newest&limit=%d", ts[5], limit))
			t.Check(slices.Equal(got, list("e,d,c,b,a")), "older+newest limit=%d gave %v", limit, got)
		}
	}},
	{ID: "get.bad-newer-older-limit-are-400", Clause: "case 41", Level: Must, Run: func(t *T) {
		c := written(t, "badq")
		for _, q := range []string{"newer=x", "older=x", "limit=x"} {
			t.Do("GET", "/storage/"+c+"?"+q, "").Expect(400)
		}
	}},
	{ID: "get.negative-limit-is-400", Clause: "case 46", Level: Must, Run: func(t *T) {
		t.Do("GET", "/storage/"+written(t, "neg")+"?limit=-1", "").Expect(400)
	}},
	{ID: "get.bad-offset-is-400", Clause: "case 42", Level: Should, Run: func(t *T) {
		t.Do("GET", "/storage/"+written(t, "boff")+"?offset=not!an!offset", "").Expect(400)
	}},
	{ID: "get.bad-sort-is-400", Clause: "case 47", Level: Should, Run: func(t *T) {
		t.Do("GET", "/storage/"+written(t, "bsort")+"?sort=sideways", "").Expect(400)
	}},
	{ID: "get.at-most-100-ids", Clause: "1.4 ids; case 45", Level: Must, Run: func(t *T) {
		c := written(t, "max")
		var ids []string
		for i := range 101 {
			ids = append(ids, fmt.Sprint("i", i))
		}
		t.Do("GET", "/storage/"+c+"?ids="+strings.Join(ids[:100], ","), "").Expect(200)
		t.Do("GET", "/storage/"+c+"?ids="+strings.Join(ids, ","), "").Expect(400)
	}},
	{ID: "get.percent-encoded-ids", Clause: "case 49", Level: Must, Run: func(t *T) {
		c := t.Coll("pct")
		fill(t, c, "test-0", "test-1", "test-2")
		ids := t.Do("GET", "/storage/"+c+"?ids=test-0%2Ctest-1", "").Expect(200).IDs()
		t.Check(sameSet(ids, list("test-0,test-1")), "ids=test-0%%2Ctest-1 gave %v", ids)
	}},
	{ID: "get.unknown-parameters-ignored", Clause: "case 44", Level: Must, Run: func(t *T) {
		t.Do("GET", "/storage/"+written(t, "unk")+"?blabla=1", "").Expect(200)
	}},
	{ID: "get.accept-json", Clause: "1.4 Accept; case 51", Level: Must, Run: func(t *T) {
		c := t.Coll("json")
		fill(t, c, "a")
		r := t.Do("GET", "/storage/"+c, "", "Accept", "application/json").Expect(200)
		t.Check(strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"), "Content-Type %q", r.Header.Get("Content-Type"))
	}},
	{ID: "get.accept-newlines", Clause: "1.4 Accept; case 51", Level: Must, Run: func(t *T) {
		c := t.Coll("nl")
		fill(t, c, "a", "b")
		r := t.Do("GET", "/storage/"+c+"?full=1", "", "Accept", "application/newlines").Expect(200)
		lines := strings.Split(strings.TrimSuffix(string(r.Body), "\n"), "\n")
		t.Check(r.Header.Get("Content-Type") == "application/newlines", "Content-Type %q", r.Header.Get("Content-Type"))
		t.Check(strings.HasSuffix(string(r.Body), "\n") && len(lines) == 2, "newlines body %s", quoteBody(r.Body))
		for _, l := range lines {
			_, err := wbo.Decode([]byte(l))
			t.Check(err == nil, "line %q is not a record: %v", l, err)
		}
	}},
	{ID: "get.unacceptable-accept-is-406", Clause: "1.4 Accept; case 51", Level: Must, Run: func(t *T) {
		t.Do("GET", "/storage/"+written(t, "406"), "", "Accept", "x/yy").Expect(406)
	}},
	{ID: "get.accept-wildcards-give-json", Clause: "case 53", Level: Should, Run: func(t *T) {
		c := written(t, "wild")
		for _, a := range []string{"*/*", "application/*"} {
			r := t.Do("GET", "/storage/"+c, "", "Accept", a).Expect(200)
			t.Check(strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"), "Accept %s: Content-Type %q", a, r.Header.Get("Content-Type"))
		}
	}},
	{ID: "get.newlines-keep-payload-newlines-escaped", Clause: "case 52", Level: Must, Run: func(t *T) {
		c := t.Coll("nlesc")
		postOK(t, c, `[{"id":"a","payload":"line one\nline two"}]`)
		r := t.Do("GET", "/storage/"+c+"?full=1", "", "Accept", "application/newlines").Expect(200)
		lines := strings.Split(strings.TrimSuffix(string(r.Body), "\n"), "\n")
		t.Check(len(lines) == 1, "a payload with a newline split the record: %s", quoteBody(r.Body))
		rec, err := wbo.Decode([]byte(lines[0]))
		t.Check(err == nil && string(rec.Payload) == "line one\nline two", "read back %q (%v)", rec.Payload, err)
	}},
	{ID: "get.x-last-modified-is-the-collection-timestamp", Clause: "1.5; case 55", Level: Must, Run: func(t *T) {
		c := t.Coll("xlm")
		ts := fill(t, c, "a", "b")
		r := t.Do("GET", "/storage/"+c, "").Expect(200)
		t.Check(r.TS("X-Last-Modified") == ts[1], "X-Last-Modified %s, expected the last write %s", r.TS("X-Last-Modified"), ts[1])
	}},
	{ID: "get.if-modified-since-304", Clause: "1.5 X-If-Modified-Since; case 54", Level: Must, Run: func(t *T) {
		c := t.Coll("ims")
		ts := fill(t, c, "a")
		t.Do("GET", "/storage/"+c, "", "X-If-Modified-Since", ts[0].String()).Expect(304)
		t.Do("GET", "/storage/"+c, "", "X-If-Modified-Since", (ts[0] - 10).String()).Expect(200)
	}},
	{ID: "get.hundred-unknown-ids-are-empty", Clause: "1.4 ids; case 43", Level: Must, Run: func(t *T) {
		c := written(t, "unkids")
		var ids []string
		for i := range 100 {
			ids = append(ids, fmt.Sprintf("%s-%d", t.prefix, i))
		}
		t.Do("GET", "/storage/"+c+"?ids="+strings.Join(ids, ","), "").Expect(200).BodyIs("[]")
	}},
	{ID: "get.an-invalid-id-in-ids-is-400", Clause: "1.2 id; case 48", Level: Should, Run: func(t *T) {
		c := written(t, "badid")
		t.Do("GET", "/storage/"+c+"?ids=present,"+strings.Repeat("x", 65), "").Expect(400)
	}},
	{ID: "get.guid-like-ids", Clause: "1.2 id; case 50", Level: Must, Run: func(t *T) {
		c := t.Coll("guid")
		ids := []string{"{4b3a9e8c-1f2d-4e5a-9b7c-0d1e2f3a4b5c}", "a-b-c-d", "{0}"}
		r, res := post(t, "/storage/"+c, fmt.Sprintf(`[{"id":%q,"payload":"1"},{"id":%q,"payload":"2"},{"id":%q,"payload":"3"}]`, ids[0], ids[1], ids[2]))
		r.Expect(200)
		t.Check(sameSet(res.Success, ids), "POST of GUID-like ids: %s", quoteBody(r.Body))
		got := t.Do("GET", "/storage/"+c+"?ids="+url.QueryEscape(ids[0]+","+ids[1]), "").Expect(200).IDs()
		t.Check(sameSet(got, ids[:2]), "ids= with braces and dashes gave %v", got)
		t.Do("DELETE", "/storage/"+c+"?ids="+url.QueryEscape(ids[0]+","+ids[2]), "").Expect(200)
		got = t.Do("GET", "/storage/"+c, "").Expect(200).IDs()
		t.Check(sameSet(got, ids[1:2]), "after DELETE ?ids= of two, %v are left", got)
	}},
	{ID: "get.deleted-collection-is-empty", Clause: "1.4; case 56", Level: Must, Run: func(t *T) {
		c := written(t, "delget")
		t.Do("DELETE", "/storage/"+c, "").Expect(200)
		t.Do("GET", "/storage/"+c, "").Expect(200).BodyIs("[]")
	}},
	{ID: "get.meta-global-lifecycle", Clause: "1.4; case 64", Level: Must, Destructive: true, Run: func(t *T) {
		defer t.u.do(t.ctx, "DELETE", "/storage/meta", "", nil)
		t.Do("GET", "/storage/meta/global", "").Expect(404)
		t.Do("GET", "/storage/meta", "").Expect(200).BodyIs("[]")
		t.Do("PUT", "/storage/meta/global", `{"payload":"{\"syncID\":\"abcdefghijkl\",\"storageVersion\":5}"}`).Expect(200)
		t.Do("GET", "/storage/meta", "").Expect(200).BodyIs(`["global"]`)
		var m map[string]any
		t.Do("GET", "/storage/meta/global", "").Expect(200).JSON(&m)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		t.Check(sameSet(keys, list("id,modified,payload")), "meta/global has keys %v, expected id, modified, payload", keys)
	}},
}
