package main

import (
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// progress is a bar on standard error when it is a terminal, and nothing otherwise
// (pipes and CI logs get no carriage returns). progressbar fits it to the terminal's
// width, as that is when it is drawn, and shows the rate and the time left.
type progress struct {
	out   io.Writer
	label string
	bar   *progressbar.ProgressBar
	bytes bool
	total int64
	count int // records so far
}

// newProgress counts records; total is -1 when unknown (a count and a rate, no bar).
func newProgress(cmd *cobra.Command, label string, total int64) *progress {
	p := &progress{out: terminal(cmd), label: label, total: total}
	p.start(total)
	return p
}

// newByteProgress counts bytes, its total given with each update (set).
func newByteProgress(cmd *cobra.Command) *progress {
	return &progress{out: terminal(cmd), bytes: true, total: -2}
}

func (p *progress) start(total int64) {
	if p.out == nil {
		return
	}
	// progressbar narrows the bar to fit, not the words around it: on a narrow terminal
	// the words are fewer.
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(p.out),
		progressbar.OptionSetDescription(p.label),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(total > 0 && !p.narrow()),
		progressbar.OptionSetElapsedTime(!p.narrow()),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetRenderBlankState(false),
		progressbar.OptionUseANSICodes(true),
	}
	if p.bytes {
		opts = append(opts, progressbar.OptionShowBytes(true))
	} else {
		opts = append(opts, progressbar.OptionSetItsString("records"), progressbar.OptionShowIts())
	}
	p.bar = progressbar.NewOptions64(total, opts...)
}

// narrow is a terminal too small for the long form of a progress line.
func (p *progress) narrow() bool {
	f, ok := p.out.(*os.File)
	if !ok {
		return false
	}
	cols, _, err := term.GetSize(int(f.Fd()))
	return err == nil && cols < 72
}

// terminal is standard error if it is a terminal, else nil.
func terminal(cmd *cobra.Command) io.Writer {
	if f, ok := cmd.ErrOrStderr().(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		return f
	}
	return nil
}

func (p *progress) add(n int) {
	p.count += n
	if p.bar != nil {
		p.bar.Add(n)
	}
}

// set moves a byte bar to done of total, under a label; a new label starts a new bar.
func (p *progress) set(label string, done, total int64) {
	if p.out == nil {
		return
	}
	if p.bar == nil || label != p.label || total != p.total {
		if p.bar != nil {
			p.bar.Finish()
		}
		p.label, p.total = label, total
		p.start(max(total, -1))
	}
	p.bar.Set64(min(done, max(total, done)))
}

func (p *progress) done() {
	if p.bar != nil {
		p.bar.Finish()
		p.bar.Clear()
	}
}
