package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/syncctl/syncctl/conformance"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/token"
)

func newConformanceCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "conformance",
		Short: "Check a SyncStorage 1.5 server against the protocol, case by case",
		Long: `Run the conformance suite against a server: every case checks one behaviour, names the
clause it comes from, and on failure says what was sent, what was expected and what came
back. Cases work in collections of their own and remove them; the account-wide ones
(DELETE /storage, empty-account views) are skipped on an account that holds data unless
--allow-destructive.

Credentials: --secret for a token endpoint (syncctl serve), or --master-secret and
--uid to mint tokens for a node directly (syncstorage-rs); without --server, the current
profile's. --second-secret / --second-uid add a second user for the batch-scoping cases.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.conformance(cmd) },
	}
	f := cmd.Flags()
	f.String("server", "", "the server's URL (its token endpoint, or the node with --master-secret)")
	f.String("secret", "", "secret for the token endpoint")
	f.String("master-secret", "", "the node's master secret, to mint tokens directly")
	f.Uint64("uid", 0, "with --master-secret: the user id")
	f.String("second-secret", "", "a second user's secret")
	f.Uint64("second-uid", 0, "with --master-secret: a second user id")
	f.String("run", "", "run only the cases whose id matches this regexp")
	f.Bool("list", false, "list the cases and exit")
	f.StringArray("report", nil, "also write a report: junit=PATH or json=PATH (repeatable)")
	f.String("level", "should", "must: only MUST cases; should: all")
	f.Bool("allow-destructive", false, "run account-wide cases even on an account that holds data")
	return cmd
}

func (a *app) conformanceTokens(ctx context.Context, server, secret string, uid uint64) (storage.TokenSource, error) {
	if ms := a.v.GetString("master-secret"); ms != "" {
		if uid == 0 {
			return nil, withCode(exitUsage, errors.New("--master-secret needs --uid"))
		}
		return &mintedTokens{secret: token.NewSecret(ms), node: server, uid: uid}, nil
	}
	if secret == "" {
		return nil, nil
	}
	return &storage.TokenServer{URL: server, Bearer: func(context.Context) (string, error) { return secret, nil }}, nil
}

func (a *app) conformance(cmd *cobra.Command) error {
	ctx := cmd.Context()
	opts := conformance.Options{AllowDestructive: a.v.GetBool("allow-destructive")}
	if re := a.v.GetString("run"); re != "" {
		rx, err := regexp.Compile(re)
		if err != nil {
			return withCode(exitUsage, fmt.Errorf("--run: %w", err))
		}
		opts.Filter = rx
	}
	switch strings.ToLower(a.v.GetString("level")) {
	case "must":
		opts.MinLevel = conformance.Must
	case "should", "":
		opts.MinLevel = conformance.Should
	default:
		return withCode(exitUsage, errors.New("--level: must or should"))
	}
	if a.v.GetBool("list") {
		t := table(cmd.OutOrStdout(), "CASE", "LEVEL", "CLAUSE")
		for _, c := range conformance.Select(opts) {
			t.row(c.ID, string(c.Level), c.Clause)
		}
		return t.flush()
	}
	server := strings.TrimSuffix(a.v.GetString("server"), "/")
	if server == "" {
		acct, err := a.account(ctx)
		if err != nil {
			return err
		}
		opts.Tokens = acct.tokens
		acct.close()
	} else {
		var err error
		if opts.Tokens, err = a.conformanceTokens(ctx, server, a.v.GetString("secret"), a.v.GetUint64("uid")); err != nil {
			return err
		}
		if opts.Tokens == nil {
			return withCode(exitUsage, errors.New("--server needs --secret, or --master-secret and --uid"))
		}
		if a.v.GetString("second-secret") != "" || a.v.GetUint64("second-uid") > 0 {
			if opts.SecondTokens, err = a.conformanceTokens(ctx, server, a.v.GetString("second-secret"), a.v.GetUint64("second-uid")); err != nil {
				return err
			}
		}
	}
	rep, err := conformance.Run(ctx, opts)
	if err != nil {
		return err
	}
	for _, spec := range a.v.GetStringSlice("report") {
		format, path, ok := strings.Cut(spec, "=")
		if !ok {
			return withCode(exitUsage, fmt.Errorf("--report %q: want junit=PATH or json=PATH", spec))
		}
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		switch format {
		case "junit":
			err = rep.WriteJUnit(f)
		case "json":
			err = rep.WriteJSON(f)
		default:
			err = withCode(exitUsage, fmt.Errorf("--report: unknown format %q", format))
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	if a.v.GetString("output") == "json" {
		err = rep.WriteJSON(cmd.OutOrStdout())
	} else {
		err = rep.WriteTable(cmd.OutOrStdout())
	}
	if err != nil {
		return err
	}
	if rep.Failed > 0 {
		return fmt.Errorf("%d of %d cases failed", rep.Failed, len(rep.Results))
	}
	return nil
}
