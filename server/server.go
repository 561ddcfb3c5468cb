package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/syncctl/syncctl/hawk"
	"github.com/syncctl/syncctl/token"
)

// Limits are the values of info/configuration, enforced. Defaults are syncstorage-rs's.
type Limits struct {
	MaxRequestBytes       int64 `json:"max_request_bytes" mapstructure:"max_request_bytes"`
	MaxPostRecords        int   `json:"max_post_records" mapstructure:"max_post_records"`
	MaxPostBytes          int64 `json:"max_post_bytes" mapstructure:"max_post_bytes"`
	MaxTotalRecords       int   `json:"max_total_records" mapstructure:"max_total_records"`
	MaxTotalBytes         int64 `json:"max_total_bytes" mapstructure:"max_total_bytes"`
	MaxRecordPayloadBytes int   `json:"max_record_payload_bytes" mapstructure:"max_record_payload_bytes"`
	MaxQuotaLimit         int64 `json:"max_quota_limit" mapstructure:"max_quota_limit"`
}

// DefaultLimits are syncstorage-rs's defaults.
func DefaultLimits() Limits {
	return Limits{
		MaxRequestBytes:       2_625_536,
		MaxPostRecords:        100,
		MaxPostBytes:          2_621_440,
		MaxTotalRecords:       10_000,
		MaxTotalBytes:         262_144_000,
		MaxRecordPayloadBytes: 2_621_440,
		MaxQuotaLimit:         2_097_152_000,
	}
}

// withDefaults fills zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxRequestBytes == 0 {
		l.MaxRequestBytes = d.MaxRequestBytes
	}
	if l.MaxPostRecords == 0 {
		l.MaxPostRecords = d.MaxPostRecords
	}
	if l.MaxPostBytes == 0 {
		l.MaxPostBytes = d.MaxPostBytes
	}
	if l.MaxTotalRecords == 0 {
		l.MaxTotalRecords = d.MaxTotalRecords
	}
	if l.MaxTotalBytes == 0 {
		l.MaxTotalBytes = d.MaxTotalBytes
	}
	if l.MaxRecordPayloadBytes == 0 {
		l.MaxRecordPayloadBytes = d.MaxRecordPayloadBytes
	}
	if l.MaxQuotaLimit == 0 {
		l.MaxQuotaLimit = d.MaxQuotaLimit
	}
	return l
}

// Options configure a Server. The zero value works except for DataDir.
type Options struct {
	// DataDir holds the SQLite database (required).
	DataDir string
	// MasterSecret signs tokens and derives Hawk keys (tokenlib). Empty: a random secret
	// is made on first start and kept in the database.
	MasterSecret string
	// Users maps account names to the secret each presents to the token endpoint as
	// "Authorization: Bearer <secret>". Secrets must be distinct.
	Users map[string]string
	// OAuthVerifyURL, if set, lets Firefox Accounts users in, as Mozilla's tokenserver
	// does: a bearer token that is no configured user's secret is POSTed there as
	// {"token": …} (an FxA /v1/oauth/verify endpoint) and must carry the oldsync scope.
	OAuthVerifyURL string
	// PublicURL is the base of the api_endpoint the token endpoint hands out, e.g.
	// "https://sync.example.com" behind a proxy. Empty: taken from each request's Host.
	PublicURL string
	// Limits are advertised in info/configuration and enforced; zero fields get defaults.
	Limits Limits
	// TokenDuration is the token lifetime (default 1 h, as the tokenserver).
	TokenDuration time.Duration
	// HawkSkew is the allowed clock difference of Hawk timestamps (default 60 s).
	HawkSkew time.Duration
	// BatchLifetime is how long an uncommitted batch lives (default 2 h).
	BatchLifetime time.Duration
	// TestHooks enables POST /__testhooks__/fault so out-of-process tests can make the
	// server answer with backoff, 503 or 401. Never on in production.
	TestHooks bool
	// Now is the clock (tests inject one).
	Now func() time.Time
	// Logger gets one line per request; nil is silent.
	Logger *zerolog.Logger
}

// Server is the embedded SyncStorage server. Use Handler with any http.Server, or Serve.
type Server struct {
	opts     Options
	limits   Limits
	st       *store
	secret   token.Secret
	verifier *hawk.Verifier
	log      zerolog.Logger
	faults   faults
}

// New opens (or creates) the database in opts.DataDir.
func New(opts Options) (*Server, error) {
	if opts.DataDir == "" {
		return nil, errors.New("server: Options.DataDir is required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TokenDuration <= 0 {
		opts.TokenDuration = time.Hour
	}
	if opts.BatchLifetime <= 0 {
		opts.BatchLifetime = 2 * time.Hour
	}
	seen := map[string]string{}
	for name, secret := range opts.Users {
		if secret == "" {
			return nil, fmt.Errorf("server: user %q has an empty secret", name)
		}
		if other, dup := seen[secret]; dup {
			return nil, fmt.Errorf("server: users %q and %q share a secret", other, name)
		}
		seen[secret] = name
	}
	st, err := openStore(opts.DataDir, opts.Now)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, limits: opts.Limits.withDefaults(), st: st, log: zerolog.Nop()}
	if opts.Logger != nil {
		s.log = *opts.Logger
	}
	master := opts.MasterSecret
	if master == "" {
		if master, err = s.storedSecret(); err != nil {
			st.close()
			return nil, err
		}
	}
	s.secret = token.NewSecret(master)
	s.verifier = hawk.NewVerifier(opts.HawkSkew, opts.Now)
	return s, nil
}

// storedSecret returns the generated master secret, making one on first use, so tokens
// stay valid across restarts of a server started without one.
func (s *Server) storedSecret() (string, error) {
	v, err := s.st.setting("master_secret")
	if err != nil || v != "" {
		return v, err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	v = hex.EncodeToString(b[:])
	return v, s.st.setSetting("master_secret", v)
}

// Limits returns the limits in force.
func (s *Server) Limits() Limits { return s.limits }

// Secret returns the token secret, for tests and tools that mint tokens themselves.
func (s *Server) Secret() token.Secret { return s.secret }

// Close closes the database.
func (s *Server) Close() error { return s.st.close() }

// Serve answers on l until ctx is done, then shuts down gracefully, letting requests in
// flight finish for up to 10 s.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			return err
		}
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}
