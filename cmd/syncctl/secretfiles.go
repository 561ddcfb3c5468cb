package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// secretValue is a secret given the ways that keep it off the command line: from the file
// --NAME-file names (which should be 0600; a wider one draws a warning), from standard
// input when the value is "-", or from SYNCCTL_<NAME> through the configuration. The
// flag itself still works, but shows the secret to every local user in ps.
func (a *app) secretValue(cmd *cobra.Command, name string) (string, error) {
	if path := a.v.GetString(name + "-file"); path != "" {
		fi, err := os.Stat(path)
		if err != nil {
			return "", withCode(exitUsage, fmt.Errorf("--%s-file: %w", name, err))
		}
		if fi.Mode().Perm()&0o077 != 0 {
			fmt.Fprintf(cmd.ErrOrStderr(), "syncctl: warning: %s is readable by others (mode %v); chmod 600 it\n", path, fi.Mode().Perm())
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", withCode(exitUsage, fmt.Errorf("--%s-file: %w", name, err))
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", withCode(exitUsage, fmt.Errorf("--%s-file: %s is empty", name, path))
		}
		return v, nil
	}
	v := a.v.GetString(name)
	if v != "-" {
		return v, nil
	}
	line, err := a.stdinLine(cmd)
	if err != nil || line == "" {
		return "", withCode(exitUsage, fmt.Errorf("--%s -: no line on standard input", name))
	}
	return line, nil
}

// askSecret is a secret from secretValue's sources, else typed at the terminal without
// echo (question on standard error), else a line of standard input when it is a pipe.
// "" with no error means none was given.
func (a *app) askSecret(cmd *cobra.Command, name, question string) (string, error) {
	v, err := a.secretValue(cmd, name)
	if err != nil || v != "" {
		return v, err
	}
	if in, ok := cmd.InOrStdin().(*os.File); ok && term.IsTerminal(int(in.Fd())) {
		restore, err := echoOff(int(in.Fd()))
		if err != nil {
			return "", fmt.Errorf("reading the %s from the terminal: %w", name, err)
		}
		fmt.Fprint(cmd.ErrOrStderr(), question)
		b, err := term.ReadPassword(int(in.Fd()))
		restore()
		fmt.Fprintln(cmd.ErrOrStderr())
		if err != nil {
			return "", fmt.Errorf("reading the %s from the terminal: %w", name, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return a.stdinLine(cmd)
}

// stdinLine reads one line of standard input; successive calls read successive lines,
// so that a secret and a key can both come through a pipe.
func (a *app) stdinLine(cmd *cobra.Command) (string, error) {
	if a.stdin == nil {
		a.stdin = bufio.NewReader(cmd.InOrStdin())
	}
	line, err := a.stdin.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) { // a last line without its newline is fine
		return "", err
	}
	return strings.TrimSpace(line), nil
}

// usersFile reads "name:secret" lines (blank lines and # comments skipped).
func usersFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--users-file: %w", err)
	}
	users := map[string]string{}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, secret, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) == "" || strings.TrimSpace(secret) == "" {
			return nil, fmt.Errorf("--users-file %s:%d: want name:secret", path, i+1)
		}
		users[strings.TrimSpace(name)] = strings.TrimSpace(secret)
	}
	return users, nil
}
