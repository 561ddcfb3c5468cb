package main_test

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every secret can reach syncctl without appearing on its command line: the server's
// users and master secret from files, a login's secret and key from files or standard
// input.
func TestSecretsNeverNeedTheCommandLine(t *testing.T) {
	t.Parallel()
	d := newDevice(t)
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	master := filepath.Join(dir, "master")
	os.WriteFile(users, []byte("# the family\nalice:alice-file-secret\nbob: bob-file-secret\n"), 0o600)
	os.WriteFile(master, []byte("a master secret from a file\n"), 0o600)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	serve := d.start("serve", "--listen", addr, "--data-dir", filepath.Join(dir, "data"), "--users-file", users, "--master-secret-file", master)
	base := "http://" + addr
	waitFor(t, "the server", func() bool {
		r, err := http.Get(base + "/__heartbeat__")
		if err == nil {
			r.Body.Close()
		}
		return err == nil
	})
	for _, arg := range serve.Args {
		if strings.Contains(arg, "secret") && !strings.HasPrefix(arg, "--") && !strings.HasPrefix(arg, dir) {
			t.Errorf("a secret on the command line: %q", arg)
		}
	}
	secretFile := filepath.Join(dir, "alice")
	os.WriteFile(secretFile, []byte("alice-file-secret\n"), 0o600)
	var out struct {
		NewKey string `json:"new_key"`
	}
	d.json(&out, "login", "--server", base, "--user", "alice", "--secret-file", secretFile)
	if len(out.NewKey) != 64 {
		t.Fatalf("login with --secret-file: %+v", out)
	}
	d.ok("sync")
	// A second device: the secret and the key through a pipe, one line each.
	e := newDevice(t)
	if r := e.runIn("alice-file-secret\n"+out.NewKey+"\n", "login", "--server", base, "--user", "alice", "--secret", "-", "--key", "-"); r.code != 0 {
		t.Fatalf("login with the secret and the key on standard input: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	e.ok("sync")
	keyFile := filepath.Join(dir, "key")
	os.WriteFile(keyFile, []byte(out.NewKey), 0o644)
	f := newDevice(t)
	r := f.run("login", "--server", base, "--user", "alice", "--secret-file", secretFile, "--key-file", keyFile)
	if r.code != 0 || !strings.Contains(r.stderr, "readable by others") {
		t.Errorf("login with --key-file (0644): exit %d\n%s", r.code, r.stderr)
	}
	// The master secret from the file signs the tokens: the runner mints with it.
	if r := d.run("conformance", "--server", base, "--master-secret-file", master, "--uid", "1", "--run", `^info\.unknown`, "--summary"); r.code != 0 {
		t.Errorf("tokens minted with the file's master secret: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := d.run("login", "--server", base, "--user", "bob", "--secret-file", filepath.Join(dir, "nosuchfile")); r.code != 2 {
		t.Errorf("a missing --secret-file: exit %d", r.code)
	}
}
