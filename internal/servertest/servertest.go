// Package servertest starts the real embedded SyncStorage server on 127.0.0.1 for
// integration tests, and hands out storage clients logged in to it, the way
// net/http/httptest does for handlers.
package servertest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/syncctl/syncctl/internal/pgtest"
	"github.com/syncctl/syncctl/server"
	"github.com/syncctl/syncctl/storage"
)

// Server is a running embedded server.
type Server struct {
	*server.Server
	URL string
	t   testing.TB
}

// Start runs a server with users alice, bob and carol (secret = name + "-secret") unless
// opts names others; wrap, if not nil, wraps its handler (to count or break requests).
func Start(t testing.TB, opts server.Options, wrap func(http.Handler) http.Handler) *Server {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.Database == "" {
		// With SYNCCTL_TEST_POSTGRES set, every server of the tests runs on PostgreSQL.
		opts.Database = pgtest.For(t, opts.DataDir)
	}
	if opts.Users == nil {
		opts.Users = map[string]string{"alice": "alice-secret", "bob": "bob-secret", "carol": "carol-secret"}
	}
	srv, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return &Server{Server: srv, URL: hs.URL, t: t}
}

// Tokens is the token source for a user of the server.
func (s *Server) Tokens(user string) *storage.TokenServer {
	secret := user + "-secret"
	return &storage.TokenServer{URL: s.URL, Bearer: func(context.Context) (string, error) { return secret, nil }}
}

// Client returns a storage client for user, with opts (Tokens is filled in).
func (s *Server) Client(user string, opts storage.Options) *storage.Client {
	if opts.Tokens == nil {
		opts.Tokens = s.Tokens(user)
	}
	return storage.New(opts)
}
