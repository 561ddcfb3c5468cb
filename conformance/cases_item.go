package conformance

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

var modifiedTwoDecimals = regexp.MustCompile(`"modified":\s*[0-9]+\.[0-9]{2}[,}]`)

var itemCases = []Case{
	{ID: "item.get-returns-the-record", Clause: "1.4 GET /storage/<coll>/<id>; case 57", Level: Must, Run: func(t *T) {
		c := t.Coll("iget")
		ts := put(t, c, "a", `{"payload":"hello","sortindex":7}`)
		var r Record
		t.Do("GET", "/storage/"+c+"/a", "").Expect(200).JSON(&r)
		t.Check(r.ID == "a" && r.Payload == "hello" && r.SortIndex != nil && *r.SortIndex == 7, "got %+v", r)
		t.Check(int64(r.Modified*100+0.5) == int64(ts)/10, "modified %.2f, expected %s", r.Modified, ts)
	}},
	{ID: "item.modified-has-two-decimals", Clause: "1.3; case 58", Level: Must, Run: func(t *T) {
		c := t.Coll("two")
		put(t, c, "a", `{"payload":"x"}`)
		r := t.Do("GET", "/storage/"+c+"/a", "").Expect(200)
		t.Check(modifiedTwoDecimals.Match(r.Body), "modified not written with two decimals: %s", quoteBody(r.Body))
	}},
	{ID: "item.missing-is-404", Clause: "1.4; case 59", Level: Must, Run: func(t *T) {
		c := t.Coll("miss")
		put(t, c, "a", `{"payload":"x"}`)
		t.Do("GET", "/storage/"+c+"/b", "").Expect(404)
	}},
	{ID: "item.in-a-missing-collection-is-404", Clause: "case 60", Level: Must, Run: func(t *T) {
		t.Do("GET", "/storage/"+t.Coll("nocoll")+"/a", "").Expect(404)
	}},
	{ID: "item.404-body-is-json-0", Clause: "1.9; case 63", Level: Should, Run: func(t *T) {
		r := t.Do("GET", "/storage/"+written(t, "j404")+"/a", "").Expect(404).BodyIs("0")
		t.Check(strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"), "404 Content-Type %q", r.Header.Get("Content-Type"))
	}},
	{ID: "item.if-modified-since-304", Clause: "case 61", Level: Must, Run: func(t *T) {
		c := t.Coll("iims")
		ts := put(t, c, "a", `{"payload":"x"}`)
		t.Do("GET", "/storage/"+c+"/a", "", "X-If-Modified-Since", ts.String()).Expect(304)
		t.Do("GET", "/storage/"+c+"/a", "", "X-If-Modified-Since", (ts + 1000).String()).Expect(304)
		t.Do("GET", "/storage/"+c+"/a", "", "X-If-Modified-Since", (ts - 10).String()).Expect(200)
	}},
	{ID: "item.x-last-modified-is-the-items", Clause: "case 62", Level: Must, Run: func(t *T) {
		c := t.Coll("ixlm")
		ts := put(t, c, "a", `{"payload":"x"}`)
		put(t, c, "b", `{"payload":"y"}`)
		r := t.Do("GET", "/storage/"+c+"/a", "").Expect(200)
		t.Check(r.TS("X-Last-Modified") == ts, "X-Last-Modified %s, expected the item's %s", r.TS("X-Last-Modified"), ts)
	}},
	{ID: "put.creates-then-replaces", Clause: "1.4 PUT; case 65", Level: Must, Run: func(t *T) {
		c := t.Coll("prep")
		put(t, c, "a", `{"payload":"one"}`)
		put(t, c, "a", `{"payload":"two"}`)
		var r Record
		t.Do("GET", "/storage/"+c+"/a", "").Expect(200).JSON(&r)
		t.Check(r.Payload == "two", "payload %q after the second PUT", r.Payload)
	}},
	{ID: "put.answers-its-timestamp", Clause: "1.4 PUT; case 66", Level: Must, Run: func(t *T) {
		r := t.Do("PUT", "/storage/"+t.Coll("pts")+"/a", `{"payload":"x"}`).Expect(200)
		t.Check(strings.TrimSpace(string(r.Body)) == r.Header.Get("X-Last-Modified"), "body %s, X-Last-Modified %q", quoteBody(r.Body), r.Header.Get("X-Last-Modified"))
	}},
	{ID: "put.x-weave-timestamp-equals-the-write", Clause: "case 66 (PYOLD)", Level: Should, Run: func(t *T) {
		c := t.Coll("pwts")
		for i := range 20 {
			r := t.Do("PUT", "/storage/"+c+"/a", `{"payload":"x"}`).Expect(200)
			t.Check(r.Header.Get("X-Weave-Timestamp") == r.Header.Get("X-Last-Modified"), "write %d: X-Weave-Timestamp %q, X-Last-Modified %q", i, r.Header.Get("X-Weave-Timestamp"), r.Header.Get("X-Last-Modified"))
		}
	}},
	{ID: "put.content-types", Clause: "1.5 Content-Type; case 67", Level: Must, Run: func(t *T) {
		c := t.Coll("pct")
		t.Do("PUT", "/storage/"+c+"/a", `{"payload":"1"}`, "Content-Type", "application/json; charset=utf-8").Expect(200)
		t.Do("PUT", "/storage/"+c+"/a", `{"payload":"2"}`, "Content-Type", "text/plain").Expect(200)
		t.Do("PUT", "/storage/"+c+"/a", `{"payload":"3"}`, "Content-Type", "application/octet-stream").Expect(415)
		var r Record
		t.Do("GET", "/storage/"+c+"/a", "").Expect(200).JSON(&r)
		t.Check(r.Payload == "2", "a 415 wrote %q", r.Payload)
	}},
	{ID: "put.non-object-bodies-are-400", Clause: "case 68", Level: Must, Run: func(t *T) {
		c := t.Coll("pjson")
		for _, b := range []string{`"notabso"`, `42`, `{"id":["a"],"payload":{}}`, `{broken`} {
			t.Do("PUT", "/storage/"+c+"/a", b).Expect(400)
		}
	}},
	{ID: "put.invalid-fields-are-400", Clause: "case 69", Level: Must, Run: func(t *T) {
		c := t.Coll("pfld")
		for _, b := range []string{`{"sortindex":"xxx_meh"}`, `{"sortindex":"2.6"}`, `{"sortindex":1000000000}`, `{"payload":42}`, `{"ttl":"eh?"}`, `{"ttl":"4.2"}`, `{"unexpected":"field"}`} {
			t.Do("PUT", "/storage/"+c+"/a", b).Expect(400)
		}
		t.Do("GET", "/storage/"+c+"/a", "").Expect(404)
	}},
	{ID: "put.invalid-fields-give-weave-8", Clause: "1.9; case 69", Level: Should, Run: func(t *T) {
		t.Do("PUT", "/storage/"+t.Coll("p8")+"/a", `{"sortindex":"xxx"}`).Expect(400).BodyIs("8")
	}},
	{ID: "put.negative-ttl-is-400", Clause: "case 70", Level: Must, Run: func(t *T) {
		t.Do("PUT", "/storage/"+t.Coll("pnttl")+"/a", `{"payload":"x","ttl":-1}`).Expect(400)
	}},
	{ID: "put.negative-sortindex-is-fine", Clause: "case 71", Level: Must, Run: func(t *T) {
		t.Do("PUT", "/storage/"+t.Coll("pnsi")+"/a", `{"payload":"x","sortindex":-42}`).Expect(200)
	}},
	{ID: "put.client-modified-is-ignored", Clause: "1.2; case 72", Level: Must, Run: func(t *T) {
		c := t.Coll("pmod")
		ts := put(t, c, "a", `{"payload":"x","modified":1234.5}`)
		var r Record
		t.Do("GET", "/storage/"+c+"/a", "").Expect(200).JSON(&r)
		t.Check(int64(r.Modified*100+0.5) == int64(ts)/10, "modified %.2f, expected the server's %s", r.Modified, ts)
	}},
	{ID: "put.ttl-only-update-keeps-modified", Clause: "1.2; case 76", Level: Must, Run: func(t *T) {
		c := t.Coll("pttlo")
		put(t, c, "a", `{"payload":"keep"}`)
		var before, after Record
		t.Do("GET", "/storage/"+c+"/a", "").Expect(200).JSON(&before)
		t.Sleep(20 * time.Millisecond)
		put(t, c, "a", `{"ttl":3600}`)
		t.Do("GET", "/storage/"+c+"/a", "").Expect(200).JSON(&after)
		t.Check(after.Modified == before.Modified && after.Payload == "keep", "before %+v, after a ttl-only PUT %+v", before, after)
	}},
	{ID: "put.sortindex-only-keeps-payload", Clause: "1.2; case 77", Level: Must, Run: func(t *T) {
		c := t.Coll("psio")
		put(t, c, "a", `{"payload":"keep","sortindex":1}`)
		put(t, c, "a", `{"sortindex":2}`)
		var r Record
		t.Do("GET", "/storage/"+c+"/a", "").Expect(200).JSON(&r)
		t.Check(r.Payload == "keep" && r.SortIndex != nil && *r.SortIndex == 2, "got %+v", r)
	}},
	{ID: "put.ttl-only-on-a-new-id-creates-it-empty", Clause: "case 76", Level: Must, Run: func(t *T) {
		c := t.Coll("pnew")
		put(t, c, "a", `{"ttl":3600}`)
		var r Record
		t.Do("GET", "/storage/"+c+"/a", "").Expect(200).JSON(&r)
		t.Check(r.Payload == "", "payload %q, expected empty", r.Payload)
	}},
	{ID: "put.collection-field-is-accepted", Clause: "case 73", Level: Should, Run: func(t *T) {
		c := t.Coll("pcol")
		t.Do("PUT", "/storage/"+c+"/a", `{"payload":"x","collection":"whatever"}`).Expect(200)
	}},
	{ID: "put.oversize-payload-is-refused", Clause: "1.8 max_record_payload_bytes; case 74", Level: Must, Run: func(t *T) {
		var cfg map[string]int64
		t.Do("GET", "/info/configuration", "").Expect(200).JSON(&cfg)
		max := cfg["max_record_payload_bytes"]
		t.Check(max > 0 && max < 16<<20, "max_record_payload_bytes %d", max)
		c := t.Coll("pbig")
		t.Do("PUT", "/storage/"+c+"/a", `{"payload":"`+strings.Repeat("x", int(max)+1)+`"}`).Expect(400, 413)
		t.Do("GET", "/storage/"+c+"/a", "").Expect(404)
	}},
	{ID: "put.ttl-zero-is-invisible-at-once", Clause: "1.2 expiry; case 80", Level: Must, Run: func(t *T) {
		c := t.Coll("pttl0")
		put(t, c, "a", `{"payload":"x","ttl":0}`)
		t.Sleep(30 * time.Millisecond)
		t.Do("GET", "/storage/"+c+"/a", "").Expect(404)
		t.Do("GET", "/storage/"+c, "").Expect(200).BodyIs("[]")
	}},
	{ID: "put.ttl-expires-and-can-be-overwritten", Clause: "1.2 expiry; cases 81, 82", Level: Must, Run: func(t *T) {
		c := t.Coll("pttl1")
		put(t, c, "a", `{"payload":"x","ttl":1}`)
		t.Do("GET", "/storage/"+c+"/a", "").Expect(200)
		t.Sleep(1200 * time.Millisecond)
		t.Do("GET", "/storage/"+c+"/a", "").Expect(404)
		put(t, c, "a", `{"payload":"again","ttl":100}`)
		t.Do("GET", "/storage/"+c+"/a", "").Expect(200)
	}},
	{ID: "put.null-ttl-means-the-default", Clause: "case 79", Level: Must, Run: func(t *T) {
		c := t.Coll("pnull")
		put(t, c, "a", `{"payload":"x","ttl":null}`)
		t.Do("GET", "/storage/"+c+"/a", "").Expect(200)
	}},
	{ID: "put.ids-longer-than-64-are-404", Clause: "1.2 id; case 88", Level: Should, Run: func(t *T) {
		t.Do("PUT", "/storage/"+t.Coll("plong")+"/"+strings.Repeat("x", 65), `{"payload":"x"}`).Expect(404, 400)
	}},
	{ID: "put.known-bad-crypto-payload-is-refused", Clause: "1.6; case 83", Level: Should, Destructive: true, Run: func(t *T) {
		bad := `{"payload":"{\"ciphertext\":\"x\",\"IV\": \"AAAAAAAAAAAAAAAAAAAAAA==\",\"hmac\":\"0\"}"}`
		id := t.prefix + "-bad"
		r := t.Do("PUT", "/storage/crypto/"+id, bad)
		if r.Status == 200 {
			t.Do("DELETE", "/storage/crypto/"+id, "")
		}
		r.Expect(400)
		t.Do("PUT", "/storage/"+t.Coll("notcrypto")+"/x", bad).Expect(200)
	}},
	{ID: "put.sortindex-change-bumps-modified", Clause: "1.2; case 78", Level: Must, Run: func(t *T) {
		c := t.Coll("psib")
		ts := put(t, c, "a", `{"payload":"x","sortindex":1}`)
		t.Sleep(20 * time.Millisecond)
		ts2 := t.Do("PUT", "/storage/"+c+"/a", `{"sortindex":2}`).Expect(200).TS("X-Last-Modified")
		var r Record
		t.Do("GET", "/storage/"+c+"/a", "").Expect(200).JSON(&r)
		t.Check(ts2 > ts && int64(r.Modified*100+0.5) == int64(ts2)/10, "a sortindex change: write at %s after %s, record modified %.2f", ts2, ts, r.Modified)
	}},
	{ID: "put.nine-digit-sortindex-is-accepted", Clause: "1.2 sortindex; case 69", Level: Must, Run: func(t *T) {
		c := t.Coll("psi9")
		for _, v := range []string{"100000000", "999999999", "-999999999"} {
			t.Do("PUT", "/storage/"+c+"/a", `{"payload":"x","sortindex":`+v+`}`).Expect(200)
			var r Record
			t.Do("GET", "/storage/"+c+"/a", "").Expect(200).JSON(&r)
			t.Check(r.SortIndex != nil && fmt.Sprint(*r.SortIndex) == v, "sortindex %s read back as %v", v, r.SortIndex)
		}
	}},
	{ID: "put.request-over-max-request-bytes-is-413", Clause: "1.8 max_request_bytes; case 75", Level: Should, Run: func(t *T) {
		max := config(t)["max_request_bytes"]
		t.Check(max < 64<<20, "max_request_bytes %d is too large to probe", max)
		c := t.Coll("preq")
		body := `{"payload":"` + payloadOf(int(max)) + `"}`
		t.Do("PUT", "/storage/"+c+"/a", body).Expect(413)
		t.Do("GET", "/storage/"+c+"/a", "").Expect(404)
	}},
	{ID: "put.bad-collection-names-are-404", Clause: "1.2 collection; case 87", Level: Should, Run: func(t *T) {
		for _, name := range []string{"bad!name", strings.Repeat("c", 33), "sp%20ace"} {
			for _, m := range []string{"PUT", "GET"} {
				r := t.Do(m, "/storage/"+name+"/a", `{"payload":"x"}`)
				t.Check(r.Status == 404 || r.Status == 400, "%s of an item in the collection %q: expected 404 (or 400), got %d with body %s", m, name, r.Status, quoteBody(r.Body))
			}
		}
	}},
}
