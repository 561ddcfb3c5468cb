package interop_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncctl/syncctl/hawk"
)

// requireNode skips where node (or the npm packages) are missing, but fails in CI,
// where .ci/run has installed them.
func requireNode(t *testing.T, npm bool) {
	t.Helper()
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node"
	} else if _, err := os.Stat(filepath.Join("node_modules", "hawk")); npm && err != nil {
		missing = "interop/node_modules (run interop/install.sh)"
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is missing in CI", missing)
	}
	t.Skipf("%s is missing", missing)
}

func node(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "node", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("node %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// serve builds syncctl and runs `syncctl serve` on a free port until the test ends.
func serve(t *testing.T, args ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "syncctl")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/syncctl/syncctl/cmd/syncctl").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, args...)...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := cmd.Wait(); err != nil && ctx.Err() == nil {
			t.Errorf("serve exited: %v", err)
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("serve printed nothing: %v", err)
	}
	var addr string
	if _, err := fmt.Sscanf(line, "syncctl serve: listening on %s", &addr); err != nil {
		t.Fatalf("unexpected first line %q", line)
	}
	go io.Copy(io.Discard, stdout)
	return "http://" + addr
}

type tokenResponse struct {
	ID, Key     string
	UID         int
	APIEndpoint string `json:"api_endpoint"`
}

func getToken(t *testing.T, base, secret string) tokenResponse {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/1.0/sync/1.5", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok tokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != 200 {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return tok
}

func TestAStandardLibraryTokenlibClientRoundTripsAgainstServe(t *testing.T) {
	requireNode(t, false)
	const secret = "interop master secret"
	base := serve(t, "--master-secret", secret, "--user", "alice:pw")
	tok := getToken(t, base, "pw") // only to learn alice's uid; the script mints its own token
	out := node(t, "tokenlib_client.mjs", base, secret, fmt.Sprint(tok.UID))
	t.Log(out)
	if !strings.Contains(out, "10 passed, 0 failed") {
		t.Errorf("script output:\n%s", out)
	}
}

func TestHawkReferenceClientHeadersAreAcceptedByOurServer(t *testing.T) {
	requireNode(t, true)
	base := serve(t, "--user", "alice:pw")
	tok := getToken(t, base, "pw")
	for _, tc := range []struct{ method, path string }{
		{"GET", "/info/collections"},
		{"GET", "/storage/bookmarks?full=1&newer=1.5&sort=oldest"},
		{"DELETE", "/storage/bookmarks"},
	} {
		u := tok.APIEndpoint + tc.path
		header := node(t, "hawk_check.mjs", "sign", u, tc.method, tok.ID, tok.Key)
		req, _ := http.NewRequest(tc.method, u, nil)
		req.Header.Set("Authorization", header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s %s signed by npm hawk: %d", tc.method, tc.path, resp.StatusCode)
		}
		// The same header on another resource must fail: the MAC covers path and query.
		req, _ = http.NewRequest(tc.method, u+map[bool]string{true: "&x=1", false: "?x=1"}[strings.Contains(u, "?")], nil)
		req.Header.Set("Authorization", header)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode != 401 {
				t.Errorf("%s %s with another query: %d, want 401", tc.method, tc.path, resp.StatusCode)
			}
		}
	}
}

func TestOurHawkHeadersAreAcceptedByTheReferenceServer(t *testing.T) {
	requireNode(t, true)
	const key = "werxhqb98rpaxn39848xrunpaw3489ruxnpa98w4rxn"
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "node", "hawk_check.mjs", "serve", key)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); cmd.Wait() }()
	port, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	base := "http://127.0.0.1:" + strings.TrimSpace(port)
	send := func(method, path, body, key string, withHash bool) int {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		u, _ := url.Parse(base + path)
		a := hawk.Target(method, u)
		a.TS, a.Nonce = time.Now().Unix(), fmt.Sprintf("n%d", time.Now().UnixNano())
		if withHash {
			a.Hash = hawk.PayloadHash("application/json", []byte(body))
		}
		req.Header.Set("Authorization", hawk.Header("some-id", []byte(key), &a))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		name, method, path, body, key string
		hash                          bool
		want                          int
	}{
		{"a GET with a query", "GET", "/1.5/1/storage/col?ids=a%2Cb&full=1", "", key, false, 200},
		{"a POST with a payload hash", "POST", "/1.5/1/storage/col?batch=MTIz&commit=true", `[{"id":"a"}]`, key, true, 200},
		{"a PUT without a hash", "PUT", "/1.5/1/storage/col/a", `{"payload":"x"}`, key, false, 200},
		{"the wrong key", "GET", "/1.5/1/info/collections", "", "wrong", false, 401},
	} {
		if got := send(tc.method, tc.path, tc.body, tc.key, tc.hash); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
