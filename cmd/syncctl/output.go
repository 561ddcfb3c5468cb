package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// tableWriter prints aligned columns.
type tableWriter struct{ tw *tabwriter.Writer }

func table(out io.Writer, headers ...string) *tableWriter {
	t := &tableWriter{tw: tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)}
	t.row(headers...)
	return t
}

func (t *tableWriter) row(cols ...string) { fmt.Fprintln(t.tw, strings.Join(cols, "\t")) }
func (t *tableWriter) flush() error       { return t.tw.Flush() }
