package conformance

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/syncctl/syncctl/wbo"
)

var infoCases = []Case{
	{ID: "info.collections.lists-written", Clause: "1.4 GET /info/collections; cases 11, 13", Level: Must, Run: func(t *T) {
		c := t.Coll("ic")
		ts := put(t, c, "a", `{"payload":"x"}`)
		var m map[string]wbo.Timestamp
		t.Do("GET", "/info/collections", "").Expect(200).JSON(&m)
		t.Check(m[c] == ts, "info/collections: expected %s = %s (the PUT's timestamp), got %s", c, ts, m[c])
	}},
	{ID: "info.collections.only-the-written-one-moves", Clause: "1.3; case 12", Level: Must, Run: func(t *T) {
		a, b := t.Coll("ia"), t.Coll("ib")
		put(t, a, "x", `{"payload":"1"}`)
		put(t, b, "x", `{"payload":"1"}`)
		var before, after map[string]wbo.Timestamp
		t.Do("GET", "/info/collections", "").Expect(200).JSON(&before)
		put(t, b, "y", `{"payload":"2"}`)
		t.Do("GET", "/info/collections", "").Expect(200).JSON(&after)
		t.Check(after[a] == before[a] && after[b] > before[b], "writing %s moved %s from %s to %s, %s from %s to %s", b, a, before[a], after[a], b, before[b], after[b])
	}},
	{ID: "info.collections.x-last-modified-is-the-newest", Clause: "1.5 X-Last-Modified; case 24", Level: Must, Run: func(t *T) {
		c := t.Coll("il")
		ts := put(t, c, "a", `{"payload":"x"}`)
		r := t.Do("GET", "/info/collections", "").Expect(200)
		t.Check(r.TS("X-Last-Modified") >= ts, "X-Last-Modified %s is before the last write %s", r.TS("X-Last-Modified"), ts)
	}},
	{ID: "info.collections.x-weave-records", Clause: "1.5 X-Weave-Records; case 21", Level: Should, Run: func(t *T) {
		put(t, t.Coll("iw"), "a", `{"payload":"x"}`)
		for _, v := range []string{"/info/collections", "/info/collection_counts"} {
			r := t.Do("GET", v, "").Expect(200)
			var m map[string]any
			r.JSON(&m)
			t.Check(r.Header.Get("X-Weave-Records") == strconv.Itoa(len(m)), "%s: X-Weave-Records %q for %d collections", v, r.Header.Get("X-Weave-Records"), len(m))
		}
	}},
	{ID: "info.collection-counts", Clause: "1.4 GET /info/collection_counts; case 15", Level: Must, Run: func(t *T) {
		c := t.Coll("cnt")
		postOK(t, c, `[{"id":"a","payload":"1"},{"id":"b","payload":"2"},{"id":"c","payload":"3"}]`)
		var m map[string]int
		t.Do("GET", "/info/collection_counts", "").Expect(200).JSON(&m)
		t.Check(m[c] == 3, "collection_counts[%s] = %d, expected 3", c, m[c])
	}},
	{ID: "info.collection-usage", Clause: "1.4 GET /info/collection_usage; case 16", Level: Must, Run: func(t *T) {
		c := t.Coll("use")
		postOK(t, c, `[{"id":"a","payload":"`+strings.Repeat("x", 512)+`"},{"id":"b","payload":"`+strings.Repeat("y", 512)+`"}]`)
		var m map[string]float64
		t.Do("GET", "/info/collection_usage", "").Expect(200).JSON(&m)
		t.Check(math.Abs(m[c]-1.0) < 0.01, "collection_usage[%s] = %v KB, expected 1.0 (1024 bytes of payload)", c, m[c])
	}},
	{ID: "info.quota.shape-and-growth", Clause: "1.4 GET /info/quota; case 17", Level: Must, Run: func(t *T) {
		var before, after []*float64
		t.Do("GET", "/info/quota", "").Expect(200).JSON(&before)
		t.Check(len(before) == 2 && before[0] != nil, "info/quota = %s, expected [used, quota|null]", t.Do("GET", "/info/quota", "").Body)
		put(t, t.Coll("q"), "a", `{"payload":"`+strings.Repeat("q", 500)+`"}`)
		t.Do("GET", "/info/quota", "").Expect(200).JSON(&after)
		t.Check(math.Abs(*after[0]-*before[0]-500.0/1024) < 0.01, "quota used went from %v to %v KB after 500 bytes, expected +%.4f", *before[0], *after[0], 500.0/1024)
	}},
	{ID: "info.configuration.has-the-limits", Clause: "1.8; case 18", Level: Must, Run: func(t *T) {
		var m map[string]json.Number
		t.Do("GET", "/info/configuration", "").Expect(200).JSON(&m)
		for _, k := range []string{"max_post_records", "max_post_bytes", "max_total_records", "max_total_bytes", "max_record_payload_bytes", "max_request_bytes"} {
			_, ok := m[k]
			t.Check(ok, "info/configuration lacks %s", k)
		}
	}},
	{ID: "info.configuration.limits-are-consistent", Clause: "1.8; case 19", Level: Should, Run: func(t *T) {
		var m map[string]int64
		t.Do("GET", "/info/configuration", "").Expect(200).JSON(&m)
		t.Check(m["max_request_bytes"] > m["max_post_bytes"] && m["max_post_bytes"] >= m["max_record_payload_bytes"] &&
			m["max_total_records"] >= m["max_post_records"] && m["max_total_bytes"] >= m["max_post_bytes"], "inconsistent limits %v", m)
	}},
	{ID: "info.views.if-modified-since", Clause: "1.5 X-If-Modified-Since; case 23", Level: Must, Run: func(t *T) {
		put(t, t.Coll("ims"), "a", `{"payload":"x"}`)
		lm := t.Do("GET", "/info/collections", "").Expect(200).Header.Get("X-Last-Modified")
		for _, v := range []string{"/info/collections", "/info/quota", "/info/collection_usage", "/info/collection_counts"} {
			t.Do("GET", v, "", "X-If-Modified-Since", lm).Expect(304)
			t.Do("GET", v, "", "X-If-Modified-Since", "1.00").Expect(200)
		}
	}},
	{ID: "info.views.if-modified-since-after-a-write", Clause: "1.5 X-If-Modified-Since; case 23", Level: Must, Run: func(t *T) {
		c := t.Coll("ims2")
		put(t, c, "a", `{"payload":"x"}`)
		lm := t.Do("GET", "/info/collections", "").Expect(200).Header.Get("X-Last-Modified")
		put(t, c, "b", `{"payload":"y"}`)
		t.Do("GET", "/info/collections", "", "X-If-Modified-Since", lm).Expect(200)
	}},
	{ID: "info.unknown-parameters-ignored", Clause: "1.4; case 22", Level: Must, Run: func(t *T) {
		t.Do("GET", "/info/collections?client=FxHome&v=1.1b2", "").Expect(200)
	}},
	{ID: "info.deleted-collection-disappears", Clause: "1.4 DELETE /storage/<coll>; case 25", Level: Must, Run: func(t *T) {
		c := t.Coll("gone")
		put(t, c, "a", `{"payload":"x"}`)
		t.Do("DELETE", "/storage/"+c, "").Expect(200)
		var m map[string]any
		t.Do("GET", "/info/collections", "").Expect(200).JSON(&m)
		_, present := m[c]
		t.Check(!present, "%s still in info/collections after DELETE", c)
	}},
	{ID: "info.empty-account-views", Clause: "case 14", Level: Must, Destructive: true, Run: func(t *T) {
		t.Do("DELETE", "/storage", "").Expect(200)
		for _, v := range []string{"/info/collections", "/info/collection_counts", "/info/collection_usage"} {
			t.Do("GET", v, "").Expect(200).BodyIs("{}")
		}
	}},
	{ID: "info.configuration.x-last-modified-is-zero", Clause: "1.5 X-Last-Modified; case 20", Level: Should, Run: func(t *T) {
		r := t.Do("GET", "/info/configuration", "").Expect(200)
		t.Check(r.Header.Get("X-Last-Modified") == "0.00", "info/configuration X-Last-Modified %q, expected 0.00 (it is not stored data)", r.Header.Get("X-Last-Modified"))
	}},
}
