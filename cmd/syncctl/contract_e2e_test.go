package main_test

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/internal/servertest"
	"github.com/syncctl/syncctl/server"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/wbo"
)

// rawStrings are what a person should never read in an error: Go types, HTTP status
// lines with URLs, cobra's argument counts, SQLite codes.
var rawStrings = regexp.MustCompile(`Go value|json: |WEAVE \d|\(WEAVE|accepts \d+ arg|received \d+|\(14\)|unable to open database file$|GET http|PUT http|POST http|dial tcp|strconv\.|\*\w+\.\w+Error`)

// dying breaks the server's storage requests when set: 1 cuts the connection before
// any answer, 2 after the headers and half a body.
type dying struct{ mode atomic.Int32 }

func (d *dying) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mode := d.mode.Load()
		if (mode != 1 && mode != 2) || !strings.HasPrefix(r.URL.Path, "/1.5/") {
			h.ServeHTTP(w, r)
			return
		}
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		if mode == 2 {
			buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4000\r\nX-Weave-Timestamp: 1700000000.00\r\n\r\n[{\"id\":\"a")
			buf.Flush()
		}
		conn.Close()
	})
}

// TestEveryExitCodeAsDocumented is the README's exit-code contract, one row per way a
// person meets each code: 0 ok, 1 error, 2 usage, 3 authentication, 4 server down or
// backoff. Every error is one line, says what to do, and has no raw Go or HTTP text.
func TestEveryExitCodeAsDocumented(t *testing.T) {
	t.Parallel()
	die := &dying{}
	srv := servertest.Start(t, server.Options{}, die.wrap)
	a := newDevice(t)
	key := a.login(srv, "alice", "")
	a.ok("put", "bookmarks", "aaaaaaaaaaaa", `{"type":"bookmark","parentid":"unfiled","bmkUri":"https://a.example","title":"A"}`)

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	down, _ := net.Listen("tcp", "127.0.0.1:0")
	downURL := "http://" + down.Addr().String()
	down.Close()

	// A profile whose local store cannot be opened: its database path is a directory.
	broken := newDevice(t)
	broken.login(srv, "alice", key)
	os.Remove(filepath.Join(broken.home, "data", "syncctl", "default.db"))
	os.MkdirAll(filepath.Join(broken.home, "data", "syncctl", "default.db", "x"), 0o700)

	// A config file with a typo on line 3.
	typo := newDevice(t)
	typo.login(srv, "alice", key)
	cfg := filepath.Join(typo.home, "config", "syncctl", "config.toml")
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, []byte("# mine\n\nlog-level = \"warn\n"+string(b)), 0o600)

	big := `{"type":"bookmark","parentid":"unfiled","bmkUri":"https://a.example","title":"` + strings.Repeat("x", 1_500_000) + `"}`
	for _, c := range []struct {
		name  string
		dev   *device
		args  []string
		stdin string
		code  int
		says  string // the error (or output) says this
		dying int32  // the server breaks this way during the command
	}{
		{"version", a, []string{"version"}, "", 0, "syncctl ", 0},
		{"--version", a, []string{"--version"}, "", 0, "syncctl ", 0},
		{"status", a, []string{"status"}, "", 0, "profile", 0},

		{"serve on a busy port", a, []string{"serve", "--listen", busy.Addr().String(), "--user", "u:s", "--data-dir", privateDir(t)}, "", 1, "another program is listening", 0},
		{"an unfinished pull over local edits", nil, nil, "", 1, "", 0}, // TestPullKeepsLocalEdits
		{"a record that does not exist", a, []string{"get", "bookmarks", "nosuchidxxxx"}, "", 1, "no such record on the server", 0},

		{"-o xml", a, []string{"version", "-o", "xml"}, "", 2, "unknown output format \"xml\": want one of table, json, jsonl, csv, tsv", 0},
		{"-o yaml on a list", a, []string{"ls", "bookmarks", "-o", "yaml"}, "", 2, "unknown output format", 0},
		{"an unknown command", a, []string{"nosuchcommand"}, "", 2, "unknown command", 0},
		{"an unknown flag", a, []string{"ls", "bookmarks", "--nosuchflag"}, "", 2, "unknown flag: --nosuchflag (see `syncctl ls --help`)", 0},
		{"a missing argument", a, []string{"ls"}, "", 2, "missing COLLECTION (usage: syncctl ls COLLECTION)", 0},
		{"two missing arguments", a, []string{"get"}, "", 2, "missing COLLECTION ID", 0},
		{"too many arguments", a, []string{"version", "extra"}, "", 2, "takes no arguments", 0},
		{"an unknown subcommand", a, []string{"bookmarks", "nosuch"}, "", 2, "has no subcommand \"nosuch\"", 0},
		{"completion for an unknown shell", a, []string{"completion", "tcsh"}, "", 2, "no completion for \"tcsh\": want one of bash, fish, powershell, zsh", 0},
		{"sync of an unknown engine", a, []string{"sync", "nosuchengine"}, "", 2, "no engine nosuchengine: want clients, bookmarks", 0},
		{"a server without a scheme", newDevice(t), []string{"login", "--server", "127.0.0.1:8000", "--secret", "x"}, "", 2, "want a URL that starts with http:// or https://, like http://127.0.0.1:8000", 0},
		{"serve --db that is not PostgreSQL", a, []string{"serve", "--db", "mysql://db/sync", "--user", "u:s", "--data-dir", privateDir(t)}, "", 2, "--db \"mysql://db/sync\": want a PostgreSQL URL", 0},
		{"serve --db where nothing listens", a, []string{"serve", "--db", "postgres://u@127.0.0.1:1/sync", "--master-secret", "m", "--user", "u:s", "--data-dir", privateDir(t)}, "", 4, "--db: PostgreSQL does not answer", 0},
		{"serve --node that is not a URL", a, []string{"serve", "--node", "ftp://x", "--user", "u:s", "--data-dir", privateDir(t)}, "", 2, "a storage node must be an http:// or https:// URL", 0},
		{"serve migrate without --to", a, []string{"serve", "migrate", "--from", privateDir(t)}, "", 2, "missing --from DIR and --to URL", 0},
		{"serve migrate from no server's data", a, []string{"serve", "migrate", "--from", privateDir(t), "--to", "postgres://u@127.0.0.1:1/sync"}, "", 2, "no syncctl serve data there", 0},
		{"serve --listen nonsense", a, []string{"serve", "--listen", "nonsense", "--user", "u:s", "--data-dir", privateDir(t)}, "", 2, "--listen \"nonsense\": want host:port", 0},
		{"invalid JSON", a, []string{"put", "bookmarks", "aaaaaaaaaaaa", `{"type":`}, "", 2, "invalid JSON at byte 8", 0},
		{"JSON that is not an object", a, []string{"put", "bookmarks", "aaaaaaaaaaaa", `[1]`}, "", 2, "got a JSON array", 0},
		{"a bookmark Firefox would drop", a, []string{"put", "bookmarks", "aaaaaaaaaaaa", `{"type":"bookmark","parentid":"unfiled"}`}, "", 2, "bmkUri \"\": want an absolute URL", 0},
		{"a record no sync could upload", a, []string{"put", "bookmarks", "bbbbbbbbbbbb", "-"}, big, 2, "too large for this server once encrypted (2.0 MB): a sync could never upload it", 0},
		{"a typo in the config file", typo, []string{"status"}, "", 2, "config.toml:3:", 0},
		{"wipe without a terminal or --yes", a, []string{"wipe"}, "", 2, "pass --yes to confirm", 0},

		{"a wrong secret", newDevice(t), []string{"login", "--server", srv.URL, "--secret", "wrong"}, "", 3, "refused this secret", 0},
		{"a wrong account key", newDevice(t), []string{"login", "--server", srv.URL, "--secret", "alice-secret", "--key", strings.Repeat("00", 32)}, "", 3, "sync key", 0},
		{"not logged in", newDevice(t), []string{"ls", "bookmarks"}, "", 3, "is not logged in: run `syncctl login", 0},

		{"a server that is down, at login", newDevice(t), []string{"login", "--server", downURL, "--secret", "x"}, "", 4, "nothing is listening there", 0},
		{"a name not in DNS, at login --fxa", newDevice(t), []string{"login", "--fxa", "me@example.com", "--password", "pw", "--auth-url", "http://nosuchhost.invalid"}, "", 4, "cannot find the server \"nosuchhost.invalid\"", 0},
		{"a server that dies before answering", a, []string{"ls", "bookmarks"}, "", 4, "the server is down or restarting", 1},
		{"a server that dies mid-answer", a, []string{"ls", "bookmarks"}, "", 4, "the server is down or restarting", 2},
		{"a server that dies during a sync", a, []string{"sync"}, "", 4, "the server is down or restarting", 1},

		{"a local store that cannot be opened", broken, []string{"ls", "bookmarks"}, "", 1, "opening the local store " + filepath.Join(broken.home, "data", "syncctl", "default.db"), 0},
	} {
		if c.dev == nil {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			die.mode.Store(c.dying)
			defer die.mode.Store(0)
			r := c.dev.runIn(c.stdin, c.args...)
			if r.code != c.code {
				t.Errorf("syncctl %s: exit %d, want %d\n%s%s", strings.Join(c.args, " "), r.code, c.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout+r.stderr, c.says) {
				t.Errorf("syncctl %s: want %q in\n%s%s", strings.Join(c.args, " "), c.says, r.stdout, r.stderr)
			}
			if c.code != 0 {
				oneLine(t, r)
				if raw := rawStrings.FindString(r.stderr); raw != "" {
					t.Errorf("syncctl %s: raw %q in %q", strings.Join(c.args, " "), raw, r.stderr)
				}
				if len(r.stderr) > 320 {
					t.Errorf("an error line of %d characters", len(r.stderr))
				}
			}
		})
	}
}

// The server's backoff, seen by any command, holds for every command after it (put, ls,
// offline sync, not only sync) until its time: they exit 4 without a request.
func TestEveryCommandHonoursTheServersBackoff(t *testing.T) {
	t.Parallel()
	var requests atomic.Int64
	srv := servertest.Start(t, server.Options{}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			h.ServeHTTP(w, r)
		})
	})
	a := newDevice(t)
	a.login(srv, "alice", "")
	srv.InjectFault(server.Fault{PathPrefix: "/1.5/", Count: 1, Status: 503, RetryAfter: 3600})
	if r := a.run("ls", "bookmarks"); r.code != 4 {
		t.Fatalf("ls during the outage: exit %d %s", r.code, r.stderr)
	}
	before := requests.Load()
	for _, args := range [][]string{
		{"put", "bookmarks", "aaaaaaaaaaaa", `{"type":"bookmark","parentid":"unfiled","bmkUri":"https://a.example"}`},
		{"ls", "bookmarks"}, {"get", "bookmarks", "aaaaaaaaaaaa"}, {"info"}, {"sync"}, {"offline", "sync"}, {"export"},
	} {
		r := a.run(args...)
		if r.code != 4 || !strings.Contains(r.stderr, "the server asked for no requests until") {
			t.Errorf("%v: exit %d %s", args, r.code, r.stderr)
		}
	}
	if n := requests.Load() - before; n != 0 {
		t.Errorf("%d requests during the backoff", n)
	}
	// status still answers, from what it knows, and says why it did not ask.
	r := a.run("status")
	if r.code != 0 || !strings.Contains(r.stdout, "backoff   until") {
		t.Errorf("status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// A record the server refuses is counted, said, and makes sync exit 1; it stays
// pending. (Before: "FAILED 0 … ok", exit 0.)
func TestSyncCountsRecordsTheServerRefused(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	a := newDevice(t)
	key := a.login(srv, "alice", "")
	// Another client (with larger limits of its own) put a 1.5 MB bookmark outside the
	// tree; this device's sync repairs the tree, and cannot upload the record it moved.
	writeRaw(t, srv, "alice", key, "bookmarks", "bbbbbbbbbbbb",
		`{"id":"bbbbbbbbbbbb","type":"bookmark","bmkUri":"https://a.example","title":"`+strings.Repeat("x", 1_500_000)+`"}`)
	for round := range 2 {
		r := a.run("sync", "-o", "json")
		var out struct {
			Engines map[string]struct{ Rejected, Failed int }
		}
		json.Unmarshal([]byte(r.stdout), &out)
		if r.code != 1 || out.Engines["bookmarks"].Rejected != 1 || !strings.Contains(r.stderr, "bookmarks: 0 in, 1 out did not go through") {
			t.Errorf("sync %d: exit %d %+v\n%s%s", round+1, r.code, out, r.stdout, r.stderr)
		}
	}
	if r := a.run("sync"); !strings.Contains(r.stdout, "1 refused by the server (still pending)") {
		t.Errorf("the table: %s", r.stdout)
	}
}

// writeRaw writes a cleartext record to the server as another client would: encrypted
// with the account's keys, without syncctl's checks.
func writeRaw(t *testing.T, srv *servertest.Server, user, key, coll, id, cleartext string) {
	t.Helper()
	c := srv.Client(user, storage.Options{})
	keys := accountKeys(t, c, key)
	rec, err := keys.For(coll).EncryptRecord(wbo.Record{ID: id, Payload: []byte(cleartext)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutRecord(t.Context(), coll, rec, nil); err != nil {
		t.Fatal(err)
	}
}

// An interrupted key rotation: every other command refuses with the one command that
// finishes it, in one short line; keys rotate finishes it, and all is well again.
func TestAnUnfinishedRotationIsFinishedFirst(t *testing.T) {
	t.Parallel()
	die := &dying{}
	srv := servertest.Start(t, server.Options{}, func(h http.Handler) http.Handler {
		inner := die.wrap(h)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Break the rotation after crypto/keys were read: on its first write.
			if r.Method == http.MethodPost && die.mode.Load() == 3 {
				die.mode.Store(1)
			}
			inner.ServeHTTP(w, r)
		})
	})
	a := newDevice(t)
	a.login(srv, "alice", "")
	for i := range 5 {
		a.ok("put", "history", fmt.Sprintf("h%011d", i), `{"histUri":"https://a.example/`+fmt.Sprint(i)+`","visits":[{"date":1700000000000000,"type":1}]}`)
	}
	a.ok("sync")
	die.mode.Store(3)
	r := a.run("keys", "rotate", "--yes")
	die.mode.Store(0)
	if r.code != 4 || !strings.Contains(r.stderr, "run `syncctl keys rotate` again to finish it") || len(r.stderr) > 320 {
		t.Fatalf("the interrupted rotation: exit %d %q", r.code, r.stderr)
	}
	oneLine(t, r)
	for _, args := range [][]string{{"sync"}, {"ls", "history"}, {"put", "history", "hx", `{"histUri":"https://b.example","visits":[{"date":1700000000000000,"type":1}]}`}, {"export"}} {
		r := a.run(args...)
		if r.code != 1 || strings.TrimSpace(r.stderr) != "syncctl: a key rotation did not finish: run `syncctl keys rotate` to finish it first" {
			t.Errorf("%v: exit %d %q", args, r.code, r.stderr)
		}
	}
	if out := a.ok("status"); !strings.Contains(out, "a rotation did not finish") {
		t.Errorf("status: %s", out)
	}
	a.ok("keys", "rotate", "--yes")
	if r := a.run("sync"); r.code != 0 || strings.Contains(r.stderr, "HMAC") {
		t.Errorf("sync after the rotation: exit %d %s", r.code, r.stderr)
	}
}

// A pull does not overwrite a file edited since the last pull wrote it.
func TestPullKeepsLocalEdits(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	laptop, desk := newDevice(t), newDevice(t)
	key := laptop.login(srv, "alice", "")
	desk.login(srv, "alice", key)
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "copy")
	os.WriteFile(filepath.Join(src, "notes.txt"), []byte("v1"), 0o644)
	laptop.ok("push", src, "--as", "notes")
	desk.ok("pull", "notes", dst)
	os.WriteFile(filepath.Join(dst, "notes.txt"), []byte("my edit"), 0o644)
	os.WriteFile(filepath.Join(src, "notes.txt"), []byte("v2 from the laptop"), 0o644)
	laptop.ok("push", src, "--as", "notes")

	r := desk.run("pull", "notes", dst)
	got, _ := os.ReadFile(filepath.Join(dst, "notes.txt"))
	if r.code != 1 || string(got) != "my edit" || !strings.Contains(r.stderr, "changed here since the last pull: notes.txt") ||
		!strings.Contains(r.stderr, "1 file in "+dst+" changed since the last pull: nothing was written (--force overwrites them") {
		t.Fatalf("pull over an edit: exit %d %q, file %q", r.code, r.stderr, got)
	}
	if out := desk.ok("pull", "notes", dst, "--dry-run", "--force"); !strings.Contains(out, "would write 1 file") {
		t.Errorf("dry run: %s", out)
	}
	desk.ok("pull", "notes", dst, "--force")
	if got, _ := os.ReadFile(filepath.Join(dst, "notes.txt")); string(got) != "v2 from the laptop" {
		t.Errorf("forced: %q", got)
	}
}

// The daemon wakes for a write from another shell, and its status file is true.
func TestTheDaemonWakesForAnotherShellsWrite(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	a := newDevice(t)
	a.login(srv, "alice", "")
	status := filepath.Join(t.TempDir(), "status.json")
	d := a.follow("daemon", "--status-file", status, "-o", "jsonl")
	defer d.stop()
	d.waitFor(t, `"event":"idle"`)
	a.ok("offline", "set", "notes", "n1", "text=from another shell")
	line := d.waitFor(t, `"event":"uploaded"`) // well before the 60 s idle timer
	if !strings.Contains(line, `"count":1`) {
		t.Errorf("uploaded: %s", line)
	}
	d.waitFor(t, `"event":"idle"`)
	b, _ := os.ReadFile(status)
	if !strings.Contains(string(b), `"pending": 0`) {
		t.Errorf("status file: %s", b)
	}
	if out := a.ok("offline", "pending"); strings.TrimSpace(out) != "0" {
		t.Errorf("offline pending: %s", out)
	}
}

// running is a syncctl started in the background, its standard output read line by line.
type running struct {
	lines chan string
	stop  func()
}

// follow runs a long-lived syncctl and reads its standard output as it comes.
func (d *device) follow(args ...string) *running {
	d.t.Helper()
	cmd := d.command(args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		d.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	r := &running{lines: make(chan string, 100)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
		close(r.lines)
	}()
	r.stop = func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }
	return r
}

func (r *running) waitFor(t *testing.T, substr string) string {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-r.lines:
			if !ok {
				t.Fatalf("exited before %q", substr)
			}
			if strings.Contains(l, substr) {
				return l
			}
		case <-timeout:
			t.Fatalf("no %q within 20 s", substr)
		}
	}
}

// accountKeys opens the account's crypto/keys with its account key (hex).
func accountKeys(t *testing.T, c *storage.Client, key string) *crypto.Keys {
	t.Helper()
	kB, err := hex.DecodeString(key)
	if err != nil {
		t.Fatal(err)
	}
	sk, err := crypto.SyncKeyBundle(kB)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := c.GetRecord(t.Context(), crypto.KeysCollection, crypto.KeysID)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := crypto.DecryptKeys(rec, sk)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// privateDir is a temporary directory of mode 0700, as serve wants its data dir.
func privateDir(t *testing.T) string {
	d := filepath.Join(t.TempDir(), "private")
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	return d
}

// The small things of a first day: times in the local zone (or --utc), sizes for people,
// a device named as asked, counts in grammar.
func TestTimesSizesNamesAndCountsReadWell(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	a := newDevice(t)
	a.env = []string{"TZ=Asia/Tokyo"}
	r := a.run("login", "--server", srv.URL, "--user", "alice", "--secret", "alice-secret", "--device-name", "Work laptop", "-o", "json")
	var login struct {
		NewKey string `json:"new_key"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &login) != nil {
		t.Fatalf("login: %d %s %s", r.code, r.stdout, r.stderr)
	}
	a.ok("put", "bookmarks", "aaaaaaaaaaaa", `{"type":"bookmark","parentid":"unfiled","bmkUri":"https://a.example","title":"`+strings.Repeat("x", 20_000)+`"}`)
	if out := a.ok("ls", "bookmarks"); !strings.Contains(out, " JST ") {
		t.Errorf("ls in Tokyo:\n%s", out)
	}
	if out := a.ok("ls", "bookmarks", "--utc"); !strings.Contains(out, " UTC ") {
		t.Errorf("ls --utc:\n%s", out)
	}
	if out := a.ok("info"); !regexp.MustCompile(`bookmarks\s+1\s+2\d kB`).MatchString(out) {
		t.Errorf("info sizes:\n%s", out)
	}
	a.ok("sync")
	b := newDevice(t)
	b.login(srv, "alice", login.NewKey)
	var sync struct{ Devices []struct{ Name string } }
	b.json(&sync, "sync")
	if len(sync.Devices) != 1 || sync.Devices[0].Name != "Work laptop" {
		t.Errorf("the other device: %+v", sync.Devices)
	}
	if out := a.ok("status"); !strings.Contains(out, "device    Work laptop") {
		t.Errorf("status:\n%s", out)
	}
	export := filepath.Join(t.TempDir(), "e.jsonl")
	os.WriteFile(export, []byte(`{"collection":"forms","id":"f1","payload":{"id":"f1","name":"q","value":"v"}}`+"\n"), 0o600)
	if out := a.ok("import", export); strings.TrimSpace(out) != "imported 1 record into 1 collection" {
		t.Errorf("import: %q", out)
	}
}

// What ffsclient users expect: bookmarks, logins and form entries made, changed and
// removed by name, each a record Firefox keeps, the tree kept whole; profiles listed,
// switched and removed; man pages; completion of names.
func TestRecordsProfilesManAndCompletion(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	a := newDevice(t)
	a.login(srv, "alice", "")
	var folder, bm struct{ ID string }
	a.json(&folder, "bookmarks", "add", "Reading", "--folder", "--parent", "toolbar")
	a.json(&bm, "bookmarks", "add", "https://go.dev/", "--title", "Go", "--parent", folder.ID, "--tags", "lang,go")
	tree := a.ok("bookmarks", "tree")
	if !strings.Contains(tree, "Bookmarks Toolbar/\n  Reading/\n    Go <https://go.dev/>") {
		t.Errorf("tree after add:\n%s", tree)
	}
	a.ok("bookmarks", "update", bm.ID, "--title", "The Go site", "--parent", "menu")
	tree = a.ok("bookmarks", "tree")
	if !strings.Contains(tree, "Bookmarks Menu/\n  The Go site <https://go.dev/>") || !strings.Contains(tree, "Reading/\n") || strings.Contains(tree, "Reading/\n    ") {
		t.Errorf("tree after the move:\n%s", tree)
	}
	if r := a.run("bookmarks", "rm", "menu"); r.code != 2 {
		t.Errorf("rm of a root: exit %d", r.code)
	}
	a.ok("bookmarks", "rm", bm.ID)
	if tree = a.ok("bookmarks", "tree"); strings.Contains(tree, "Go site") {
		t.Errorf("tree after rm:\n%s", tree)
	}

	var login struct{ ID string }
	a.json(&login, "passwords", "add", "https://a.example", "--username", "me", "--password", "s3cret")
	if out := a.ok("passwords", "ls", "--show"); !strings.Contains(out, login.ID) || !strings.Contains(out, "s3cret") {
		t.Errorf("passwords ls:\n%s", out)
	}
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("n3w\n"), 0o600)
	a.ok("passwords", "update", login.ID, "--password-file", pw)
	if out := a.ok("get", "passwords", login.ID); !strings.Contains(out, `"password": "n3w"`) || !strings.Contains(out, `"formSubmitURL": "https://a.example"`) {
		t.Errorf("after update: %s", out)
	}
	a.ok("passwords", "rm", login.ID)
	if out := a.ok("passwords", "ls"); strings.Contains(out, "a.example") {
		t.Errorf("after rm: %s", out)
	}
	if r := a.run("passwords", "add", "a.example", "--password", "x"); r.code != 2 || !strings.Contains(r.stderr, "want the origin") {
		t.Errorf("a login for no origin: exit %d %s", r.code, r.stderr)
	}
	var entry struct{ ID string }
	a.json(&entry, "forms", "add", "q", "golden gate")
	if out := a.ok("forms", "ls"); !strings.Contains(out, "golden gate") {
		t.Errorf("forms ls: %s", out)
	}
	a.ok("forms", "rm", entry.ID)
	if out := a.ok("forms", "ls"); strings.Contains(out, "golden gate") {
		t.Errorf("forms after rm: %s", out)
	}

	// Profiles.
	bob := a.run("login", "--profile", "bob", "--server", srv.URL, "--user", "bob", "--secret", "bob-secret")
	if bob.code != 0 {
		t.Fatalf("login bob: %s", bob.stderr)
	}
	var ps []struct {
		Name     string
		Current  bool
		LoggedIn bool `json:"logged_in"`
	}
	a.json(&ps, "profile", "ls")
	if len(ps) != 2 || ps[0].Name != "bob" || ps[0].Current || !ps[1].Current || !ps[0].LoggedIn {
		t.Errorf("profile ls: %+v", ps)
	}
	a.ok("profile", "use", "bob")
	if out := a.ok("status"); !strings.Contains(out, "user      bob") {
		t.Errorf("status after profile use: %s", out)
	}
	if r := a.run("profile", "use", "nobody"); r.code != 2 {
		t.Errorf("use of an unknown profile: exit %d", r.code)
	}
	a.ok("profile", "rm", "bob", "--yes")
	a.json(&ps, "profile", "ls")
	if len(ps) != 1 || ps[0].Name != "default" {
		t.Errorf("after rm: %+v", ps)
	}
	if _, err := os.Stat(filepath.Join(a.home, "data", "syncctl", "bob.db")); !os.IsNotExist(err) {
		t.Errorf("bob's local data stayed: %v", err)
	}

	// Man pages and completion.
	man := t.TempDir()
	a.ok("man", man)
	if b, err := os.ReadFile(filepath.Join(man, "syncctl-bookmarks-add.1")); err != nil || !strings.Contains(string(b), ".TH \"SYNCCTL\"") {
		t.Errorf("man page: %v", err)
	}
	for args, want := range map[string]string{
		"__complete ls ":        "bookmarks",
		"__complete sync ":      "passwords",
		"__complete --profile ": "default",
		"__complete -o ":        "jsonl",
	} {
		fields := append(strings.Fields(args), "")
		if out := a.ok(fields...); !strings.Contains(out, want+"\n") {
			t.Errorf("%s: %s", args, out)
		}
	}
}

// serve says where it listens in the format asked: one JSON object a script can read.
func TestServeSaysWhereItListensAsJSON(t *testing.T) {
	t.Parallel()
	a := newDevice(t)
	s := a.follow("serve", "--listen", "127.0.0.1:0", "--user", "u:s", "--data-dir", privateDir(t), "-o", "jsonl")
	defer s.stop()
	line := s.waitFor(t, `"listening"`)
	var started struct {
		Listening     string   `json:"listening"`
		TokenEndpoint string   `json:"token_endpoint"`
		Users         []string `json:"users"`
	}
	if err := json.Unmarshal([]byte(line), &started); err != nil || !strings.HasPrefix(started.Listening, "127.0.0.1:") ||
		started.TokenEndpoint != "http://"+started.Listening+"/1.0/sync/1.5" || len(started.Users) != 1 {
		t.Errorf("%s: %+v %v", line, started, err)
	}
}
