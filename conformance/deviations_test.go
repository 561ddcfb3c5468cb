package conformance_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncctl/syncctl/internal/race"

	"github.com/syncctl/syncctl/conformance"
	"github.com/syncctl/syncctl/internal/servertest"
	"github.com/syncctl/syncctl/server"
)

// A deviation is a way a real server departs from the protocol, modelled on what the
// cases file records of go-syncstorage and syncstorage-rs (or on a known class of bug),
// injected into the embedded server through its hooks: a handler wrapper and options.
// Unlike the breakers (one per case, made to fail it), a deviation is what a server
// does, and the test asks whether the runner notices and names the right cause.
type deviation struct {
	name     string
	modelled string   // the server it is modelled on, and the cases file's number
	causes   []string // the causes the report must name
	wrap     mw
	options  func(*server.Options)
	slow     bool // a cause is among the slow cases
	// profile: the known server whose profile lists it (it is one of its deviations).
	profile string
}

// intercept lets serve answer matching requests, with the body read; it may call next.
func intercept(m match, serve func(w http.ResponseWriter, r *http.Request, body []byte, next http.Handler)) mw {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !m(r) {
				next.ServeHTTP(w, r)
				return
			}
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			serve(w, r, body, next)
		})
	}
}

// forward sends the request on with body as its body.
func forward(w http.ResponseWriter, r *http.Request, body []byte, next http.Handler) {
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	next.ServeHTTP(w, r)
}

// record serves r and returns what would have gone out.
func record(r *http.Request, body []byte, next http.Handler) *recorded {
	rr := httptest.NewRecorder()
	forward(rr, r, body, next)
	return &recorded{status: rr.Code, header: rr.Header(), body: rr.Body.Bytes()}
}

func (rec *recorded) send(w http.ResponseWriter) {
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(rec.status)
	w.Write(rec.body)
}

func answer(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Weave-Timestamp", fmt.Sprintf("%.2f", float64(time.Now().UnixMilli())/1000))
	w.WriteHeader(status)
	w.Write([]byte(body))
}

// items decodes a JSON list of BSOs (nil if it is not one).
func bsoList(body []byte) []map[string]any {
	var l []map[string]any
	if json.Unmarshal(body, &l) != nil {
		return nil
	}
	return l
}

func batchPost(r *http.Request) bool { return r.URL.Query().Has("batch") }

// written remembers, per user and collection, what was ever written (deleted or not),
// for deviations that treat never-written collections differently.
type written struct {
	mu sync.Mutex
	m  map[string]bool
}

func (wr *written) key(r *http.Request) (string, string) {
	p := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(p) < 4 || p[2] != "storage" {
		return "", ""
	}
	return p[1], p[3]
}

// track wraps next, noting successful writes and deletes.
func (wr *written) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rr := httptest.NewRecorder()
		next.ServeHTTP(rr, r)
		uid, coll := wr.key(r)
		if (r.Method == "PUT" || r.Method == "POST") && coll != "" && rr.Code < 300 {
			wr.mu.Lock()
			wr.m[uid+"/"+coll] = true
			wr.mu.Unlock()
		}
		(&recorded{status: rr.Code, header: rr.Header(), body: rr.Body.Bytes()}).send(w)
	})
}

func (wr *written) has(r *http.Request) bool {
	uid, coll := wr.key(r)
	wr.mu.Lock()
	defer wr.mu.Unlock()
	return wr.m[uid+"/"+coll]
}

// neverWritten wraps a deviation that applies to collections never written.
func neverWritten(serve func(wr *written) mw) mw {
	return func(next http.Handler) http.Handler {
		wr := &written{m: map[string]bool{}}
		return serve(wr)(wr.track(next))
	}
}

// carriesARealToken: the Hawk id is a token's (its payload reads as JSON), so a 401 is
// for the MAC, the clock or the nonce, which go-syncstorage answers with 403.
func carriesARealToken(r *http.Request) bool {
	m := regexp.MustCompile(`id="([^"]+)"`).FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		return false
	}
	raw, err := base64.URLEncoding.DecodeString(m[1])
	if err != nil {
		raw, err = base64.RawURLEncoding.DecodeString(m[1])
	}
	var v map[string]any
	return err == nil && len(raw) > 32 && json.Unmarshal(raw[:len(raw)-32], &v) == nil
}

var validCollection = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,32}$`)

var storageReq match = func(r *http.Request) bool { return !tokenEndpoint(r) }

func withDefaultLimitsAdvertised(next http.Handler) http.Handler {
	return rewrite(on("GET", "/info/configuration"), editJSON(func(v any) any {
		if m, ok := v.(map[string]any); ok {
			d := server.DefaultLimits()
			m["max_request_bytes"], m["max_post_bytes"] = d.MaxRequestBytes, d.MaxPostBytes
		}
		return v
	}))(next)
}

var deviations = []deviation{
	{name: "failed reasons are lists of strings", modelled: "go-syncstorage, case 101", profile: "go-syncstorage",
		causes: []string{"post.failed-values-are-strings"}, wrap: rewrite(postReq, failedAsArrays)},
	{name: "a POST over max_post_records is refused whole with 413", modelled: "go-syncstorage, case 105", profile: "go-syncstorage",
		causes: []string{"post.max-post-records"},
		wrap: intercept(on("POST", ""), func(w http.ResponseWriter, r *http.Request, body []byte, next http.Handler) {
			if !batchPost(r) && len(bsoList(body)) > 100 {
				answer(w, 413, `{"err":"Exceed 100 BSO per request"}`)
				return
			}
			forward(w, r, body, next)
		})},
	{name: "a batch POST over max_post_records is refused whole with 413", modelled: "go-syncstorage, case 136", profile: "go-syncstorage",
		causes: []string{"batch.max-post-records-per-post"},
		wrap: intercept(on("POST", "batch="), func(w http.ResponseWriter, r *http.Request, body []byte, next http.Handler) {
			if len(bsoList(body)) > 100 {
				answer(w, 413, `{"err":"Exceed 100 BSO per request"}`)
				return
			}
			forward(w, r, body, next)
		})},
	{name: `a newlines commit of "\n" commits`, modelled: "go-syncstorage, case 133", profile: "go-syncstorage",
		causes: []string{"batch.empty-commit-bodies"},
		wrap: intercept(on("POST", "commit="), func(w http.ResponseWriter, r *http.Request, body []byte, next http.Handler) {
			if strings.HasPrefix(r.Header.Get("Content-Type"), "application/newlines") && strings.TrimSpace(string(body)) == "" {
				body = nil
			}
			forward(w, r, body, next)
		})},
	{name: "any commit value commits", modelled: "go-syncstorage, case 127", profile: "go-syncstorage",
		causes: []string{"batch.commit-must-be-true"},
		wrap: intercept(on("POST", "commit="), func(w http.ResponseWriter, r *http.Request, body []byte, next http.Handler) {
			q := r.URL.Query()
			q.Set("commit", "true")
			r.URL.RawQuery = q.Encode()
			forward(w, r, body, next)
		})},
	{name: "a batch POST is held to max_post_bytes by its Content-Length", modelled: "go-syncstorage, case 134", profile: "go-syncstorage",
		causes: []string{"batch.max-post-bytes-per-post"},
		wrap: intercept(on("POST", "batch="), func(w http.ResponseWriter, r *http.Request, body []byte, next http.Handler) {
			if int64(len(body)) > server.DefaultLimits().MaxPostBytes {
				answer(w, 400, "17")
				return
			}
			forward(w, r, body, next)
		})},
	{name: "PATCH is 404", modelled: "go-syncstorage, case 112", profile: "go-syncstorage",
		causes: []string{"misc.patch-is-405"},
		wrap:   intercept(on("PATCH", ""), func(w http.ResponseWriter, _ *http.Request, _ []byte, _ http.Handler) { answer(w, 404, "0") })},
	{name: "no CORS", modelled: "go-syncstorage, case 163", profile: "go-syncstorage",
		causes: []string{"misc.cors-preflight"},
		wrap: intercept(storageReq, func(w http.ResponseWriter, r *http.Request, body []byte, next http.Handler) {
			if r.Method == http.MethodOptions {
				answer(w, 404, "0")
				return
			}
			rec := record(r, body, next)
			for k := range rec.header {
				if strings.HasPrefix(k, "Access-Control-") {
					rec.header.Del(k)
				}
			}
			rec.send(w)
		})},
	{name: "X-Weave-Timestamp is the resource's X-Last-Modified", modelled: "go-syncstorage, case 158", profile: "go-syncstorage",
		causes: []string{"headers.x-weave-timestamp-is-the-server-clock"}, wrap: rewrite(any_, weaveTimestampIsLastModified)},
	{name: "a newlines line over 256 KB ends the body", modelled: "go-syncstorage, case 95", profile: "go-syncstorage",
		causes: []string{"post.long-newline-lines"},
		wrap: intercept(on("POST", ""), func(w http.ResponseWriter, r *http.Request, body []byte, next http.Handler) {
			if strings.HasPrefix(r.Header.Get("Content-Type"), "application/newlines") {
				var kept [][]byte
				for _, line := range bytes.Split(body, []byte("\n")) {
					if len(line) > 256<<10 {
						break
					}
					kept = append(kept, line)
				}
				body = bytes.Join(kept, []byte("\n"))
			}
			forward(w, r, body, next)
		})},
	{name: "a BSO with a collection field is refused", modelled: "go-syncstorage, cases 73, 104", profile: "go-syncstorage",
		causes: []string{"put.collection-field-is-accepted", "post.collection-field-is-accepted"},
		wrap: intercept(storageReq, func(w http.ResponseWriter, r *http.Request, body []byte, next http.Handler) {
			switch r.Method {
			case "PUT":
				var m map[string]any
				if json.Unmarshal(body, &m) == nil && m["collection"] != nil {
					answer(w, 400, "8")
					return
				}
			case "POST":
				l := bsoList(body)
				var keep []map[string]any
				failed := map[string]any{}
				for _, b := range l {
					if b["collection"] != nil {
						failed[fmt.Sprint(b["id"])] = []string{"invalid collection"}
						continue
					}
					keep = append(keep, b)
				}
				if len(failed) > 0 {
					nb, _ := json.Marshal(append([]map[string]any{}, keep...))
					rec := record(r, nb, next)
					editJSON(func(v any) any {
						if m, ok := v.(map[string]any); ok {
							m["failed"] = failed
						}
						return v
					})(rec)
					rec.send(w)
					return
				}
			}
			forward(w, r, body, next)
		})},
	{name: "duplicate ids in one POST are both accepted", modelled: "go-syncstorage, case 103", profile: "go-syncstorage",
		causes: []string{"post.duplicate-ids-are-400"},
		wrap: intercept(on("POST", ""), func(w http.ResponseWriter, r *http.Request, body []byte, next http.Handler) {
			l := bsoList(body)
			seen := map[any]int{}
			var keep []map[string]any
			var dups []any
			for _, b := range l {
				if i, ok := seen[b["id"]]; ok {
					keep[i] = b
					dups = append(dups, b["id"])
					continue
				}
				seen[b["id"]] = len(keep)
				keep = append(keep, b)
			}
			if len(dups) == 0 {
				forward(w, r, body, next)
				return
			}
			nb, _ := json.Marshal(keep)
			rec := record(r, nb, next)
			editJSON(func(v any) any {
				if m, ok := v.(map[string]any); ok {
					s, _ := m["success"].([]any)
					m["success"] = append(s, dups...)
				}
				return v
			})(rec)
			rec.send(w)
		})},
	{name: "no X-Weave-Records on info/*", modelled: "go-syncstorage, case 21", profile: "go-syncstorage",
		causes: []string{"info.collections.x-weave-records"}, wrap: rewrite(on("GET", "/info/"), setHeader("X-Weave-Records", ""))},
	{name: "no X-Last-Modified on info/configuration", modelled: "go-syncstorage, case 20", profile: "go-syncstorage",
		causes: []string{"info.configuration.x-last-modified-is-zero"}, wrap: rewrite(on("GET", "/info/configuration"), setHeader("X-Last-Modified", ""))},
	{name: "max_request_bytes equals max_post_bytes", modelled: "go-syncstorage defaults, case 19", profile: "go-syncstorage",
		causes: []string{"info.configuration.limits-are-consistent"},
		wrap: rewrite(on("GET", "/info/configuration"), editJSON(func(v any) any {
			if m, ok := v.(map[string]any); ok {
				m["max_request_bytes"] = m["max_post_bytes"]
			}
			return v
		}))},
	{name: "a 404 body is an error object", modelled: "go-syncstorage, case 59", profile: "go-syncstorage",
		causes: []string{"item.404-body-is-json-0"}, wrap: rewrite(item, func(r *recorded) {
			if r.status == 404 {
				r.body = []byte(`{"err":"BSO Not Found"}`)
			}
		})},
	{name: "deleting an item of a never-written collection is 406", modelled: "go-syncstorage, case 145", profile: "go-syncstorage",
		causes: []string{"delete.item-in-a-missing-collection-is-404"},
		wrap: neverWritten(func(wr *written) mw {
			return intercept(on("DELETE", `/storage/[^/]+/[^/?]+\?`), func(w http.ResponseWriter, r *http.Request, body []byte, next http.Handler) {
				rec := record(r, body, next)
				if !wr.has(r) && rec.status != http.StatusUnauthorized {
					rec.status, rec.body = 406, []byte("0")
				}
				rec.send(w)
			})
		})},
	{name: "deleting a never-written collection is 404", modelled: "go-syncstorage, case 148", profile: "go-syncstorage",
		causes: []string{"delete.missing-collection-is-200"},
		wrap: neverWritten(func(wr *written) mw {
			return intercept(on("DELETE", `/storage/[^/?]+\?`), func(w http.ResponseWriter, r *http.Request, body []byte, next http.Handler) {
				rec := record(r, body, next)
				if !wr.has(r) && rec.status != http.StatusUnauthorized {
					rec.status, rec.body = 404, []byte(`{"err":"Collection not found"}`)
				}
				rec.send(w)
			})
		})},
	{name: "an invalid collection name is a 500", modelled: "go-syncstorage, case 87", profile: "go-syncstorage",
		causes: []string{"put.bad-collection-names-are-404"},
		wrap: intercept(storageReq, func(w http.ResponseWriter, r *http.Request, body []byte, next http.Handler) {
			p := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
			if len(p) >= 4 && p[2] == "storage" && !validCollection.MatchString(p[3]) {
				answer(w, 500, `{"err":"Internal Server Error"}`)
				return
			}
			forward(w, r, body, next)
		})},
	{name: "max_request_bytes is advertised but not enforced", modelled: "go-syncstorage, case 75", profile: "go-syncstorage",
		causes:  []string{"put.request-over-max-request-bytes-is-413"},
		options: func(o *server.Options) { o.Limits.MaxRequestBytes = 64 << 20 },
		wrap:    withDefaultLimitsAdvertised},
	{name: "X-Weave-* request headers are checked only with batch=", modelled: "go-syncstorage, case 108", profile: "go-syncstorage",
		causes: []string{"post.x-weave-records-over-the-limit-is-400"},
		wrap: intercept(on("POST", ""), func(w http.ResponseWriter, r *http.Request, body []byte, next http.Handler) {
			if !batchPost(r) {
				for _, h := range []string{"X-Weave-Records", "X-Weave-Bytes", "X-Weave-Total-Records", "X-Weave-Total-Bytes"} {
					r.Header.Del(h)
				}
			}
			forward(w, r, body, next)
		})},
	{name: "no cumulative payload check in a POST", modelled: "go-syncstorage, case 106", profile: "go-syncstorage",
		causes:  []string{"post.max-post-bytes-per-item"},
		options: func(o *server.Options) { o.Limits.MaxPostBytes, o.Limits.MaxRequestBytes = 64<<20, 64<<20 },
		wrap:    withDefaultLimitsAdvertised},
	{name: "a batch create with an undecodable BSO makes no batch", modelled: "go-syncstorage, case 124", profile: "go-syncstorage",
		causes: []string{"batch.create-with-an-undecodable-bso"},
		wrap: intercept(on("POST", "batch=true"), func(w http.ResponseWriter, r *http.Request, body []byte, next http.Handler) {
			for _, b := range bsoList(body) {
				for k := range b {
					if !slices.Contains([]string{"id", "payload", "sortindex", "ttl"}, k) {
						answer(w, 200, fmt.Sprintf(`{"modified":%.2f,"success":[],"failed":{"na":["bad post data verify"]}}`, float64(time.Now().UnixMilli())/1000))
						return
					}
				}
			}
			forward(w, r, body, next)
		})},
	{name: "a replayed request is served again", modelled: "syncstorage-rs (no nonce cache), case 7", profile: "syncstorage-rs",
		causes: []string{"auth.a-replayed-nonce-is-401"},
		wrap: func(next http.Handler) http.Handler {
			var mu sync.Mutex
			seen := map[string]*recorded{}
			return intercept(storageReq, func(w http.ResponseWriter, r *http.Request, body []byte, next http.Handler) {
				key := r.Method + " " + r.URL.RequestURI() + " " + r.Header.Get("Authorization")
				mu.Lock()
				rec, ok := seen[key]
				mu.Unlock()
				if ok && r.Header.Get("Authorization") != "" {
					rec.send(w)
					return
				}
				rec = record(r, body, next)
				mu.Lock()
				seen[key] = rec
				mu.Unlock()
				rec.send(w)
			})(next)
		}},
	{name: "Hawk timestamps 52 weeks off are accepted", modelled: "syncstorage-rs, case 6", profile: "syncstorage-rs",
		causes: []string{"auth.a-stale-timestamp-is-401"}, options: func(o *server.Options) { o.HawkSkew = 52 * 7 * 24 * time.Hour }},
	{name: "a Hawk failure is 403", modelled: "go-syncstorage, case 5", profile: "go-syncstorage",
		causes: []string{"auth.a-bad-mac-is-401"},
		wrap:   rewrite(func(r *http.Request) bool { return withHeader("Authorization")(r) && carriesARealToken(r) }, statusFromTo(401, 403))},
	{name: "info/collections is cached for a minute, whatever is written", modelled: "a stale cache (the suites' bad_cache), case 13",
		causes: []string{"info.collections.lists-written"},
		wrap: func(next http.Handler) http.Handler {
			var mu sync.Mutex
			type entry struct {
				rec *recorded
				at  time.Time
			}
			cache := map[string]entry{}
			return intercept(on("GET", "/info/collections"), func(w http.ResponseWriter, r *http.Request, body []byte, next http.Handler) {
				rec := record(r, body, next)
				if rec.status != http.StatusOK {
					rec.send(w) // authentication and preconditions come first
					return
				}
				mu.Lock()
				e, ok := cache[r.URL.Path]
				if !ok || time.Since(e.at) >= time.Minute {
					e = entry{rec, time.Now()}
					cache[r.URL.Path] = e
				}
				mu.Unlock()
				e.rec.send(w)
			})(next)
		}},
	{name: "DELETE /storage leaves info/collections as it was", modelled: "a metadata table not cleared with the data, cases 25, 146",
		causes: []string{"delete.storage"},
		wrap: func(next http.Handler) http.Handler {
			var mu sync.Mutex
			stale := map[string]map[string]any{} // uid → collection → its last write
			return intercept(storageReq, func(w http.ResponseWriter, r *http.Request, body []byte, next http.Handler) {
				p := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
				rec := record(r, body, next)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case len(p) < 3:
				case r.Method == "GET" && len(p) == 4 && p[3] == "collections" && rec.status == 200:
					editJSON(func(v any) any {
						if m, ok := v.(map[string]any); ok {
							for c, ts := range stale[p[1]] {
								if _, ok := m[c]; !ok {
									m[c] = ts
								}
							}
						}
						return v
					})(rec)
				case (r.Method == "PUT" || r.Method == "POST") && rec.status == 200 && len(p) >= 4:
					if stale[p[1]] == nil {
						stale[p[1]] = map[string]any{}
					}
					ts, _ := strconv.ParseFloat(rec.header.Get("X-Last-Modified"), 64)
					stale[p[1]][p[3]] = ts
				case r.Method == "DELETE" && len(p) == 4 && !strings.Contains(r.URL.RawQuery, "ids="):
					delete(stale[p[1]], p[3])
				}
				rec.send(w)
			})(next)
		}},
	{name: "no X-Weave-Timestamp on error responses", modelled: "a proxy or framework error page",
		causes: []string{"headers.x-weave-timestamp-on-every-response"}, wrap: rewrite(any_, func(r *recorded) {
			if r.status >= 400 {
				r.header.Del("X-Weave-Timestamp")
			}
		})},
	{name: "newer= is inclusive", modelled: "an off-by-one in the newer filter, case 29",
		causes: []string{"get.newer-is-strict"},
		wrap: intercept(on("GET", "newer="), func(w http.ResponseWriter, r *http.Request, body []byte, next http.Handler) {
			q := r.URL.Query()
			if v, err := strconv.ParseFloat(q.Get("newer"), 64); err == nil {
				q.Set("newer", fmt.Sprintf("%.2f", v-0.01))
				r.URL.RawQuery = q.Encode()
			}
			forward(w, r, body, next)
		})},
	{name: "sort=index is ascending", modelled: "a reversed ORDER BY, case 37",
		causes: []string{"get.sort-index"}, wrap: rewrite(on("GET", "sort=index"), reverse())},
	{name: "sortindex is limited to eight digits", modelled: "a column sized for 10^8, case 69",
		causes: []string{"put.nine-digit-sortindex-is-accepted"},
		wrap: intercept(on("PUT", ""), func(w http.ResponseWriter, r *http.Request, body []byte, next http.Handler) {
			var m map[string]any
			if json.Unmarshal(body, &m) == nil {
				if v, ok := m["sortindex"].(float64); ok && (v >= 1e8 || v <= -1e8) {
					answer(w, 400, "8")
					return
				}
			}
			forward(w, r, body, next)
		})},
	{name: "ttl is ignored", modelled: "a server that drops ttl (bug 1332552's class), case 80",
		causes: []string{"put.ttl-zero-is-invisible-at-once"},
		wrap: intercept(on("PUT", ""), func(w http.ResponseWriter, r *http.Request, body []byte, next http.Handler) {
			var m map[string]any
			if json.Unmarshal(body, &m) == nil {
				delete(m, "ttl")
				if len(m) == 0 {
					m["payload"] = ""
				}
				body, _ = json.Marshal(m)
			}
			forward(w, r, body, next)
		})},
	{name: "offset= is ignored", modelled: "paging that restarts, case 35",
		causes: []string{"get.offset-pages-through-everything-once"},
		wrap: intercept(on("GET", "offset="), func(w http.ResponseWriter, r *http.Request, body []byte, next http.Handler) {
			q := r.URL.Query()
			q.Del("offset")
			r.URL.RawQuery = q.Encode()
			forward(w, r, body, next)
		})},
}

// variations are what servers may do within the protocol: a run against each must report
// nothing at all.
var variations = []deviation{
	{name: "a never-written collection answers 200 [] before validating anything", modelled: "go-syncstorage, syncstorage-rs read paths",
		wrap: neverWritten(func(wr *written) mw {
			return intercept(on("GET", `/storage/[^/?]+\?`), func(w http.ResponseWriter, r *http.Request, body []byte, next http.Handler) {
				rec := record(r, body, next)
				if !wr.has(r) && rec.status != http.StatusUnauthorized {
					// authenticated, then answered before the query is looked at
					rec.status, rec.body = 200, []byte("[]")
					rec.header.Set("X-Weave-Records", "0")
					rec.header.Set("Content-Type", "application/json")
					rec.header.Del("X-Weave-Next-Offset")
				}
				rec.send(w)
			})
		})},
	{name: "offsets are opaque tokens", modelled: "syncstorage-rs <ms>:<n> offsets, go row counts, case 36",
		wrap: func(next http.Handler) http.Handler {
			var mu sync.Mutex
			tokens := map[string]string{}
			return intercept(on("GET", ""), func(w http.ResponseWriter, r *http.Request, body []byte, next http.Handler) {
				q := r.URL.Query()
				if o := q.Get("offset"); o != "" {
					mu.Lock()
					real, ok := tokens[o]
					mu.Unlock()
					if ok {
						q.Set("offset", real)
						r.URL.RawQuery = q.Encode()
					}
				}
				rec := record(r, body, next)
				if o := rec.header.Get("X-Weave-Next-Offset"); o != "" {
					tok := fmt.Sprintf("%d:%s", time.Now().UnixNano(), strings.Repeat("z", 3))
					mu.Lock()
					tokens[tok] = o
					mu.Unlock()
					rec.header.Set("X-Weave-Next-Offset", tok)
				}
				rec.send(w)
			})(next)
		}},
}

func startDeviant(t *testing.T, d deviation) *servertest.Server {
	var opts server.Options
	if d.options != nil {
		d.options(&opts)
	}
	return servertest.Start(t, opts, d.wrap)
}

func runDeviant(t *testing.T, d deviation, expect *conformance.Profile) *conformance.Report {
	srv := startDeviant(t, d)
	rep, err := conformance.Run(context.Background(), conformance.Options{Tokens: srv.Tokens("alice"), SecondTokens: srv.Tokens("bob"),
		AllowDestructive: true, SkipSlow: !d.slow, Expect: expect})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestEveryDeviationIsCaughtWithItsCause runs the whole suite against the embedded
// server wearing each catalogued deviation and asks that the report name the deviation's
// cause: the figure it logs is the runner's measured sensitivity.
func TestEveryDeviationIsCaughtWithItsCause(t *testing.T) {
	t.Parallel()
	if len(deviations) < 25 {
		t.Errorf("only %d deviations catalogued", len(deviations))
	}
	var mu sync.Mutex
	caught := 0
	sample := deviations
	if race.Enabled {
		sample = nil
		for i := 0; i < len(deviations); i += 5 {
			sample = append(sample, deviations[i])
		}
	}
	t.Run("deviations", func(t *testing.T) {
		for _, d := range sample {
			t.Run(d.name, func(t *testing.T) {
				t.Parallel()
				rep := runDeviant(t, d, nil)
				// each failed case keeps its own cause; the report may group several under
				// the symptom they share
				named := map[string]bool{}
				for _, r := range rep.Results {
					if r.Status == conformance.StatusFail {
						named[r.Cause] = true
					}
				}
				ok := true
				for _, c := range d.causes {
					if !named[c] {
						ok = false
						t.Errorf("%s (%s): the report does not name %s; it names %v", d.name, d.modelled, c, causes(rep))
					}
				}
				if ok {
					mu.Lock()
					caught++
					mu.Unlock()
				}
				t.Logf("%s: %d failed, %d errors: %v", d.name, rep.Failed, rep.Errors, causes(rep))
			})
		}
	})
	t.Logf("deviations caught with their cause: %d of %d catalogued (%d run)", caught, len(deviations), len(sample))
}

func causes(rep *conformance.Report) []string {
	var out []string
	for _, g := range rep.Causes {
		out = append(out, fmt.Sprintf("%s (%s)", g.Cause, strings.Join(g.Cases, ", ")))
	}
	return out
}

// TestVariationsWithinTheProtocolReportNothing: a server that answers 200 [] for a
// collection never written, before it validates the query, or that hands out offsets of
// its own making, departs from nothing, and the report must say so.
func TestVariationsWithinTheProtocolReportNothing(t *testing.T) {
	t.Parallel()
	for _, v := range variations {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			rep := runDeviant(t, v, nil)
			for _, r := range rep.Results {
				if r.Status == conformance.StatusFail || r.Status == conformance.StatusError {
					t.Errorf("%s: false %s %s: %s", v.name, r.Status, r.ID, r.Message)
				}
			}
		})
	}
}

// TestAProfileTurnsItsServersDeviationsIntoKnown wears every deviation a profile lists at
// once and runs with that profile: nothing may fail, and each is reported as known.
func TestAProfileTurnsItsServersDeviationsIntoKnown(t *testing.T) {
	t.Parallel()
	for _, p := range conformance.Profiles() {
		t.Run(p.Name, func(t *testing.T) {
			t.Parallel()
			var all deviation
			var wraps []mw
			var opts []func(*server.Options)
			for _, d := range deviations {
				if d.profile != p.Name {
					continue
				}
				for _, c := range d.causes {
					if _, ok := p.Known[c]; !ok {
						t.Errorf("%s is modelled on %s but its profile does not list %s", d.name, p.Name, c)
					}
				}
				if d.wrap != nil {
					wraps = append(wraps, d.wrap)
				}
				if d.options != nil {
					opts = append(opts, d.options)
				}
			}
			all.wrap = func(h http.Handler) http.Handler {
				for _, w := range wraps {
					h = w(h)
				}
				return h
			}
			all.options = func(o *server.Options) {
				for _, f := range opts {
					f(o)
				}
			}
			rep := runDeviant(t, all, p)
			for _, r := range rep.Results {
				if r.Status == conformance.StatusFail || r.Status == conformance.StatusError {
					t.Errorf("%s with --expect %s: %s %s: %s", p.Name, p.Name, r.Status, r.ID, r.Message)
				}
			}
			if rep.Known == 0 {
				t.Errorf("nothing reported known")
			}
			t.Logf("%s: %d passed, %d known", p.Name, rep.Passed, rep.Known)
		})
	}
}

// TestOneDefectIsReportedOnce: a server that refuses every PUT stops each case that
// needed to PUT its fixture; those are errors of arrangement under the one refusal, not
// failures of the behaviours they name. And a status several cases see the same way
// (403 for every Hawk failure) is one cause.
func TestOneDefectIsReportedOnce(t *testing.T) {
	t.Parallel()
	t.Run("a refused arrangement", func(t *testing.T) {
		rep := runDeviant(t, deviation{wrap: intercept(on("PUT", ""), func(w http.ResponseWriter, _ *http.Request, _ []byte, _ http.Handler) {
			answer(w, 500, "0")
		})}, nil)
		const want = "the server refused a valid request: PUT /storage/{coll}/{id} → 500"
		var group *conformance.CauseGroup
		for i, g := range rep.Causes {
			if g.Cause == want {
				group = &rep.Causes[i]
			}
		}
		if group == nil || len(group.Cases) < 10 {
			t.Fatalf("no cause %q grouping the cases it stopped: %v", want, causes(rep))
		}
		for _, r := range rep.Results {
			if r.Status == conformance.StatusError && r.Cause == want && slices.Contains(group.Cases, r.ID) {
				continue
			}
			if r.Status == conformance.StatusError {
				t.Errorf("%s: error with cause %q: %s", r.ID, r.Cause, r.Message)
			}
		}
		t.Logf("%d errors under %q; %d failures elsewhere", len(group.Cases), want, rep.Failed)
	})
	t.Run("a shared symptom", func(t *testing.T) {
		var d deviation
		for _, x := range deviations {
			if x.name == "a Hawk failure is 403" {
				d = x
			}
		}
		rep := runDeviant(t, d, nil)
		if len(rep.Causes) != 1 || rep.Causes[0].Cause != "answers 403 where 401 is expected" || len(rep.Causes[0].Cases) < 4 {
			t.Errorf("causes %v", causes(rep))
		}
		var buf bytes.Buffer
		rep.WriteTable(&buf)
		if !strings.Contains(buf.String(), "MUST answers 403 where 401 is expected (") || !strings.Contains(buf.String(), "1 causes, 1 of them MUST") {
			t.Errorf("table:\n%s", buf.String())
		}
	})
}
