package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
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
	// DataDir holds the SQLite database (required unless Database is set), and the
	// generated master secret's file.
	DataDir string
	// Database, if set, is a PostgreSQL URL (postgres://user@host:port/db?…): the records
	// live there instead of in DataDir, and any number of servers on the same database
	// serve the same users (see the README, "Growing beyond one machine"). Every such
	// node needs the same MasterSecret; a node whose secret differs from the one the
	// database was first used with refuses to start.
	Database string
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
	// Nodes, if set, are the storage nodes (base URLs of servers with the same
	// MasterSecret) the token endpoint spreads users over, as Mozilla's tokenserver does:
	// a new user goes to the node with the fewest, and stays there. A node no longer
	// listed is retired: its users move, at their next token request, to a listed node
	// under a new uid (fresh storage; their clients resync, as after Mozilla's node
	// reassignment).
	Nodes []string
	// Retired makes this server a retired storage node: every storage request is answered
	// 401, so that clients fetch a new token and learn their new node.
	Retired bool
	// Limits are advertised in info/configuration and enforced; zero fields get defaults.
	Limits Limits
	// Quota is each user's storage quota in bytes of payload (0: none). A user at or over
	// it gets 403 with body 14 to every POST and PUT, as syncstorage-rs answers (deletes
	// still work); info/quota reports it, and writes carry X-Weave-Quota-Remaining.
	Quota int64
	// TokenDuration is the token lifetime (default 1 h, as the tokenserver).
	TokenDuration time.Duration
	// HawkSkew is the allowed clock difference of Hawk timestamps (default 60 s).
	HawkSkew time.Duration
	// BatchLifetime is how long an uncommitted batch lives (default 2 h).
	BatchLifetime time.Duration
	// TestHooks enables POST /__testhooks__/fault so out-of-process tests can make the
	// server answer with backoff, 503 or 401. Never on in production.
	TestHooks bool
	// Conns bound what one client can hold when the server runs with Serve.
	Conns ConnLimits
	// TokenFailures is how many failed authentications one client address (and how many
	// refused key claims one account) may make at the token endpoint in a minute before
	// it is answered 429 (default 10).
	TokenFailures int
	// MaxNonces caps the Hawk replay cache (default hawk.DefaultMaxNonces).
	MaxNonces int
	// Now is the clock (tests inject one).
	Now func() time.Time
	// Logger gets one line per request (the access log, at info); nil is silent.
	Logger *zerolog.Logger
	// QuietAccessLog puts the access log at debug level.
	QuietAccessLog bool
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
	guard    atomic.Pointer[guardedListener]
	guesses  *failureLimiter // token endpoint, per client address
	refusals *failureLimiter // token endpoint, per account
	metrics  *metrics
	// retired: storage requests are answered 401 (Options.Retired, Retire).
	retired atomic.Bool
	// transientLog keeps a full disk from logging once per request.
	transientLog onceAMinute
	// usage caches each user's bytes for the quota (see quota.go).
	usage usageCache
}

// New opens (or creates) the database in opts.DataDir.
func New(opts Options) (*Server, error) {
	if opts.DataDir == "" && opts.Database == "" {
		return nil, errors.New("server: Options.DataDir is required")
	}
	if opts.Database != "" && opts.DataDir == "" && opts.MasterSecret == "" {
		return nil, ErrNodeSecret
	}
	// On PostgreSQL, write timestamps come from the database's clock unless a test
	// injects its own.
	dbClock := opts.Now == nil
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TokenDuration <= 0 {
		opts.TokenDuration = time.Hour
	}
	if opts.TokenFailures <= 0 {
		opts.TokenFailures = 10
	}
	if opts.BatchLifetime <= 0 {
		opts.BatchLifetime = 2 * time.Hour
	}
	nodes := make([]string, 0, len(opts.Nodes))
	for _, n := range opts.Nodes {
		n, err := nodeURL(n)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	opts.Nodes = nodes
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
	st, err := openStore(opts.DataDir, opts.Database, opts.Now, dbClock)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, limits: opts.Limits.withDefaults(), st: st, log: zerolog.Nop(),
		guesses: newFailureLimiter(opts.TokenFailures, time.Minute, opts.Now), refusals: newFailureLimiter(opts.TokenFailures, time.Minute, opts.Now)}
	if opts.Logger != nil {
		s.log = *opts.Logger
	}
	if st.narrowed != 0 {
		s.log.Warn().Str("data_dir", opts.DataDir).Str("was", st.narrowed.String()).Msg("the data dir was readable by others: made it 0700")
	}
	master := opts.MasterSecret
	if master == "" {
		if master, err = s.storedSecret(); err != nil {
			st.close()
			return nil, err
		}
	}
	s.secret = token.NewSecret(master)
	if err := s.checkNodeSecret(); err != nil {
		st.close()
		return nil, err
	}
	s.retired.Store(opts.Retired)
	if err := s.syncNodes(); err != nil {
		st.close()
		return nil, fmt.Errorf("server: the node list: %w", err)
	}
	s.verifier = hawk.NewVerifier(opts.HawkSkew, opts.Now)
	if opts.MaxNonces > 0 {
		s.verifier.MaxNonces = opts.MaxNonces
	}
	s.metrics = newMetrics(s)
	st.metrics = s.metrics
	st.log = s.log
	if st.sharedNonces {
		s.verifier.Shared = func(key []byte, expiry int64) (bool, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return st.rememberNonce(ctx, key, expiry)
		}
	}
	return s, nil
}

// ErrBadNode: a storage node of Options.Nodes is not an http(s) URL.
var ErrBadNode = errors.New("server: a storage node must be an http:// or https:// URL")

// nodeURL is a storage node's base URL as the nodes table keeps it.
func nodeURL(n string) (string, error) {
	u, err := url.Parse(n)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%w: %q", ErrBadNode, n)
	}
	return strings.TrimSuffix(n, "/"), nil
}

// ErrNodeSecret: nodes on one database must sign tokens with one secret, and a node
// with neither a data dir to keep a generated one in nor a secret given has none.
var ErrNodeSecret = errors.New("server: a server on PostgreSQL needs the master secret every node shares (--master-secret or SYNCCTL_MASTER_SECRET), or a data dir to keep a generated one in")

// ErrOtherSecret: this node's master secret is not the one the database was first
// served with, so tokens of the other nodes would fail here and this node's there.
var ErrOtherSecret = errors.New("server: this master secret is not the one the other nodes on this database use")

// checkNodeSecret keeps a check value of the master secret (an HMAC under it, which
// reveals nothing of it) in a shared database the first time, and refuses a secret whose
// check value differs. On SQLite one process owns the file, and there is nothing to check.
func (s *Server) checkNodeSecret() error {
	if s.st.d == sqliteDialect {
		return nil
	}
	m := hmac.New(sha256.New, s.secret.SigningKey())
	m.Write([]byte("syncctl node secret check"))
	check := hex.EncodeToString(m.Sum(nil))
	if _, err := s.st.w.Exec(`INSERT INTO settings (key, value) VALUES ('secret_check', ?) ON CONFLICT (key) DO NOTHING`, check); err != nil {
		return err
	}
	stored, err := s.st.setting("secret_check")
	if err != nil {
		return err
	}
	if stored != check {
		return ErrOtherSecret
	}
	return nil
}

// masterSecretFile holds the generated master secret, 0600 beside the database.
const masterSecretFile = "master-secret"

// storedSecret returns the generated master secret, making one on first use, so tokens
// stay valid across restarts of a server started without one. It lives in its own 0600
// file, never in the database (which backups and tools copy); one an earlier version
// kept in the database moves out.
func (s *Server) storedSecret() (string, error) {
	path := filepath.Join(s.opts.DataDir, masterSecretFile)
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), s.st.deleteSetting("master_secret")
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	v, err := s.st.setting("master_secret")
	if err != nil {
		return "", err
	}
	if v == "" {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		v = hex.EncodeToString(b[:])
	}
	if err := writePrivate(path, []byte(v+"\n")); err != nil {
		return "", err
	}
	return v, s.st.deleteSetting("master_secret")
}

// writePrivate writes a file readable by its owner only, atomically.
func writePrivate(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Retire makes this server a retired storage node from now on (see Options.Retired):
// its clients are sent for a token, which names their new node.
func (s *Server) Retire() { s.retired.Store(true) }

// Database names where the records are, for people: "sqlite" (in the data dir) or the
// PostgreSQL server and database, without credentials.
func (s *Server) Database() string {
	if s.opts.Database == "" {
		return "sqlite"
	}
	return "postgres://" + redactURL(s.opts.Database)
}

// Limits returns the limits in force.
func (s *Server) Limits() Limits { return s.limits }

// Secret returns the token secret, for tests and tools that mint tokens themselves.
func (s *Server) Secret() token.Secret { return s.secret }

// Close closes the database.
func (s *Server) Close() error { return s.st.close() }

// Stats are the server's bounded resources, for metrics and tests.
type Stats struct {
	Nonces hawk.NonceStats
	Conns  ConnStats // zero unless the server runs with Serve
}

// Stats reads the figures.
func (s *Server) Stats() Stats {
	st := Stats{Nonces: s.verifier.Stats()}
	if g := s.guard.Load(); g != nil {
		st.Conns = g.stats()
	}
	return st
}

// Serve answers on l until ctx is done, then shuts down gracefully, letting requests in
// flight finish for up to 10 s. Every connection is bounded: headers within 10 s, a
// request body within 5 minutes (2.5 MB at 8 KB/s), no read or write stalled past
// Conns.Stall, idle keep-alive connections closed after a minute, and at most
// Conns.PerAddress connections per client address.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	g := guard(l, s.opts.Conns)
	s.guard.Store(g)
	l = g
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 5 * time.Minute,
		IdleTimeout: time.Minute, MaxHeaderBytes: 64 << 10}
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
