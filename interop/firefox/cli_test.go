package firefox_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

var (
	cliOnce sync.Once
	cliBin  string
	cliErr  error
)

// cli builds syncctl once for the tests that drive the command line.
func cli(t *testing.T) string {
	t.Helper()
	cliOnce.Do(func() {
		dir, err := os.MkdirTemp("", "syncctl-firefox-cli-")
		if err != nil {
			cliErr = err
			return
		}
		cliBin = filepath.Join(dir, "syncctl")
		out, err := exec.Command("go", "build", "-o", cliBin, "../../cmd/syncctl").CombinedOutput()
		if err != nil {
			cliErr = err
			cliBin = string(out)
		}
	})
	if cliErr != nil {
		t.Fatalf("building syncctl: %v\n%s", cliErr, cliBin)
	}
	return cliBin
}

// runCLI runs syncctl with a home of its own and returns its standard output.
func runCLI(t *testing.T, home string, args ...string) string {
	t.Helper()
	cmd := exec.Command(cli(t), args...)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, "config"), "XDG_DATA_HOME="+filepath.Join(home, "data"))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("syncctl %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// The record commands make what Firefox makes: a bookmark in a new folder on the
// toolbar, moved and retitled; a login; a form entry; and their removal. Firefox reads
// each through its own APIs after a sync, and a deletion reaches it.
func TestTheRecordCommandsWriteWhatFirefoxReads(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ff := e.startFirefox("Firefox reads the CLI")
	ff.signIn()
	ff.sync()
	home := t.TempDir()
	runCLI(t, home, "login", "--fxa", email, "--password", password, "--auth-url", e.fxaURL+"/v1", "--token-server", e.syncURL, "--client-id", "test")
	id := func(out string) string {
		var v struct{ ID string }
		if err := json.Unmarshal([]byte(out), &v); err != nil || v.ID == "" {
			t.Fatalf("no id in %s", out)
		}
		return v.ID
	}
	folder := id(runCLI(t, home, "bookmarks", "add", "From the CLI", "--folder", "--parent", "toolbar", "-o", "json"))
	first := id(runCLI(t, home, "bookmarks", "add", "https://first.example/", "--title", "First", "--parent", folder, "--tags", "a,b", "-o", "json"))
	second := id(runCLI(t, home, "bookmarks", "add", "https://second.example/", "--parent", folder, "-o", "json"))
	moved := id(runCLI(t, home, "bookmarks", "add", "https://moved.example/", "--title", "Moves", "--parent", folder, "-o", "json"))
	runCLI(t, home, "bookmarks", "update", moved, "--parent", "menu", "--title", "Moved to the menu")
	login := id(runCLI(t, home, "passwords", "add", "https://cli.example", "--username", "cli user", "--password", "cli pw", "-o", "json"))
	runCLI(t, home, "forms", "add", "searchbar-history", "typed at the CLI")
	ff.sync()

	if tb := ff.firefoxTree(folder); tb.Title != "From the CLI" || len(tb.Children) != 2 ||
		tb.Children[0].GUID != first || tb.Children[0].Title != "First" || tb.Children[1].GUID != second {
		t.Errorf("Firefox's folder:\n%s", tb)
	}
	if tb := ff.firefoxTree("toolbar"); !slices.ContainsFunc(tb.Children, func(n node) bool { return n.GUID == folder }) {
		t.Errorf("the folder is not on Firefox's toolbar:\n%s", tb)
	}
	if menu := ff.firefoxTree("menu"); !slices.ContainsFunc(menu.Children, func(n node) bool { return n.GUID == moved && n.Title == "Moved to the menu" }) {
		t.Errorf("the moved bookmark is not in Firefox's menu:\n%s", menu)
	}
	var seen struct {
		Logins []struct{ GUID, Origin, FormAction, Username, Password string }
		Forms  []string
		Tags   []string
	}
	ff.run(`
const logins = (await Services.logins.getAllLogins()).filter(l => l.origin == "https://cli.example").map(l => ({GUID: l.guid, Origin: l.origin, FormAction: l.formActionOrigin, Username: l.username, Password: l.password}));
const forms = (await FormHistory.search(["value"], {fieldname: "searchbar-history"})).map(f => f.value);
const tags = PlacesUtils.tagging.getTagsForURI(Services.io.newURI("https://first.example/"));
return {Logins: logins, Forms: forms, Tags: tags};`, nil, &seen)
	if len(seen.Logins) != 1 || seen.Logins[0].GUID != login || seen.Logins[0].Username != "cli user" || seen.Logins[0].Password != "cli pw" || seen.Logins[0].FormAction != "https://cli.example" {
		t.Errorf("Firefox's logins: %+v", seen.Logins)
	}
	if !slices.Contains(seen.Forms, "typed at the CLI") {
		t.Errorf("Firefox's form history: %v", seen.Forms)
	}
	slices.Sort(seen.Tags)
	if !slices.Equal(seen.Tags, []string{"a", "b"}) {
		t.Errorf("Firefox's tags: %v", seen.Tags)
	}

	runCLI(t, home, "bookmarks", "rm", second)
	runCLI(t, home, "passwords", "rm", login)
	ff.sync()
	if tb := ff.firefoxTree(folder); len(tb.Children) != 1 || tb.Children[0].GUID != first {
		t.Errorf("after rm, Firefox's folder:\n%s", tb)
	}
	var left int
	ff.run(`return (await Services.logins.getAllLogins()).filter(l => l.origin == "https://cli.example").length;`, nil, &left)
	if left != 0 {
		t.Errorf("Firefox still has %d logins for cli.example", left)
	}
}
