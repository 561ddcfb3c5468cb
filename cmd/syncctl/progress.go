package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
)

// progress is a one-line counter on standard error when it is a terminal, silent
// otherwise (pipes and CI logs get no carriage returns).
type progress struct {
	out   io.Writer
	label string
	n     int
	last  time.Time
}

func newProgress(cmd *cobra.Command, label string) *progress {
	return &progress{label: label, out: terminal(cmd)}
}

// terminal is standard error if it is a terminal, else nil: progress lines are for
// people, and pipes and CI logs get no carriage returns.
func terminal(cmd *cobra.Command) io.Writer {
	if f, ok := cmd.ErrOrStderr().(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		return f
	}
	return nil
}

func (p *progress) add(n int) {
	p.n += n
	if p.out != nil && time.Since(p.last) > 100*time.Millisecond {
		fmt.Fprintf(p.out, "\r%s: %d records", p.label, p.n)
		p.last = time.Now()
	}
}

func (p *progress) done() {
	if p.out != nil && p.n > 0 {
		fmt.Fprintf(p.out, "\r%s: %d records, done\n", p.label, p.n)
	}
}
