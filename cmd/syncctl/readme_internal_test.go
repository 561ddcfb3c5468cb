package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The README's usage section is the CLI's: every command it shows exists, with every
// flag it shows, and the first-build warning sits under the two commands at its top.
func TestTheREADMEsCommandsAreTheCLIs(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	top := readme[:strings.Index(readme, "## What is here")]
	if !strings.Contains(top, "go run ./cmd/syncctl quickstart") || !strings.Contains(top, "The first `go run` downloads") {
		t.Error("the README's top lacks the quickstart command or the first-build warning")
	}
	usage := readme[strings.Index(readme, "## Using `syncctl`"):]
	usage = usage[:strings.Index(usage, "## Checking a server")]
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(usage, -1)
	root := newRoot()
	checked := 0
	for _, blk := range blocks {
		for _, line := range strings.Split(blk[1], "\n") {
			line, _, _ = strings.Cut(line, " #")
			for _, part := range strings.Split(line, ";") {
				words := shellWords(strings.TrimSpace(part))
				if len(words) < 2 || words[0] != "syncctl" {
					continue
				}
				for i, w := range words {
					words[i], _, _ = strings.Cut(w, "|") // "bash|zsh": the first of the choices
				}
				cmd, rest, err := root.Find(words[1:])
				if err != nil || cmd == root {
					t.Errorf("README: %q: no such command (%v)", part, err)
					continue
				}
				if cmd.HasSubCommands() && len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
					t.Errorf("README: %q: `%s` has no subcommand %s", part, cmd.CommandPath(), rest[0])
				}
				for _, w := range rest {
					name, _, _ := strings.Cut(strings.TrimLeft(w, "["), "=")
					if !strings.HasPrefix(name, "--") {
						continue
					}
					name = strings.TrimRight(strings.TrimPrefix(name, "--"), "]")
					if cmd.Flags().Lookup(name) == nil && cmd.InheritedFlags().Lookup(name) == nil && root.PersistentFlags().Lookup(name) == nil {
						t.Errorf("README: %q: `%s` has no flag --%s", part, cmd.CommandPath(), name)
					}
				}
				checked++
			}
		}
	}
	if checked < 40 {
		t.Errorf("only %d commands found in the README's usage section", checked)
	}
}

// shellWords splits a command line as a shell would, for the quoting the README uses.
func shellWords(s string) []string {
	var out []string
	var cur strings.Builder
	quote := rune(0)
	in := false
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}
