package firefox_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// page runs a script in the page Firefox shows (content, not chrome) and decodes what
// it returns; a returned promise is awaited.
func (b *browser) page(script string, out any) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var res struct {
		Value json.RawMessage `json:"value"`
	}
	wrapped := "return (async () => {\n" + script + "\n})();"
	if err := b.mn.Call(ctx, "WebDriver:ExecuteScript", map[string]any{"script": wrapped, "args": []any{}}, &res); err != nil {
		b.fatalf("a script in the page failed: %v\n%s", err, script)
	}
	if out != nil {
		if err := json.Unmarshal(res.Value, out); err != nil {
			b.fatalf("the page's answer %s: %v", res.Value, err)
		}
	}
}

func (b *browser) inContent(url string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := b.mn.Call(ctx, "Marionette:SetContext", map[string]string{"value": "content"}, nil); err != nil {
		b.fatalf("content context: %v", err)
	}
	if err := b.mn.Call(ctx, "WebDriver:Navigate", map[string]string{"url": url}, nil); err != nil {
		b.fatalf("navigate to %s: %v", url, err)
	}
}

// screenshot saves what the page shows as a PNG where the test's artifacts go
// ($SYNCCTL_ARTIFACTS), and also at $SYNCCTL_UI_SCREENSHOTS/name.png when that is set
// (how the README's pictures are made).
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var res struct {
		Value string `json:"value"`
	}
	if err := b.mn.Call(ctx, "WebDriver:TakeScreenshot", map[string]any{"full": true}, &res); err != nil {
		b.fatalf("screenshot: %v", err)
	}
	png, err := base64.StdEncoding.DecodeString(res.Value)
	if err != nil || len(png) < 1000 {
		b.fatalf("screenshot: %d bytes, %v", len(png), err)
	}
	for _, dir := range []string{os.Getenv("SYNCCTL_ARTIFACTS"), os.Getenv("SYNCCTL_UI_SCREENSHOTS")} {
		if dir == "" {
			continue
		}
		os.MkdirAll(dir, 0o755)
		file := name + ".png"
		if dir == os.Getenv("SYNCCTL_ARTIFACTS") {
			file = strings.ReplaceAll(b.t.Name(), "/", "_") + "-" + file
		}
		os.WriteFile(filepath.Join(dir, file), png, 0o644)
	}
}

// The page of `syncctl ui`, in a real Firefox: what Firefox itself synced (a bookmark in
// a folder, two visited pages, a login) and a phone's tabs are there; the history search
// finds a page as one types; a password stays hidden until its button is clicked; the
// status page charts the syncs. The page needs the token: the same address opened again
// is refused.
func TestTheUIShowsTheAccountInAFirefox(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ff := e.startFirefox("Firefox writes, the UI shows")
	ff.signIn()
	ff.sync()
	ff.run(`
const f = await PlacesUtils.bookmarks.insert({parentGuid: PlacesUtils.bookmarks.toolbarGuid, type: PlacesUtils.bookmarks.TYPE_FOLDER, title: "Reading"});
await PlacesUtils.bookmarks.insert({parentGuid: f.guid, url: "https://ui.example/article", title: "An article to read"});
const day = 24 * 3600 * 1000;
await PlacesUtils.history.insert({url: "https://ui.example/recipes", title: "Lentil soup recipe", visits: [{date: new Date(Date.now() - day)}]});
await PlacesUtils.history.insert({url: "https://ui.example/trains", title: "Train times", visits: [{date: new Date()}]});
await Services.logins.addLoginAsync(newLogin("https://bank.ui.example", "me@example.org", "correct horse battery"));
return true;`, nil, nil)
	ff.sync()

	home := t.TempDir()
	runCLI(t, home, "login", "--fxa", email, "--password", password, "--auth-url", e.fxaURL+"/v1", "--token-server", e.syncURL, "--client-id", "test")
	runCLI(t, home, "put", "tabs", "phonephonexx", `{"id":"phonephonexx","clientName":"My phone","tabs":[{"title":"Bus map","urlHistory":["https://bus.ui.example/map"],"icon":null,"lastUsed":1700000000}]}`)
	runCLI(t, home, "sync")
	runCLI(t, home, "sync") // a second, which moves nothing: two bars in the chart

	ui := exec.Command(cli(t), "ui", "-o", "json")
	ui.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, "config"), "XDG_DATA_HOME="+filepath.Join(home, "data"))
	stdout, _ := ui.StdoutPipe()
	ui.Stderr = os.Stderr
	if err := ui.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ui.Process.Kill(); ui.Wait() })
	var started struct{ URL string }
	if err := json.NewDecoder(bufio.NewReader(stdout)).Decode(&started); err != nil || !strings.HasPrefix(started.URL, "http://127.0.0.1:") {
		t.Fatalf("syncctl ui printed %+v (%v)", started, err)
	}
	base := started.URL[:strings.Index(started.URL, "/?token=")]

	ff.inContent(started.URL)
	var tree struct {
		Folders []string
		Links   []string
	}
	ff.page(`return {Folders: [...document.querySelectorAll("#tree summary")].map(s => s.textContent),
		Links: [...document.querySelectorAll("#tree a")].map(a => a.textContent + " " + a.href)};`, &tree)
	if !contains(tree.Folders, "Bookmarks Toolbar") || !contains(tree.Folders, "Reading") || !contains(tree.Links, "An article to read https://ui.example/article") {
		t.Errorf("the bookmark tree: %+v", tree)
	}
	ff.screenshot("bookmarks")

	ff.inContent(base + "/history")
	var search struct {
		Before, After []string
		Count         string
	}
	ff.page(`const visible = () => [...document.querySelectorAll("li.visit")].filter(li => !li.hidden).map(li => li.querySelector("a").textContent);
const before = visible();
const q = document.getElementById("q");
q.value = "lentil";
q.dispatchEvent(new Event("input"));
return {Before: before, After: visible(), Count: document.getElementById("count").textContent};`, &search)
	if !contains(search.Before, "Train times") || !contains(search.Before, "Lentil soup recipe") || len(search.After) != 1 || search.After[0] != "Lentil soup recipe" || search.Count != "1 page" {
		t.Errorf("the history search: %+v", search)
	}
	ff.screenshot("history")

	ff.inContent(base + "/passwords")
	var pw struct{ Hidden, Shown, Page string }
	ff.page(`const secret = document.querySelector(".secret");
const hidden = secret.textContent;
const page = document.body.innerText;
document.querySelector("button.reveal").click();
for (let i = 0; i < 100 && secret.textContent == hidden; i++) await new Promise(r => setTimeout(r, 50));
return {Hidden: hidden, Shown: secret.textContent, Page: page};`, &pw)
	if strings.Contains(pw.Page, "correct horse") || !strings.Contains(pw.Page, "bank.ui.example") || pw.Hidden != "••••••••" || pw.Shown != "correct horse battery" {
		t.Errorf("the password: hidden %q, shown %q; page before the click:\n%s", pw.Hidden, pw.Shown, pw.Page)
	}
	ff.screenshot("passwords")

	ff.inContent(base + "/tabs")
	var tabs string
	ff.page(`return document.querySelector("main").innerText;`, &tabs)
	if !strings.Contains(tabs, "My phone") || !strings.Contains(tabs, "Bus map") {
		t.Errorf("the tabs page:\n%s", tabs)
	}

	ff.inContent(base + "/status")
	var status struct {
		Bars    int
		Engines string
	}
	ff.page(`return {Bars: document.querySelectorAll("#chart g.sync").length, Engines: document.getElementById("engines").innerText};`, &status)
	if status.Bars < 2 || !strings.Contains(status.Engines, "bookmarks") {
		t.Errorf("the status page: %+v", status)
	}
	ff.screenshot("status")

	ff.inContent(started.URL) // the token again, in a browser that has the cookie: refused all the same
	var refused string
	ff.page(`return document.body.innerText;`, &refused)
	if !strings.Contains(refused, "used already") {
		t.Errorf("the one-time address opened a second time: %q", refused)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
