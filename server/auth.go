package server

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/syncctl/syncctl/hawk"
	"github.com/syncctl/syncctl/token"
)

// ErrWrongUser: a valid token for one uid was used on another's URL.
var ErrWrongUser = errors.New("server: token uid does not match the URL")

// Authenticate is the server's request validator: the Hawk header's token (signature,
// and expiry unless the request is GET info/collections, which syncstorage-rs lets
// through so a client can learn it must refresh), then the MAC over method, path and
// query, host and port, the clock skew and the nonce. It returns the token's payload.
func (s *Server) Authenticate(r *http.Request) (token.Payload, error) {
	at, err := hawk.Parse(r.Header.Get("Authorization"))
	if err != nil {
		return token.Payload{}, err
	}
	infoCollections := r.Method == http.MethodGet && strings.HasSuffix(strings.TrimSuffix(r.URL.Path, "/"), "/info/collections")
	payload, key, err := s.secret.Parse(at.ID, s.opts.Now(), !infoCollections)
	if err != nil {
		return token.Payload{}, err
	}
	host, port := requestHostPort(r)
	hr := hawk.Request{Method: r.Method, Resource: r.RequestURI, Host: host, Port: port}
	if !strings.HasPrefix(hr.Resource, "/") {
		hr.Resource = r.URL.RequestURI()
	}
	if err := s.verifier.Verify(at, hr, []byte(key)); err != nil {
		return token.Payload{}, err
	}
	return payload, nil
}

// authenticate answers 401 unless the request is authentic and for the token's own uid.
// The 401 says nothing of why, nor of any other user.
func (s *Server) authenticate(req *request) bool {
	payload, err := s.Authenticate(req.r)
	if err == nil && int64(payload.UID) != req.uid {
		err = ErrWrongUser
	}
	if errors.Is(err, hawk.ErrNonceStore) {
		s.serverError(req, err)
		return false
	}
	if err != nil {
		s.log.Debug().Err(err).Str("path", req.r.URL.Path).Msg("auth failed")
		req.w.Header().Set("WWW-Authenticate", "Hawk")
		writeJSON(req.w, http.StatusUnauthorized, weaveUnknown)
		return false
	}
	return true
}

// requestHostPort is the host and port the client signed: the Host header, with the
// scheme's default port. Behind a TLS-terminating proxy X-Forwarded-Proto says https.
func requestHostPort(r *http.Request) (string, int) {
	port := 80
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		port = 443
	}
	host := r.Host
	if h, p, err := net.SplitHostPort(r.Host); err == nil {
		host = h
		if n, err := strconv.Atoi(p); err == nil {
			port = n
		}
	}
	return hawk.ASCIIHost(host), port
}
