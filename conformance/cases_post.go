package conformance

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

func maxPostRecords(t *T) int { return int(config(t)["max_post_records"]) }

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
		r, res := post(t, "/storage/"+t.Coll("pids"), `[{"id":"A\nB"},{"id":"A\tB"},{"id":""},{"id":"`+strings.Repeat("X", 65)+`"},{"id":"fine","payload":"p"}]`)
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
		for _, b := range []string{`"notalist"`, `42`, `{"id":"a","payload":"p"}`} {
			t.Do("POST", "/storage/"+c, b).Expect(400)
		}
	}},
	{ID: "post.a-non-object-element-is-400", Clause: "1.6; case 97", Level: Must, Run: func(t *T) {
		c := t.Coll("pnonobj")
		t.Do("POST", "/storage/"+c, `[{"id":"a","payload":"x"},"BAD"]`).Expect(400)
		t.Do("GET", "/storage/"+c+"/a", "").Expect(404)
	}},
	{ID: "post.newline-bodies", Clause: "1.6; cases 93, 94", Level: Must, Run: func(t *T) {
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
		t.Do("POST", "/storage/"+c, `[{"id":"b","payload":"p"}]`, "X-If-Unmodified-Since", (ts[0] - 10).String()).Expect(412)
		t.Do("POST", "/storage/"+c, `[{"id":"b","payload":"p"}]`, "X-If-Unmodified-Since", ts[0].String()).Expect(200)
	}},
	{ID: "post.collection-field-is-accepted", Clause: "case 104", Level: Should, Run: func(t *T) {
		r, res := post(t, "/storage/"+t.Coll("pcf"), `[{"id":"a","collection":"x","payload":"1"},{"id":"b","collection":"x","payload":"2"}]`)
		r.Expect(200)
		t.Check(len(res.Success) == 2, "answer %s", quoteBody(r.Body))
	}},
	{ID: "post.long-newline-lines", Clause: "1.6 application/newlines; case 95", Level: Must, Run: func(t *T) {
		c := t.Coll("plong")
		big := payloadOf(300 << 10)
		body := `{"id":"big","payload":"` + big + `"}` + "\n" + `{"id":"after","payload":"small"}` + "\n"
		r, res := post(t, "/storage/"+c, body, "Content-Type", "application/newlines")
		r.Expect(200)
		t.Check(sameSet(res.Success, list("big,after")), "a newlines body with a 300 KB line: success %v, failed %v", res.Success, res.Failed)
		var rec Record
		t.Do("GET", "/storage/"+c+"/big", "").Expect(200).JSON(&rec)
		t.Check(len(rec.Payload) == len(big), "the 300 KB payload read back as %d bytes", len(rec.Payload))
		t.Do("GET", "/storage/"+c+"/after", "").Expect(200)
	}},
	{ID: "post.invalid-field-values-fail-the-item", Clause: "1.2; case 100", Level: Must, Run: func(t *T) {
		c := t.Coll("pinv")
		bad := []string{`"sortindex":"xxx_meh"`, `"sortindex":"2.6"`, `"sortindex":1000000000`, `"payload":42`, `"ttl":"eh?"`, `"ttl":"4.2"`, `"ttl":-1`}
		items := []string{`{"id":"good","payload":"x"}`}
		for i, f := range bad {
			items = append(items, fmt.Sprintf(`{"id":"bad%d",%s}`, i, f))
		}
		r, res := post(t, "/storage/"+c, "["+strings.Join(items, ",")+"]")
		r.Expect(200)
		t.Check(slices.Equal(res.Success, []string{"good"}) && len(res.Failed) == len(bad), "answer %s", quoteBody(r.Body))
		ids := t.Do("GET", "/storage/"+c, "").Expect(200).IDs()
		t.Check(slices.Equal(ids, []string{"good"}), "stored %v", ids)
	}},
	{ID: "post.failed-values-are-strings", Clause: "1.6 failed; case 101", Level: Should, Run: func(t *T) {
		r := t.Do("POST", "/storage/"+t.Coll("pfstr"), `[{"id":"ok","payload":"x"},{"id":"bad","payload":"x","sortindex":"nope"}]`).Expect(200)
		var res struct {
			Failed map[string]json.RawMessage `json:"failed"`
		}
		r.JSON(&res)
		var reason string
		t.Check(json.Unmarshal(res.Failed["bad"], &reason) == nil, "failed[\"bad\"] is %s, expected a string reason", res.Failed["bad"])
	}},
	{ID: "post.record-without-id-is-refused", Clause: "1.6; case 102", Level: Must, Run: func(t *T) {
		c := t.Coll("pnoid")
		r, res := post(t, "/storage/"+c, `[{"payload":"no id"},{"id":"ok","payload":"x"}]`)
		switch r.Status {
		case 400:
			t.Do("GET", "/storage/"+c+"/ok", "").Expect(404)
		case 200:
			t.Check(slices.Equal(res.Success, []string{"ok"}) && len(res.Failed) == 1, "a record without id: answer %s", quoteBody(r.Body))
		default:
			t.Fatalf("POST of a record without id: expected 400, or 200 with it in failed; got %d with body %s", r.Status, quoteBody(r.Body))
		}
	}},
	{ID: "post.duplicate-ids-are-400", Clause: "1.6; case 103", Level: Should, Run: func(t *T) {
		c := t.Coll("pdup")
		t.Do("POST", "/storage/"+c, `[{"id":"a","payload":"1"},{"id":"a","payload":"2"}]`).Expect(400)
		t.Do("GET", "/storage/"+c+"/a", "").Expect(404)
	}},
	{ID: "post.max-post-bytes-per-item", Clause: "1.6 retry bytes; case 106", Level: Must, Run: func(t *T) {
		cfg := config(t)
		max, size := int(cfg["max_post_bytes"]), 227*1024+7
		var items []string
		n := max / size
		for i := range n {
			items = append(items, fmt.Sprintf(`{"id":"i%d","payload":"%s"}`, i, payloadOf(size)))
		}
		items = append(items, `{"id":"over","payload":"`+payloadOf(max-n*size+1)+`"}`)
		body := "[" + strings.Join(items, ",") + "]"
		if int64(len(body)) > cfg["max_request_bytes"] {
			t.Skipf("max_request_bytes %d leaves no room for a request of %d payload bytes", cfg["max_request_bytes"], max+1)
		}
		r, res := post(t, "/storage/"+t.Coll("pbytes"), body)
		r.Expect(200)
		_, failed := res.Failed["over"]
		t.Check(len(res.Success) == n && failed && len(res.Failed) == 1, "%d payload bytes in %d items: %d succeeded, failed %v; expected the item that crosses max_post_bytes (%d) to fail alone", max+1, n+1, len(res.Success), res.Failed, max)
	}},
	{ID: "post.an-oversize-item-fails-alone", Clause: "1.8 max_record_payload_bytes; case 107", Level: Must, Run: func(t *T) {
		cfg := config(t)
		body := `[{"id":"ok","payload":"x"},{"id":"big","payload":"` + payloadOf(int(cfg["max_record_payload_bytes"])+1) + `"}]`
		if int64(len(body)) > cfg["max_request_bytes"] {
			t.Skipf("max_request_bytes %d cannot carry a payload over max_record_payload_bytes %d", cfg["max_request_bytes"], cfg["max_record_payload_bytes"])
		}
		c := t.Coll("pover")
		r, res := post(t, "/storage/"+c, body)
		r.Expect(200)
		_, failed := res.Failed["big"]
		t.Check(slices.Equal(res.Success, []string{"ok"}) && failed, "answer %s", quoteBody(r.Body))
		t.Do("GET", "/storage/"+c+"/big", "").Expect(404)
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
		id := begin(t, c, `[{"id":"a","payload":"p"}]`)
		r, _ := post(t, "/storage/"+c+"?batch="+id, `[{"id":"b","payload":"p"}]`)
		r.Expect(202)
	}},
	{ID: "batch.commit-makes-everything-visible-at-one-time", Clause: "1.7; case 115", Level: Must, Run: func(t *T) {
		c := t.Coll("bcommit")
		id := begin(t, c, `[{"id":"a","payload":"1"}]`)
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
		id := begin(t, c, `[{"id":"a","payload":"p"}]`)
		_, done := post(t, "/storage/"+c+"?batch="+id+"&commit=true", `[]`)
		var m map[string]float64
		t.Do("GET", "/info/collections", "").Expect(200).JSON(&m)
		t.Check(m[c] == done.Modified, "info/collections %v, the commit %v", m[c], done.Modified)
	}},
	{ID: "batch.true-and-commit-at-once", Clause: "1.7; case 118", Level: Must, Run: func(t *T) {
		r, res := post(t, "/storage/"+t.Coll("bonce")+"?batch=true&commit=true", `[{"id":"a","payload":"p"}]`)
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
		id := begin(t, c, `[{"id":"a","payload":"p"}]`)
		t.Do("POST", "/storage/"+other+"?batch="+id+"&commit=true", `[]`).Expect(400)
		t.Do("POST", "/storage/"+c+"?batch="+id+"&commit=true", `[]`).Expect(200)
	}},
	{ID: "batch.scoped-to-its-user", Clause: "1.7; case 129", Level: Must, SecondUser: true, Run: func(t *T) {
		c := t.Coll("buser")
		id := begin(t, c, `[{"id":"a","payload":"p"}]`)
		t.AsSecond("POST", "/storage/"+c+"?batch="+id+"&commit=true", `[]`).Expect(400)
		t.Do("POST", "/storage/"+c+"?batch="+id+"&commit=true", `[]`).Expect(200)
		t.AsSecond("GET", "/storage/"+c+"/a", "").Expect(404)
	}},
	{ID: "batch.partial-update-kept-at-commit", Clause: "case 119", Level: Must, Run: func(t *T) {
		c := t.Coll("bpart")
		postOK(t, c, `[{"id":"a","payload":"keep","sortindex":17}]`)
		id := begin(t, c, `[{"id":"a","payload":"new"}]`)
		post(t, "/storage/"+c+"?batch="+id+"&commit=true", `[]`)
		var r Record
		t.Do("GET", "/storage/"+c+"/a", "").Expect(200).JSON(&r)
		t.Check(r.Payload == "new" && r.SortIndex != nil && *r.SortIndex == 17, "got %+v", r)
	}},
	{ID: "batch.commit-body-wins-a-collision", Clause: "case 132", Level: Must, Run: func(t *T) {
		c := t.Coll("bcoll")
		id := begin(t, c, `[{"id":"b0","payload":"staged"}]`)
		r, done := post(t, "/storage/"+c+"?batch="+id+"&commit=true", `[{"id":"b0","payload":"committed"}]`)
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
		}{{"application/json", "[]", 200}, {"application/json", "{}", 400}, {"application/json", "", 400},
			{"application/newlines", "", 200}, {"application/newlines", "\n", 400}, {"application/newlines", "{}", 400}, {"application/newlines", "[]", 400}} {
			id := begin(t, c, `[{"id":"a","payload":"p"}]`)
			r := t.Do("POST", "/storage/"+c+"?batch="+id+"&commit=true", tc.body, "Content-Type", tc.ct)
			t.Check(r.Status == tc.want, "commit with the %s body %q: expected %d, got %d with body %s", tc.ct, tc.body, tc.want, r.Status, quoteBody(r.Body))
		}
	}},
	{ID: "batch.failing-items-reported-and-skipped", Clause: "case 123", Level: Must, Run: func(t *T) {
		c := t.Coll("bfail")
		r, res := post(t, "/storage/"+c+"?batch=true", `[{"id":"ok1","payload":"p"},{"id":"bad1","payload":"p","sortindex":"x"}]`)
		r.Expect(202)
		id := url.QueryEscape(res.Batch)
		_, failed := res.Failed["bad1"]
		t.Check(failed, "bad1 not reported failed at create")
		post(t, "/storage/"+c+"?batch="+id+"&commit=true", `[{"id":"ok2","payload":"p"}]`)
		ids := t.Do("GET", "/storage/"+c, "").Expect(200).IDs()
		t.Check(sameSet(ids, list("ok1,ok2")), "ids after commit %v", ids)
	}},
	{ID: "batch.committed-ids-are-gone", Clause: "1.7; case 131", Level: Should, Run: func(t *T) {
		c := t.Coll("bgone")
		id := begin(t, c, `[{"id":"a","payload":"p"}]`)
		post(t, "/storage/"+c+"?batch="+id+"&commit=true", `[]`)
		t.Do("POST", "/storage/"+c+"?batch="+id+"&commit=true", `[{"id":"b","payload":"p"}]`).Expect(400)
	}},
	{ID: "batch.if-unmodified-since-at-commit", Clause: "1.7; case 109", Level: Must, Run: func(t *T) {
		c := t.Coll("bius")
		ts := fill(t, c, "x")
		id := begin(t, c, `[{"id":"a","payload":"p"}]`, "X-If-Unmodified-Since", ts[0].String())
		put(t, c, "intruder", `{"payload":"x"}`)
		t.Do("POST", "/storage/"+c+"?batch="+id+"&commit=true", `[]`, "X-If-Unmodified-Since", ts[0].String()).Expect(412)
		t.Do("GET", "/storage/"+c+"/a", "").Expect(404)
	}},
	{ID: "batch.x-weave-total-bytes-over-the-limit-is-400", Clause: "1.7; case 135", Level: Must, Run: func(t *T) {
		var cfg map[string]int64
		t.Do("GET", "/info/configuration", "").Expect(200).JSON(&cfg)
		c := t.Coll("btot")
		t.Do("POST", "/storage/"+c+"?batch=true", `[]`, "X-Weave-Total-Bytes", fmt.Sprint(cfg["max_total_bytes"])).Expect(202)
		t.Do("POST", "/storage/"+c+"?batch=true", `[]`, "X-Weave-Total-Bytes", fmt.Sprint(cfg["max_total_bytes"]+1)).Expect(400)
	}},
	{ID: "batch.commits-move-only-their-collection", Clause: "1.7; case 122", Level: Must, Run: func(t *T) {
		a, b := t.Coll("bma"), t.Coll("bmb")
		fill(t, a, "x")
		fill(t, b, "y")
		var before, after, last map[string]float64
		t.Do("GET", "/info/collections", "").Expect(200).JSON(&before)
		id := begin(t, a, `[{"id":"new","payload":"n"}]`)
		_, done := post(t, "/storage/"+a+"?batch="+id+"&commit=true", `[]`)
		t.Do("GET", "/info/collections", "").Expect(200).JSON(&after)
		t.Check(after[a] == done.Modified && after[b] == before[b], "a commit in %s: info/collections went from %v to %v (commit at %.2f)", a, before, after, done.Modified)
		id = begin(t, b, `[{"id":"y","payload":"overwritten"}]`)
		_, done = post(t, "/storage/"+b+"?batch="+id+"&commit=true", `[]`)
		t.Do("GET", "/info/collections", "").Expect(200).JSON(&last)
		t.Check(last[b] == done.Modified && last[b] > after[b] && last[a] == after[a], "an overwriting commit in %s: info/collections went from %v to %v", b, after, last)
	}},
	{ID: "batch.create-with-an-undecodable-bso", Clause: "1.7; case 124", Level: Should, Run: func(t *T) {
		c := t.Coll("bundec")
		r, res := post(t, "/storage/"+c+"?batch=true", `[{"id":"ok","payload":"x"},{"id":"bad","payload":"x","unexpected":1}]`)
		r.Expect(202)
		_, failed := res.Failed["bad"]
		t.Check(res.Batch != "" && slices.Equal(res.Success, []string{"ok"}) && failed, "answer %s", quoteBody(r.Body))
		post(t, "/storage/"+c+"?batch="+url.QueryEscape(res.Batch)+"&commit=true", `[]`)
		ids := t.Do("GET", "/storage/"+c, "").Expect(200).IDs()
		t.Check(slices.Equal(ids, []string{"ok"}), "after the commit %v", ids)
	}},
	{ID: "batch.commit-must-be-true", Clause: "1.7 commit; case 127", Level: Should, Run: func(t *T) {
		c := t.Coll("bctrue")
		id := begin(t, c, `[{"id":"a","payload":"p"}]`)
		for _, v := range []string{"false", "1", "yes"} {
			r := t.Do("POST", "/storage/"+c+"?batch="+id+"&commit="+v, `[]`)
			t.Check(r.Status == 400, "commit=%s: expected 400, got %d with body %s", v, r.Status, quoteBody(r.Body))
		}
		t.Do("GET", "/storage/"+c, "").Expect(200).BodyIs("[]")
		t.Do("POST", "/storage/"+c+"?batch="+id+"&commit=TRUE", `[]`).Expect(200)
	}},
	{ID: "batch.same-id-for-two-users", Clause: "1.7; case 130", Level: Must, SecondUser: true, Run: func(t *T) {
		c := t.Coll("bsame")
		mine := begin(t, c, `[{"id":"a","payload":"mine"}]`)
		var theirs postResult
		func() {
			defer t.Given()()
			t.AsSecond("POST", "/storage/"+c+"?batch=true", `[{"id":"a","payload":"theirs"}]`).Expect(202).JSON(&theirs)
		}()
		if url.QueryEscape(theirs.Batch) != mine {
			t.Skipf("the two users' batch ids differ (%s, %s): separate ids cannot mix", mine, theirs.Batch)
		}
		t.Do("POST", "/storage/"+c+"?batch="+mine+"&commit=true", `[]`).Expect(200)
		t.AsSecond("POST", "/storage/"+c+"?batch="+mine+"&commit=true", `[]`).Expect(200)
		var a, b Record
		t.Do("GET", "/storage/"+c+"/a", "").Expect(200).JSON(&a)
		t.AsSecond("GET", "/storage/"+c+"/a", "").Expect(200).JSON(&b)
		t.Check(a.Payload == "mine" && b.Payload == "theirs", "the same batch id mixed two users' data: %q and %q", a.Payload, b.Payload)
	}},
	{ID: "batch.max-post-bytes-per-post", Clause: "1.7 retry bytes; case 134", Level: Must, Run: func(t *T) {
		cfg := config(t)
		max := int(cfg["max_post_bytes"])
		body := func(big int) string {
			return `[{"id":"little","payload":"` + payloadOf(3) + `"},{"id":"big","payload":"` + payloadOf(big) + `"}]`
		}
		if int64(len(body(max-2))) > cfg["max_request_bytes"] {
			t.Skipf("max_request_bytes %d leaves no room for %d payload bytes in one POST", cfg["max_request_bytes"], max)
		}
		c := t.Coll("bbytes")
		r, res := post(t, "/storage/"+c+"?batch=true", body(max-3))
		r.Expect(202)
		t.Check(sameSet(res.Success, list("little,big")), "exactly max_post_bytes (%d) of payload in a batch POST: %s", max, quoteBody(r.Body))
		r, res = post(t, "/storage/"+c+"?batch=true", body(max-2))
		r.Expect(202)
		_, failed := res.Failed["big"]
		t.Check(slices.Equal(res.Success, []string{"little"}) && failed, "one byte over max_post_bytes: expected big to fail alone, got %s", quoteBody(r.Body))
	}},
	{ID: "batch.max-post-records-per-post", Clause: "1.7 retry bso; case 136", Level: Must, Run: func(t *T) {
		max := maxPostRecords(t)
		c := t.Coll("brecs")
		r, res := post(t, "/storage/"+c+"?batch=true", items("ok", max))
		r.Expect(202)
		t.Check(len(res.Success) == max, "max_post_records (%d) in a batch POST: %d succeeded", max, len(res.Success))
		r, res = post(t, "/storage/"+c+"?batch=true", items("over", max+1))
		r.Expect(202)
		t.Check(len(res.Success) == max && len(res.Failed) == 1, "max_post_records+1 in a batch POST: %d succeeded, %d failed, expected %d and 1", len(res.Success), len(res.Failed), max)
	}},
	{ID: "batch.empty-commit-applies-at-commit-time", Clause: "1.7; case 117", Level: Must, Slow: true, Run: func(t *T) {
		c := t.Coll("blate")
		id := begin(t, c, `[{"id":"a","payload":"1"},{"id":"b","payload":"2"}]`)
		t.Sleep(1100 * time.Millisecond)
		r, done := post(t, "/storage/"+c+"?batch="+id+"&commit=true", `[]`)
		r.Expect(200)
		recs := t.Do("GET", "/storage/"+c+"?full=1", "").Expect(200).Records()
		t.Check(len(recs) == 2, "%d records after an empty commit of 2", len(recs))
		for _, rec := range recs {
			t.Check(rec.Modified == done.Modified, "%s has modified %.2f, the commit was at %.2f (staged a second before)", rec.ID, rec.Modified, done.Modified)
		}
	}},
	{ID: "batch.ttl-only-staged-keeps-the-payload", Clause: "1.7; case 120", Level: Must, Slow: true, Run: func(t *T) {
		c := t.Coll("bttlo")
		postOK(t, c, `[{"id":"a","payload":"keep"}]`)
		id := begin(t, c, `[{"id":"a","ttl":1}]`)
		t.Do("POST", "/storage/"+c+"?batch="+id+"&commit=true", `[]`).Expect(200)
		var r Record
		t.Do("GET", "/storage/"+c+"/a", "").Expect(200).JSON(&r)
		t.Check(r.Payload == "keep", "a ttl-only staged BSO changed the payload to %q", r.Payload)
		t.Sleep(1300 * time.Millisecond)
		t.Do("GET", "/storage/"+c+"/a", "").Expect(404)
	}},
	{ID: "batch.ttl-counts-from-the-commit", Clause: "1.7; case 121", Level: Must, Slow: true, Run: func(t *T) {
		c := t.Coll("bttlc")
		id := begin(t, c, `[{"id":"a","payload":"x","ttl":2}]`)
		t.Sleep(1500 * time.Millisecond)
		t.Do("POST", "/storage/"+c+"?batch="+id+"&commit=true", `[]`).Expect(200)
		t.Sleep(1000 * time.Millisecond)
		r := t.Do("GET", "/storage/"+c+"/a", "")
		t.Check(r.Status == 200, "ttl 2 staged 2.5 s ago, committed 1 s ago: the record is gone (%d); its ttl counted from the staging", r.Status)
		t.Sleep(1300 * time.Millisecond)
		t.Do("GET", "/storage/"+c+"/a", "").Expect(404)
	}},
}
