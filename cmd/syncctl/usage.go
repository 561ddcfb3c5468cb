package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/spf13/cobra"
)

// contract makes every command keep the README's promises about arguments: a missing
// or extra argument, an unknown flag, subcommand or shell is a usage error (exit 2)
// that names what was expected, not cobra's "accepts 1 arg(s)".
func contract(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return withCode(exitUsage, fmt.Errorf("%w (see `%s --help`)", err, cmd.CommandPath()))
	})
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		switch {
		case cmd.Name() == "completion":
			shells := []string{}
			for _, c := range cmd.Commands() {
				shells = append(shells, c.Name())
			}
			cmd.Args = nil
			cmd.RunE = func(cmd *cobra.Command, args []string) error {
				if len(args) == 0 {
					return withCode(exitUsage, fmt.Errorf("name a shell: %s", strings.Join(shells, ", ")))
				}
				return withCode(exitUsage, fmt.Errorf("no completion for %q: want one of %s", args[0], strings.Join(shells, ", ")))
			}
		case cmd.HasSubCommands() && cmd.RunE == nil && cmd.Run == nil:
			// A group: a word that is none of its subcommands is a usage error.
			cmd.Args = nil
			cmd.RunE = func(cmd *cobra.Command, args []string) error {
				if len(args) == 0 {
					return withCode(exitUsage, fmt.Errorf("`%s` needs a subcommand: %s", cmd.CommandPath(), subcommands(cmd)))
				}
				return withCode(exitUsage, fmt.Errorf("`%s` has no subcommand %q: want %s", cmd.CommandPath(), args[0], subcommands(cmd)))
			}
		case cmd.Args != nil:
			check := cmd.Args
			cmd.Args = func(cmd *cobra.Command, args []string) error {
				if err := check(cmd, args); err != nil {
					return withCode(exitUsage, argsError(cmd, args))
				}
				return nil
			}
		}
		for _, c := range cmd.Commands() {
			walk(c)
		}
	}
	walk(root)
}

func subcommands(cmd *cobra.Command) string {
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	return strings.Join(names, ", ")
}

// argsError names what the command's usage line asks for and what was given.
func argsError(cmd *cobra.Command, args []string) error {
	words := strings.Fields(cmd.Use)[1:]
	var required []string
	for _, w := range words {
		if !strings.HasPrefix(w, "[") {
			required = append(required, strings.TrimSuffix(w, "..."))
		}
	}
	usage := cmd.CommandPath()
	if len(words) > 0 {
		usage += " " + strings.Join(words, " ")
	}
	switch {
	case len(words) == 0:
		return fmt.Errorf("`%s` takes no arguments (got %q)", cmd.CommandPath(), strings.Join(args, " "))
	case len(args) < len(required):
		return fmt.Errorf("missing %s (usage: %s)", strings.Join(required[len(args):], " "), usage)
	default:
		return fmt.Errorf("too many arguments (usage: %s)", usage)
	}
}

// configError says where in the config file a parse error is.
func configError(path string, err error) error {
	var decode *toml.DecodeError
	if errors.As(err, &decode) {
		row, col := decode.Position()
		return fmt.Errorf("%s:%d:%d: %s (fix the config file, or pass --config with another)", path, row, col, decode.Error())
	}
	return fmt.Errorf("%s: %w", path, err)
}
