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

// oneLine keeps an error to one line: what went wrong and, for the common cases, what
// to do about it.
func oneLine(err error) string {
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	switch exitCodeOf(err) {
	case exitAuth:
		if !strings.Contains(msg, "login") {
			msg += " (check the secret and key, or run `syncctl login` again)"
		}
	case exitUnavailable:
		msg += " (the server is down or busy; try again later)"
	}
	return msg
}

func isUsageError(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires ", "invalid argument", "flag needs"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// app is what every command shares: configuration and the logger.
type app struct {
	v   *viper.Viper
	log zerolog.Logger
	// stdin is standard input once a command reads lines of it (secrets, keys).
	stdin *bufio.Reader
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
	pf.StringP("output", "o", "table", "output format: table or json")
	pf.String("profile", "", "account profile (default \"default\"; several accounts or servers each get one)")
	root.AddCommand(newServeCmd(a), newVersionCmd(), newQuickstartCmd(a),
		newLoginCmd(a), newLogoutCmd(a), newStatusCmd(a), newInfoCmd(a),
		newLsCmd(a), newGetCmd(a), newPutCmd(a), newRmCmd(a), newSyncCmd(a),
		newExportCmd(a), newImportCmd(a), newWipeCmd(a), newKeysCmd(a), newFreshStartCmd(a), newSendTabCmd(a),
		newConformanceCmd(a), newDaemonCmd(a), newOfflineCmd(a),
		newBookmarksCmd(a), newPasswordsCmd(a), newHistoryCmd(a), newTabsCmd(a),
		newPushCmd(a), newPullCmd(a), newDirsCmd(a))
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
		if !errors.As(err, &notFound) && v.GetString("config") != "" {
			return withCode(exitUsage, fmt.Errorf("config: %w", err))
		}
	}
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
