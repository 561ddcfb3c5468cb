package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/syncctl/syncctl/wbo"
)

// WEAVE error codes used in bodies.
const (
	weaveUnknown      = 0
	weaveInvalidWBO   = 8
	weaveSizeExceeded = 17
	weaveOverQuota    = 14
)

var (
	collectionName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,32}$`)
	uidPattern     = regexp.MustCompile(`^[0-9]{1,10}$`)
)

// request is one storage request after routing.
type request struct {
	w          http.ResponseWriter
	r          *http.Request
	uid        int64
	collection string
	id         string
	query      url.Values
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Server) serveHTTP(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	w := &weaveWriter{ResponseWriter: rw, start: s.st.clock()}
	body := &countingBody{ReadCloser: r.Body}
	r.Body = body
	s.metrics.inFlight.Inc()
	defer func() {
		s.metrics.inFlight.Dec()
		if w.status == 0 {
			w.status = http.StatusOK
		}
		took := time.Since(start)
		method := knownMethod(r.Method)
		s.metrics.observe(w.route, method, w.status, took, body.n, w.bytes)
		s.accessLog(r, w, method, took, body.n)
	}()
	setCORS(w, r)
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusOK)
		return
	}
	if s.opts.TestHooks && r.URL.Path == "/__testhooks__/fault" {
		s.faults.handle(w, r)
		return
	}
	if s.faults.apply(w, r.URL.Path) {
		return
	}
	parts := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	for i, p := range parts {
		if u, err := url.PathUnescape(p); err == nil {
			parts[i] = u
		}
	}
	switch {
	case len(parts) == 1 && (parts[0] == "__heartbeat__" || parts[0] == "__lbheartbeat__"):
		w.route = "heartbeat"
		s.heartbeat(w, r)
	case len(parts) == 1 && parts[0] == "__version__":
		w.route = "version"
		writeJSON(w, http.StatusOK, map[string]string{"name": "syncctl", "source": "https://github.com/syncctl/syncctl", "version": Version})
	case len(parts) == 3 && parts[0] == "1.0" && parts[1] == "sync" && parts[2] == "1.5":
		w.route = "token"
		if allow(w, r, "GET") {
			s.metrics.tokens.WithLabelValues(s.tokenEndpoint(w, r)).Inc()
		}
	case len(parts) == 3 && parts[0] == "1.0":
		unsupportedToken(w, parts)
	case len(parts) >= 2 && parts[0] == "1.5" && s.retired.Load():
		// A retired node: the client's token is for storage that has moved.
		w.route = "retired"
		w.Header().Set("WWW-Authenticate", "Hawk")
		writeJSON(w, http.StatusUnauthorized, weaveUnknown)
	case len(parts) >= 2 && parts[0] == "1.5" && uidPattern.MatchString(parts[1]):
		s.routeStorage(w, r, parts[2:])
	default:
		notFound(w)
	}
}

// Version is the server's version string, set by the build.
var Version = "dev"

func (s *Server) routeStorage(w *weaveWriter, r *http.Request, rest []string) {
	uid, _ := strconv.ParseInt(strings.Split(strings.Trim(r.URL.Path, "/"), "/")[1], 10, 64)
	req := &request{w: w, r: r, uid: uid, query: r.URL.Query()}
	w.uid = uid
	w.route = storageRoute(rest)
	switch {
	case len(rest) == 0:
		if allow(w, r, "DELETE") && s.authenticate(req) {
			s.deleteAll(req)
		}
	case len(rest) == 1 && rest[0] == "__heartbeat__":
		s.heartbeat(w, r)
	case len(rest) == 2 && rest[0] == "info":
		handler, ok := map[string]func(*request){
			"collections":       s.infoCollections,
			"quota":             s.infoQuota,
			"collection_usage":  s.infoUsage,
			"collection_counts": s.infoCounts,
			"configuration":     s.infoConfiguration,
		}[rest[1]]
		if !ok {
			notFound(w)
			return
		}
		if allow(w, r, "GET") && s.authenticate(req) {
			handler(req)
		}
	case len(rest) == 1 && rest[0] == "storage":
		if allow(w, r, "DELETE") && s.authenticate(req) {
			s.deleteAll(req)
		}
	case len(rest) == 2 && rest[0] == "storage" && collectionName.MatchString(rest[1]):
		req.collection = rest[1]
		if !allow(w, r, "GET", "POST", "DELETE") || !s.authenticate(req) {
			return
		}
		switch r.Method {
		case http.MethodGet:
			s.getCollection(req)
		case http.MethodPost:
			s.postCollection(req)
		default:
			s.deleteCollection(req)
		}
	case len(rest) == 3 && rest[0] == "storage" && collectionName.MatchString(rest[1]) && wbo.ValidID(rest[2]):
		req.collection, req.id = rest[1], rest[2]
		if !allow(w, r, "GET", "PUT", "DELETE") || !s.authenticate(req) {
			return
		}
		switch r.Method {
		case http.MethodGet:
			s.getItem(req)
		case http.MethodPut:
			s.putItem(req)
		default:
			s.deleteItem(req)
		}
	default:
		notFound(w)
	}
}

// allow answers 405 with Allow for a method the route does not take.
func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m || (m == "GET" && r.Method == http.MethodHead) {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	writeJSON(w, http.StatusMethodNotAllowed, weaveUnknown)
	return false
}

func (s *Server) heartbeat(w http.ResponseWriter, r *http.Request) {
	status, dbStatus := http.StatusOK, "Ok"
	if err := s.st.r.PingContext(r.Context()); err != nil {
		status, dbStatus = http.StatusServiceUnavailable, "Err"
	}
	writeJSON(w, status, map[string]string{"status": strings.ToLower(dbStatus), "database": dbStatus, "version": Version})
}

// setCORS allows any origin, as syncstorage-rs does by default.
func setCORS(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Vary", "Origin")
	h.Set("Access-Control-Allow-Methods", "DELETE, GET, OPTIONS, POST, PUT")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, UserAgent, X-If-Modified-Since, X-If-Unmodified-Since, X-Weave-Records, X-Weave-Bytes, X-Weave-Total-Records, X-Weave-Total-Bytes, X-KeyID, X-Client-State")
	h.Set("Access-Control-Expose-Headers", "X-Last-Modified, X-Weave-Timestamp, X-Weave-Records, X-Weave-Next-Offset, X-Weave-Backoff, Retry-After, X-Weave-Quota-Remaining, X-Weave-Alert")
	h.Set("Access-Control-Max-Age", "1728000")
}

func notFound(w http.ResponseWriter) { writeJSON(w, http.StatusNotFound, weaveUnknown) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte("0")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

// writeRaw writes pre-encoded JSON (timestamps must keep their two decimals).
func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

func setLastModified(w http.ResponseWriter, ts int64) {
	w.Header().Set("X-Last-Modified", wbo.Timestamp(ts).String())
}

// weaveWriter adds X-Weave-Timestamp to every response: max(the server's clock at the
// request's start, X-Last-Modified), as syncstorage-rs does. It is never behind the data it describes,
// and after a write it equals the write's timestamp (which is never before the start).
type weaveWriter struct {
	http.ResponseWriter
	start  wbo.Timestamp
	status int
	// For the metrics and the access log: the route's template, the uid of a storage
	// request, the body bytes written.
	route string
	uid   int64
	bytes int64
}

func (w *weaveWriter) WriteHeader(status int) {
	if w.status != 0 {
		return
	}
	w.status = status
	h := w.Header()
	ts := w.start
	if lm, err := wbo.ParseTimestamp(h.Get("X-Last-Modified")); err == nil && lm > ts {
		ts = lm
	}
	h.Set("X-Weave-Timestamp", ts.String())
	w.ResponseWriter.WriteHeader(status)
}

func (w *weaveWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom passes a payload file on to net/http's ReadFrom, which hands it to the
// socket with sendfile when the response has a length (see chunk.writeTo).
func (w *weaveWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(struct{ io.Writer }{w.ResponseWriter}, r)
	}
	w.bytes += n
	return n, err
}

// Flush lets streamed collection GETs reach the client as they go.
func (w *weaveWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// preconditions reads X-If-Modified-Since / X-If-Unmodified-Since. Both at once, a
// negative or a non-numeric value is a 400.
type preconditions struct {
	modifiedSince, unmodifiedSince int64
	hasModified, hasUnmodified     bool
}

func parsePreconditions(req *request) (preconditions, bool) {
	var p preconditions
	for _, h := range []struct {
		name string
		dst  *int64
		has  *bool
	}{{"X-If-Modified-Since", &p.modifiedSince, &p.hasModified}, {"X-If-Unmodified-Since", &p.unmodifiedSince, &p.hasUnmodified}} {
		v := req.r.Header.Get(h.name)
		if v == "" {
			continue
		}
		ts, err := wbo.ParseTimestamp(v)
		if err != nil {
			writeJSON(req.w, http.StatusBadRequest, weaveUnknown)
			return p, false
		}
		*h.dst, *h.has = int64(ts), true
	}
	if p.hasModified && p.hasUnmodified {
		writeJSON(req.w, http.StatusBadRequest, weaveUnknown)
		return p, false
	}
	return p, true
}

// check answers 304 or 412 when a precondition fails against the resource's timestamp.
func (p preconditions) check(req *request, ts int64) bool {
	switch {
	case p.hasModified && ts <= p.modifiedSince:
		setLastModified(req.w, ts)
		req.w.WriteHeader(http.StatusNotModified)
		return false
	case p.hasUnmodified && ts > p.unmodifiedSince:
		setLastModified(req.w, ts)
		writeJSON(req.w, http.StatusPreconditionFailed, weaveUnknown)
		return false
	}
	return true
}

// serverError answers a request the database could not serve. A full disk and a busy or
// locked database are conditions that pass: they are 503 with Retry-After, which Firefox
// and syncctl take as "back off, keep the changes, try later" (as syncstorage-rs answers
// its database's conflicts), and they are logged at error level once a minute, not once
// a request. Anything else is a 500.
func (s *Server) serverError(req *request, err error) {
	if c, ok := transientCondition(err); ok {
		s.metrics.transient.WithLabelValues(c.kind).Inc()
		if s.transientLog.allow(c.kind, s.opts.Now()) {
			s.log.Error().Err(err).Str("condition", c.kind).Msg("the database cannot take writes now: answering 503 with Retry-After")
		}
		req.w.Header().Set("Retry-After", strconv.Itoa(c.retryAfter))
		writeJSON(req.w, http.StatusServiceUnavailable, weaveUnknown)
		return
	}
	s.log.Error().Err(err).Str("method", req.r.Method).Str("path", req.r.URL.Path).Msg("request failed")
	writeJSON(req.w, http.StatusInternalServerError, weaveUnknown)
}

// condition is a database error that passes: what it is, and the seconds a client is
// told to wait (a full disk takes a person; a restarting database, moments).
type condition struct {
	kind       string
	retryAfter int
}

// transientCondition names a database error that passes (a full disk, a busy or
// unreachable database), or reports false.
func transientCondition(err error) (condition, bool) {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c, ok := transient[se.Code()&0xff]
		return c, ok
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) { // a payload file
		return transient[sqlite3.SQLITE_FULL], true
	}
	return postgresTransient(err)
}

// transient are the SQLite result codes that say "not now" rather than "broken".
var transient = map[int]condition{sqlite3.SQLITE_FULL: {"disk full", 60}, sqlite3.SQLITE_BUSY: {"database busy", 60}, sqlite3.SQLITE_LOCKED: {"database locked", 60}}

// onceAMinute lets a message through once a minute per kind.
type onceAMinute struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func (o *onceAMinute) allow(kind string, now time.Time) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.last == nil {
		o.last = map[string]time.Time{}
	}
	if t, ok := o.last[kind]; ok && now.Sub(t) < time.Minute {
		return false
	}
	o.last[kind] = now
	return true
}

// storageRoute is the template of a storage path (after /1.5/{uid}), for metrics and
// logs: the collection's name stays out, as it may be an engine of the user's own.
func storageRoute(rest []string) string {
	switch {
	case len(rest) == 0:
		return "storage_root"
	case len(rest) == 1 && rest[0] == "__heartbeat__":
		return "heartbeat"
	case len(rest) == 2 && rest[0] == "info":
		switch rest[1] {
		case "collections", "quota", "collection_usage", "collection_counts", "configuration":
			return "info_" + rest[1]
		}
	case len(rest) == 1 && rest[0] == "storage":
		return "storage_root"
	case len(rest) == 2 && rest[0] == "storage":
		return "collection"
	case len(rest) == 3 && rest[0] == "storage":
		return "record"
	}
	return "other"
}

// knownMethod keeps the method label bounded: a client may send any token as a method.
func knownMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// countingBody counts the request body bytes a handler reads.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n += int64(n)
	return n, err
}

// accessLog writes one line per request: the route's template (never the path, which
// holds the uid, nor the query), the status, the time taken, the bytes both ways and a
// keyed hash of the uid (which tells one user's requests apart and names no one). At
// info level, or debug with Options.QuietAccessLog.
func (s *Server) accessLog(r *http.Request, w *weaveWriter, method string, took time.Duration, in int64) {
	level := zerolog.InfoLevel
	if s.opts.QuietAccessLog {
		level = zerolog.DebugLevel
	}
	e := s.log.WithLevel(level)
	if e == nil {
		return
	}
	e = e.Str("method", method).Str("route", w.route).Int("status", w.status).Dur("took", took).
		Int64("bytes_in", in).Int64("bytes_out", w.bytes)
	if w.uid != 0 {
		e = e.Str("user", s.metricsHash("uid:" + strconv.FormatInt(w.uid, 10))[:12])
	}
	e.Msg("request")
}
