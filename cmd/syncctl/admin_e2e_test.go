package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// syncBuffer is a process's stderr, read while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// An operator's day with `syncctl serve`, every command a process: add a user, run the
// server with metrics on their own address, a device syncs; then see the users and the
// usage, scrape the metrics, read the access log, disable the user and remove them.
func TestOperatorCommandsOnALiveServer(t *testing.T) {
	t.Parallel()
	op := newDevice(t)
	data, users := filepath.Join(op.home, "srv"), filepath.Join(op.home, "etc", "users")
	var added struct{ Name, Secret string }
	op.json(&added, "serve", "users", "add", "alice", "--users-file", users)
	if added.Name != "alice" || len(added.Secret) != 32 {
		t.Fatalf("users add: %+v", added)
	}
	if fi, err := os.Stat(users); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the users file: %v %v", fi, err)
	}

	cmd := op.command("serve", "--data-dir", data, "--users-file", users, "--listen", "127.0.0.1:0",
		"--metrics-listen", "127.0.0.1:0", "-o", "json")
	stdout, _ := cmd.StdoutPipe()
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var started struct {
		TokenEndpoint string `json:"token_endpoint"`
		Metrics       string `json:"metrics"`
	}
	if err := json.NewDecoder(bufio.NewReader(stdout)).Decode(&started); err != nil || started.Metrics == "" {
		t.Fatalf("serve's first output: %+v %v", started, err)
	}
	server := strings.TrimSuffix(started.TokenEndpoint, "/1.0/sync/1.5")

	dev := newDevice(t)
	dev.ok("login", "--server", server, "--secret", added.Secret)
	dev.ok("bookmarks", "add", "https://example.org/")
	dev.ok("sync")

	var list []struct {
		Name    string `json:"name"`
		UID     int64  `json:"uid"`
		Records int64  `json:"records"`
		Bytes   int64  `json:"bytes"`
	}
	op.json(&list, "serve", "users", "ls", "--data-dir", data)
	if len(list) != 1 || list[0].Name != "alice" || list[0].Records < 5 || list[0].Bytes == 0 {
		t.Fatalf("users ls: %+v", list)
	}
	var usage struct{ Users, Records int64 }
	op.json(&usage, "serve", "usage", "--data-dir", data)
	if usage.Users != 1 || usage.Records != list[0].Records {
		t.Fatalf("usage: %+v", usage)
	}

	resp, err := http.Get(started.Metrics)
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("the metrics endpoint: %v", err)
	}
	issued := 0.0
	for _, m := range families["syncctl_token_requests_total"].GetMetric() {
		for _, l := range m.Label {
			if l.GetName() == "outcome" && l.GetValue() == "issued" {
				issued = m.Counter.GetValue()
			}
		}
	}
	if issued < 1 || families["syncctl_records_written_total"].GetMetric()[0].Counter.GetValue() < 3 {
		t.Fatalf("metrics after a sync: %v tokens issued, written %v", issued, families["syncctl_records_written_total"])
	}
	if r := op.run("serve", "--data-dir", data, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0:1"); r.code != 2 {
		t.Errorf("a bad --metrics-listen: exit %d", r.code)
	}

	access := 0
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"message":"request"`) {
			access++
			if strings.Contains(line, added.Secret) || strings.Contains(line, "/1.5/") || strings.Contains(line, "alice") {
				t.Errorf("the access log shows a secret, a path or a name: %s", line)
			}
		}
	}
	if access < 5 {
		t.Errorf("%d access log lines on stderr, want one per request:\n%s", access, logs.String())
	}

	op.ok("serve", "users", "disable", "alice", "--data-dir", data)
	if r := newDevice(t).run("login", "--server", server, "--secret", added.Secret); r.code != 3 {
		t.Errorf("a disabled user logging in: exit %d, want 3\n%s", r.code, r.stderr)
	}
	if r := op.run("serve", "users", "rm", "alice", "--data-dir", data, "--users-file", users); r.code != 2 {
		t.Errorf("users rm without --yes and no terminal: exit %d", r.code)
	}
	op.ok("serve", "users", "rm", "alice", "--data-dir", data, "--users-file", users, "--yes")
	if b, _ := os.ReadFile(users); strings.Contains(string(b), "alice") {
		t.Errorf("the users file still has alice: %q", b)
	}
	op.json(&list, "serve", "users", "ls", "--data-dir", data)
	if len(list) != 0 {
		t.Errorf("after users rm: %+v", list)
	}
}
