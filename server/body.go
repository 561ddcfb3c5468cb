package server

import (
	"crypto/hmac"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/syncctl/syncctl/hawk"
)

// readBody enforces Content-Type and max_request_bytes and returns the body and whether it
// is application/newlines. It has answered (415, 413, 400) when ok is false.
func (s *Server) readBody(req *request, allowNewlines bool) (body []byte, newlines, ok bool) {
	ct := req.r.Header.Get("Content-Type")
	mt := "application/json"
	if ct != "" {
		var err error
		if mt, _, err = mime.ParseMediaType(ct); err != nil {
			mt = ""
		}
	}
	switch strings.ToLower(mt) {
	case "application/json", "text/plain":
	case "application/newlines":
		newlines = true
		if !allowNewlines {
			writeJSON(req.w, http.StatusUnsupportedMediaType, weaveUnknown)
			return nil, false, false
		}
	default:
		writeJSON(req.w, http.StatusUnsupportedMediaType, weaveUnknown)
		return nil, false, false
	}
	if req.r.ContentLength > s.limits.MaxRequestBytes {
		writeJSON(req.w, http.StatusRequestEntityTooLarge, weaveSizeExceeded)
		return nil, false, false
	}
	var err error
	if n := req.r.ContentLength; n >= 0 {
		// Read in one piece into a body of the announced size (net/http ends the body
		// there), not grown and copied as io.ReadAll does: a megabyte POST was copied
		// about twice over.
		body = bodyBuffer(n)
		_, err = io.ReadFull(req.r.Body, body)
	} else {
		body, err = io.ReadAll(http.MaxBytesReader(req.w, req.r.Body, s.limits.MaxRequestBytes))
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeJSON(req.w, http.StatusRequestEntityTooLarge, weaveSizeExceeded)
		return nil, false, false
	case err != nil:
		badRequest(req.w)
		return nil, false, false
	}
	// The MAC covers the hash= a client sent; only here, with the body read, can the hash
	// be held against the body. A request whose hash is another body's is not authentic.
	// The hash is also taken as made with no content type: npm firefox-sync hashes so
	// while it sends application/json, and it still binds the body.
	if at, err := hawk.Parse(req.r.Header.Get("Authorization")); err == nil && at.Hash != "" &&
		!hmac.Equal([]byte(hawk.PayloadHash(ct, body)), []byte(at.Hash)) &&
		!hmac.Equal([]byte(hawk.PayloadHash("", body)), []byte(at.Hash)) {
		s.log.Debug().Str("path", req.r.URL.Path).Msg("auth failed: the payload hash does not match the body")
		req.w.Header().Set("WWW-Authenticate", "Hawk")
		writeJSON(req.w, http.StatusUnauthorized, weaveUnknown)
		return nil, false, false
	}
	return body, newlines, true
}

// bodies keeps request bodies' buffers for the next request: a blob push sends
// megabyte bodies one after another, and a new buffer for each was most of the
// server's garbage (and its page faults). Only buffers up to maxPooledBody are kept.
var bodies sync.Pool

const maxPooledBody = 4 << 20

func bodyBuffer(n int64) []byte {
	if b, ok := bodies.Get().(*[]byte); ok && int64(cap(*b)) >= n {
		return (*b)[:n]
	} else if ok {
		bodies.Put(b)
	}
	if n <= maxPooledBody {
		return make([]byte, n, min(maxPooledBody, max(n, 1<<20)))
	}
	return make([]byte, n)
}

// releaseBody gives a body's buffer back once nothing refers into it: the handler has
// answered, and what it kept of the body (ids, small payloads) was copied out of it.
func releaseBody(b []byte) {
	if cap(b) > 0 && cap(b) <= maxPooledBody {
		bodies.Put(&b)
	}
}
