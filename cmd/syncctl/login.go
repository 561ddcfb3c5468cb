package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	"golang.org/x/term"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/engine"
	"github.com/syncctl/syncctl/internal/output"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/wbo"
)

func newLoginCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in to a SyncStorage server (embedded or self-hosted) and save the profile",
		Long: `Log in to a server's token endpoint with your secret, and check the account key against
the server's crypto/keys before saving anything. A new, empty account gets a new random
key, printed once: other devices need it (syncctl login --key). The secret and the key go
to secrets.json (mode 0600) next to the config file, never to the config itself.

The secret comes from --secret-file FILE, SYNCCTL_SECRET, or is asked for (not shown as
it is typed); a pipe gives it on standard input. The account key comes the same ways:
--key-file FILE, SYNCCTL_KEY, or asked for when the account already holds data.
--secret and --key also work but show the value to every local user (ps, shell history).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.login(cmd) },
	}
	f := cmd.Flags()
	f.String("server", "", "server URL (its token endpoint is <URL>/1.0/sync/1.5)")
	f.String("user", "", "your user name on that server (for display)")
	f.String("secret", "", "your secret on that server (shows in ps: prefer --secret-file, SYNCCTL_SECRET or the prompt; \"-\": a line of standard input)")
	f.String("secret-file", "", "read the secret from this file")
	f.String("key", "", "the account key (64 hex digits), as printed at the account's first login (\"-\": from standard input; better: --key-file or SYNCCTL_KEY)")
	f.String("key-file", "", "read the account key from this file")
	f.String("master-secret-file", "", "read the node's master secret from this file")
	f.String("key-id", "", "X-KeyID to send to the tokenserver (optional)")
	f.String("master-secret", "", "a storage node's master secret: mint tokens for it directly (syncstorage-rs's SYNC_MASTER_SECRET)")
	f.Uint64("uid", 0, "with --master-secret: the user id on that node")
	f.String("fxa", "", "log in with this Firefox Accounts email instead (Mozilla's Sync, or --auth-url)")
	f.Bool("fxa-oauth", false, "log in to Firefox Accounts in a browser instead (syncctl never sees the password)")
	f.String("redirect-uri", "", "with --fxa-oauth: the redirect URI registered for the client id")
	f.String("code", "", "with --fxa-oauth: the address the browser was sent to, or the code (else read from standard input)")
	f.String("password", "", "with --fxa: the account's password (shows in ps: prefer --password-file, SYNCCTL_PASSWORD or the prompt)")
	f.String("password-file", "", "with --fxa: read the password from this file")
	f.String("totp", "", "with --fxa: the code of your authenticator app, if the account uses two-step authentication")
	f.String("email-code", "", "with --fxa: a sign-in code Mozilla sent by email")
	f.String("unblock-code", "", "with --fxa: the unblock code Mozilla sent by email after a blocked login")
	f.String("env", "production", "with --fxa: production, stage or china")
	f.String("auth-url", "", "with --fxa: the auth server (default: the environment's)")
	f.String("token-server", "", "with --fxa: the tokenserver (default: the environment's)")
	f.String("client-id", "", "with --fxa: the OAuth client id")
	f.Duration("wait-verify", 5*time.Minute, "with --fxa: how long to wait for a sign-in confirmed by email")
	return cmd
}

func (a *app) readSecret(cmd *cobra.Command) (string, error) {
	s, err := a.askSecret(cmd, "secret", "secret (not shown): ")
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", withCode(exitUsage, errors.New("no secret: pass --secret-file FILE, set SYNCCTL_SECRET, or type it when asked"))
	}
	return s, nil
}

func (a *app) login(cmd *cobra.Command) error {
	ctx := cmd.Context()
	if email := a.v.GetString("fxa"); email != "" {
		return a.loginFxA(cmd, email)
	}
	if a.v.GetBool("fxa-oauth") {
		return a.loginFxAOAuth(cmd)
	}
	server := strings.TrimSuffix(a.v.GetString("server"), "/")
	if server == "" {
		return withCode(exitUsage, errors.New("--server is required"))
	}
	if u, err := url.Parse(server); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return withCode(exitUsage, fmt.Errorf("--server %q: want a URL that starts with http:// or https://, like http://%s", server, strings.TrimPrefix(server, "//")))
	}
	// Only from login's own flags: SYNCCTL_MASTER_SECRET, exported for serve in the
	// same shell, is the server's, not a way of logging in.
	master := ""
	var err error
	if cmd.Flags().Changed("master-secret") || cmd.Flags().Changed("master-secret-file") {
		if master, err = a.secretValue(cmd, "master-secret"); err != nil {
			return err
		}
	}
	sec := secrets{KeyID: a.v.GetString("key-id"), MasterSecret: master, UID: a.v.GetUint64("uid")}
	if sec.MasterSecret == "" {
		if sec.Secret, err = a.readSecret(cmd); err != nil {
			return err
		}
	} else if sec.UID == 0 {
		return withCode(exitUsage, errors.New("--master-secret needs --uid"))
	}
	tokens := sec.tokenSource(server)
	client := storage.New(storage.Options{Tokens: tokens, Logger: &a.log})
	if _, err := client.Token(ctx); err != nil {
		if errors.Is(err, storage.ErrUnauthorized) {
			return fmt.Errorf("login to %s: the server refused this secret: %w", server, err)
		}
		return fmt.Errorf("login to %s: %w", server, err)
	}
	rec, err := client.GetRecord(ctx, crypto.KeysCollection, crypto.KeysID)
	hasKeys := err == nil
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	var kB []byte
	newKey := false
	key, err := a.secretValue(cmd, "key")
	if err != nil {
		return err
	}
	if key == "" && hasKeys {
		// An account with data: on a terminal, ask for its key rather than fail.
		if in, ok := cmd.InOrStdin().(*os.File); ok && term.IsTerminal(int(in.Fd())) {
			if key, err = a.askSecret(cmd, "key", "this account already holds data; its account key (64 hex digits, not shown): "); err != nil {
				return err
			}
		}
	}
	switch {
	case key != "":
		if kB, err = hex.DecodeString(key); err != nil || len(kB) != 32 {
			return withCode(exitUsage, errors.New("--key: want 64 hex digits"))
		}
	case hasKeys:
		return withCode(exitAuth, errors.New("this account already holds data: pass --key with the account key from its first login"))
	default:
		kB = make([]byte, 32)
		rand.Read(kB)
		newKey = true
	}
	if hasKeys {
		syncKey, _ := crypto.SyncKeyBundle(kB)
		if _, err := crypto.DecryptKeys(rec, syncKey); err != nil {
			return fmt.Errorf("--key: %w", engine.ErrWrongSyncKey)
		}
	}
	profile := a.profileName()
	all, err := loadSecrets()
	if err != nil {
		return err
	}
	sec.KB = hex.EncodeToString(kB)
	all[profile] = sec
	if err := saveSecrets(all); err != nil {
		return err
	}
	settings := map[string]string{"server": server, "user": a.v.GetString("user")}
	if n := a.v.GetString("device-name"); n != "" {
		settings["device-name"] = n
	}
	if err := writeProfile(profile, settings); err != nil {
		return err
	}
	a.v.Set(a.profileKey("server"), server)
	a.v.Set(a.profileKey("user"), a.v.GetString("user"))
	if newKey {
		// Set the new account up now (meta/global, keys, this device's client record), so
		// that put and ls work at once — and nothing else: an account used only to push
		// directories gets no bookmark roots (the first sync of bookmarks writes them).
		acct, err := a.account(ctx)
		if err != nil {
			return err
		}
		s, err := acct.session(ctx, a, cmd.ErrOrStderr())
		if err == nil {
			_, err = s.Setup(ctx)
		}
		acct.close()
		if err != nil {
			return fmt.Errorf("setting the new account up: %w", err)
		}
	}
	res := loginResult{Profile: profile, Server: server, User: a.v.GetString("user")}
	if newKey {
		res.NewKey = hex.EncodeToString(kB)
	}
	return a.one(cmd, res, func(out io.Writer) error {
		fmt.Fprintf(out, "logged in to %s (profile %q)\n", server, profile)
		if newKey {
			fmt.Fprintf(out, "new account key (other devices need it; keep it safe):\n  %s\n", res.NewKey)
		}
		return nil
	})
}

// loginResult is what login prints. NewKey is set once, when the account was new: the
// only time the key is ever shown.
type loginResult struct {
	Profile string `json:"profile"`
	Server  string `json:"server"`
	User    string `json:"user"`
	NewKey  string `json:"new_key,omitempty"`
}

// writeProfile sets the profile's keys in the config file, touching nothing else in it.
func writeProfile(profile string, kv map[string]string) error {
	path := filepath.Join(configDir(), "config.toml")
	if err := os.MkdirAll(configDir(), 0o700); err != nil {
		return err
	}
	f := viper.New()
	f.SetConfigFile(path)
	if err := f.ReadInConfig(); err != nil && !errors.Is(err, os.ErrNotExist) {
		var notFound viper.ConfigFileNotFoundError
		if _, statErr := os.Stat(path); statErr == nil && !errors.As(err, &notFound) {
			return fmt.Errorf("config: %w", err)
		}
	}
	for k, v := range kv {
		f.Set("profiles."+profile+"."+k, v)
	}
	return f.WriteConfigAs(path)
}

func newLogoutCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "Forget the profile's secret and key (the local copy of your data stays)",
		Long: `Forget the profile's secret and account key. The local copy of your data stays; to
log in again on this device you need the account key, which only another logged-in
device or your own record of it has: logout asks first (--yes does not ask).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			all, err := loadSecrets()
			if err != nil {
				return err
			}
			profile := a.profileName()
			if _, ok := all[profile]; !ok {
				return withCode(exitAuth, fmt.Errorf("profile %q is not logged in", profile))
			}
			if err := confirm(cmd, a.v.GetBool("yes"), fmt.Sprintf("forget the secret and account key of profile %q (logging in again needs the key)", profile)); err != nil {
				return err
			}
			delete(all, profile)
			if err := saveSecrets(all); err != nil {
				return err
			}
			res := struct {
				Profile   string `json:"profile"`
				LoggedOut bool   `json:"logged_out"`
			}{profile, true}
			return a.one(cmd, res, say("logged out of profile %q", profile))
		},
	}
	cmd.Flags().Bool("yes", false, "do not ask")
	return cmd
}

// statusView is what status prints.
type statusView struct {
	Profile      string `json:"profile"`
	Server       string `json:"server"`
	User         string `json:"user"`
	DeviceName   string `json:"device_name"`
	ClientID     string `json:"client_id"`
	LastSync     string `json:"last_sync"`     // RFC 3339, "" never
	BackoffUntil string `json:"backoff_until"` // RFC 3339, "" none
	RotatingKeys bool   `json:"rotating_keys"`
	// QuotaUsedBytes and QuotaBytes are the server's figures; nil when the server did
	// not answer (ServerError says why) or sets no quota.
	QuotaUsedBytes *int64                  `json:"quota_used_bytes"`
	QuotaBytes     *int64                  `json:"quota_bytes"`
	ServerError    string                  `json:"server_error,omitempty"`
	Engines        map[string]statusEngine `json:"engines"`
}

type statusEngine struct {
	LastServer     string `json:"last_server"`
	PendingChanges int    `json:"pending_changes"`
}

func newStatusCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Server, user, last sync, backoff, quota and each engine's state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			acct, err := a.offlineAccount(ctx)
			if err != nil {
				return err
			}
			defer acct.close()
			sess, err := acct.unlockedSession(a)
			if err != nil {
				return err
			}
			saved, err := sess.Status(ctx)
			if err != nil {
				return err
			}
			st := statusView{Profile: acct.profile, Server: acct.server, User: acct.user, DeviceName: a.deviceName(), ClientID: saved.ClientID,
				LastSync: timeOrEmpty(saved.LastSync), RotatingKeys: saved.RotatingKeys, Engines: map[string]statusEngine{}}
			inBackoff := time.Now().Before(saved.BackoffUntil)
			if inBackoff {
				st.BackoffUntil = timeOrEmpty(saved.BackoffUntil)
			}
			// The server's answer decides the exit code: a status that cannot get in is
			// not a success, whatever the saved state says. In a backoff it is not asked.
			var serverErr error
			if inBackoff {
				st.ServerError = explain(backoffUntil(saved.BackoffUntil))
			} else if used, quota, err := acct.client.InfoQuota(ctx); err == nil {
				u := int64(used * 1024)
				st.QuotaUsedBytes = &u
				if quota != nil {
					q := int64(*quota * 1024)
					st.QuotaBytes = &q
				}
			} else {
				serverErr = err
				st.ServerError = oneLine(err)
			}
			authErr := func() error {
				if serverErr != nil && exitCodeOf(serverErr) == exitAuth {
					return serverErr
				}
				return nil
			}
			for _, e := range standardEngines {
				es := saved.Engines[e.name]
				last := ""
				if es.LastServer != 0 {
					last = es.LastServer.String()
				}
				st.Engines[e.name] = statusEngine{last, es.Pending}
			}
			if err := a.one(cmd, st, func(out io.Writer) error { return a.printStatus(out, st, saved) }); err != nil {
				return err
			}
			return authErr()
		},
	}
}

func (a *app) printStatus(out io.Writer, st statusView, saved engine.Status) error {
	fmt.Fprintf(out, "profile   %s\nserver    %s\nuser      %s\ndevice    %s\nclient    %s\n", st.Profile, st.Server, st.User, st.DeviceName, orDash(st.ClientID))
	fmt.Fprintf(out, "last sync %s\n", a.when(saved.LastSync))
	if st.BackoffUntil != "" {
		fmt.Fprintf(out, "backoff   until %s\n", a.when(saved.BackoffUntil))
	}
	if st.RotatingKeys {
		fmt.Fprintln(out, "keys      a rotation did not finish: run `syncctl keys rotate` to finish it")
	}
	switch {
	case st.ServerError != "":
		fmt.Fprintf(out, "server    not asked: %s\n", st.ServerError)
	case st.QuotaBytes != nil:
		fmt.Fprintf(out, "quota     %s used of %s\n", size(*st.QuotaUsedBytes), size(*st.QuotaBytes))
	default:
		fmt.Fprintf(out, "quota     %s used\n", size(*st.QuotaUsedBytes))
	}
	tw := output.NewList(out, output.Table, "ENGINE", "LAST SERVER TIME", "PENDING")
	for _, e := range standardEngines {
		m := st.Engines[e.name]
		last := "-"
		if ts, err := wbo.ParseTimestamp(m.LastServer); err == nil && ts != 0 {
			last = a.when(ts.Time())
		}
		tw.Add(nil, e.name, last, fmt.Sprint(m.PendingChanges))
	}
	return tw.Close()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// timeOrEmpty is a saved time as status prints it: RFC 3339, or "" when unset.
func timeOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
