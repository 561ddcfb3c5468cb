package conformance

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

func maxPostRecords(t *T) int {
	var cfg map[string]int
	t.Do("GET", "/info/configuration", "").Expect(200).JSON(&cfg)
	t.Check(cfg["max_post_records"] > 0, "info/configuration: max_post_records %d", cfg["max_post_records"])
	return cfg["max_post_records"]
}

func items(prefix string, n int) string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf(`{"id":"%s%d","payload":"x"}`, prefix, i))
	}
	return "[" + strings.Join(out, ",") + "]"
}

var postCases = []Case{
	{ID: "post.answer-shape", Clause: "1.6; case 89", Level: Must, Run: func(t *T) {
		r, res := post(t, "/storage/"+t.Coll("pshape"), `[{"id":"a","payload":"1"},{"id":"b","payload":"2"}]`)
		r.Expect(200)
		t.Check(sameSet(res.Success, list("a,b")) && len(res.Failed) == 0 && res.Modified > 0, "answer %s", quoteBody(r.Body))
		t.Check(fmt.Sprintf("%.2f", res.Modified) == r.Header.Get("X-Last-Modified"), "modified %.2f, X-Last-Modified %q", res.Modified, r.Header.Get("X-Last-Modified"))
	}},
	{ID: "post.creates-and-updates", Clause: "1.6; case 90", Level: Must, Run: func(t *T) {
		c := t.Coll("pcu")
		postOK(t, c, `[{"id":"a","payload":"1"}]`)
		postOK(t, c, `[{"id":"a","payload":"2"},{"id":"b","payload":"3"}]`)
		recs := t.Do("GET", "/storage/"+c+"?full=1&sort=oldest", "").Expect(200).Records()
		t.Check(len(recs) == 2 && recs[0].Payload+recs[1].Payload == "23", "got %+v", recs)
	}},
	{ID: "post.partial-updates-keep-fields", Clause: "1.2; case 91", Level: Must, Run: func(t *T) {
		c := t.Coll("ppart")
		postOK(t, c, `[{"id":"a","payload":"keep","sortindex":5},{"id":"b","payload":"old","sortindex":9}]`)
		postOK(t, c, `[{"id":"a","sortindex":6},{"id":"b","payload":"new"}]`)
		var a, b Record
		t.Do("GET", "/storage/"+c+"/a", "").Expect(200).JSON(&a)
		t.Do("GET", "/storage/"+c+"/b", "").Expect(200).JSON(&b)
		t.Check(a.Payload == "keep" && *a.SortIndex == 6 && b.Payload == "new" && *b.SortIndex == 9, "a %+v b %+v", a, b)
	}},
	{ID: "post.a-bad-item-fails-alone", Clause: "1.6; case 92", Level: Must, Run: func(t *T) {
		c := t.Coll("pbad")
		r, res := post(t, "/storage/"+c, `[{"id":"ok","payload":"x"},{"id":"bad","sortindex":"FAIL"}]`)
		r.Expect(200)
		_, failed := res.Failed["bad"]
		t.Check(slices.Equal(res.Success, []string{"ok"}) && failed, "answer %s", quoteBody(r.Body))
		t.Do("GET", "/storage/"+c+"/bad", "").Expect(404)
	}},
	{ID: "post.invalid-ids-fail", Clause: "1.2 id; case 99", Level: Must, Run: func(t *T) {
		r, res := post(t, "/storage/"+t.Coll("pids"), `[{"id":"A\nB"},{"id":"A\tB"},{"id":""},{"id":"`+strings.Repeat("X", 65)+`"},{"id":"fine"}]`)
		r.Expect(200)
		t.Check(slices.Equal(res.Success, []string{"fine"}) && len(res.Failed) == 4, "answer %s", quoteBody(r.Body))
	}},
	{ID: "post.unknown-fields-fail-the-item", Clause: "1.2; case 98", Level: Must, Run: func(t *T) {
		r, res := post(t, "/storage/"+t.Coll("punk"), `[{"id":"a","payload":"x"},{"id":"b","unexpected":1}]`)
		r.Expect(200)
		_, failed := res.Failed["b"]
		t.Check(slices.Equal(res.Success, []string{"a"}) && failed, "answer %s", quoteBody(r.Body))
	}},
	{ID: "post.not-a-list-is-400", Clause: "1.6; case 96", Level: Must, Run: func(t *T) {
		c := t.Coll("pnl")
		for _, b := range []string{`"notalist"`, `42`, `{"id":"a"}`} {
			t.Do("POST", "/storage/"+c, b).Expect(400)
		}
	}},
	{ID: "post.a-non-object-element-is-400", Clause: "1.6; case 97", Level: Must, Run: func(t *T) {
		c := t.Coll("pnonobj")
		t.Do("POST", "/storage/"+c, `[{"id":"a","payload":"x"},"BAD"]`).Expect(400)
		t.Do("GET", "/storage/"+c+"/a", "").Expect(404)
	}},
	{ID: "post.newline-bodies", Clause: "1.6; case 93", Level: Must, Run: func(t *T) {
		c := t.Coll("pnlb")
		r, res := post(t, "/storage/"+c, "{\"id\":\"a\",\"payload\":\"1\\n2\"}\n{\"id\":\"b\",\"payload\":\"3\"}\n", "Content-Type", "application/newlines")
		r.Expect(200)
		t.Check(len(res.Success) == 2, "answer %s", quoteBody(r.Body))
		var a Record
		t.Do("GET", "/storage/"+c+"/a", "").Expect(200).JSON(&a)
		t.Check(a.Payload == "1\n2", "payload %q", a.Payload)
	}},
	{ID: "post.other-content-types-are-415", Clause: "1.5 Content-Type; case 93", Level: Must, Run: func(t *T) {
		c := t.Coll("p415")
		t.Do("POST", "/storage/"+c, `[{"id":"a","payload":"x"}]`, "Content-Type", "application/octet-stream").Expect(415)
		t.Do("GET", "/storage/"+c+"/a", "").Expect(404)
	}},
	{ID: "post.max-post-records", Clause: "1.6 retry bso; case 105", Level: Must, Run: func(t *T) {
		max := maxPostRecords(t)
		c := t.Coll("pmax")
		r, res := post(t, "/storage/"+c, items("ok", max-5))
		r.Expect(200)
		t.Check(len(res.Success) == max-5, "%d of %d succeeded", len(res.Success), max-5)
		r, res = post(t, "/storage/"+c, items("over", max+5))
		r.Expect(200)
		t.Check(len(res.Success) == max && len(res.Failed) == 5, "max+5 items: %d succeeded, %d failed, expected %d and 5", len(res.Success), len(res.Failed), max)
	}},
	{ID: "post.x-weave-records-over-the-limit-is-400", Clause: "1.5 X-Weave-Records; case 108", Level: Must, Run: func(t *T) {
		max := maxPostRecords(t)
		c := t.Coll("pxwr")
		t.Do("POST", "/storage/"+c, `[]`, "X-Weave-Records", fmt.Sprint(max)).Expect(200)
		t.Do("POST", "/storage/"+c, `[]`, "X-Weave-Records", fmt.Sprint(max+1)).Expect(400)
	}},
	{ID: "post.size-limit-body-is-weave-17", Clause: "1.9; case 108", Level: Should, Run: func(t *T) {
		max := maxPostRecords(t)
		t.Do("POST", "/storage/"+t.Coll("p17"), `[]`, "X-Weave-Records", fmt.Sprint(max+1)).Expect(400).BodyIs("17")
	}},
	{ID: "post.empty-list", Clause: "case 111", Level: Must, Run: func(t *T) {
		r, res := post(t, "/storage/"+t.Coll("pempty"), `[]`)
		r.Expect(200)
		t.Check(len(res.Success) == 0, "answer %s", quoteBody(r.Body))
	}},
	{ID: "post.bulk-ttl-update", Clause: "case 110", Level: Must, Run: func(t *T) {
		c := t.Coll("pbttl")
		postOK(t, c, `[{"id":"a","payload":"keep"}]`)
		var before, after Record
		t.Do("GET", "/storage/"+c+"/a", "").Expect(200).JSON(&before)
		postOK(t, c, `[{"id":"a","ttl":3600},{"id":"new","ttl":3600}]`)
		t.Do("GET", "/storage/"+c+"/a", "").Expect(200).JSON(&after)
		var created Record
		t.Do("GET", "/storage/"+c+"/new", "").Expect(200).JSON(&created)
		t.Check(after.Payload == "keep" && after.Modified == before.Modified && created.Payload == "", "a %+v, new %+v", after, created)
	}},
	{ID: "post.if-unmodified-since", Clause: "1.5 X-If-Unmodified-Since; case 109", Level: Must, Run: func(t *T) {
		c := t.Coll("pius")
		ts := fill(t, c, "a")
		t.Do("POST", "/storage/"+c, `[{"id":"b"}]`, "X-If-Unmodified-Since", (ts[0] - 10).String()).Expect(412)
		t.Do("POST", "/storage/"+c, `[{"id":"b"}]`, "X-If-Unmodified-Since", ts[0].String()).Expect(200)
	}},
	{ID: "post.collection-field-is-accepted", Clause: "case 104", Level: Should, Run: func(t *T) {
		r, res := post(t, "/storage/"+t.Coll("pcf"), `[{"id":"a","collection":"x","payload":"1"},{"id":"b","collection":"x","payload":"2"}]`)
		r.Expect(200)
		t.Check(len(res.Success) == 2, "answer %s", quoteBody(r.Body))
	}},
}

var batchCases = []Case{
	{ID: "batch.create-is-202-and-invisible", Clause: "1.7; case 113", Level: Must, Run: func(t *T) {
		c := t.Coll("bcreate")
		ts := fill(t, c, "old")
		r, res := post(t, "/storage/"+c+"?batch=true", `[{"id":"staged","payload":"x"}]`)
		r.Expect(202)
		t.Check(res.Batch != "", "no batch id in %s", quoteBody(r.Body))
		g := t.Do("GET", "/storage/"+c, "").Expect(200)
		t.Check(slices.Equal(g.IDs(), []string{"old"}) && g.TS("X-Last-Modified") == ts[0], "staged records visible: %s", quoteBody(g.Body))
	}},
	{ID: "batch.append-is-202", Clause: "1.7; case 114", Level: Must, Run: func(t *T) {
		c := t.Coll("bappend")
		_, res := post(t, "/storage/"+c+"?batch=true", `[{"id":"a"}]`)
		t.Check(res.Batch != "", "no batch")
		r, _ := post(t, "/storage/"+c+"?batch="+url.QueryEscape(res.Batch), `[{"id":"b"}]`)
		r.Expect(202)
	}},
	{ID: "batch.commit-makes-everything-visible-at-one-time", Clause: "1.7; case 115", Level: Must, Run: func(t *T) {
		c := t.Coll("bcommit")
		_, res := post(t, "/storage/"+c+"?batch=true", `[{"id":"a","payload":"1"}]`)
		id := url.QueryEscape(res.Batch)
		post(t, "/storage/"+c+"?batch="+id, `[{"id":"b","payload":"2"}]`)
		r, done := post(t, "/storage/"+c+"?batch="+id+"&commit=true", `[{"id":"c","payload":"3"}]`)
		r.Expect(200)
		recs := t.Do("GET", "/storage/"+c+"?full=1", "").Expect(200).Records()
		t.Check(len(recs) == 3, "%d records after the commit", len(recs))
		for _, rec := range recs {
			t.Check(rec.Modified == done.Modified, "%s modified %.2f, the commit's %.2f", rec.ID, rec.Modified, done.Modified)
		}
		t.Check(fmt.Sprintf("%.2f", done.Modified) == r.Header.Get("X-Last-Modified"), "X-Last-Modified %q", r.Header.Get("X-Last-Modified"))
	}},
	{ID: "batch.commit-updates-info-collections", Clause: "1.7; case 116", Level: Must, Run: func(t *T) {
		c := t.Coll("binfo")
		_, res := post(t, "/storage/"+c+"?batch=true", `[{"id":"a"}]`)
		_, done := post(t, "/storage/"+c+"?batch="+url.QueryEscape(res.Batch)+"&commit=true", `[]`)
		var m map[string]float64
		t.Do("GET", "/info/collections", "").Expect(200).JSON(&m)
		t.Check(m[c] == done.Modified, "info/collections %v, the commit %v", m[c], done.Modified)
	}},
	{ID: "batch.true-and-commit-at-once", Clause: "1.7; case 118", Level: Must, Run: func(t *T) {
		r, res := post(t, "/storage/"+t.Coll("bonce")+"?batch=true&commit=true", `[{"id":"a"}]`)
		r.Expect(200)
		t.Check(res.Batch == "" && res.Modified > 0, "answer %s", quoteBody(r.Body))
	}},
	{ID: "batch.unknown-id-is-400", Clause: "1.7; case 125", Level: Must, Run: func(t *T) {
		t.Do("POST", "/storage/"+t.Coll("bbad")+"?batch=sammich", `[]`).Expect(400)
	}},
	{ID: "batch.commit-without-batch-is-400", Clause: "1.7; case 126", Level: Must, Run: func(t *T) {
		t.Do("POST", "/storage/"+t.Coll("bnob")+"?commit=true", `[]`).Expect(400)
	}},
	{ID: "batch.scoped-to-its-collection", Clause: "1.7; case 128", Level: Must, Run: func(t *T) {
		c, other := t.Coll("bscope"), t.Coll("bother")
		_, res := post(t, "/storage/"+c+"?batch=true", `[{"id":"a"}]`)
		id := url.QueryEscape(res.Batch)
		t.Do("POST", "/storage/"+other+"?batch="+id+"&commit=true", `[]`).Expect(400)
		t.Do("POST", "/storage/"+c+"?batch="+id+"&commit=true", `[]`).Expect(200)
	}},
	{ID: "batch.scoped-to-its-user", Clause: "1.7; case 129", Level: Must, SecondUser: true, Run: func(t *T) {
		c := t.Coll("buser")
		_, res := post(t, "/storage/"+c+"?batch=true", `[{"id":"a"}]`)
		id := url.QueryEscape(res.Batch)
		t.AsSecond("POST", "/storage/"+c+"?batch="+id+"&commit=true", `[]`).Expect(400)
		t.Do("POST", "/storage/"+c+"?batch="+id+"&commit=true", `[]`).Expect(200)
		t.AsSecond("GET", "/storage/"+c+"/a", "").Expect(404)
	}},
	{ID: "batch.partial-update-kept-at-commit", Clause: "case 119", Level: Must, Run: func(t *T) {
		c := t.Coll("bpart")
		postOK(t, c, `[{"id":"a","payload":"keep","sortindex":17}]`)
		_, res := post(t, "/storage/"+c+"?batch=true", `[{"id":"a","payload":"new"}]`)
		post(t, "/storage/"+c+"?batch="+url.QueryEscape(res.Batch)+"&commit=true", `[]`)
		var r Record
		t.Do("GET", "/storage/"+c+"/a", "").Expect(200).JSON(&r)
		t.Check(r.Payload == "new" && r.SortIndex != nil && *r.SortIndex == 17, "got %+v", r)
	}},
	{ID: "batch.commit-body-wins-a-collision", Clause: "case 132", Level: Must, Run: func(t *T) {
		c := t.Coll("bcoll")
		_, res := post(t, "/storage/"+c+"?batch=true", `[{"id":"b0","payload":"staged"}]`)
		r, done := post(t, "/storage/"+c+"?batch="+url.QueryEscape(res.Batch)+"&commit=true", `[{"id":"b0","payload":"committed"}]`)
		r.Expect(200)
		var rec Record
		t.Do("GET", "/storage/"+c+"/b0", "").Expect(200).JSON(&rec)
		t.Check(rec.Payload == "committed" && slices.Equal(done.Success, []string{"b0"}) && len(done.Failed) == 0, "record %+v, answer %s", rec, quoteBody(r.Body))
	}},
	{ID: "batch.empty-commit-bodies", Clause: "1.7; case 133", Level: Must, Run: func(t *T) {
		c := t.Coll("bempty")
		for _, tc := range []struct {
			ct, body string
			want     int
		}{{"application/json", "[]", 200}, {"application/json", "{}", 400}, {"application/newlines", "", 200}, {"application/newlines", "{}", 400}} {
			_, res := post(t, "/storage/"+c+"?batch=true", `[{"id":"a"}]`)
			t.Do("POST", "/storage/"+c+"?batch="+url.QueryEscape(res.Batch)+"&commit=true", tc.body, "Content-Type", tc.ct).Expect(tc.want)
		}
	}},
	{ID: "batch.failing-items-reported-and-skipped", Clause: "case 123", Level: Must, Run: func(t *T) {
		c := t.Coll("bfail")
		_, res := post(t, "/storage/"+c+"?batch=true", `[{"id":"ok1"},{"id":"bad1","sortindex":"x"}]`)
		_, failed := res.Failed["bad1"]
		t.Check(failed, "bad1 not reported failed at create")
		post(t, "/storage/"+c+"?batch="+url.QueryEscape(res.Batch)+"&commit=true", `[{"id":"ok2"}]`)
		ids := t.Do("GET", "/storage/"+c, "").Expect(200).IDs()
		t.Check(sameSet(ids, list("ok1,ok2")), "ids after commit %v", ids)
	}},
	{ID: "batch.committed-ids-are-gone", Clause: "1.7; case 131", Level: Should, Run: func(t *T) {
		c := t.Coll("bgone")
		_, res := post(t, "/storage/"+c+"?batch=true", `[{"id":"a"}]`)
		id := url.QueryEscape(res.Batch)
		post(t, "/storage/"+c+"?batch="+id+"&commit=true", `[]`)
		t.Do("POST", "/storage/"+c+"?batch="+id+"&commit=true", `[{"id":"b"}]`).Expect(400)
	}},
	{ID: "batch.if-unmodified-since-at-commit", Clause: "1.7; case 109", Level: Must, Run: func(t *T) {
		c := t.Coll("bius")
		ts := fill(t, c, "x")
		_, res := post(t, "/storage/"+c+"?batch=true", `[{"id":"a"}]`, "X-If-Unmodified-Since", ts[0].String())
		put(t, c, "intruder", `{"payload":"x"}`)
		t.Do("POST", "/storage/"+c+"?batch="+url.QueryEscape(res.Batch)+"&commit=true", `[]`, "X-If-Unmodified-Since", ts[0].String()).Expect(412)
		t.Do("GET", "/storage/"+c+"/a", "").Expect(404)
	}},
	{ID: "batch.x-weave-total-bytes-over-the-limit-is-400", Clause: "1.7; case 135", Level: Must, Run: func(t *T) {
		var cfg map[string]int64
		t.Do("GET", "/info/configuration", "").Expect(200).JSON(&cfg)
		c := t.Coll("btot")
		t.Do("POST", "/storage/"+c+"?batch=true", `[]`, "X-Weave-Total-Bytes", fmt.Sprint(cfg["max_total_bytes"])).Expect(202)
		t.Do("POST", "/storage/"+c+"?batch=true", `[]`, "X-Weave-Total-Bytes", fmt.Sprint(cfg["max_total_bytes"]+1)).Expect(400)
	}},
}
