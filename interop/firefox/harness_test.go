package firefox_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/engine"
	"github.com/syncctl/syncctl/firefox"
	"github.com/syncctl/syncctl/fixtures/fxaserver"
	"github.com/syncctl/syncctl/fxa"
	"github.com/syncctl/syncctl/internal/marionette"
	"github.com/syncctl/syncctl/repository/sqlite"
	"github.com/syncctl/syncctl/server"
	"github.com/syncctl/syncctl/storage"
)

// The harness: per test, the embedded server with an OAuth verify URL (what `syncctl
// serve --oauth-verify-url` runs), the FxA test double as a real HTTP server, and a real
// firefox-esr, headless, on a fresh profile, driven through Marionette with system
// privileges. Firefox's output (with its Sync log) is kept and shown when a test fails.

const (
	email         = "firefox@example.org"
	password      = "a firefox password"
	keyRotationMS = 1700000000000
)

var (
	firefoxOnce    sync.Once
	firefoxBin     string
	firefoxVersion string
)

// requireFirefox finds firefox-esr; without it a test skips, except in CI, where it fails.
func requireFirefox(t *testing.T) string {
	t.Helper()
	firefoxOnce.Do(func() {
		for _, name := range []string{"firefox-esr", "firefox"} {
			if p, err := exec.LookPath(name); err == nil {
				firefoxBin = p
				out, _ := exec.Command(p, "--version").Output()
				firefoxVersion = strings.TrimSpace(string(out))
				break
			}
		}
	})
	if firefoxBin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("firefox-esr is not installed (.ci/run installs it from Debian's packages)")
		}
		t.Skip("firefox-esr is not installed: apt-get install firefox-esr to run the Firefox tests")
	}
	return firefoxBin
}

// env is one test's servers and account.
type env struct {
	t       *testing.T
	fxa     *fxaserver.Server
	fxaURL  string
	srv     *server.Server
	syncURL string
}

func newEnv(t *testing.T) *env {
	requireFirefox(t)
	t.Logf("Firefox: %s", firefoxVersion)
	fx, err := fxaserver.New(fxaserver.Account{Email: email, Password: password, KeyRotation: keyRotationMS})
	if err != nil {
		t.Fatal(err)
	}
	fxHTTP := httptest.NewServer(fx.Handler())
	t.Cleanup(fxHTTP.Close)
	srv, err := server.New(server.Options{DataDir: t.TempDir(), OAuthVerifyURL: fxHTTP.URL + "/v1/oauth/verify",
		Users: map[string]string{"nobody": "a-secret-nobody-uses"}})
	if err != nil {
		t.Fatal(err)
	}
	sHTTP := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { sHTTP.Close(); srv.Close() })
	return &env{t: t, fxa: fx, fxaURL: fxHTTP.URL, srv: srv, syncURL: sHTTP.URL}
}

func (e *env) fxaClient() *fxa.Client {
	return &fxa.Client{Env: fxa.Environment{AuthURL: e.fxaURL + "/v1", TokenServerURL: e.syncURL, ClientID: "test"}}
}

// login makes a real onepw login against the double: a session of the account.
func (e *env) login() *fxa.Credentials {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cr, err := e.fxaClient().Login(ctx, email, password, fxa.Prompts{})
	if err != nil {
		e.t.Fatal(err)
	}
	return cr
}

// browser is one running Firefox.
type browser struct {
	t       *testing.T
	env     *env
	cmd     *exec.Cmd
	mn      *marionette.Client
	log     *bytes.Buffer
	logMu   *sync.Mutex
	profile string
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startFirefox starts Firefox on a fresh profile pointed at the env's servers.
func (e *env) startFirefox(name string) *browser {
	t := e.t
	bin := requireFirefox(t)
	profile := t.TempDir()
	port := freePort(t)
	prefs := fxaserver.FirefoxPrefs(e.fxaURL, e.syncURL+"/1.0/sync/1.5")
	for k, v := range map[string]any{
		"marionette.port":                            port,
		"identity.fxaccounts.remote.pairing.uri":     fmt.Sprintf("ws://127.0.0.1:%d/", freePort(t)),
		"identity.fxaccounts.account.device.name":    name,
		"browser.dom.window.dump.enabled":            true,
		"services.sync.log.appender.dump":            "Debug",
		"browser.shell.checkDefaultBrowser":          false,
		"browser.startup.homepage_override.mstone":   "ignore",
		"datareporting.policy.dataSubmissionEnabled": false,
		"toolkit.telemetry.reportingpolicy.firstRun": false,
		"app.update.disabledForTesting":              true,
		"browser.safebrowsing.update.enabled":        false,
		"extensions.update.enabled":                  false,
		"services.settings.server":                   "http://127.0.0.1:1/",
		"network.captive-portal-service.enabled":     false,
		"network.connectivity-service.enabled":       false,
		"browser.aboutwelcome.enabled":               false,
	} {
		prefs[k] = v
	}
	if err := os.WriteFile(filepath.Join(profile, "user.js"), []byte(fxaserver.UserJS(prefs)), 0o600); err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, env: e, log: &bytes.Buffer{}, logMu: &sync.Mutex{}, profile: profile}
	b.cmd = exec.Command(bin, "--headless", "--no-remote", "--profile", profile, "--marionette", "-remote-allow-system-access", "about:blank")
	b.cmd.Env = append(os.Environ(), "MOZ_HEADLESS=1", "HOME="+profile)
	b.cmd.Stdout = lockedWriter{b.logMu, b.log}
	b.cmd.Stderr = lockedWriter{b.logMu, b.log}
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.stop)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	mn, err := marionette.Dial(ctx, fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		b.fatalf("Marionette: %v", err)
	}
	b.mn = mn
	if err := mn.NewSession(ctx, 3*time.Minute); err != nil {
		b.fatalf("Marionette session: %v", err)
	}
	var got string
	b.run(`return Services.dirsvc.get("ProfD", Ci.nsIFile).path;`, nil, &got)
	if got != profile {
		b.fatalf("Marionette on port %d is another Firefox's (profile %s)", port, got)
	}
	return b
}

// fatalf fails the test with Firefox's output: the Sync log shows what it did.
func (b *browser) fatalf(format string, args ...any) {
	b.t.Helper()
	b.keepLog()
	b.t.Fatalf(format, args...)
}

// keepLog writes Firefox's output where a failed test's artifacts are kept
// ($SYNCCTL_ARTIFACTS, else the test log) and shows its tail.
func (b *browser) keepLog() {
	b.logMu.Lock()
	out := b.log.String()
	b.logMu.Unlock()
	if dir := os.Getenv("SYNCCTL_ARTIFACTS"); dir != "" {
		os.MkdirAll(dir, 0o755)
		path := filepath.Join(dir, strings.ReplaceAll(b.t.Name(), "/", "_")+".firefox.log")
		os.WriteFile(path, []byte(out), 0o644)
		b.t.Logf("Firefox's output: %s", path)
	}
	lines := strings.Split(out, "\n")
	if len(lines) > 150 {
		lines = lines[len(lines)-150:]
	}
	b.t.Logf("the last lines Firefox wrote:\n%s", strings.Join(lines, "\n"))
}

func (b *browser) stop() {
	if b.t.Failed() {
		b.keepLog()
	}
	if b.mn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		b.mn.Quit(ctx)
		cancel()
	}
	done := make(chan struct{})
	go func() { b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		b.cmd.Process.Kill()
		<-done
	}
}

// run executes a privileged script (an async function body: await works, arguments are
// in args) and decodes its result.
func (b *browser) run(script string, args []any, out any) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	wrapped := "return (async (...args) => {\n" + prelude + script + "\n})(...arguments);"
	if err := b.mn.Execute(ctx, wrapped, args, out); err != nil {
		b.fatalf("script failed: %v\n%s", err, script)
	}
}

// prelude gives every script Firefox's stores.
const prelude = `
const { PlacesUtils } = ChromeUtils.importESModule("resource://gre/modules/PlacesUtils.sys.mjs");
const { FormHistory } = ChromeUtils.importESModule("resource://gre/modules/FormHistory.sys.mjs");
const { Weave } = ChromeUtils.importESModule("resource://services-sync/main.sys.mjs");
const { Status } = ChromeUtils.importESModule("resource://services-sync/status.sys.mjs");
const newLogin = (origin, user, pass) => {
  const l = Cc["@mozilla.org/login-manager/loginInfo;1"].createInstance(Ci.nsILoginInfo);
  l.init(origin, origin, null, user, pass, "user", "pass");
  return l;
};
// The bookmark tree under a root: [guid, type, title, url, children] nested.
const tree = async (guid) => {
  const walk = (n) => ({guid: n.guid, type: n.typeCode, title: n.title || "", url: n.uri || "",
    children: (n.children || []).map(walk)});
  return walk(await PlacesUtils.promiseBookmarksTree(guid));
};
`

// signIn signs Firefox in to the account with a fresh session of its own, without a web
// page, and lets Sync configure itself (which starts a first sync).
func (b *browser) signIn() {
	cr := b.env.login()
	kB, _ := hex.DecodeString(cr.KB)
	b.run("const [user] = args;\n"+fxaserver.FirefoxSignIn+"return true;", []any{fxaserver.FirefoxUser(cr, kB, keyRotationMS)}, nil)
}

// syncStatus is what Firefox says of its last sync.
type syncStatus struct {
	Sync, Service, Login string
	ClusterURL           string
	Engines              map[string]string // engine → its status, when not ok
}

// sync waits for any sync under way, runs one, waits for it, and fails the test unless
// Firefox reports success.
func (b *browser) sync() syncStatus {
	b.t.Helper()
	var st syncStatus
	b.run(`
const idle = async () => { for (let i = 0; i < 600 && Weave.Service.locked; i++) await new Promise(r => setTimeout(r, 100)); };
await idle();
await Weave.Service.sync({why: "test"});
await idle();
return {Sync: Status.sync, Service: Status.service, Login: Status.login, ClusterURL: Weave.Service.clusterURL,
  Engines: Object.fromEntries(Object.entries(Status.engines || {}))};`, nil, &st)
	if st.Sync != "success.sync" {
		b.fatalf("Firefox's sync: %+v", st)
	}
	return st
}

// syncctl is the other side: a device with syncctl's engines and local store, logged in
// to the same account with a session of its own.
type syncctl struct {
	t       *testing.T
	env     *env
	cr      *fxa.Credentials
	db      *sqlite.DB
	session *engine.Session
	syncKey *crypto.KeyBundle
	client  *storage.Client
}

func (e *env) newSyncctl(name string) *syncctl {
	t := e.t
	cr := e.login()
	syncKey, err := cr.SyncKey()
	if err != nil {
		t.Fatal(err)
	}
	c := e.fxaClient()
	tokens := &storage.TokenServer{URL: e.syncURL, KeyID: cr.KeyID, Bearer: func(ctx context.Context) (string, error) {
		tok, _, err := c.Bearer(ctx, cr)
		return tok, err
	}}
	db, err := sqlite.Open(filepath.Join(t.TempDir(), name+".db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	reg := engine.NewRegistry(firefox.Engines(func(c string) firefox.Store { return db.Collection(c) })...)
	s, err := engine.NewSession(engine.Options{Tokens: tokens, SyncKey: syncKey, State: db, Engines: reg, ClientName: name,
		HTTPClient: &http.Client{Timeout: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	return &syncctl{t: t, env: e, cr: cr, db: db, session: s, syncKey: syncKey, client: s.Client()}
}

func (s *syncctl) sync() *engine.Result {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := s.session.Sync(ctx)
	if err != nil {
		s.t.Fatalf("syncctl sync: %v", err)
	}
	for name, e := range res.Engines {
		if e.Err != nil || e.Failed > 0 || e.Rejected > 0 {
			s.t.Errorf("syncctl %s: %+v", name, e)
		}
	}
	return res
}

type engineClient = engine.ClientRecord

// bothSynced starts a Firefox that signs in and syncs first, then a syncctl device that
// syncs the account Firefox set up.
func (e *env) bothSynced(firefoxName, syncctlName string) (*browser, *syncctl) {
	ff := e.startFirefox(firefoxName)
	ff.signIn()
	ff.sync()
	sc := e.newSyncctl(syncctlName)
	sc.sync()
	return ff, sc
}
