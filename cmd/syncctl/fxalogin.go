package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/fxa"
	"github.com/syncctl/syncctl/storage"
)

// fxaSecrets are a Firefox Accounts profile's secrets.
type fxaSecrets struct {
	AuthURL     string           `json:"authURL"`
	ClientID    string           `json:"clientID"`
	Credentials *fxa.Credentials `json:"credentials"`
}

// fxaEnvironment is --env, with --auth-url and --token-server overriding its parts.
func (a *app) fxaEnvironment() (fxa.Environment, error) {
	env := fxa.Production
	switch strings.ToLower(a.v.GetString("env")) {
	case "", "production":
	case "stage":
		env = fxa.Stage
	case "china":
		env = fxa.China
	default:
		return env, withCode(exitUsage, fmt.Errorf("--env: production, stage or china"))
	}
	if u := a.v.GetString("auth-url"); u != "" {
		env.AuthURL = strings.TrimSuffix(u, "/")
	}
	if u := a.v.GetString("token-server"); u != "" {
		env.TokenServerURL = strings.TrimSuffix(u, "/")
	}
	if id := a.v.GetString("client-id"); id != "" {
		env.ClientID = id
	}
	return env, nil
}

// askFor returns a prompt that uses the flag's value, else asks on a terminal, else
// is nil (the login then says which flag it needs).
func askFor(cmd *cobra.Command, value, question string) func(context.Context) (string, error) {
	if value != "" {
		return func(context.Context) (string, error) { return value, nil }
	}
	in, ok := cmd.InOrStdin().(*os.File)
	if !ok || !isatty.IsTerminal(in.Fd()) {
		return nil
	}
	return func(context.Context) (string, error) {
		fmt.Fprint(cmd.ErrOrStderr(), question)
		line, err := bufio.NewReader(in).ReadString('\n')
		return strings.TrimSpace(line), err
	}
}

func (a *app) loginFxA(cmd *cobra.Command, email string) error {
	ctx := cmd.Context()
	env, err := a.fxaEnvironment()
	if err != nil {
		return err
	}
	password, err := a.askSecret(cmd, "password", fmt.Sprintf("Firefox Accounts password for %s (not shown): ", email))
	if err != nil {
		return err
	}
	if password == "" {
		return withCode(exitUsage, errors.New("no password: pass --password-file FILE, set SYNCCTL_PASSWORD, or type it when asked"))
	}
	client := &fxa.Client{Env: env}
	cr, err := client.Login(ctx, email, password, fxa.Prompts{
		TOTP:        askFor(cmd, a.v.GetString("totp"), "code from your authenticator app: "),
		EmailCode:   askFor(cmd, a.v.GetString("email-code"), "code Mozilla sent by email: "),
		UnblockCode: askFor(cmd, a.v.GetString("unblock-code"), "unblock code Mozilla sent by email: "),
		VerifyPoll:  a.v.GetDuration("wait-verify"),
	})
	if err != nil {
		if errors.Is(err, fxa.ErrRequestBlocked) {
			err = fmt.Errorf("%w; run login again with --unblock-code CODE", err)
		}
		var fe *fxa.Error
		if unreachable(err) || errors.As(err, &fe) && fe.RetryAfter > 0 {
			return withCode(exitUnavailable, fmt.Errorf("login to Firefox Accounts: %w", err))
		}
		return withCode(exitAuth, fmt.Errorf("login to Firefox Accounts: %w", err))
	}
	return a.saveFxA(cmd, env, cr)
}

// loginFxAOAuth logs in in the browser: syncctl prints the authorization URL and reads
// back where the browser was sent (or the code). It never sees the password.
func (a *app) loginFxAOAuth(cmd *cobra.Command) error {
	env, err := a.fxaEnvironment()
	if err != nil {
		return err
	}
	client := &fxa.Client{Env: env}
	flow, err := client.BeginOAuth(a.v.GetString("redirect-uri"))
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "open this in a browser and log in:\n  %s\n", flow.URL)
	redirect := a.v.GetString("code")
	if redirect == "" {
		fmt.Fprint(cmd.ErrOrStderr(), "then paste the address the browser was sent to (or the code): ")
		line, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
		redirect = strings.TrimSpace(line)
	}
	cr, err := client.CompleteOAuth(cmd.Context(), flow, redirect)
	if err != nil {
		return withCode(exitAuth, fmt.Errorf("login to Firefox Accounts: %w", err))
	}
	if cr.Email == "" {
		cr.Email = a.v.GetString("user")
	}
	return a.saveFxA(cmd, env, cr)
}

// saveFxA keeps Firefox Accounts credentials in secrets.json, points the profile at the
// tokenserver, and sets a new account's storage up.
func (a *app) saveFxA(cmd *cobra.Command, env fxa.Environment, cr *fxa.Credentials) error {
	ctx := cmd.Context()
	profile := a.profileName()
	all, err := loadSecrets()
	if err != nil {
		return err
	}
	all[profile] = secrets{FxA: &fxaSecrets{AuthURL: env.AuthURL, ClientID: env.ClientID, Credentials: cr}}
	if err := saveSecrets(all); err != nil {
		return err
	}
	if err := writeProfile(profile, map[string]string{"server": env.TokenServerURL, "user": cr.Email}); err != nil {
		return err
	}
	a.v.Set(a.profileKey("server"), env.TokenServerURL)
	a.v.Set(a.profileKey("user"), cr.Email)
	acct, err := a.account(ctx)
	if err != nil {
		return err
	}
	defer acct.close()
	if _, err := acct.client.GetRecord(ctx, crypto.KeysCollection, crypto.KeysID); errors.Is(err, storage.ErrNotFound) {
		s, err := acct.session(ctx, a, cmd.ErrOrStderr())
		if err == nil {
			_, err = s.Sync(ctx)
		}
		if err != nil {
			return fmt.Errorf("setting up Sync: %w", err)
		}
	} else if err != nil {
		return err
	}
	who := cr.Email
	if who == "" {
		who = "your account"
	}
	fmt.Fprintf(cmd.OutOrStdout(), "logged in to Firefox Accounts as %s (profile %q)\n", who, profile)
	return nil
}

// fxaTokens is the token source of a Firefox Accounts profile: the OAuth access token,
// refreshed (and saved) when it runs out, and the X-KeyID of the account's keys.
func fxaTokens(a *app, profile, server string, fs *fxaSecrets) storage.TokenSource {
	client := &fxa.Client{Env: fxa.Environment{AuthURL: fs.AuthURL, ClientID: fs.ClientID}}
	return &storage.TokenServer{URL: server, KeyID: fs.Credentials.KeyID, Bearer: func(ctx context.Context) (string, error) {
		tok, refreshed, err := client.Bearer(ctx, fs.Credentials)
		if err != nil {
			return "", err
		}
		if refreshed {
			all, err := loadSecrets()
			if err == nil {
				sec := all[profile]
				sec.FxA = fs
				all[profile] = sec
				err = saveSecrets(all)
			}
			if err != nil {
				a.log.Warn().Err(err).Msg("saving the refreshed token")
			}
		}
		return tok, nil
	}}
}
