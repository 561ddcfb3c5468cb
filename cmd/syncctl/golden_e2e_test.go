package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/syncctl/syncctl/internal/golden"
	"github.com/syncctl/syncctl/internal/servertest"
	"github.com/syncctl/syncctl/server"
)

// normalizers replace what differs from run to run (ports, paths, times, random ids
// and keys) with text of the same length, so that tables stay aligned as printed.
var normalizers = []struct {
	re   *regexp.Regexp
	with func(string) string
}{
	{regexp.MustCompile(`http://127\.0\.0\.1:\d+`), func(string) string { return "http://SERVER" }},
	{regexp.MustCompile(`\b1[0-9]{9}\.[0-9]{2}\b`), same("T")},                                             // server timestamps
	{regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC`), same("D")},                                  // times for people
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`), func(string) string { return "TIME" }}, // RFC 3339
	{regexp.MustCompile(`\b[0-9a-f]{64}\b`), same("K")},                                                    // a new account key
	{regexp.MustCompile(`\b[0-9a-f]{16}\b`), same("F")},                                                    // key fingerprints
	// How many files a push read depends on their age: one written less than 2 s before a
	// scan is read again by the next (a loaded machine makes the first push later).
	{regexp.MustCompile(`"read": \d+`), func(string) string { return `"read": N` }},
	{regexp.MustCompile(`"(client_id|pushed|device_id)": ("[A-Za-z0-9_-]{12}"|\d+)`), func(s string) string { return s[:strings.Index(s, ":")] + `: "ID"` }},
	{regexp.MustCompile(`(client    )[A-Za-z0-9_-]{12}`), func(s string) string { return s[:10] + "IDIDIDIDIDID" }},
	{regexp.MustCompile(`"(id|index)": "[A-Za-z0-9_-]{24,32}"`), func(s string) string { return s[:strings.Index(s, ":")] + `: "HASH"` }},
	{regexp.MustCompile(`syncctl on [A-Za-z0-9.-]+`), func(string) string { return "syncctl on HOST" }},
	{regexp.MustCompile(`is ciphertext: [A-Za-z0-9+/=]+`), func(s string) string { return s[:15] + strings.Repeat("C", len(s)-15) }},                                     // quickstart's proof
	{regexp.MustCompile(`\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}`), func(s string) string { return "{" + strings.Repeat("U", len(s)-2) + "}" }}, // new login ids
	{regexp.MustCompile(`"go": "go[0-9.]+",\n  "os": "[a-z0-9]+",\n  "arch": "[a-z0-9]+"`), func(string) string { return `"go": "GO", "os": "OS", "arch": "ARCH"` }},
}

// same keeps a text's length: each digit (and, for hex, letter) becomes c.
func same(c string) func(string) string {
	return func(s string) string {
		return regexp.MustCompile(`[0-9a-f]`).ReplaceAllString(s, c)
	}
}

// TestTheOutputOfEveryCommand keeps each command's table and JSON in golden files
// (testdata/golden; -update rewrites them): a change to what a script reads shows in the
// diff. Every JSON output parses, its own keys are snake_case, and lists are [] when
// empty, never null.
func TestTheOutputOfEveryCommand(t *testing.T) {
	srv := servertest.Start(t, server.Options{}, nil)
	d := newDevice(t)
	d.env = []string{"TZ=UTC", "SYNCCTL_DEVICE_NAME=golden"}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("alpha"), 0o644)
	os.WriteFile(filepath.Join(src, "sub", "b.txt"), []byte("beta"), 0o644)
	export := filepath.Join(dir, "export.jsonl")
	os.WriteFile(export, []byte(`{"collection":"forms","id":"form00000001","payload":{"id":"form00000001","name":"q","value":"golden"}}`+"\n"), 0o600)
	bm := func(id, title string) string {
		return fmt.Sprintf(`{"type":"bookmark","parentid":"unfiled","title":%q,"bmkUri":"https://%s.example/"}`, title, id)
	}

	// Each step runs in the formats it names: a command that reads runs in both, one
	// that writes gets its own arguments per format (the second run would differ).
	type step struct{ table, json []string }
	both := func(args ...string) step { return step{args, args} }
	steps := []step{
		both("version"),
		both("quickstart"),
		both("conformance", "--list"),
		{nil, []string{"login", "--server", srv.URL, "--user", "alice", "--secret", "alice-secret"}},
		{[]string{"put", "bookmarks", "bmkaaaaaaaaa", bm("a", "A page")}, []string{"put", "bookmarks", "bmkbbbbbbbbb", bm("b", "B page")}},
		{[]string{"put", "passwords", "{login-1}", `{"hostname":"https://a.example","formSubmitURL":"https://a.example","username":"me","password":"s3cret","usernameField":"u","passwordField":"p"}`}, nil},
		{[]string{"put", "history", "hist00000001", `{"histUri":"https://a.example/","title":"A","visits":[{"date":1700000000000000,"type":1}]}`}, nil},
		{[]string{"put", "tabs", "tabs00000001", `{"clientName":"Phone","tabs":[{"title":"T","urlHistory":["https://t.example/"],"icon":null,"lastUsed":1700000000}]}`}, nil},
		both("ls", "bookmarks"),
		both("ls", "bookmarks", "--limit", "1", "--sort", "oldest"),
		both("ls", "nothing-here"),
		both("get", "bookmarks", "bmkaaaaaaaaa"),
		{[]string{"rm", "bookmarks", "bmkbbbbbbbbb"}, nil},
		both("ls", "bookmarks", "--include-deleted"),
		{[]string{"sync"}, []string{"sync"}},
		both("status"),
		both("info"),
		both("keys"),
		both("bookmarks", "tree"),
		both("passwords", "ls"),
		{[]string{"bookmarks", "add", "https://c.example/", "--title", "C page"}, []string{"bookmarks", "add", "https://d.example/", "--title", "D page"}},
		{[]string{"passwords", "add", "https://b.example", "--username", "you", "--password", "pw"}, []string{"passwords", "add", "https://c.example", "--username", "you", "--password", "pw"}},
		{[]string{"forms", "add", "q", "golden"}, []string{"forms", "add", "q", "gate"}},
		both("forms", "ls"),
		both("profile", "ls"),
		both("history", "ls"),
		both("tabs", "ls"),
		both("keys", "rotate", "--dry-run"),
		both("wipe", "history", "--dry-run"),
		both("fresh-start", "--dry-run"),
		both("import", export, "--dry-run"),
		{[]string{"import", export}, nil},
		both("push", src, "--as", "docs", "--dry-run"),
		{[]string{"push", src, "--as", "docs"}, []string{"push", src, "--as", "docs2"}},
		both("dirs", "ls"),
		both("pull", "docs", filepath.Join(dir, "copy"), "--dry-run"),
		{[]string{"pull", "docs", filepath.Join(dir, "copy")}, []string{"pull", "docs", filepath.Join(dir, "copy2")}},
		{[]string{"dirs", "rm", "docs2", "--yes"}, []string{"dirs", "rm", "docs", "--yes"}},
		{[]string{"dirs", "gc", "--dry-run"}, []string{"dirs", "gc", "--grace", "1ns"}},
		{[]string{"offline", "set", "notes", "n1", "text=hello"}, []string{"offline", "set", "notes", "n2", "text=world"}},
		both("offline", "get", "notes", "n1"),
		both("offline", "pending"),
		{[]string{"offline", "rm", "notes", "n2"}, nil},
		{[]string{"offline", "sync"}, nil},
		{[]string{"export", "bookmarks", "-f", filepath.Join(dir, "b.jsonl")}, []string{"export", "passwords", "--format", "csv", "-f", filepath.Join(dir, "p.csv")}},
		{[]string{"man", filepath.Join(dir, "man")}, []string{"man", filepath.Join(dir, "man2")}},
		{[]string{"logout", "--yes"}, nil},
	}
	var table, js bytes.Buffer
	made := map[string]string{}
	newID := regexp.MustCompile(`(?:added|saved) [a-z]+/(\S+) at|"id": "([A-Za-z0-9_-]{12})",\n  "modified"`)
	for _, s := range steps {
		for _, run := range []struct {
			args []string
			out  *bytes.Buffer
			form string
		}{{s.table, &table, "table"}, {s.json, &js, "json"}} {
			if run.args == nil {
				continue
			}
			args := append(append([]string{}, run.args...), "-o", run.form)
			r := d.run(args...)
			if r.code != 0 {
				t.Fatalf("syncctl %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
			}
			if run.form == "json" {
				checkJSON(t, args, r.stdout)
			}
			// The ids the add commands make are random: each gets a stable name.
			if len(run.args) > 1 && run.args[1] == "add" {
				for _, m := range newID.FindAllStringSubmatch(r.stdout, -1) {
					if id := m[1] + m[2]; made[id] == "" && !strings.HasPrefix(id, "{") {
						made[id] = fmt.Sprintf("new%09d", len(made)+1)
					}
				}
			}
			fmt.Fprintf(run.out, "$ syncctl %s\n%s\n", strings.Join(run.args, " "), r.stdout)
		}
	}
	for name, b := range map[string]*bytes.Buffer{"table.txt": &table, "json.txt": &js} {
		got := b.String()
		got = strings.ReplaceAll(got, dir, "/DIR")
		got = strings.ReplaceAll(got, d.home, "/HOME")
		for id, name := range made {
			got = strings.ReplaceAll(got, id, name)
		}
		// The host a push came from ends a table row, or is a JSON string.
		host, _ := os.Hostname()
		got = strings.ReplaceAll(got, "  "+host+"\n", "  HOST\n")
		got = strings.ReplaceAll(got, `"from": "`+host+`"`, `"from": "HOST"`)
		for _, n := range normalizers {
			got = n.re.ReplaceAllStringFunc(got, n.with)
		}
		golden.File(t, filepath.Join("testdata", "golden", name), []byte(got))
	}
}

// snakeCase is a key syncctl writes; record payloads and maps keyed by data (engine and
// collection names, record fields of the offline store) are not its keys.
var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// dataKeyed are the maps keyed by data: engine names, quickstart's devices and their
// record ids.
var dataKeyed = regexp.MustCompile(`\.engines$|\.devices(\.[a-z]+)?$`)

// nullable are the fields documented as null when unknown (a server with no quota);
// every other null, a list's above all, is a bug.
var nullable = map[string]bool{"quota_bytes": true, "quota_used_bytes": true}

func checkJSON(t *testing.T, args []string, out string) {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Errorf("syncctl %s: not JSON: %v\n%s", strings.Join(args, " "), err, out)
		return
	}
	if args[0] == "offline" && args[1] == "get" {
		return // the record's own fields
	}
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if !snakeCase.MatchString(k) && !dataKeyed.MatchString(path) {
					t.Errorf("syncctl %s: key %s%s is not snake_case", strings.Join(args, " "), path, "."+k)
				}
				if k == "payload" {
					continue
				}
				if e == nil && !nullable[k] {
					t.Errorf("syncctl %s: %s.%s is null", strings.Join(args, " "), path, k)
				}
				walk(e, path+"."+k)
			}
		case []any:
			for _, e := range x {
				walk(e, path+"[]")
			}
		}
	}
	walk(v, "")
}
