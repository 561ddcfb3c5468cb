package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/syncctl/syncctl/server"
)

func newServeCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the embedded SyncStorage 1.5 server (SQLite, zero set-up)",
		Long: `Run the embedded SyncStorage 1.5 server.

It serves the storage API under /1.5/{uid}/ and a tokenserver-compatible token endpoint
at /1.0/sync/1.5, where a user presents "Authorization: Bearer <secret>". Users come from
--users-file (name:secret lines), the config file's [users] table, SYNCCTL_USERS
("a:s1,b:s2") or --user name:secret (which shows the secret in ps); with none, a user
"local" is created and its secret kept in the data dir. Tokens are signed with the master
secret (--master-secret-file, SYNCCTL_MASTER_SECRET; default: generated and kept, 0600,
in the data dir) in the tokenlib format, so tokens minted by syncstorage-rs tooling with
the same secret work here.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.serve(cmd) },
	}
	f := cmd.Flags()
	pf := cmd.PersistentFlags() // the admin commands work on the same database
	f.String("listen", "127.0.0.1:8000", "address to listen on")
	pf.String("data-dir", "", "where the database lives (default $XDG_DATA_HOME/syncctl/server)")
	pf.String("db", "", "keep the records in PostgreSQL at this URL (postgres://user@host:5432/db; password in PGPASSWORD or ~/.pgpass) instead of the SQLite file; every node on it serves the same users")
	f.String("master-secret", "", "token signing secret (shows in ps: prefer --master-secret-file or SYNCCTL_MASTER_SECRET)")
	f.String("master-secret-file", "", "read the token signing secret from this file")
	f.StringArray("user", nil, "a user as name:secret (repeatable; shows in ps: prefer --users-file)")
	pf.String("users-file", "", "users as name:secret lines")
	f.Int("max-conns-per-address", 128, "open connections one client address may hold (behind a proxy, raise it)")
	f.Duration("stall-timeout", 30*time.Second, "cut a connection whose reads or writes make no progress this long")
	f.Int("max-nonces", 100_000, "entries of the Hawk replay cache (~80 bytes each)")
	f.Int("token-failures", 10, "failed authentications per client address (and refused key claims per account) a minute before 429")
	f.String("public-url", "", "base URL clients reach the server at, e.g. behind a proxy (default: from each request)")
	f.String("oauth-verify-url", "", "let Firefox Accounts users in: verify their OAuth tokens at this FxA /v1/oauth/verify URL")
	f.StringArray("node", nil, "a storage node (URL of a syncctl serve with the same master secret) to spread users over (repeatable); a node dropped from the list is retired and its users move")
	f.String("quota", "", `each user's storage quota, as "10GB" or "500MiB" (default: none); a user over it is refused writes (403, body 14) until they delete`)
	f.Bool("retired", false, "serve as a retired storage node: answer 401 to every storage request, so clients ask for their new node")
	f.String("metrics-listen", "", "serve Prometheus metrics at http://ADDR/metrics (off by default; keep it off the public port)")
	f.Bool("access-log", true, "log one line per request at info (route, status, duration, bytes, a hash of the user); false: at debug")
	f.Bool("test-hooks", false, "enable /__testhooks__/fault for client tests (never in production)")
	cmd.AddCommand(newServeMigrateCmd(a))
	cmd.AddCommand(newServeAdminCmds(a)...)
	return cmd
}

func newServeMigrateCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate --from DIR --to URL",
		Short: "Move the embedded server's SQLite data to PostgreSQL",
		Long: `Copy every account, record and timestamp of the SQLite server in --from (its data dir,
or its syncstorage.db) to the PostgreSQL database at --to. Uids are kept, so clients carry on
with their tokens once the server runs with --db and the same master secret.

Stop the SQLite server first. The copy can be stopped at any point and run again: it takes up
where it stopped, and a second run after a finished one changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			from, _ := cmd.Flags().GetString("from")
			to, _ := cmd.Flags().GetString("to")
			if from == "" || to == "" {
				return withCode(exitUsage, errors.New("missing --from DIR and --to URL (usage: syncctl serve migrate --from DIR --to URL)"))
			}
			if filepath.Base(from) == "syncstorage.db" {
				from = filepath.Dir(from)
			}
			bar := newProgress(cmd, "copying", -1)
			copied := int64(0)
			stats, err := server.Migrate(cmd.Context(), from, to, func(s server.MigrateStats) {
				bar.add(int(s.Copied - copied))
				copied = s.Copied
			})
			bar.done()
			switch {
			case errors.Is(err, server.ErrNoSource):
				return withCode(exitUsage, fmt.Errorf("--from %s: no syncctl serve data there (no syncstorage.db)", from))
			case errors.Is(err, server.ErrDestinationInUse):
				return withCode(exitError, fmt.Errorf("--to: %w (migrate into an empty database)", err))
			case err != nil && unreachable(err):
				return withCode(exitUnavailable, &hinted{before: "--to: PostgreSQL does not answer: ", err: err})
			case err != nil:
				return err
			}
			return a.one(cmd, stats, func(out io.Writer) error {
				verb := "copied"
				if stats.Resumed {
					verb = "resumed: copied"
				}
				_, err := fmt.Fprintf(out, "%s %s of %s (%s, %s) to %s\n", verb, plural(int(stats.Copied), "record", "records"),
					humanize.Comma(stats.Records), plural(int(stats.Accounts), "account", "accounts"), plural(int(stats.Users), "user", "users"), redacted(to))
				return err
			})
		},
	}
	cmd.Flags().String("from", "", "the SQLite server's data dir (or its syncstorage.db)")
	cmd.Flags().String("to", "", "the PostgreSQL URL (postgres://user@host:5432/db)")
	return cmd
}

func (a *app) serve(cmd *cobra.Command) error {
	v := a.v
	if !v.IsSet("log-level") && v.GetInt("verbose") == 0 {
		// A server's log is its access log: at info unless told otherwise.
		a.log = a.log.Level(zerolog.InfoLevel)
	}
	dir := v.GetString("data-dir")
	if dir == "" {
		dir = filepath.Join(dataDir(), "server")
	}
	tuneServeGC(os.Getenv)
	dbURL := v.GetString("db")
	if dbURL != "" && !strings.HasPrefix(dbURL, "postgres://") && !strings.HasPrefix(dbURL, "postgresql://") {
		return withCode(exitUsage, fmt.Errorf("--db %q: want a PostgreSQL URL, like postgres://syncctl@127.0.0.1:5432/syncctl (SQLite needs no --db: it is the default, in --data-dir)", dbURL))
	}
	users, err := serveUsers(a, dir)
	if err != nil {
		return withCode(exitUsage, err)
	}
	var limits server.Limits
	if err := v.UnmarshalKey("limits", &limits); err != nil {
		return withCode(exitUsage, fmt.Errorf("config [limits]: %w", err))
	}
	var quota uint64
	if q := v.GetString("quota"); q != "" {
		if quota, err = humanize.ParseBytes(q); err != nil || quota == 0 {
			return withCode(exitUsage, fmt.Errorf("--quota %q: want a size, like 10GB or 500MiB", q))
		}
	}
	master, err := a.secretValue(cmd, "master-secret")
	if err != nil {
		return err
	}
	srv, err := server.New(server.Options{
		Quota:          int64(quota),
		DataDir:        dir,
		Database:       dbURL,
		Nodes:          nodeFlags(v.Get("node")),
		Retired:        v.GetBool("retired"),
		QuietAccessLog: !v.GetBool("access-log"),
		MasterSecret:   master,
		Conns:          server.ConnLimits{PerAddress: v.GetInt("max-conns-per-address"), Stall: v.GetDuration("stall-timeout")},
		MaxNonces:      v.GetInt("max-nonces"),
		TokenFailures:  v.GetInt("token-failures"),
		Users:          users,
		PublicURL:      v.GetString("public-url"),
		OAuthVerifyURL: v.GetString("oauth-verify-url"),
		Limits:         limits,
		TestHooks:      v.GetBool("test-hooks"),
		Logger:         &a.log,
	})
	switch {
	case errors.Is(err, server.ErrNodeSecret), errors.Is(err, server.ErrBadDatabaseURL), errors.Is(err, server.ErrBadNode):
		return withCode(exitUsage, err)
	case errors.Is(err, server.ErrOtherSecret):
		return withCode(exitError, fmt.Errorf("%w: give this node the same --master-secret-file as the others", err))
	case err != nil && dbURL != "" && unreachable(err):
		return withCode(exitUnavailable, &hinted{before: "--db: PostgreSQL does not answer: ", err: err})
	case err != nil:
		return err
	}
	defer srv.Close()
	l, err := listen("--listen", v.GetString("listen"))
	if err != nil {
		return err
	}
	metricsURL := ""
	if addr := v.GetString("metrics-listen"); addr != "" {
		ml, err := listen("--metrics-listen", addr)
		if err != nil {
			return err
		}
		metricsURL = "http://" + ml.Addr().String() + "/metrics"
		mux := http.NewServeMux()
		mux.Handle("/metrics", srv.MetricsHandler())
		ms := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: time.Minute}
		go ms.Serve(ml)
		defer ms.Close()
		a.log.Info().Str("addr", ml.Addr().String()).Msg("serving metrics at /metrics")
	}
	base := "http://" + l.Addr().String()
	if p := v.GetString("public-url"); p != "" {
		base = strings.TrimSuffix(p, "/")
	}
	names := make([]string, 0, len(users))
	for n := range users {
		names = append(names, n)
	}
	sort.Strings(names)
	started := struct {
		Listening     string             `json:"listening"`
		DataDir       string             `json:"data_dir"`
		Database      string             `json:"database"`
		TokenEndpoint string             `json:"token_endpoint"`
		Users         []string           `json:"users"`
		Nodes         []server.NodeUsers `json:"nodes"`
		Retired       bool               `json:"retired"`
		Metrics       string             `json:"metrics"`
	}{l.Addr().String(), dir, srv.Database(), base + "/1.0/sync/1.5", names, nil, v.GetBool("retired"), metricsURL}
	if started.Nodes, err = srv.Nodes(); err != nil {
		return err
	}
	err = a.one(cmd, started, func(out io.Writer) error {
		where := "data in " + dir
		if dbURL != "" {
			where = "records in " + started.Database
		}
		if started.Retired {
			where += "; retired: every storage request is answered 401"
		}
		_, err := fmt.Fprintf(out, "syncctl serve: listening on %s (%s)\ntoken endpoint: %s\nusers: %s\n",
			started.Listening, where, started.TokenEndpoint, strings.Join(names, ", "))
		if err == nil && metricsURL != "" {
			_, err = fmt.Fprintf(out, "metrics: %s\n", metricsURL)
		}
		for _, n := range started.Nodes {
			state := plural(int(n.Users), "user", "users")
			if n.Retired {
				state += ", retired"
			}
			if err == nil {
				_, err = fmt.Fprintf(out, "storage node: %s (%s)\n", n.URL, state)
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	a.log.Info().Str("addr", l.Addr().String()).Str("data_dir", dir).Msg("serving")
	err = srv.Serve(cmd.Context(), l)
	a.log.Info().Msg("stopped")
	return err
}

// listen opens the server's address, saying which flag is wrong and how: an address
// that is not host:port is a usage error (2); one in use or not allowed is an error of
// this machine (1), never "the server is down" (4).
func listen(flag, addr string) (net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, withCode(exitUsage, fmt.Errorf("%s %q: want host:port, like 127.0.0.1:8000", flag, addr))
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return nil, withCode(exitUsage, fmt.Errorf("%s %q: %q is not a port", flag, addr, port))
	}
	l, err := net.Listen("tcp", addr)
	switch {
	case err == nil:
		return l, nil
	case errors.Is(err, syscall.EADDRINUSE):
		return nil, withCode(exitError, fmt.Errorf("%s %s: another program is listening there (stop it, or pick another port)", flag, addr))
	case errors.Is(err, syscall.EACCES):
		return nil, withCode(exitError, fmt.Errorf("%s %s: not allowed (ports below 1024 need privileges; pick a higher one)", flag, addr))
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return nil, withCode(exitUsage, fmt.Errorf("%s %s: %s is not an address of this machine", flag, addr, host))
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return nil, withCode(exitUsage, fmt.Errorf("%s %s: unknown host %q", flag, addr, host))
	}
	return nil, withCode(exitError, fmt.Errorf("%s %s: %w", flag, addr, err))
}

// serveUsers merges --user flags, the [users] table and SYNCCTL_USERS. With no user at
// all it makes "local" with a random secret kept in the data dir, so that a bare
// `syncctl serve` is usable.
func serveUsers(a *app, dir string) (map[string]string, error) {
	users := map[string]string{}
	if path := a.v.GetString("users-file"); path != "" {
		from, err := usersFile(path)
		if err != nil {
			return nil, err
		}
		users = from
	}
	for name, secret := range a.v.GetStringMapString("users") {
		users[name] = secret
	}
	specs, _ := a.v.Get("user").([]string)
	if env := os.Getenv("SYNCCTL_USERS"); env != "" {
		specs = append(specs, strings.Split(env, ",")...)
	}
	for _, spec := range specs {
		name, secret, ok := strings.Cut(spec, ":")
		if !ok || name == "" || secret == "" {
			return nil, fmt.Errorf("--user %q: want name:secret", spec)
		}
		users[name] = secret
	}
	if len(users) > 0 {
		return users, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "local-user-secret")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		var r [16]byte
		if _, err := rand.Read(r[:]); err != nil {
			return nil, err
		}
		b = []byte(hex.EncodeToString(r[:]))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, err
		}
		fmt.Fprintf(os.Stderr, "syncctl serve: no users configured; created user \"local\" with secret %s (kept in %s)\n", b, path)
	} else if err != nil {
		return nil, err
	}
	return map[string]string{"local": strings.TrimSpace(string(b))}, nil
}

// redacted is a database URL without its password, for output.
func redacted(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "(the --to URL)"
	}
	return u.Redacted()
}

// nodeFlags is the --node list (flags or the config file's node = [...]).
func nodeFlags(v any) []string {
	switch n := v.(type) {
	case []string:
		return n
	case []any:
		out := make([]string, 0, len(n))
		for _, x := range n {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return nil
}

// serveGCPercent is the Go collector's target for `serve`, unless GOGC says otherwise:
// a server's live heap is small (tens of MB) and most of what it allocates per request
// dies at once, so at Go's default (100) it collects every few requests. At 200, 8
// users' POSTs of small records go 20–25% faster and the soak's honest p99 drops from
// 38 to 26 ms, for a peak RSS of 86 MB instead of 64 (BenchmarkPostConcurrentUsers and
// TestSoak run with GOGC=200).
const serveGCPercent = 200

// syncMemoryLimit is the Go runtime's soft memory limit for `sync` and `daemon`,
// unless GOMEMLIMIT says otherwise. A sync's live heap is bounded by design (the chunk
// being applied and the one fetched behind it, 20,000 records or 8 MB of payloads
// each: ~17 MB at the peak of a 1,000,000-record first sync), but at Go's default the
// heap grows to twice the live size before each collection. With the limit, a fresh
// device's first sync of 1,000,000 history records peaks at 55–56 MB of RSS instead
// of 69–79, 1–2% slower (bench/firstsync-rss.sh). A live heap beyond the limit only makes the
// collector work harder, at most half the CPU: the limit never fails a sync.
const syncMemoryLimit = 32 << 20

// limitSyncMemory sets syncMemoryLimit for the command's run, leaving a user's
// GOMEMLIMIT alone; restore puts back the limit before it (the commands also run
// in-process, in tests and under the daemon).
func limitSyncMemory(getenv func(string) string) (restore func()) {
	if getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	prev := debug.SetMemoryLimit(syncMemoryLimit)
	return func() { debug.SetMemoryLimit(prev) }
}

// tuneServeGC sets the collector's target for serve, leaving an operator's GOGC alone.
// It returns the target in effect.
func tuneServeGC(getenv func(string) string) int {
	if getenv("GOGC") != "" {
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		return p
	}
	debug.SetGCPercent(serveGCPercent)
	return serveGCPercent
}
