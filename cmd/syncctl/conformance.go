package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/syncctl/syncctl/conformance"
	"github.com/syncctl/syncctl/internal/output"
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
profile's. --second-secret / --second-uid add a second user for the batch-scoping cases.

A failure names its cause; the failures one defect causes are reported once, under it.
A case whose preconditions the server refused is an ERROR, grouped under the refused
request. --expect go-syncstorage or --expect syncstorage-rs reports that server's
documented deviations as known instead of failed, so that what is new stands out.

--tokenserver URL runs the tokenserver suite instead: the token endpoint's rules as
Mozilla's tokenserver enforces them. The runner serves a stand-in for FxA's OAuth
verifier at --fxa-listen; start the tokenserver so that it verifies tokens there
(syncctl serve --oauth-verify-url http://127.0.0.1:8766/v1/verify).

--list shows the catalogue: every behaviour of Mozilla's test suites, with the cases
that check it or why none can on a live server. Exit status: 0 when nothing failed
(known deviations and skips allowed), 1 otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.conformance(cmd) },
	}
	f := cmd.Flags()
	f.String("server", "", "the server's URL (its token endpoint, or the node with --master-secret)")
	f.String("secret", "", "secret for the token endpoint")
	f.String("master-secret", "", "the node's master secret, to mint tokens directly (prefer --master-secret-file)")
	f.String("master-secret-file", "", "read the node's master secret from this file")
	f.String("secret-file", "", "read the token endpoint secret from this file")
	f.Uint64("uid", 0, "with --master-secret: the user id")
	f.String("second-secret", "", "a second user's secret")
	f.Uint64("second-uid", 0, "with --master-secret: a second user id")
	f.String("run", "", "run only the cases whose id matches this regexp")
	f.Bool("list", false, "list the cases and exit")
	f.StringArray("report", nil, "also write a report: junit=PATH or json=PATH (repeatable)")
	f.String("level", "should", "must: only MUST cases; should: all")
	f.Bool("allow-destructive", false, "run account-wide cases even on an account that holds data")
	f.String("expect", "", "report the known deviations of this server as known: "+profileNames())
	f.Bool("summary", false, "print only the one-line summary")
	f.Bool("skip-slow", false, "leave out the cases that wait on the clock (TTLs, token expiry)")
	f.String("tokenserver", "", "run the tokenserver suite against this token server")
	f.String("fxa-listen", "127.0.0.1:8766", "with --tokenserver: where to serve the FxA verifier stand-in")
	return cmd
}

func (a *app) conformanceTokens(cmd *cobra.Command, server, secret string, uid uint64) (storage.TokenSource, error) {
	ms, err := a.secretValue(cmd, "master-secret")
	if err != nil {
		return nil, err
	}
	if ms != "" {
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
	opts.SkipSlow = a.v.GetBool("skip-slow")
	if name := a.v.GetString("expect"); name != "" {
		p, ok := conformance.ProfileNamed(name)
		if !ok {
			return withCode(exitUsage, fmt.Errorf("--expect %q: known servers are %s", name, profileNames()))
		}
		opts.Expect = p
	}
	if a.v.GetBool("list") {
		return a.listConformance(cmd, opts)
	}
	if ts := a.v.GetString("tokenserver"); ts != "" {
		rep, err := a.tokenConformance(cmd, ts, opts)
		if err != nil {
			return err
		}
		return a.writeConformance(cmd, rep)
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
		secret, err := a.secretValue(cmd, "secret")
		if err != nil {
			return err
		}
		if opts.Tokens, err = a.conformanceTokens(cmd, server, secret, a.v.GetUint64("uid")); err != nil {
			return err
		}
		if opts.Tokens == nil {
			return withCode(exitUsage, errors.New("--server needs --secret, or --master-secret and --uid"))
		}
		if a.v.GetString("second-secret") != "" || a.v.GetUint64("second-uid") > 0 {
			if opts.SecondTokens, err = a.conformanceTokens(cmd, server, a.v.GetString("second-secret"), a.v.GetUint64("second-uid")); err != nil {
				return err
			}
		}
	}
	rep, err := conformance.Run(ctx, opts)
	if err != nil {
		return err
	}
	return a.writeConformance(cmd, rep)
}

func profileNames() string {
	var names []string
	for _, p := range conformance.Profiles() {
		names = append(names, p.Name)
	}
	return strings.Join(names, ", ")
}

// listConformance prints the catalogue and the cases.
func (a *app) listConformance(cmd *cobra.Command, opts conformance.Options) error {
	cat := conformance.Catalogue()
	if a.format.Machine() {
		return a.one(cmd, map[string]any{"catalogue": cat, "cases": conformance.Select(opts), "tokenserver_cases": conformance.TokenCases()}, nil)
	}
	out := cmd.OutOrStdout()
	checked := 0
	t := newTable(out, "NO", "SECTION", "BEHAVIOUR", "CHECKED BY")
	for _, e := range cat {
		by := strings.Join(e.Cases, ", ")
		if e.NotApplicable != "" {
			by = "n/a: " + e.NotApplicable
		} else {
			checked++
		}
		title := e.Title
		if e.GoDiffers {
			title += " [GO≠RS]"
		}
		t.Add(nil, strconv.Itoa(e.Number), e.Section, title, by)
	}
	if err := t.Close(); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n%d behaviours (../shared/conformance-cases.md): %d checked, %d not applicable to a live server\n\n", len(cat), checked, len(cat)-checked)
	t = newTable(out, "CASE", "LEVEL", "CLAUSE")
	for _, c := range conformance.Select(opts) {
		t.Add(nil, c.ID, string(c.Level), c.Clause)
	}
	for _, c := range conformance.TokenCases() {
		t.Add(nil, c.ID, string(c.Level), c.Clause)
	}
	return t.Close()
}

// tokenConformance serves the FxA stand-in and runs the tokenserver suite.
func (a *app) tokenConformance(cmd *cobra.Command, url string, opts conformance.Options) (*conformance.Report, error) {
	fxa := conformance.NewFxA()
	ln, err := net.Listen("tcp", a.v.GetString("fxa-listen"))
	if err != nil {
		return nil, withCode(exitUsage, fmt.Errorf("--fxa-listen: %w", err))
	}
	hs := &http.Server{Handler: fxa, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	fmt.Fprintf(cmd.ErrOrStderr(), "FxA verifier stand-in at http://%s/v1/verify (the tokenserver must verify OAuth tokens there)\n", ln.Addr())
	return conformance.RunTokenServer(cmd.Context(), conformance.TokenOptions{URL: url, FxA: fxa, Filter: opts.Filter, Expect: opts.Expect})
}

// writeConformance writes the reports asked for and the report itself, and fails the
// command when a case failed or could not be arranged.
func (a *app) writeConformance(cmd *cobra.Command, rep *conformance.Report) error {
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
	var err error
	switch {
	case a.format == output.JSON:
		err = rep.WriteJSON(cmd.OutOrStdout())
	case a.format.Machine():
		// One line or row per case: the results are what a script reads.
		l := a.list(cmd)
		for _, r := range rep.Results {
			l.Add(r)
		}
		err = l.Close()
	case a.v.GetBool("summary"):
		_, err = fmt.Fprintln(cmd.OutOrStdout(), rep.Summary())
	default:
		err = rep.WriteTable(cmd.OutOrStdout())
	}
	if err != nil {
		return err
	}
	if rep.Bad() {
		return fmt.Errorf("%d of %d cases failed and %d could not be arranged, from %d causes", rep.Failed, len(rep.Results), rep.Errors, len(rep.Causes))
	}
	return nil
}
