package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/engine"
	"github.com/syncctl/syncctl/storage"
)

func newLoginCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in to a SyncStorage server (embedded or self-hosted) and save the profile",
		Long: `Log in to a server's token endpoint with your secret, and check the account key against
the server's crypto/keys before saving anything. A new, empty account gets a new random
key, printed once: other devices need it (syncctl login --key). The secret and the key go
to secrets.json (mode 0600) next to the config file, never to the config itself.

The secret comes from --secret, SYNCCTL_SECRET, or standard input.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.login(cmd) },
	}
	f := cmd.Flags()
	f.String("server", "", "server URL (its token endpoint is <URL>/1.0/sync/1.5)")
	f.String("user", "", "your user name on that server (for display)")
	f.String("secret", "", "your secret on that server (\"-\": read it from standard input; better: --secret-file or SYNCCTL_SECRET)")
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
	f.String("password", "", "with --fxa: the account's password (or SYNCCTL_PASSWORD, or standard input)")
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
	s, err := a.secretValue(cmd, "secret")
	if err != nil || s != "" {
		return s, err
	}
	in := cmd.InOrStdin()
	if f, ok := in.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		fmt.Fprint(cmd.ErrOrStderr(), "secret: ")
	}
	line, err := a.stdinLine(cmd)
	if err != nil {
		return "", err
	}
	if line == "" {
		return "", withCode(exitUsage, errors.New("no secret: pass --secret, set SYNCCTL_SECRET or type it"))
	}
	return line, nil
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
	master, err := a.secretValue(cmd, "master-secret")
	if err != nil {
		return err
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
	if err := writeProfile(profile, map[string]string{"server": server, "user": a.v.GetString("user")}); err != nil {
		return err
	}
	a.v.Set(a.profileKey("server"), server)
	a.v.Set(a.profileKey("user"), a.v.GetString("user"))
	if newKey {
		// Set the new account up now (meta/global, keys), so that put and ls work at once.
		acct, err := a.account(ctx)
		if err != nil {
			return err
		}
		s, err := acct.session(ctx, a, cmd.ErrOrStderr())
		if err == nil {
			_, err = s.Sync(ctx)
		}
		acct.close()
		if err != nil {
			return fmt.Errorf("setting the new account up: %w", err)
		}
	}
	if a.v.GetString("output") == "json" {
		out := map[string]any{"profile": profile, "server": server, "user": a.v.GetString("user")}
		if newKey {
			out["new_key"] = hex.EncodeToString(kB)
		}
		return writeJSON(cmd.OutOrStdout(), out)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "logged in to %s (profile %q)\n", server, profile)
	if newKey {
		fmt.Fprintf(cmd.OutOrStdout(), "new account key (other devices need it; keep it safe):\n  %s\n", hex.EncodeToString(kB))
	}
	return nil
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
	return &cobra.Command{
		Use:   "logout",
		Short: "Forget the profile's secret and key (the local copy of your data stays)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			all, err := loadSecrets()
			if err != nil {
				return err
			}
			delete(all, a.profileName())
			if err := saveSecrets(all); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "logged out of profile %q\n", a.profileName())
			return nil
		},
	}
}

func newStatusCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Server, user, last sync, backoff, quota and each engine's state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			acct, err := a.account(ctx)
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
			st := map[string]any{"profile": acct.profile, "server": acct.server, "user": acct.user, "client_id": saved.ClientID,
				"last_sync": timeOrEmpty(saved.LastSync), "backoff_until": timeOrEmpty(saved.BackoffUntil), "rotating_keys": saved.RotatingKeys}
			// The server's answer decides the exit code: a status that cannot get in is
			// not a success, whatever the saved state says.
			used, quota, serverErr := acct.client.InfoQuota(ctx)
			if serverErr == nil {
				st["quota_used_kb"], st["quota_kb"] = used, quota
			} else {
				st["server_error"] = oneLine(serverErr)
			}
			authErr := func() error {
				if serverErr != nil && exitCodeOf(serverErr) == exitAuth {
					return serverErr
				}
				return nil
			}
			engines := map[string]any{}
			for _, e := range standardEngines {
				es := saved.Engines[e.name]
				last := ""
				if es.LastServer != 0 {
					last = es.LastServer.String()
				}
				engines[e.name] = map[string]any{"last_server": last, "pending_changes": es.Pending}
			}
			st["engines"] = engines
			if a.v.GetString("output") == "json" {
				if err := writeJSON(cmd.OutOrStdout(), st); err != nil {
					return err
				}
				return authErr()
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "profile   %s\nserver    %s\nuser      %s\nclient    %s\n", acct.profile, acct.server, acct.user, st["client_id"])
			fmt.Fprintf(out, "last sync %s\n", orDash(st["last_sync"].(string)))
			if time.Now().Before(saved.BackoffUntil) {
				fmt.Fprintf(out, "backoff   until %s\n", saved.BackoffUntil.Local().Format(time.RFC1123))
			}
			if saved.RotatingKeys {
				fmt.Fprintln(out, "keys      a rotation did not finish: run `syncctl keys rotate` to finish it")
			}
			if e, ok := st["server_error"]; ok {
				fmt.Fprintf(out, "server    unreachable: %s\n", e)
			} else {
				fmt.Fprintf(out, "quota     %.1f KB used\n", st["quota_used_kb"])
			}
			tw := table(out, "ENGINE", "LAST SERVER TIME", "PENDING")
			for _, e := range standardEngines {
				m := engines[e.name].(map[string]any)
				tw.row(e.name, orDash(m["last_server"].(string)), fmt.Sprint(m["pending_changes"]))
			}
			if err := tw.flush(); err != nil {
				return err
			}
			return authErr()
		},
	}
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
