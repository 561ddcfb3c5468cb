package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/syncctl/syncctl/internal/output"
)

// list starts a list result in the format of -o: cols for people, the item itself for
// scripts.
func (a *app) list(cmd *cobra.Command, head ...string) *output.List {
	return output.NewList(cmd.OutOrStdout(), a.format, head...)
}

// one prints a single result: text for people, v for scripts.
func (a *app) one(cmd *cobra.Command, v any, text func(io.Writer) error) error {
	return output.One(cmd.OutOrStdout(), a.format, v, text)
}

// say is text for people that is one formatted line.
func say(format string, args ...any) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := fmt.Fprintf(w, format+"\n", args...)
		return err
	}
}

// when is a time as people read it: local time with its zone, or UTC with --utc.
func (a *app) when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	if a.v.GetBool("utc") {
		return t.UTC().Format("2006-01-02 15:04:05 MST")
	}
	return t.Local().Format("2006-01-02 15:04:05 MST")
}

// plural is "1 record", "2 records".
func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// newTable is a table for people inside a command's text, whatever -o says.
func newTable(w io.Writer, head ...string) *output.List {
	return output.NewList(w, output.Table, head...)
}
