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

// bodies keeps large request bodies' buffers for the next request: a blob push sends
// megabyte bodies one after another, and a new buffer for each was most of the server's
// garbage (and its page faults). Bodies from minPooledBody to maxPooledBody are pooled
// by size class (powers of two); a small body gets a buffer of its size, as before
// (pooling those in megabyte buffers made each small POST hold one: the soak's RSS
// doubled).
var bodies [bodyClasses]sync.Pool

const (
	minPooledBody = 64 << 10
	maxPooledBody = 4 << 20
	bodyClasses   = 7 // 64 KB … 4 MB
)

// bodyClass is the class of buffers that hold n bytes: the smallest power of two, from
// minPooledBody, not below n.
func bodyClass(n int64) int {
	c := 0
	for int64(minPooledBody)<<c < n {
		c++
	}
	return c
}

func bodyBuffer(n int64) []byte {
	if n < minPooledBody || n > maxPooledBody {
		return make([]byte, n)
	}
	c := bodyClass(n)
	if b, ok := bodies[c].Get().(*[]byte); ok {
		return (*b)[:n]
	}
	return make([]byte, n, int64(minPooledBody)<<c)
}

// releaseBody gives a body's buffer back once nothing refers into it: the handler has
// answered, and what it kept of the body (ids, small payloads) was copied out of it.
func releaseBody(b []byte) {
	if c := bodyClass(int64(cap(b))); cap(b) >= minPooledBody && c < bodyClasses && int64(minPooledBody)<<c == int64(cap(b)) {
		bodies[c].Put(&b)
	}
}
