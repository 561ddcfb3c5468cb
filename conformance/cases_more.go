package conformance

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/syncctl/syncctl/hawk"
)

var deleteCases = []Case{
	{ID: "delete.collection", Clause: "1.4 DELETE /storage/<coll>; case 140", Level: Must, Run: func(t *T) {
		c := t.Coll("dcoll")
		fill(t, c, "a", "b")
		t.Do("DELETE", "/storage/"+c, "").Expect(200)
		t.Do("GET", "/storage/"+c, "").Expect(200).BodyIs("[]")
	}},
	{ID: "delete.ids", Clause: "1.4 DELETE ?ids=; case 141", Level: Must, Run: func(t *T) {
		c := t.Coll("dids")
		fill(t, c, "a", "b", "c")
		t.Do("DELETE", "/storage/"+c+"?ids=a,b", "").Expect(200)
		ids := t.Do("GET", "/storage/"+c, "").Expect(200).IDs()
		t.Check(sameSet(ids, list("c")), "left %v", ids)
	}},
	{ID: "delete.at-most-100-ids", Clause: "case 142", Level: Must, Run: func(t *T) {
		c := t.Coll("dmax")
		fill(t, c, "a")
		var ids []string
		for i := range 101 {
			ids = append(ids, fmt.Sprint("i", i))
		}
		t.Do("DELETE", "/storage/"+c+"?ids="+strings.Join(ids[:100], ","), "").Expect(200)
		t.Do("DELETE", "/storage/"+c+"?ids="+strings.Join(ids, ","), "").Expect(400)
	}},
	{ID: "delete.item-moves-the-collection-on", Clause: "1.4 DELETE item; case 143", Level: Must, Run: func(t *T) {
		c := t.Coll("ditem")
		ts := fill(t, c, "a", "b")
		t.Do("DELETE", "/storage/"+c+"/a", "").Expect(200)
		t.Do("GET", "/storage/"+c+"/a", "").Expect(404)
		var m map[string]float64
		t.Do("GET", "/info/collections", "").Expect(200).JSON(&m)
		t.Check(m[c]*1000 > float64(ts[1])-0.5, "collection timestamp %v did not move past %s", m[c], ts[1])
	}},
	{ID: "delete.missing-item-is-404", Clause: "case 144", Level: Must, Run: func(t *T) {
		c := t.Coll("dmiss")
		fill(t, c, "a")
		t.Do("DELETE", "/storage/"+c+"/nope", "").Expect(404)
	}},
	{ID: "delete.if-unmodified-since", Clause: "case 150", Level: Must, Run: func(t *T) {
		c := t.Coll("dius")
		ts := fill(t, c, "a")
		r := t.Do("DELETE", "/storage/"+c+"/a", "", "X-If-Unmodified-Since", (ts[0] - 10).String()).Expect(412)
		r.TS("X-Last-Modified")
		t.Do("GET", "/storage/"+c+"/a", "").Expect(200)
		t.Do("DELETE", "/storage/"+c, "", "X-If-Unmodified-Since", (ts[0] - 10).String()).Expect(412)
	}},
	{ID: "delete.ids-precondition-is-the-collections", Clause: "case 151", Level: Must, Run: func(t *T) {
		c := t.Coll("dcl")
		ts := fill(t, c, "a", "b")
		t.Do("DELETE", "/storage/"+c+"?ids=a", "", "X-If-Unmodified-Since", ts[0].String()).Expect(412)
	}},
	{ID: "delete.storage", Clause: "1.4 DELETE /storage; cases 25, 146", Level: Must, Destructive: true, Run: func(t *T) {
		c := t.Coll("dall")
		fill(t, c, "a")
		t.Do("DELETE", "/storage", "").Expect(200)
		t.Do("GET", "/storage/"+c+"/a", "").Expect(404)
		t.Do("GET", "/info/collections", "").Expect(200).BodyIs("{}")
		t.Do("GET", "/info/collection_counts", "").Expect(200).BodyIs("{}")
		t.Do("DELETE", "/storage/"+c, "").Expect(200)
	}},
	{ID: "delete.root", Clause: "1.4 DELETE /; case 147", Level: Must, Destructive: true, Run: func(t *T) {
		c := t.Coll("droot")
		fill(t, c, "a")
		t.Do("DELETE", "", "").Expect(200)
		t.Do("GET", "/storage/"+c+"/a", "").Expect(404)
	}},
	{ID: "delete.item-in-a-missing-collection-is-404", Clause: "1.4 DELETE item; case 145", Level: Must, Run: func(t *T) {
		t.Do("DELETE", "/storage/"+t.Coll("dnone")+"/a", "").Expect(404)
	}},
	{ID: "delete.missing-collection-is-200", Clause: "1.4 DELETE /storage/<coll>; case 148", Level: Should, Run: func(t *T) {
		t.Do("DELETE", "/storage/"+t.Coll("dnever"), "").Expect(200)
	}},
	{ID: "delete.answers-a-timestamp", Clause: "1.4 DELETE; case 149", Level: Should, Run: func(t *T) {
		c := t.Coll("dts")
		ts := fill(t, c, "a", "b")
		for _, path := range []string{"/storage/" + c + "/a", "/storage/" + c} {
			r := t.Do("DELETE", path, "").Expect(200)
			var v any
			r.JSON(&v)
			var got float64
			switch x := v.(type) {
			case float64:
				got = x
			case map[string]any:
				got, _ = x["modified"].(float64)
			}
			t.Check(got*1000 >= float64(ts[1])-5, "DELETE %s answered %s: expected the new timestamp (a number or {\"modified\": …}) at or after %s", path, quoteBody(r.Body), ts[1])
		}
	}},
}

var headerCases = []Case{
	{ID: "headers.x-weave-timestamp-on-every-response", Clause: "1.5; case 157", Level: Must, Run: func(t *T) {
		c := t.Coll("hwts")
		for _, r := range []*Resp{t.Do("GET", "/storage/"+c, ""), t.Do("GET", "/storage/"+c+"/none", ""), t.Do("GET", "/storage/"+c+"?limit=x", ""), t.Do("PUT", "/storage/"+c+"/a", `{"payload":"x"}`)} {
			r.TS("X-Weave-Timestamp")
		}
	}},
	{ID: "headers.timestamps-strictly-increase", Clause: "1.3; case 160", Level: Must, Run: func(t *T) {
		c := t.Coll("hinc")
		last := put(t, c, "a", `{"payload":"0"}`)
		for i := range 10 {
			ts := put(t, c, "a", fmt.Sprintf(`{"payload":"%d"}`, i))
			t.Check(ts > last, "write %d at %s, not after %s", i, ts, last)
			last = ts
		}
	}},
	{ID: "headers.newer-with-a-read-back-timestamp", Clause: "case 159", Level: Must, Run: func(t *T) {
		c := t.Coll("hround")
		fill(t, c, "a")
		recs := t.Do("GET", "/storage/"+c+"?full=1", "").Expect(200).Records()
		fill(t, c, "b")
		ids := t.Do("GET", fmt.Sprintf("/storage/%s?newer=%.2f", c, recs[0].Modified), "").Expect(200).IDs()
		t.Check(sameSet(ids, list("b")), "newer=<a's modified> gave %v", ids)
	}},
	{ID: "headers.both-preconditions-are-400", Clause: "case 155", Level: Should, Run: func(t *T) {
		t.Do("GET", "/storage/"+written(t, "hboth"), "", "X-If-Modified-Since", "1.00", "X-If-Unmodified-Since", "1.00").Expect(400)
	}},
	{ID: "headers.negative-if-modified-since-is-400", Clause: "case 154", Level: Must, Run: func(t *T) {
		t.Do("GET", "/storage/"+written(t, "hneg"), "", "X-If-Modified-Since", "-3").Expect(400)
	}},
	{ID: "headers.negative-if-unmodified-since-is-400", Clause: "case 86", Level: Must, Run: func(t *T) {
		t.Do("PUT", "/storage/"+t.Coll("hnegu")+"/a", `{"payload":"x"}`, "X-If-Unmodified-Since", "-3").Expect(400)
	}},
	{ID: "headers.if-unmodified-since-on-reads", Clause: "1.5; case 152", Level: Must, Run: func(t *T) {
		c := t.Coll("hiur")
		ts := fill(t, c, "a")
		old := (ts[0] - 10).String()
		t.Do("GET", "/storage/"+c, "", "X-If-Unmodified-Since", old).Expect(412)
		t.Do("GET", "/storage/"+c+"/a", "", "X-If-Unmodified-Since", old).Expect(412)
	}},
	{ID: "headers.if-unmodified-since-equal-passes", Clause: "case 153", Level: Must, Run: func(t *T) {
		c := t.Coll("hieq")
		ts := fill(t, c, "a")
		now := ts[0].String()
		t.Do("GET", "/storage/"+c, "", "X-If-Unmodified-Since", now).Expect(200)
		t.Do("GET", "/storage/"+c+"/a", "", "X-If-Unmodified-Since", now).Expect(200)
		t.Do("DELETE", "/storage/"+c+"?ids=a", "", "X-If-Unmodified-Since", now).Expect(200)
	}},
	{ID: "headers.if-unmodified-since-zero-creates", Clause: "case 85", Level: Must, Run: func(t *T) {
		c := t.Coll("hizero")
		t.Do("PUT", "/storage/"+c+"/new", `{"payload":"x"}`, "X-If-Unmodified-Since", "0").Expect(200)
		t.Do("PUT", "/storage/"+c+"/new", `{"payload":"y"}`, "X-If-Unmodified-Since", "0").Expect(412)
	}},
	{ID: "headers.put-if-unmodified-since", Clause: "case 84", Level: Must, Run: func(t *T) {
		c := t.Coll("hput")
		ts := put(t, c, "a", `{"payload":"1"}`)
		t.Do("PUT", "/storage/"+c+"/a", `{"payload":"2"}`, "X-If-Unmodified-Since", (ts - 10).String()).Expect(412)
		var r Record
		t.Do("GET", "/storage/"+c+"/a", "").Expect(200).JSON(&r)
		t.Check(r.Payload == "1", "a 412 wrote %q", r.Payload)
	}},
	{ID: "headers.304-and-412-carry-x-last-modified", Clause: "case 156", Level: Must, Run: func(t *T) {
		c := t.Coll("hxlm")
		ts := fill(t, c, "a")
		r := t.Do("GET", "/storage/"+c, "", "X-If-Modified-Since", ts[0].String()).Expect(304)
		t.Check(r.TS("X-Last-Modified") == ts[0], "304 X-Last-Modified %s", r.TS("X-Last-Modified"))
		r = t.Do("GET", "/storage/"+c, "", "X-If-Unmodified-Since", (ts[0] - 10).String()).Expect(412)
		t.Check(r.TS("X-Last-Modified") == ts[0], "412 X-Last-Modified %s", r.TS("X-Last-Modified"))
	}},
	{ID: "headers.x-weave-timestamp-is-the-server-clock", Clause: "1.5 X-Weave-Timestamp; case 158", Level: Must, Run: func(t *T) {
		old, fresh := t.Coll("hold"), t.Coll("hfresh")
		first := put(t, old, "a", `{"payload":"x"}`)
		t.Sleep(50 * time.Millisecond)
		later := put(t, t.Coll("hlater"), "a", `{"payload":"y"}`)
		for _, path := range []string{"/storage/" + old, "/storage/" + old + "/a", "/storage/" + fresh, "/info/configuration"} {
			r := t.Do("GET", path, "").Expect(200)
			t.Check(r.TS("X-Weave-Timestamp") >= later, "GET %s: X-Weave-Timestamp %s is before the server's last write %s (it must be the server's clock, not the resource's %s)", path, r.TS("X-Weave-Timestamp"), later, first)
		}
	}},
}

var authCases = []Case{
	{ID: "auth.no-header-is-401", Clause: "3.5; case 1", Level: Must, Run: func(t *T) {
		t.Do("GET", "/info/collections", "", "Authorization", "-").Expect(401)
	}},
	{ID: "auth.a-bad-mac-is-401", Clause: "3.5; case 5", Level: Must, Run: func(t *T) {
		h := t.Sign("GET", "/info/collections", nil)
		h = regexp.MustCompile(`mac="[^"]*"`).ReplaceAllString(h, `mac="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="`)
		t.Do("GET", "/info/collections", "", "Authorization", h).Expect(401)
	}},
	{ID: "auth.the-mac-covers-the-method", Clause: "3.5; case 5", Level: Must, Run: func(t *T) {
		c := t.Coll("amethod")
		h := t.Sign("GET", "/storage/"+c, nil)
		t.Do("DELETE", "/storage/"+c, "", "Authorization", h).Expect(401)
	}},
	{ID: "auth.the-mac-covers-the-query", Clause: "3.5; case 5", Level: Must, Run: func(t *T) {
		c := t.Coll("aquery")
		h := t.Sign("GET", "/storage/"+c+"?limit=1", nil)
		t.Do("GET", "/storage/"+c+"?limit=2", "", "Authorization", h).Expect(401)
	}},
	{ID: "auth.an-unknown-token-is-401", Clause: "3.4; case 2", Level: Must, Run: func(t *T) {
		h := t.Sign("GET", "/info/collections", nil)
		h = strings.Replace(h, t.TokenID(), "dGhpcyBpcyBub3QgYSB0b2tlbiBhdCBhbGwsIG5vdCBhdCBhbGwsIG5vdCBhdCBhbGw=", 1)
		t.Do("GET", "/info/collections", "", "Authorization", h).Expect(401)
	}},
	{ID: "auth.another-users-path-is-refused", Clause: "3.4; case 4", Level: Must, Run: func(t *T) {
		u, _ := url.Parse(t.Endpoint())
		parts := strings.Split(strings.TrimSuffix(u.Path, "/"), "/")
		parts[len(parts)-1] = "999999999"
		other := u.Scheme + "://" + u.Host + strings.Join(parts, "/") + "/info/collections"
		r := t.Do("GET", other, "")
		t.Check(r.Status == 401 || r.Status == 400 || r.Status == 403, "GET another uid's info/collections: %d %s", r.Status, quoteBody(r.Body))
	}},
	{ID: "auth.a-stale-timestamp-is-401", Clause: "3.5 skew; case 6", Level: Should, Run: func(t *T) {
		h := t.Sign("GET", "/info/collections", func(a *hawk.Artifacts) { a.TS -= 3 * 3600 })
		t.Do("GET", "/info/collections", "", "Authorization", h).Expect(401)
	}},
	{ID: "auth.a-replayed-nonce-is-401", Clause: "3.5 nonce; case 7", Level: Should, Run: func(t *T) {
		h := t.Sign("GET", "/info/collections", nil)
		t.Do("GET", "/info/collections", "", "Authorization", h).Expect(200)
		t.Do("GET", "/info/collections", "", "Authorization", h).Expect(401)
	}},
	{ID: "auth.the-payload-hash-must-match-the-body", Clause: "3.5 payload hash; case 8", Level: Should, Run: func(t *T) {
		c := t.Coll("ahash")
		path := "/storage/" + c + "/a"
		h := t.Sign("PUT", path, func(a *hawk.Artifacts) {
			a.Hash = hawk.PayloadHash("application/json", []byte(`{"payload":"what was signed"}`))
		})
		r := t.Do("PUT", path, `{"payload":"something else"}`, "Authorization", h)
		t.Check(r.Status == 401 || r.Status == 400 || r.Status == 403, "a body whose hash= is another body's: expected 401, got %d with body %s", r.Status, quoteBody(r.Body))
		t.Do("GET", path, "").Expect(404)
	}},
	{ID: "auth.an-expired-token-is-refused", Clause: "3.4 expires; case 9", Level: Must, Slow: true, Run: func(t *T) {
		c := t.Coll("aexp")
		put(t, c, "a", `{"payload":"x"}`)
		tok := t.shortLivedToken() // after the arrangement, which must not eat its life
		u := &user{tok: tok, endpoint: strings.TrimSuffix(tok.APIEndpoint, "/"), http: t.u.http}
		if u.endpoint != t.u.endpoint {
			t.Skipf("the short-lived token is for %s, not the run's %s", u.endpoint, t.u.endpoint)
		}
		t.as(u, "GET", "/storage/"+c, "").Expect(200)
		t.Sleep(time.Until(tok.Expires) + 2100*time.Millisecond)
		t.as(u, "PUT", "/storage/"+c+"/b", `{"payload":"y"}`).Expect(401)
		t.as(u, "GET", "/storage/"+c, "").Expect(401)
		var m map[string]any
		t.as(u, "GET", "/info/collections", "").Expect(200).JSON(&m)
		_, ok := m[c]
		t.Check(ok, "info/collections with an expired token left out %s: %v", c, m)
	}},
}

var miscCases = []Case{
	{ID: "misc.patch-is-405", Clause: "1.4; case 112", Level: Must, Run: func(t *T) {
		t.Do("PATCH", "/storage/"+t.Coll("patch"), `{}`).Expect(405)
	}},
	{ID: "misc.unknown-urls-are-404-json-0", Clause: "1.9; case 63", Level: Must, Run: func(t *T) {
		r := t.Do("GET", "/nonexistent/url", "").Expect(404)
		t.Check(strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") && strings.TrimSpace(string(r.Body)) == "0", "404 %q %s", r.Header.Get("Content-Type"), quoteBody(r.Body))
	}},
	{ID: "misc.cors-preflight", Clause: "case 163", Level: Should, Run: func(t *T) {
		r := t.Do("OPTIONS", "/info/collections", "", "Origin", "https://example.org", "Access-Control-Request-Method", "GET", "Authorization", "-")
		t.Check(r.Header.Get("Access-Control-Allow-Origin") != "", "no Access-Control-Allow-Origin: %d %v", r.Status, r.Header)
	}},
	{ID: "misc.heartbeat", Clause: "case 164", Level: Should, Run: func(t *T) {
		u, _ := url.Parse(t.Endpoint())
		t.Do("GET", u.Scheme+"://"+u.Host+"/__heartbeat__", "", "Authorization", "-").Expect(200)
	}},
}
