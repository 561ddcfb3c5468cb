package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/syncctl/syncctl/fixtures/fxaserver"
	"github.com/syncctl/syncctl/internal/servertest"
	"github.com/syncctl/syncctl/server"
)

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "syncctl-e2e-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "syncctl")
	// SYNCCTL_E2E_BIN runs the tests against another build (an older commit's, to see a
	// test fail on the code it was written against). Ours has one version whatever the
	// checkout: the golden files, and the size of the clients record, hold it.
	if other := os.Getenv("SYNCCTL_E2E_BIN"); other != "" {
		bin = other
	} else if out, err := exec.Command("go", "build", "-ldflags", "-X main.version=e2e", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// device is one user's machine: its own config and data directories.
type device struct {
	t    *testing.T
	home string
	env  []string // more environment, KEY=VALUE
}

func newDevice(t *testing.T) *device { return &device{t: t, home: t.TempDir()} }

type result struct {
	stdout, stderr string
	code           int
}

// command is syncctl with args on this device: its home, config and data directories,
// and none of the SYNCCTL_ variables of the shell that runs the tests.
func (d *device) command(args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SYNCCTL_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "HOME="+d.home, "XDG_CONFIG_HOME="+filepath.Join(d.home, "config"), "XDG_DATA_HOME="+filepath.Join(d.home, "data"))
	cmd.Env = append(cmd.Env, d.env...)
	return cmd
}

func (d *device) runIn(stdin string, args ...string) result {
	d.t.Helper()
	cmd := d.command(args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		d.t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

func (d *device) run(args ...string) result { return d.runIn("", args...) }

func (d *device) ok(args ...string) string {
	d.t.Helper()
	r := d.run(args...)
	if r.code != 0 {
		d.t.Fatalf("syncctl %v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func (d *device) json(v any, args ...string) {
	d.t.Helper()
	out := d.ok(append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		d.t.Fatalf("syncctl %v -o json: %v\n%s", args, err, out)
	}
}

func (d *device) login(srv *servertest.Server, user, key string) string {
	d.t.Helper()
	args := []string{"login", "--server", srv.URL, "--user", user, "--secret", user + "-secret"}
	if key != "" {
		args = append(args, "--key", key)
	}
	var out struct {
		NewKey string `json:"new_key"`
	}
	d.json(&out, args...)
	if key == "" {
		return out.NewKey
	}
	return key
}

func TestEveryCommandAgainstTheEmbeddedServer(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	a := newDevice(t)
	if out := a.ok("version"); !strings.HasPrefix(out, "syncctl ") {
		t.Errorf("version: %q", out)
	}
	key := a.login(srv, "alice", "")
	if len(key) != 64 {
		t.Fatalf("new key %q", key)
	}
	secrets, err := os.Stat(filepath.Join(a.home, "config", "syncctl", "secrets.json"))
	if err != nil || secrets.Mode().Perm() != 0o600 {
		t.Errorf("secrets.json: %v %v", secrets.Mode(), err)
	}
	config, _ := os.ReadFile(filepath.Join(a.home, "config", "syncctl", "config.toml"))
	if strings.Contains(string(config), "alice-secret") || strings.Contains(string(config), key) {
		t.Error("a secret reached config.toml")
	}

	var put struct{ Modified float64 }
	a.json(&put, "put", "bookmarks", "bm1aaaaaaaaa", `{"type":"bookmark","parentid":"unfiled","title":"Mozilla","bmkUri":"https://mozilla.org"}`)
	if put.Modified == 0 {
		t.Errorf("put: %+v", put)
	}
	if out := a.ok("get", "bookmarks", "bm1aaaaaaaaa"); !strings.Contains(out, `"title": "Mozilla"`) {
		t.Errorf("get: %s", out)
	}
	if out := a.ok("get", "bookmarks", "bm1aaaaaaaaa", "--raw"); !strings.Contains(out, "ciphertext") || strings.Contains(out, "Mozilla") {
		t.Errorf("get --raw: %s", out)
	}
	var ls []struct {
		ID      string
		Payload map[string]any
	}
	a.json(&ls, "ls", "bookmarks")
	titles := map[string]any{}
	for _, r := range ls {
		titles[r.ID] = r.Payload["title"]
	}
	if titles["bm1aaaaaaaaa"] != "Mozilla" {
		t.Errorf("ls: %+v", ls)
	}
	var info []struct {
		Collection string
		Count      int
	}
	a.json(&info, "info")
	found := false
	for _, c := range info {
		found = found || (c.Collection == "bookmarks" && c.Count == len(ls))
	}
	if !found {
		t.Errorf("info: %+v", info)
	}
	var sync struct {
		Engines map[string]struct{ Applied, Uploaded int }
		Stages  []string
	}
	a.json(&sync, "sync")
	if sync.Engines["bookmarks"].Applied != 1 {
		t.Errorf("sync: %+v", sync)
	}
	var status struct {
		LastSync string `json:"last_sync"`
		Engines  map[string]struct {
			Pending int `json:"pending_changes"`
		}
	}
	a.json(&status, "status")
	if status.LastSync == "" || len(status.Engines) != 7 {
		t.Errorf("status: %+v", status)
	}
	keys := fingerprints(t, a)
	if len(keys["sync key"]) != 16 || len(keys["default bulk key"]) != 16 {
		t.Errorf("keys: %v", keys)
	}

	// A second device with the same account key sees the bookmark; a tombstone from it
	// reaches the first.
	b := newDevice(t)
	b.login(srv, "alice", key)
	b.json(&sync, "sync")
	if sync.Engines["bookmarks"].Applied < 1 {
		t.Errorf("b's first sync: %+v", sync)
	}
	if out := b.ok("get", "bookmarks", "bm1aaaaaaaaa"); !strings.Contains(out, "Mozilla") {
		t.Errorf("b: %s", out)
	}
	b.ok("rm", "bookmarks", "bm1aaaaaaaaa")
	if out := a.ok("get", "bookmarks", "bm1aaaaaaaaa"); !strings.Contains(out, `"deleted": true`) {
		t.Errorf("after rm: %s", out)
	}

	if out := a.ok("completion", "bash"); !strings.Contains(out, "bash completion") {
		t.Error("completion")
	}
	a.ok("wipe", "bookmarks", "--yes")
	// Only the empty roots are back (Firefox acts on a wipe only if it can decrypt a
	// record of the collection).
	var left []struct {
		ID      string
		Payload map[string]any
	}
	a.json(&left, "ls", "bookmarks")
	for _, r := range left {
		if kids, _ := r.Payload["children"].([]any); !slices.Contains([]string{"menu", "toolbar", "unfiled", "mobile"}, r.ID) || len(kids) != 0 {
			t.Errorf("wipe left %s: %v", r.ID, r.Payload)
		}
	}
	if out := a.ok("fresh-start", "--yes"); !strings.Contains(out, "fresh start done") {
		t.Errorf("fresh-start: %s", out)
	}
	a.ok("logout", "--yes")
	if r := a.run("sync"); r.code != 3 {
		t.Errorf("sync after logout: exit %d", r.code)
	}
}

// fingerprints reads `keys -o json` as label → fingerprint: "sync key", "default bulk
// key", "bulk key for NAME".
func fingerprints(t *testing.T, d *device) map[string]string {
	t.Helper()
	var keys []struct{ Key, Collection, Fingerprint string }
	d.json(&keys, "keys")
	out := map[string]string{}
	for _, k := range keys {
		switch {
		case k.Collection != "":
			out["bulk key for "+k.Collection] = k.Fingerprint
		case k.Key == "default":
			out["default bulk key"] = k.Fingerprint
		default:
			out[k.Key+" key"] = k.Fingerprint
		}
	}
	return out
}

func oneLine(t *testing.T, r result) {
	t.Helper()
	if lines := strings.Count(strings.TrimSpace(r.stderr), "\n"); lines != 0 || !strings.HasPrefix(r.stderr, "syncctl: ") {
		t.Errorf("want a one-line error, got %q", r.stderr)
	}
}

func TestErrorsHaveTheDocumentedExitCodes(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	a := newDevice(t)
	key := a.login(srv, "alice", "")

	t.Run("a wrong secret is 3", func(t *testing.T) {
		r := newDevice(t).run("login", "--server", srv.URL, "--secret", "wrong")
		if r.code != 3 || !strings.Contains(r.stderr, "refused this secret") {
			t.Errorf("exit %d: %s", r.code, r.stderr)
		}
		oneLine(t, r)
	})
	t.Run("a wrong sync key is 3", func(t *testing.T) {
		r := newDevice(t).run("login", "--server", srv.URL, "--secret", "alice-secret", "--key", strings.Repeat("00", 32))
		if r.code != 3 || !strings.Contains(r.stderr, "sync key") {
			t.Errorf("exit %d: %s", r.code, r.stderr)
		}
		oneLine(t, r)
	})
	t.Run("an account with data needs its key", func(t *testing.T) {
		r := newDevice(t).run("login", "--server", srv.URL, "--secret", "alice-secret")
		if r.code != 3 || !strings.Contains(r.stderr, "--key") {
			t.Errorf("exit %d: %s", r.code, r.stderr)
		}
	})
	t.Run("a server that is down is 4", func(t *testing.T) {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := l.Addr().String()
		l.Close()
		r := newDevice(t).run("login", "--server", "http://"+addr, "--secret", "x")
		if r.code != 4 {
			t.Errorf("exit %d: %s", r.code, r.stderr)
		}
		oneLine(t, r)
	})
	t.Run("a server asking for backoff is 4, and stays so until the time", func(t *testing.T) {
		srv.InjectFault(server.Fault{PathPrefix: "/1.5/", Count: 1, Status: 503, RetryAfter: 3600})
		r := a.run("sync")
		if r.code != 4 {
			t.Errorf("exit %d: %s", r.code, r.stderr)
		}
		oneLine(t, r)
		if r := a.run("sync"); r.code != 4 || !strings.Contains(r.stderr, "no requests until") {
			t.Errorf("second sync: exit %d: %s", r.code, r.stderr)
		}
	})
	t.Run("usage errors are 2", func(t *testing.T) {
		for _, args := range [][]string{{"nosuchcommand"}, {"put", "bookmarks", "x", "not json"}, {"get"}, {"wipe"}, {"--log-level", "loud", "version"}} {
			if r := a.run(args...); r.code != 2 {
				t.Errorf("%v: exit %d: %s", args, r.code, r.stderr)
			}
		}
	})
	_ = key
}

// exported reads an export into comparable lines: collection, id, sortindex, payload.
func exported(t *testing.T, d *device, colls ...string) []string {
	t.Helper()
	out := d.ok(append([]string{"export"}, colls...)...)
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r struct {
			Collection, ID string
			SortIndex      *int64
			Payload        json.RawMessage
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		if r.Collection == "clients" {
			continue // each account has its own devices
		}
		si := "-"
		if r.SortIndex != nil {
			si = fmt.Sprint(*r.SortIndex)
		}
		lines = append(lines, r.Collection+" "+r.ID+" "+si+" "+string(r.Payload))
	}
	sort.Strings(lines)
	return lines
}

func TestExportThenImportIntoAFreshAccountIsLossless(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	a := newDevice(t)
	a.login(srv, "alice", "")
	records := map[string]string{
		"bookmarks/bmk1aaaaaaaa": `{"type":"bookmark","parentid":"unfiled","title":"Ünïcode & <html>","bmkUri":"https://example.org/?a=1&b=2","tags":["x","y"]}`,
		"bookmarks/fld1aaaaaaaa": `{"type":"folder","parentid":"menu","title":"Folder","children":["bmk1aaaaaaaa"]}`,
		"history/h1":             `{"histUri":"https://example.org/","title":null,"visits":[{"date":1319149012372425,"type":1}]}`,
		"passwords/p1":           `{"hostname":"https://example.org","username":"u","password":"p\"w","formSubmitURL":"","timeCreated":1}`,
		"forms/fm1":              `{"name":"q","value":"search term"}`,
		"notes/n1":               `{"text":"a custom collection, with\na newline","unknownField":{"kept":true}}`,
	}
	for k, v := range records {
		coll, id, _ := strings.Cut(k, "/")
		a.ok("put", coll, id, v)
	}
	file := filepath.Join(t.TempDir(), "export.jsonl")
	a.ok("export", "-f", file)
	before := exported(t, a)
	if len(before) < len(records) {
		t.Fatalf("exported %d records: %v", len(before), before)
	}

	b := newDevice(t)
	b.login(srv, "bob", "")
	if out := b.ok("import", file); !strings.Contains(out, fmt.Sprintf("imported %d records into 5 collections", len(before))) {
		t.Errorf("import: %s", out)
	}
	after := exported(t, b, "bookmarks", "history", "passwords", "forms", "notes")
	if strings.Join(before, "\n") != strings.Join(after, "\n") {
		t.Errorf("before:\n%s\nafter:\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
	if out := b.ok("export", "passwords", "--format", "csv"); !strings.Contains(out, `https://example.org,u,"p""w"`) {
		t.Errorf("passwords csv: %s", out)
	}
	if out := b.ok("export", "bookmarks", "--format", "html"); !strings.Contains(out, `<DT><A HREF="https://example.org/?a=1&amp;b=2"`) || !strings.Contains(out, "<H3") {
		t.Errorf("bookmarks.html: %s", out)
	}
}

func TestKeysRotateReencryptsAndAnotherDeviceRecovers(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	a, b := newDevice(t), newDevice(t)
	key := a.login(srv, "alice", "")
	for i := range 150 {
		a.ok("put", "history", fmt.Sprintf("h%03d", i), fmt.Sprintf(`{"histUri":"https://example.org/%d","visits":[{"date":1700000000000000,"type":1}]}`, i))
	}
	b.login(srv, "alice", key)
	var sync struct {
		Engines map[string]struct{ Applied int }
		Error   string
	}
	b.json(&sync, "sync") // b now holds history and caches the old keys
	if sync.Engines["history"].Applied != 150 {
		t.Fatalf("b: %+v", sync)
	}
	before := fingerprints(t, a)
	// Every encrypted record on the server: history, the two devices' client records,
	// the bookmark roots.
	var info []struct {
		Collection string
		Count      int
	}
	a.json(&info, "info")
	total := 0
	for _, c := range info {
		if c.Collection != "meta" && c.Collection != "crypto" {
			total += c.Count
		}
	}
	if out := a.ok("keys", "rotate", "--yes"); !strings.Contains(out, fmt.Sprintf("rotated: %d records re-encrypted", total)) {
		t.Errorf("rotate: %s (expected %d)", out, total)
	}
	after := fingerprints(t, a)
	if after["default bulk key"] == before["default bulk key"] || after["sync key"] != before["sync key"] {
		t.Errorf("fingerprints before %v after %v", before, after)
	}
	if out := a.ok("get", "history", "h042"); !strings.Contains(out, "example.org/42") {
		t.Errorf("a after rotate: %s", out)
	}
	// b's cached keys are stale: its next sync notices, resets, and reads everything
	// under the new keys, with nothing failing.
	b.json(&sync, "sync")
	if sync.Error != "" || sync.Engines["history"].Applied != 150 {
		t.Errorf("b after rotate: %+v", sync)
	}
	if out := b.ok("get", "history", "h149"); !strings.Contains(out, "example.org/149") {
		t.Errorf("b get: %s", out)
	}
}

func TestLoginWithAMasterSecretMintsTokensForTheNode(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{MasterSecret: "the node's secret"}, nil)
	a := newDevice(t)
	a.ok("login", "--server", srv.URL, "--master-secret", "the node's secret", "--uid", "77")
	a.ok("put", "notes", "n1", `{"text":"minted"}`)
	if out := a.ok("get", "notes", "n1"); !strings.Contains(out, "minted") {
		t.Errorf("get: %s", out)
	}
	if r := newDevice(t).run("login", "--server", srv.URL, "--master-secret", "not it", "--uid", "77"); r.code != 3 {
		t.Errorf("a wrong master secret: exit %d %s", r.code, r.stderr)
	}
}

func TestQuickstartConvergesAndSaysSo(t *testing.T) {
	t.Parallel()
	d := newDevice(t)
	var rep struct {
		Converged bool
		Devices   map[string]map[string]string
		Steps     []string
	}
	d.json(&rep, "quickstart")
	if !rep.Converged || len(rep.Devices["laptop"]) != 4 || rep.Devices["phone"]["qsGoDev00001"] != "The Go programming language" || rep.Devices["laptop"]["qsSyncDocs01"] != "(deleted)" {
		t.Errorf("%+v", rep)
	}
	if out := d.ok("quickstart"); !strings.Contains(out, "converged: both devices hold the same 4 records") {
		t.Errorf("%s", out)
	}
}

func TestConformanceCommand(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{MasterSecret: "node secret"}, nil)
	d := newDevice(t)
	junit := filepath.Join(t.TempDir(), "report.xml")
	r := d.run("conformance", "--server", srv.URL, "--secret", "alice-secret", "--second-secret", "bob-secret", "--report", "junit="+junit, "--allow-destructive")
	m := regexp.MustCompile(`: ([0-9]+) cases, ([0-9]+) passed, 0 failed, 0 errors, ([0-9]+) skipped`).FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil || m[3] != "1" {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	b, err := os.ReadFile(junit)
	if err != nil || !strings.Contains(string(b), `<testsuite name="syncstorage-conformance`) || strconv.Itoa(strings.Count(string(b), "<testcase ")) != m[1] {
		t.Errorf("junit report: %v\n%.300s", err, b)
	}
	var rep struct{ Passed, Failed int }
	d.json(&rep, "conformance", "--server", srv.URL, "--master-secret", "node secret", "--uid", "5", "--run", `^get\.`, "--level", "must")
	if rep.Passed == 0 || rep.Failed != 0 {
		t.Errorf("minted tokens, MUST get cases: %+v", rep)
	}
	// A server that lets PATCH through fails, and the command says so with exit 1.
	broken := servertest.Start(t, server.Options{}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == "PATCH" {
				w.WriteHeader(200)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	r = d.run("conformance", "--server", broken.URL, "--secret", "alice-secret", "--run", `^misc\.`)
	if r.code != 1 || !strings.Contains(r.stdout, "misc.patch-is-405") || !strings.Contains(r.stdout, "expected status [405], got 200") {
		t.Errorf("broken server: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// go-syncstorage answers PATCH with 404: with its profile, that is known, not a failure.
	r = d.run("conformance", "--server", broken.URL, "--secret", "alice-secret", "--run", `^misc\.`, "--expect", "go-syncstorage", "--summary")
	if r.code != 0 || !strings.Contains(r.stdout, "0 failed, 0 errors, 1 known of go-syncstorage") || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("--expect go-syncstorage --summary: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r = d.run("conformance", "--list"); r.code != 0 || !strings.Contains(r.stdout, "166 behaviours") || !strings.Contains(r.stdout, "token.answer-and-token-fields") {
		t.Errorf("--list: exit %d\n%.500s", r.code, r.stdout)
	}
}

// TestTokenServerConformanceCommand runs the tokenserver suite the way an operator does:
// the server under test verifies OAuth tokens at the runner's FxA stand-in.
func TestTokenServerConformanceCommand(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	srv := servertest.Start(t, server.Options{OAuthVerifyURL: "http://" + addr + "/v1/verify"}, nil)
	d := newDevice(t)
	r := d.run("conformance", "--tokenserver", srv.URL, "--fxa-listen", addr, "--summary")
	if r.code != 0 || !regexp.MustCompile(`[0-9]+ cases, [0-9]+ passed, 0 failed, 0 errors, 1 skipped`).MatchString(r.stdout) || !strings.Contains(r.stderr, "http://"+addr+"/v1/verify") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// start runs a long-lived syncctl command (the daemon) for a device.
func (d *device) start(args ...string) *exec.Cmd {
	d.t.Helper()
	cmd := d.command(args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	// A bound, not a measure: the condition normally holds within a second or two, but
	// the suite runs these processes side by side with every other package's tests.
	deadline := time.Now().Add(90 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestAKilledDaemonLosesNoLocalWrite(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	a, b := newDevice(t), newDevice(t)
	key := a.login(srv, "alice", "")
	b.login(srv, "alice", key)

	// The server is unreachable for now: every storage request gets a 503.
	srv.InjectFault(server.Fault{PathPrefix: "/1.5/", Count: -1, Status: 503})
	status := filepath.Join(t.TempDir(), "status.json")
	daemon := a.start("daemon", "--idle-pause", "200ms", "--failure-pause", "200ms", "--status-file", status)
	a.ok("offline", "set", "notes", "n1", "text=written while the server was away", `n=3`)
	if got := strings.TrimSpace(a.ok("offline", "pending")); got != "1" {
		t.Fatalf("pending %q", got)
	}
	waitFor(t, "the daemon to try and fail", func() bool {
		b, _ := os.ReadFile(status)
		return strings.Contains(string(b), "last_error")
	})
	daemon.Process.Kill() // SIGKILL: no shutdown, no flush
	daemon.Wait()

	srv.ClearFaults()
	a.start("daemon", "--idle-pause", "200ms", "--failure-pause", "200ms")
	waitFor(t, "the change to be uploaded", func() bool { return strings.TrimSpace(a.ok("offline", "pending")) == "0" })
	b.ok("offline", "sync")
	if out := b.ok("offline", "get", "notes", "n1"); !strings.Contains(out, "written while the server was away") || !strings.Contains(out, `"n": 3`) {
		t.Errorf("b has %s", out)
	}
}

func TestTheDaemonStopsCleanlyOnSIGTERM(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	a := newDevice(t)
	a.login(srv, "alice", "")
	daemon := a.start("daemon", "--idle-pause", "100ms")
	time.Sleep(500 * time.Millisecond)
	daemon.Process.Signal(syscall.SIGTERM)
	if err := daemon.Wait(); err != nil {
		t.Errorf("daemon exit: %v", err)
	}
}

func TestFirefoxViews(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	a := newDevice(t)
	a.login(srv, "alice", "")
	a.ok("put", "bookmarks", "menu", `{"type":"folder","parentid":"places","children":["fold1aaaaaaa"]}`)
	a.ok("put", "bookmarks", "fold1aaaaaaa", `{"type":"folder","title":"Reading","parentid":"menu","children":["bm1aaaaaaaaa"]}`)
	a.ok("put", "bookmarks", "bm1aaaaaaaaa", `{"type":"bookmark","title":"Go","bmkUri":"https://go.dev","parentid":"fold1aaaaaaa"}`)
	a.ok("put", "passwords", "p1", `{"hostname":"https://example.org","formSubmitURL":"https://example.org","username":"me","password":"s3cret","usernameField":"","passwordField":""}`)
	recent := time.Now().Add(-time.Hour).UnixMicro()
	a.ok("put", "history", "h1", fmt.Sprintf(`{"histUri":"https://recent.example","title":"Recent","visits":[{"date":%d,"type":1}]}`, recent))
	a.ok("put", "history", "h2", `{"histUri":"https://old.example","title":"Old","visits":[{"date":1319149012372425,"type":1}]}`)
	a.ok("put", "tabs", "dev1", `{"clientName":"Laptop","tabs":[{"title":"A tab","urlHistory":["https://tab.example"],"icon":null,"lastUsed":1500000000}]}`)

	if out := a.ok("bookmarks", "tree"); !strings.Contains(out, "Bookmarks Menu/\n  Reading/\n    Go <https://go.dev>") {
		t.Errorf("tree:\n%s", out)
	}
	out := a.ok("passwords", "ls")
	if strings.Contains(out, "s3cret") || !strings.Contains(out, "https://example.org") {
		t.Errorf("passwords ls:\n%s", out)
	}
	if out := a.ok("passwords", "ls", "--show"); !strings.Contains(out, "s3cret") {
		t.Errorf("passwords ls --show:\n%s", out)
	}
	out = a.ok("history", "ls", "--since", "72h")
	if !strings.Contains(out, "https://recent.example") || strings.Contains(out, "old.example") {
		t.Errorf("history ls --since:\n%s", out)
	}
	if out := a.ok("tabs", "ls"); !strings.Contains(out, "Laptop") || !strings.Contains(out, "https://tab.example") {
		t.Errorf("tabs ls:\n%s", out)
	}
}

func TestFirefoxAccountsLoginThenSync(t *testing.T) {
	t.Parallel()
	secret := []byte("12345678901234567890")
	fx, err := fxaserver.New(
		fxaserver.Account{Email: "me@example.org", Password: "correct horse", Verification: "totp-2fa", TOTPSecret: secret, KeyRotation: 1700000000000},
		fxaserver.Account{Email: "link@example.org", Password: "pw", Verification: "email"},
		fxaserver.Account{Email: "locked@example.org", Password: "pw", Locked: true},
		fxaserver.Account{Email: "blocked@example.org", Password: "pw", Blocked: true, UnblockCode: "UNBLOCK1"},
	)
	if err != nil {
		t.Fatal(err)
	}
	fxHTTP := httptest.NewServer(fx.Handler())
	defer fxHTTP.Close()
	srv := servertest.Start(t, server.Options{OAuthVerifyURL: fxHTTP.URL + "/v1/oauth/verify"}, nil)
	login := func(d *device, email string, extra ...string) result {
		return d.run(append([]string{"-vv", "login", "--fxa", email, "--auth-url", fxHTTP.URL + "/v1", "--token-server", srv.URL, "--client-id", "test", "--wait-verify", "200ms"}, extra...)...)
	}

	a := newDevice(t)
	r := login(a, "me@example.org", "--password", "correct horse", "--totp", fxaserver.TOTP(secret, time.Now()))
	if r.code != 0 || !strings.Contains(r.stdout, "logged in to Firefox Accounts as me@example.org") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	a.ok("put", "bookmarks", "bm1aaaaaaaaa", `{"type":"bookmark","title":"via FxA","bmkUri":"https://example.org","parentid":"unfiled"}`)
	var sync struct {
		Engines map[string]struct{ Applied, Uploaded int }
	}
	a.json(&sync, "sync")
	if out := a.ok("get", "bookmarks", "bm1aaaaaaaaa"); !strings.Contains(out, "via FxA") {
		t.Errorf("get: %s", out)
	}
	// A second device of the same account reads it: same kB, same storage.
	b := newDevice(t)
	if r := login(b, "me@example.org", "--password", "correct horse", "--totp", fxaserver.TOTP(secret, time.Now())); r.code != 0 {
		t.Fatalf("b: %s", r.stderr)
	}
	if out := b.ok("bookmarks", "tree"); !strings.Contains(out, "via FxA") {
		t.Errorf("b's tree: %s", out)
	}

	// Nothing secret outside secrets.json: not the password, the tokens or kB.
	sec, _ := os.ReadFile(filepath.Join(a.home, "config", "syncctl", "secrets.json"))
	var s map[string]struct {
		FxA struct {
			Credentials struct{ KB, AccessToken, RefreshToken, SessionToken string }
		}
	}
	json.Unmarshal(sec, &s)
	cr := s["default"].FxA.Credentials
	if cr.KB == "" || cr.RefreshToken == "" || strings.Contains(string(sec), "correct horse") {
		t.Fatalf("secrets.json: %+v", cr)
	}
	config, _ := os.ReadFile(filepath.Join(a.home, "config", "syncctl", "config.toml"))
	for _, leak := range []string{"correct horse", cr.KB, cr.AccessToken, cr.RefreshToken, cr.SessionToken} {
		if strings.Contains(r.stderr+r.stdout, leak) || strings.Contains(string(config), leak) {
			t.Errorf("a secret leaked into the logs or the config: %.12s…", leak)
		}
	}

	for _, tc := range []struct {
		name, email string
		args        []string
		says        string
	}{
		{"a wrong password", "me@example.org", []string{"--password", "wrong", "--totp", "000000"}, "wrong password"},
		{"a wrong TOTP code", "me@example.org", []string{"--password", "correct horse", "--totp", "000000"}, "wrong verification code"},
		{"an unverified session", "link@example.org", []string{"--password", "pw"}, "confirm the login from the email"},
		{"a locked account", "locked@example.org", []string{"--password", "pw"}, "locked"},
		{"a blocked login", "blocked@example.org", []string{"--password", "pw"}, "unblock code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := login(newDevice(t), tc.email, tc.args...)
			if r.code != 3 || !strings.Contains(r.stderr, tc.says) {
				t.Errorf("exit %d: %s", r.code, r.stderr)
			}
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, "syncctl: ") {
				t.Errorf("last line %q", last)
			}
		})
	}
	if r := login(newDevice(t), "blocked@example.org", "--password", "pw", "--unblock-code", "UNBLOCK1"); r.code != 0 {
		t.Errorf("with the unblock code: %s", r.stderr)
	}
}

func TestFirefoxAccountsBrowserLogin(t *testing.T) {
	t.Parallel()
	fx, err := fxaserver.New(fxaserver.Account{Email: "me@example.org", Password: "pw", KeyRotation: 1700000000000})
	if err != nil {
		t.Fatal(err)
	}
	fxHTTP := httptest.NewServer(fx.Handler())
	defer fxHTTP.Close()
	srv := servertest.Start(t, server.Options{OAuthVerifyURL: fxHTTP.URL + "/v1/oauth/verify"}, nil)
	common := []string{"--auth-url", fxHTTP.URL + "/v1", "--token-server", srv.URL, "--client-id", "test"}

	// A password login on one device writes a bookmark.
	a := newDevice(t)
	a.ok(append([]string{"login", "--fxa", "me@example.org", "--password", "pw"}, common...)...)
	a.ok("put", "bookmarks", "bm1aaaaaaaaa", `{"type":"bookmark","title":"from the password login","bmkUri":"https://a","parentid":"unfiled"}`)

	// The browser login on another: syncctl prints the URL, the user logs in there, and
	// pastes back where the browser landed.
	b := newDevice(t)
	cmd := exec.Command(bin, append([]string{"login", "--fxa-oauth", "--user", "me@example.org"}, common...)...)
	cmd.Env = append(os.Environ(), "HOME="+b.home, "XDG_CONFIG_HOME="+filepath.Join(b.home, "config"), "XDG_DATA_HOME="+filepath.Join(b.home, "data"))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewReader(stdout)
	lines.ReadString('\n')
	urlLine, _ := lines.ReadString('\n')
	u, err := url.Parse(strings.TrimSpace(urlLine))
	if err != nil || u.Query().Get("keys_jwk") == "" {
		t.Fatalf("no authorization URL: %q %v", urlLine, err)
	}
	q := u.Query()
	code, err := fx.Authorize("me@example.org", q.Get("code_challenge"), q.Get("keys_jwk"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(stdin, "https://app.example/redirect?code=%s&state=%s\n", code, url.QueryEscape(q.Get("state")))
	stdin.Close()
	rest, _ := io.ReadAll(lines)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("login --fxa-oauth: %v\n%s%s", err, rest, stderr.String())
	}
	if out := b.ok("get", "bookmarks", "bm1aaaaaaaaa"); !strings.Contains(out, "from the password login") {
		t.Errorf("b: %s", out)
	}
	sec, _ := os.ReadFile(filepath.Join(b.home, "config", "syncctl", "secrets.json"))
	if strings.Contains(string(sec), `"kB"`) || !strings.Contains(string(sec), `"kSync"`) {
		t.Errorf("the browser login should hold kSync, never kB")
	}
}

func TestPushPullDirectories(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{Limits: server.Limits{MaxRecordPayloadBytes: 64 << 10}}, nil)
	laptop, desktop := newDevice(t), newDevice(t)
	key := laptop.login(srv, "alice", "")
	desktop.login(srv, "alice", key)

	src := filepath.Join(t.TempDir(), "notes")
	big := bytes.Repeat([]byte("0123456789abcdef"), 40_000) // 640 KB: many chunks
	files := map[string][]byte{"a.txt": []byte("alpha"), "sub/b.txt": []byte("beta"), "sub/copy.txt": []byte("alpha"), "big.bin": big}
	for p, b := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(src, p)), 0o755)
		if err := os.WriteFile(filepath.Join(src, p), b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	out := laptop.ok("push", src)
	if !strings.Contains(out, `pushed "notes": 4 files`) || !strings.Contains(out, "sent 3 new blobs") {
		t.Fatalf("push: %s", out)
	}
	var again struct{ Uploaded, Unchanged int }
	laptop.json(&again, "push", src)
	if again.Uploaded != 0 || again.Unchanged != 4 {
		t.Fatalf("second push: %+v", again)
	}
	laptop.ok("push", filepath.Join(src, "sub"), "--as", "just-sub")
	if ls := desktop.ok("dirs", "ls"); !strings.Contains(ls, "notes") || !strings.Contains(ls, "just-sub") || !strings.Contains(ls, "4 ") {
		t.Fatalf("dirs ls: %s", ls)
	}

	dst := filepath.Join(t.TempDir(), "copy")
	if out := desktop.ok("pull", "notes", dst); !strings.Contains(out, "4 files written") {
		t.Fatalf("pull: %s", out)
	}
	for p, want := range files {
		got, err := os.ReadFile(filepath.Join(dst, p))
		st, _ := os.Stat(filepath.Join(dst, p))
		if err != nil || !bytes.Equal(got, want) || st.Mode().Perm() != 0o640 {
			t.Fatalf("%s: %d bytes, %v, %v", p, len(got), st.Mode(), err)
		}
	}
	if out := desktop.ok("pull", "notes", dst); !strings.Contains(out, "0 files written, 4 files unchanged") {
		t.Fatalf("second pull: %s", out)
	}
	if r := desktop.run("pull", "nothing-by-that-name", dst); r.code != 1 || !strings.Contains(r.stderr, "no directory of that name") {
		t.Fatalf("unknown name: exit %d %s", r.code, r.stderr)
	}
	desktop.ok("dirs", "rm", "just-sub", "--yes")
	if ls := laptop.ok("dirs", "ls"); strings.Contains(ls, "just-sub") || !strings.Contains(ls, "notes") {
		t.Fatalf("dirs ls after rm: %s", ls)
	}
}

// An account used only to push a directory holds what that needs — the keys, meta/global,
// this device's client record, the blobs and the directory — and no bookmark roots.
func TestAPushOnlyAccountHoldsOnlyWhatItNeeds(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	d := newDevice(t)
	d.login(srv, "alice", "")
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("alpha"), 0o644)
	d.ok("push", src, "--as", "notes")
	var info []struct {
		Collection string
		Count      int
	}
	d.json(&info, "info")
	var got []string
	for _, c := range info {
		if c.Count > 0 {
			got = append(got, c.Collection)
		}
	}
	if want := "blobs clients crypto dirs meta"; strings.Join(got, " ") != want {
		t.Errorf("collections with records: %v, want %s", got, want)
	}
}
