package main_test

import (
	"bytes"
	"crypto/rand"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/creack/pty"

	"github.com/syncctl/syncctl/fixtures/fxaserver"
	"github.com/syncctl/syncctl/internal/servertest"
	"github.com/syncctl/syncctl/server"
)

// session is syncctl on a terminal of cols columns: a pseudo-terminal is its standard
// input, output and error, as when a person types the command.
type session struct {
	t    *testing.T
	tty  *os.File
	mu   sync.Mutex
	seen bytes.Buffer
	done chan error
}

func (d *device) onTerminal(cols uint16, args ...string) *session {
	d.t.Helper()
	cmd := d.command(args...)
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: cols})
	if err != nil {
		d.t.Fatal(err)
	}
	s := &session{t: d.t, tty: tty, done: make(chan error, 1)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			s.mu.Lock()
			s.seen.Write(buf[:n])
			s.mu.Unlock()
			if err != nil {
				break
			}
		}
		s.done <- cmd.Wait()
	}()
	d.t.Cleanup(func() { cmd.Process.Kill(); tty.Close() })
	return s
}

func (s *session) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen.String()
}

// expect waits for text on the terminal.
func (s *session) expect(text string) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(s.output(), text) {
		if time.Now().After(deadline) {
			s.t.Fatalf("no %q on the terminal; it shows:\n%s", text, s.output())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// typeLine types a line, as a person at the keyboard.
func (s *session) typeLine(line string) {
	if _, err := io.WriteString(s.tty, line+"\r"); err != nil {
		s.t.Fatal(err)
	}
}

// wait returns the exit code and everything the terminal showed.
func (s *session) wait() (int, string) {
	s.t.Helper()
	select {
	case err := <-s.done:
		code := 0
		if ee, ok := err.(interface{ ExitCode() int }); ok {
			code = ee.ExitCode()
		}
		return code, s.output()
	case <-time.After(60 * time.Second):
		s.t.Fatalf("still running; the terminal shows:\n%s", s.output())
	}
	return 0, ""
}

// A secret typed at a prompt is never shown: not the storage secret, not the account
// key, not a Firefox Accounts password. (Before: echoed as typed; --fxa waited with no
// prompt at all.)
func TestSecretsTypedAtATerminalAreNotShown(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	a := newDevice(t)
	key := a.login(srv, "alice", "")

	b := newDevice(t)
	s := b.onTerminal(80, "login", "--server", srv.URL, "--user", "alice")
	s.expect("secret")
	s.typeLine("alice-secret")
	s.expect("account key")
	s.typeLine(key)
	code, shown := s.wait()
	if code != 0 || !strings.Contains(shown, "logged in to") {
		t.Fatalf("exit %d:\n%s", code, shown)
	}
	if strings.Contains(shown, "alice-secret") || strings.Contains(shown, key) {
		t.Errorf("a secret was echoed:\n%s", shown)
	}

	fx, err := fxaserver.New(fxaserver.Account{Email: "me@example.org", Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	fxHTTP := httptest.NewServer(fx.Handler())
	defer fxHTTP.Close()
	fxSrv := servertest.Start(t, server.Options{OAuthVerifyURL: fxHTTP.URL + "/v1/oauth/verify"}, nil)
	c := newDevice(t)
	s = c.onTerminal(80, "login", "--fxa", "me@example.org", "--auth-url", fxHTTP.URL+"/v1", "--token-server", fxSrv.URL, "--client-id", "test")
	s.expect("password for me@example.org")
	s.typeLine("correct horse")
	code, shown = s.wait()
	if code != 0 || !strings.Contains(shown, "logged in to Firefox Accounts") || strings.Contains(shown, "correct horse") {
		t.Errorf("exit %d:\n%s", code, shown)
	}
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// A progress bar fits the terminal it is drawn on: no line wider than the terminal,
// which would wrap into a new line at each refresh. (Before: 80 columns whatever the
// terminal, so a 50-column one filled with lines.)
func TestProgressFitsTheTerminal(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	a := newDevice(t)
	a.login(srv, "alice", "")
	src := t.TempDir()
	for _, name := range []string{"a.bin", "b.bin", "c.bin", "d.bin"} {
		b := make([]byte, 8<<20)
		rand.Read(b)
		os.WriteFile(filepath.Join(src, name), b, 0o644)
	}
	s := a.onTerminal(50, "push", src, "--as", "big")
	code, shown := s.wait()
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, shown)
	}
	redraws := 0
	for _, line := range regexp.MustCompile(`[\r\n]+`).Split(ansi.ReplaceAllString(shown, ""), -1) {
		if !strings.Contains(line, "%") {
			continue // the summary: text, which a terminal wraps as it should
		}
		redraws++
		if n := utf8.RuneCountInString(strings.TrimRight(line, " ")); n > 50 {
			t.Errorf("a progress line of %d columns on a 50-column terminal: %q", n, line)
		}
	}
	if redraws == 0 {
		t.Errorf("no progress drawn:\n%q", shown)
	}
}
