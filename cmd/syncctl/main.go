// Command syncctl syncs, inspects and serves Firefox-Sync-style encrypted records, and
// checks SyncStorage servers against the protocol.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/syncctl/syncctl/internal/output"
)

// Exit codes, documented in the README.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitAuth        = 3
	exitUnavailable = 4
)

// exitError carries an exit code through cobra.
type codedError struct {
	code int
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

func withCode(code int, err error) error { return &codedError{code: code, err: err} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot()
	err := root.ExecuteContext(ctx)
	if err == nil {
		os.Exit(exitOK)
	}
	fmt.Fprintln(os.Stderr, "syncctl:", oneLine(err))
	os.Exit(exitCodeOf(err))
}

// maxErrorLine is the longest error line printed, in characters.
const maxErrorLine = 300

// oneLine keeps an error to one line: what went wrong and, for the common cases, what
// to do about it.
func oneLine(err error) string {
	msg := strings.Join(strings.Fields(explain(err)), " ")
	// One line a person reads: a longer one (a server's page of HTML, many joined
	// errors) is cut; -vv logs the whole error.
	if r := []rune(msg); len(r) > maxErrorLine {
		msg = string(r[:maxErrorLine-1]) + "…"
	}
	switch exitCodeOf(err) {
	case exitAuth:
		if !strings.Contains(msg, "login") {
			msg += " (check the secret and key, or run `syncctl login` again)"
		}
	case exitUnavailable:
		if !strings.Contains(msg, "try again") && !strings.Contains(msg, "server is down") {
			msg += " (the server is down or busy; try again later)"
		}
	}
	return msg
}

// app is what every command shares: configuration and the logger.
type app struct {
	v   *viper.Viper
	log zerolog.Logger
	// stdin is standard input once a command reads lines of it (secrets, keys).
	stdin *bufio.Reader
	// format is -o, checked before any command runs.
	format output.Format
	// rotating is set by keys rotate: the one command an unfinished rotation allows.
	rotating bool
}

func newRoot() *cobra.Command {
	a := &app{v: viper.New()}
	root := &cobra.Command{
		Use:           "syncctl",
		Short:         "Sync, inspect and serve end-to-end encrypted Firefox Sync records",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.init(cmd)
		},
	}
	pf := root.PersistentFlags()
	pf.String("config", "", "config file (default $XDG_CONFIG_HOME/syncctl/config.toml)")
	pf.String("log-level", "warn", "log level: debug, info, warn, error")
	pf.CountP("verbose", "v", "more logging (-v info, -vv debug)")
	pf.StringP("output", "o", "table", "output format: table, json, jsonl, csv or tsv")
	pf.Bool("utc", false, "print times in UTC (default: local time, with its zone)")
	pf.String("device-name", "", "how this device appears to your other devices (default \"syncctl on <host>\"; saved per profile at login)")
	pf.String("profile", "", "account profile (default \"default\"; several accounts or servers each get one)")
	root.AddCommand(newServeCmd(a), newVersionCmd(a), newQuickstartCmd(a), newUICmd(a),
		newLoginCmd(a), newLogoutCmd(a), newStatusCmd(a), newInfoCmd(a),
		newLsCmd(a), newGetCmd(a), newPutCmd(a), newRmCmd(a), newSyncCmd(a),
		newExportCmd(a), newImportCmd(a), newWipeCmd(a), newKeysCmd(a), newFreshStartCmd(a), newSendTabCmd(a),
		newConformanceCmd(a), newDaemonCmd(a), newOfflineCmd(a),
		newBookmarksCmd(a), newPasswordsCmd(a), newHistoryCmd(a), newTabsCmd(a),
		newPushCmd(a), newPullCmd(a), newDirsCmd(a), newProfileCmd(a), newFormsCmd(a))
	root.AddCommand(newManCmd(a, root))
	root.RegisterFlagCompletionFunc("profile", a.completeProfiles)
	root.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		var names []string
		for _, f := range output.Formats {
			names = append(names, string(f))
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})
	for _, path := range [][]string{{"ls"}, {"get"}, {"put"}, {"rm"}, {"wipe"}, {"export"}} {
		if c, _, err := root.Find(path); err == nil {
			c.ValidArgsFunction = a.completeCollections
		}
	}
	for _, path := range [][]string{{"pull"}, {"dirs", "rm"}} {
		if c, _, err := root.Find(path); err == nil {
			c.ValidArgsFunction = a.completeDirs
		}
	}
	root.Version = versionString()
	root.SetVersionTemplate("syncctl {{.Version}}\n")
	contract(root)
	return root
}

// init reads the config file, SYNCCTL_* variables and flags, flags winning, and sets up
// logging: a console writer on a terminal, JSON lines otherwise.
func (a *app) init(cmd *cobra.Command) error {
	v := a.v
	v.SetEnvPrefix("SYNCCTL")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_", ".", "_"))
	v.AutomaticEnv()
	if err := v.BindPFlags(cmd.Flags()); err != nil {
		return err
	}
	if file := v.GetString("config"); file != "" {
		v.SetConfigFile(file)
	} else {
		v.SetConfigName("config")
		v.SetConfigType("toml")
		v.AddConfigPath(configDir())
	}
	if err := v.ReadInConfig(); err != nil {
		var notFound viper.ConfigFileNotFoundError
		if !errors.As(err, &notFound) {
			return withCode(exitUsage, configError(v.ConfigFileUsed(), err))
		}
	}
	format, err := output.Parse(v.GetString("output"))
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("-o: %w", err))
	}
	a.format = format
	level, err := zerolog.ParseLevel(v.GetString("log-level"))
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("--log-level: %w", err))
	}
	switch n := v.GetInt("verbose"); {
	case n >= 2:
		level = zerolog.DebugLevel
	case n == 1 && level > zerolog.InfoLevel:
		level = zerolog.InfoLevel
	}
	var out = zerolog.New(os.Stderr)
	if isatty.IsTerminal(os.Stderr.Fd()) {
		out = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr})
	}
	a.log = out.Level(level).With().Timestamp().Logger()
	return nil
}

// configDir is $XDG_CONFIG_HOME/syncctl, else ~/.config/syncctl.
func configDir() string {
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "syncctl")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".config", "syncctl")
}

// dataDir is $XDG_DATA_HOME/syncctl, else ~/.local/share/syncctl.
func dataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "syncctl")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "share", "syncctl")
}
