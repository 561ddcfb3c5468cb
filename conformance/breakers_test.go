package conformance_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
)

type mw = func(http.Handler) http.Handler

// recorded is a response the breaker may change before it goes out.
type recorded struct {
	status int
	header http.Header
	body   []byte
}

type match func(*http.Request) bool

// on matches a method ("" any) and a regexp over path?query.
func on(method, re string) match {
	rx := regexp.MustCompile(re)
	return func(r *http.Request) bool {
		return !tokenEndpoint(r) && (method == "" || r.Method == method) && rx.MatchString(r.URL.Path+"?"+r.URL.RawQuery)
	}
}

// withHeader matches requests that carry a header.
func withHeader(name string) match {
	return func(r *http.Request) bool { return !tokenEndpoint(r) && r.Header.Get(name) != "" }
}

// tokenEndpoint requests are never broken: the runner needs its credentials.
func tokenEndpoint(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/1.0/") }

var any_ = on("", "")

// rewrite serves the request, then lets fix change the response.
func rewrite(m match, fix func(*recorded)) mw {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !m(r) {
				next.ServeHTTP(w, r)
				return
			}
			rr := httptest.NewRecorder()
			next.ServeHTTP(rr, r)
			rec := &recorded{status: rr.Code, header: rr.Header(), body: rr.Body.Bytes()}
			fix(rec)
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.Header().Del("Content-Length")
			w.WriteHeader(rec.status)
			w.Write(rec.body)
		})
	}
}

// swallow answers without doing anything: the write or delete never happens.
func swallow(m match, status int, body string) mw {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !m(r) {
				next.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Last-Modified", "1.00")
			w.Header().Set("X-Weave-Timestamp", "1.00")
			w.WriteHeader(status)
			w.Write([]byte(body))
		})
	}
}

func statusFromTo(from, to int) func(*recorded) {
	return func(r *recorded) {
		if r.status == from {
			r.status = to
		}
	}
}

func setStatus(to int) func(*recorded) { return func(r *recorded) { r.status = to } }
func setBody(b string) func(*recorded) { return func(r *recorded) { r.body = []byte(b) } }
func setHeader(k, v string) func(*recorded) {
	return func(r *recorded) {
		if v == "" {
			r.header.Del(k)
		} else {
			r.header.Set(k, v)
		}
	}
}

// editJSON decodes the body, lets fn change it, and encodes it back.
func editJSON(fn func(v any) any) func(*recorded) {
	return func(r *recorded) {
		var v any
		if json.Unmarshal(r.body, &v) != nil {
			return
		}
		r.body, _ = json.Marshal(fn(v))
	}
}

// eachRecord applies fn to every object of a list, or to a single object.
func eachRecord(fn func(m map[string]any)) func(*recorded) {
	return editJSON(func(v any) any {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				if m, ok := e.(map[string]any); ok {
					fn(m)
				}
			}
		case map[string]any:
			fn(x)
		}
		return v
	})
}

func field(k string, val any) func(*recorded) {
	return eachRecord(func(m map[string]any) { m[k] = val })
}

func appendID(id string) func(*recorded) {
	return editJSON(func(v any) any {
		if l, ok := v.([]any); ok {
			return append(l, id)
		}
		return v
	})
}

func reverse() func(*recorded) {
	return editJSON(func(v any) any {
		if l, ok := v.([]any); ok {
			slices.Reverse(l)
		}
		return v
	})
}

func allValues(val any) func(*recorded) {
	return editJSON(func(v any) any {
		if m, ok := v.(map[string]any); ok {
			for k := range m {
				m[k] = val
			}
		}
		return v
	})
}

var (
	item       = on("GET", `/storage/[^/]+/[^/?]+\?`)
	collection = on("GET", `/storage/[^/?]+\?`)
	postReq    = on("POST", "")
	putReq     = on("PUT", "")
)

// breakers break, for each case, exactly what the case checks; each case is run alone
// against a server wearing its breaker and must fail.
var breakers = map[string]mw{
	"info.collections.lists-written":                 rewrite(on("GET", "/info/collections"), setBody("{}")),
	"info.collections.only-the-written-one-moves":    rewrite(on("GET", "/info/collections"), func(r *recorded) { allValues(float64(len(r.body)))(r) }),
	"info.collections.x-last-modified-is-the-newest": rewrite(on("GET", "/info/collections"), setHeader("X-Last-Modified", "1.00")),
	"info.collections.x-weave-records":               rewrite(on("GET", "/info/collections"), setHeader("X-Weave-Records", "99")),
	"info.collection-counts":                         rewrite(on("GET", "/info/collection_counts"), setBody("{}")),
	"info.collection-usage":                          rewrite(on("GET", "/info/collection_usage"), setBody("{}")),
	"info.quota.shape-and-growth":                    rewrite(on("GET", "/info/quota"), setBody("[0.0,null]")),
	"info.configuration.has-the-limits":              rewrite(on("GET", "/info/configuration"), setBody("{}")),
	"info.configuration.limits-are-consistent":       rewrite(on("GET", "/info/configuration"), field("max_request_bytes", 1)),
	"info.views.if-modified-since":                   rewrite(withHeader("X-If-Modified-Since"), statusFromTo(304, 200)),
	"info.views.if-modified-since-after-a-write":     rewrite(withHeader("X-If-Modified-Since"), setStatus(304)),
	"info.unknown-parameters-ignored":                rewrite(on("GET", "client="), setStatus(400)),
	"info.deleted-collection-disappears":             swallow(on("DELETE", `/storage/[^/?]+\?$`), 200, "1.00"),
	"info.empty-account-views":                       rewrite(on("GET", "/info/collection_"), setBody(`{"x":1}`)),

	"get.never-written-collection-is-empty":           rewrite(collection, setStatus(404)),
	"get.ids-and-x-weave-records":                     rewrite(collection, setHeader("X-Weave-Records", "7")),
	"get.ids-parameter-selects":                       rewrite(on("GET", "ids="), appendID("zz")),
	"get.newer-is-strict":                             rewrite(on("GET", "newer="), appendID("b")),
	"get.older-is-strict":                             rewrite(on("GET", "older="), appendID("b")),
	"get.newer-and-older-combine":                     rewrite(on("GET", "newer="), appendID("a")),
	"get.full-returns-exactly-the-public-fields":      rewrite(on("GET", "full="), field("ttl", 1)),
	"get.full-with-any-value":                         rewrite(on("GET", "full="), setBody("[]")),
	"get.limit-sets-next-offset":                      rewrite(on("GET", "limit="), setHeader("X-Weave-Next-Offset", "")),
	"get.offset-pages-through-everything-once":        rewrite(on("GET", "offset="), setBody("[]")),
	"get.last-page-has-no-next-offset":                rewrite(on("GET", "limit="), setHeader("X-Weave-Next-Offset", "more")),
	"get.sort-newest":                                 rewrite(on("GET", "sort=newest"), reverse()),
	"get.sort-oldest":                                 rewrite(on("GET", "sort=oldest"), reverse()),
	"get.sort-index":                                  rewrite(on("GET", "sort=index"), reverse()),
	"get.paging-newer-oldest":                         rewrite(on("GET", "newer="), reverse()),
	"get.paging-older-newest":                         rewrite(on("GET", "older="), reverse()),
	"get.bad-newer-older-limit-are-400":               rewrite(any_, statusFromTo(400, 200)),
	"get.negative-limit-is-400":                       rewrite(any_, statusFromTo(400, 200)),
	"get.bad-offset-is-400":                           rewrite(any_, statusFromTo(400, 200)),
	"get.bad-sort-is-400":                             rewrite(any_, statusFromTo(400, 200)),
	"get.at-most-100-ids":                             rewrite(any_, statusFromTo(400, 200)),
	"get.percent-encoded-ids":                         rewrite(on("GET", "ids="), setBody(`["test-0"]`)),
	"get.unknown-parameters-ignored":                  rewrite(on("GET", "blabla"), setStatus(400)),
	"get.accept-json":                                 rewrite(collection, setHeader("Content-Type", "text/html")),
	"get.accept-newlines":                             rewrite(collection, setHeader("Content-Type", "application/json")),
	"get.unacceptable-accept-is-406":                  rewrite(any_, statusFromTo(406, 200)),
	"get.accept-wildcards-give-json":                  rewrite(collection, setHeader("Content-Type", "text/plain")),
	"get.newlines-keep-payload-newlines-escaped":      rewrite(collection, func(r *recorded) { r.body = bytes.ReplaceAll(r.body, []byte(`\n`), []byte("\n")) }),
	"get.x-last-modified-is-the-collection-timestamp": rewrite(collection, setHeader("X-Last-Modified", "1.00")),
	"get.if-modified-since-304":                       rewrite(any_, statusFromTo(304, 200)),
	"item.get-returns-the-record":                     rewrite(item, field("payload", "other")),
	"item.modified-has-two-decimals": rewrite(item, func(r *recorded) {
		r.body = regexp.MustCompile(`("modified":[0-9]+\.[0-9]{2})`).ReplaceAll(r.body, []byte("${1}5"))
	}),
	"item.missing-is-404":                               rewrite(item, statusFromTo(404, 200)),
	"item.in-a-missing-collection-is-404":               rewrite(item, statusFromTo(404, 200)),
	"item.404-body-is-json-0":                           rewrite(item, setBody(`{"err":"not found"}`)),
	"item.if-modified-since-304":                        rewrite(item, statusFromTo(304, 200)),
	"item.x-last-modified-is-the-items":                 rewrite(item, setHeader("X-Last-Modified", "1.00")),
	"put.creates-then-replaces":                         rewrite(item, field("payload", "one")),
	"put.answers-its-timestamp":                         rewrite(putReq, setBody("1.00")),
	"put.x-weave-timestamp-equals-the-write":            rewrite(putReq, setHeader("X-Weave-Timestamp", "1.00")),
	"put.content-types":                                 rewrite(putReq, statusFromTo(415, 200)),
	"put.non-object-bodies-are-400":                     rewrite(putReq, statusFromTo(400, 200)),
	"put.invalid-fields-are-400":                        rewrite(putReq, statusFromTo(400, 200)),
	"put.invalid-fields-give-weave-8":                   rewrite(putReq, setBody("0")),
	"put.negative-ttl-is-400":                           rewrite(putReq, statusFromTo(400, 200)),
	"put.negative-sortindex-is-fine":                    rewrite(putReq, setStatus(400)),
	"put.client-modified-is-ignored":                    rewrite(item, field("modified", 1234.5)),
	"put.ttl-only-update-keeps-modified":                rewrite(item, func(r *recorded) { field("modified", float64(len(r.body))+float64(nowNano()%1000)/100)(r) }),
	"put.sortindex-only-keeps-payload":                  rewrite(item, field("payload", "")),
	"put.ttl-only-on-a-new-id-creates-it-empty":         rewrite(item, field("payload", "x")),
	"put.collection-field-is-accepted":                  rewrite(putReq, setStatus(400)),
	"put.oversize-payload-is-refused":                   rewrite(putReq, func(r *recorded) { statusFromTo(400, 200)(r); statusFromTo(413, 200)(r) }),
	"put.ttl-zero-is-invisible-at-once":                 rewrite(item, statusFromTo(404, 200)),
	"put.ttl-expires-and-can-be-overwritten":            rewrite(item, statusFromTo(404, 200)),
	"put.null-ttl-means-the-default":                    rewrite(item, setStatus(404)),
	"put.ids-longer-than-64-are-404":                    rewrite(putReq, setStatus(200)),
	"put.known-bad-crypto-payload-is-refused":           rewrite(on("PUT", "/storage/crypto/"), setStatus(200)),
	"post.answer-shape":                                 rewrite(postReq, editJSON(func(v any) any { delete(v.(map[string]any), "modified"); return v })),
	"post.creates-and-updates":                          rewrite(on("GET", "full="), field("payload", "z")),
	"post.partial-updates-keep-fields":                  rewrite(item, field("sortindex", 99)),
	"post.a-bad-item-fails-alone":                       rewrite(postReq, field("failed", map[string]any{})),
	"post.invalid-ids-fail":                             rewrite(postReq, field("failed", map[string]any{})),
	"post.unknown-fields-fail-the-item":                 rewrite(postReq, field("failed", map[string]any{})),
	"post.not-a-list-is-400":                            rewrite(postReq, statusFromTo(400, 200)),
	"post.a-non-object-element-is-400":                  rewrite(postReq, statusFromTo(400, 200)),
	"post.newline-bodies":                               rewrite(postReq, field("success", []any{})),
	"post.other-content-types-are-415":                  rewrite(postReq, statusFromTo(415, 200)),
	"post.max-post-records":                             rewrite(postReq, field("failed", map[string]any{})),
	"post.x-weave-records-over-the-limit-is-400":        rewrite(postReq, statusFromTo(400, 200)),
	"post.size-limit-body-is-weave-17":                  rewrite(postReq, setBody("0")),
	"post.empty-list":                                   rewrite(postReq, setStatus(400)),
	"post.bulk-ttl-update":                              rewrite(item, func(r *recorded) { field("modified", float64(nowNano()%100000))(r) }),
	"post.if-unmodified-since":                          rewrite(postReq, statusFromTo(412, 200)),
	"post.collection-field-is-accepted":                 rewrite(postReq, field("success", []any{})),
	"batch.create-is-202-and-invisible":                 rewrite(on("POST", "batch=true"), setStatus(200)),
	"batch.append-is-202":                               rewrite(on("POST", `batch=[^t]`), setStatus(200)),
	"batch.commit-makes-everything-visible-at-one-time": rewrite(on("GET", "full="), func(r *recorded) { field("modified", float64(nowNano()%100000))(r) }),
	"batch.commit-updates-info-collections":             rewrite(on("GET", "/info/collections"), allValues(1.0)),
	"batch.true-and-commit-at-once":                     rewrite(on("POST", "commit=true"), field("batch", "x")),
	"batch.unknown-id-is-400":                           rewrite(postReq, statusFromTo(400, 202)),
	"batch.commit-without-batch-is-400":                 rewrite(postReq, statusFromTo(400, 200)),
	"batch.scoped-to-its-collection":                    rewrite(postReq, statusFromTo(400, 200)),
	"batch.scoped-to-its-user":                          rewrite(postReq, statusFromTo(400, 200)),
	"batch.partial-update-kept-at-commit":               rewrite(item, eachRecord(func(m map[string]any) { delete(m, "sortindex") })),
	"batch.commit-body-wins-a-collision":                rewrite(item, field("payload", "staged")),
	"batch.empty-commit-bodies":                         rewrite(postReq, statusFromTo(400, 200)),
	"batch.failing-items-reported-and-skipped":          rewrite(on("POST", "batch=true"), field("failed", map[string]any{})),
	"batch.committed-ids-are-gone":                      rewrite(postReq, statusFromTo(400, 200)),
	"batch.if-unmodified-since-at-commit":               rewrite(postReq, statusFromTo(412, 200)),
	"batch.x-weave-total-bytes-over-the-limit-is-400":   rewrite(postReq, statusFromTo(400, 202)),
	"delete.collection":                                 swallow(on("DELETE", ""), 200, "1.00"),
	"delete.ids":                                        swallow(on("DELETE", "ids="), 200, "1.00"),
	"delete.at-most-100-ids":                            rewrite(any_, statusFromTo(400, 200)),
	"delete.item-moves-the-collection-on":               rewrite(on("GET", "/info/collections"), allValues(1.0)),
	"delete.missing-item-is-404":                        rewrite(any_, statusFromTo(404, 200)),
	"delete.if-unmodified-since":                        rewrite(any_, statusFromTo(412, 200)),
	"delete.ids-precondition-is-the-collections":        rewrite(any_, statusFromTo(412, 200)),
	"delete.storage":                                    swallow(on("DELETE", `/storage\?`), 200, "null"),
	"delete.root":                                       swallow(on("DELETE", `/1\.5/[0-9]+\?`), 200, "null"),
	"headers.x-weave-timestamp-on-every-response":       rewrite(any_, setHeader("X-Weave-Timestamp", "")),
	"headers.timestamps-strictly-increase":              rewrite(putReq, setHeader("X-Last-Modified", "1000.00")),
	"headers.newer-with-a-read-back-timestamp":          rewrite(on("GET", "full="), field("modified", 0.5)),
	"headers.both-preconditions-are-400":                rewrite(any_, statusFromTo(400, 200)),
	"headers.negative-if-modified-since-is-400":         rewrite(any_, statusFromTo(400, 200)),
	"headers.negative-if-unmodified-since-is-400":       rewrite(any_, statusFromTo(400, 200)),
	"headers.if-unmodified-since-on-reads":              rewrite(any_, statusFromTo(412, 200)),
	"headers.if-unmodified-since-equal-passes":          rewrite(withHeader("X-If-Unmodified-Since"), setStatus(412)),
	"headers.if-unmodified-since-zero-creates":          rewrite(any_, statusFromTo(412, 200)),
	"headers.put-if-unmodified-since":                   rewrite(any_, statusFromTo(412, 200)),
	"headers.304-and-412-carry-x-last-modified": rewrite(any_, func(r *recorded) {
		if r.status == 304 || r.status == 412 {
			r.header.Del("X-Last-Modified")
		}
	}),
	"auth.no-header-is-401":                         rewrite(any_, statusFromTo(401, 200)),
	"auth.a-bad-mac-is-401":                         rewrite(any_, statusFromTo(401, 200)),
	"auth.the-mac-covers-the-method":                rewrite(any_, statusFromTo(401, 200)),
	"auth.the-mac-covers-the-query":                 rewrite(any_, statusFromTo(401, 200)),
	"auth.an-unknown-token-is-401":                  rewrite(any_, statusFromTo(401, 200)),
	"auth.another-users-path-is-refused":            rewrite(any_, statusFromTo(401, 200)),
	"auth.a-stale-timestamp-is-401":                 rewrite(any_, statusFromTo(401, 200)),
	"auth.a-replayed-nonce-is-401":                  rewrite(any_, statusFromTo(401, 200)),
	"misc.patch-is-405":                             rewrite(any_, statusFromTo(405, 200)),
	"misc.unknown-urls-are-404-json-0":              rewrite(any_, setBody("not found")),
	"misc.cors-preflight":                           rewrite(any_, setHeader("Access-Control-Allow-Origin", "")),
	"misc.heartbeat":                                rewrite(on("GET", "__heartbeat__"), setStatus(500)),
	"auth.an-expired-token-is-refused":              rewrite(any_, statusFromTo(401, 200)),
	"auth.the-payload-hash-must-match-the-body":     rewrite(any_, statusFromTo(401, 200)),
	"batch.commit-must-be-true":                     rewrite(on("POST", "commit=false"), statusFromTo(400, 200)),
	"batch.commits-move-only-their-collection":      rewrite(on("GET", "/info/collections"), allValues(1.0)),
	"batch.create-with-an-undecodable-bso":          rewrite(on("POST", "batch=true"), field("failed", map[string]any{})),
	"batch.empty-commit-applies-at-commit-time":     rewrite(on("GET", "full="), func(r *recorded) { field("modified", float64(nowNano()%100000))(r) }),
	"batch.max-post-bytes-per-post":                 rewrite(on("POST", "batch=true"), field("failed", map[string]any{})),
	"batch.max-post-records-per-post":               rewrite(on("POST", "batch=true"), field("failed", map[string]any{})),
	"batch.ttl-counts-from-the-commit":              rewrite(item, statusFromTo(200, 404)),
	"batch.ttl-only-staged-keeps-the-payload":       rewrite(item, field("payload", "changed")),
	"delete.answers-a-timestamp":                    rewrite(on("DELETE", ""), setBody(`"ok"`)),
	"delete.item-in-a-missing-collection-is-404":    rewrite(on("DELETE", ""), statusFromTo(404, 200)),
	"delete.missing-collection-is-200":              rewrite(on("DELETE", ""), setStatus(404)),
	"get.an-invalid-id-in-ids-is-400":               rewrite(any_, statusFromTo(400, 200)),
	"get.deleted-collection-is-empty":               rewrite(collection, setBody(`["present"]`)),
	"get.guid-like-ids":                             rewrite(on("GET", "ids="), setBody("[]")),
	"get.hundred-unknown-ids-are-empty":             rewrite(on("GET", "ids="), appendID("x")),
	"get.meta-global-lifecycle":                     rewrite(on("GET", "/storage/meta/global"), field("ttl", 1)),
	"headers.x-weave-timestamp-is-the-server-clock": rewrite(on("GET", ""), weaveTimestampIsLastModified),
	"info.configuration.x-last-modified-is-zero":    rewrite(on("GET", "/info/configuration"), setHeader("X-Last-Modified", "")),
	"post.an-oversize-item-fails-alone":             rewrite(postReq, field("failed", map[string]any{})),
	"post.duplicate-ids-are-400":                    rewrite(postReq, statusFromTo(400, 200)),
	"post.failed-values-are-strings":                rewrite(postReq, failedAsArrays),
	"post.invalid-field-values-fail-the-item":       rewrite(postReq, field("failed", map[string]any{})),
	"post.long-newline-lines":                       rewrite(postReq, field("success", []any{})),
	"post.max-post-bytes-per-item":                  rewrite(postReq, field("failed", map[string]any{})),
	"post.record-without-id-is-refused":             rewrite(postReq, setStatus(500)),
	"put.bad-collection-names-are-404":              rewrite(any_, statusFromTo(404, 500)),
	"put.nine-digit-sortindex-is-accepted":          rewrite(putReq, setStatus(400)),
	"put.request-over-max-request-bytes-is-413":     rewrite(any_, statusFromTo(413, 400)),
	"put.sortindex-change-bumps-modified":           rewrite(item, field("modified", 1.0)),
}

// weaveTimestampIsLastModified is go-syncstorage's X-Weave-Timestamp: the response's
// X-Last-Modified when there is one, which for a stale resource is in the past.
func weaveTimestampIsLastModified(r *recorded) {
	if lm := r.header.Get("X-Last-Modified"); lm != "" {
		r.header.Set("X-Weave-Timestamp", lm)
	} else {
		r.header.Set("X-Weave-Timestamp", "0.00")
	}
}

// failedAsArrays is go-syncstorage's failed: each reason in a list.
var failedAsArrays = editJSON(func(v any) any {
	if m, ok := v.(map[string]any); ok {
		if f, ok := m["failed"].(map[string]any); ok {
			for k, reason := range f {
				f[k] = []any{reason}
			}
		}
	}
	return v
})

// tokenReq matches the token endpoint, which the storage breakers leave alone.
var tokenReq match = tokenEndpoint

// tokenBreakers break, for each tokenserver case, what it checks.
var tokenBreakers = map[string]mw{
	"token.no-authorization-is-401":                          rewrite(tokenReq, setBody(`{"status":"error"}`)),
	"token.other-schemes-are-401":                            rewrite(tokenReq, statusFromTo(401, 403)),
	"token.an-unverifiable-oauth-token-is-401":               rewrite(tokenReq, setBody(`{"status":"invalid-generation","errors":[{"location":"body","name":"","description":"x"}]}`)),
	"token.the-oauth-token-is-verified-with-fxa":             swallow(tokenReq, 200, `{"id":"x","key":"y","uid":1,"api_endpoint":"http://127.0.0.1:1/1.5/1","duration":60}`),
	"token.the-oldsync-scope-is-required":                    rewrite(tokenReq, statusFromTo(401, 200)),
	"token.x-keyid-is-required":                              rewrite(tokenReq, statusFromTo(401, 200)),
	"token.a-malformed-x-keyid-is-401":                       rewrite(tokenReq, statusFromTo(401, 200)),
	"token.x-client-state-must-match-x-keyid":                rewrite(tokenReq, statusFromTo(401, 200)),
	"token.answer-and-token-fields":                          rewrite(tokenReq, field("hashed_fxa_uid", "not hex")),
	"token.the-same-user-keeps-its-uid":                      rewrite(tokenReq, func(r *recorded) { field("uid", float64(nowNano()%1000000+1))(r) }),
	"token.the-token-works-at-the-node":                      rewrite(tokenReq, field("key", "not the key")),
	"token.duration-parameter":                               rewrite(tokenReq, field("duration", 3600)),
	"token.a-lower-generation-is-refused":                    rewrite(tokenReq, statusFromTo(401, 200)),
	"token.keys-changed-at-cannot-go-back":                   rewrite(tokenReq, statusFromTo(401, 200)),
	"token.keys-changed-at-cannot-pass-the-generation":       rewrite(tokenReq, statusFromTo(401, 200)),
	"token.a-new-client-state-needs-a-newer-keys-changed-at": rewrite(tokenReq, statusFromTo(401, 200)),
	"token.a-new-client-state-needs-a-newer-generation":      rewrite(tokenReq, statusFromTo(401, 200)),
	"token.a-new-client-state-gets-fresh-storage":            rewrite(tokenReq, field("uid", 1)),
	"token.an-old-client-state-is-refused":                   rewrite(tokenReq, statusFromTo(401, 200)),
	"token.a-retired-user-is-refused":                        rewrite(tokenReq, statusFromTo(401, 200)),
	"token.unknown-applications-are-404":                     rewrite(tokenReq, statusFromTo(404, 200)),
}
