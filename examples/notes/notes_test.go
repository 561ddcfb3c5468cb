package main_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncctl/syncctl/internal/servertest"
	"github.com/syncctl/syncctl/server"
)

// TestTheNotesExampleSyncsBetweenTwoDevices builds the example and runs it as a user
// would: add on one device, sync both, list on the other; then delete and sync again.
func TestTheNotesExampleSyncsBetweenTwoDevices(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "notes")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	srv := servertest.Start(t, server.Options{}, nil)
	key := strings.Repeat("ab", 32)
	notes := func(device string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"-db", filepath.Join(dir, device+".db"), "-server", srv.URL, "-secret", "alice-secret", "-key", key}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("notes %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	id := strings.TrimSpace(notes("laptop", "add", "buy", "milk"))
	notes("laptop", "sync")
	if out := notes("phone", "sync"); !strings.Contains(out, "1 in") {
		t.Errorf("phone sync: %s", out)
	}
	if out := notes("phone", "list"); !strings.Contains(out, "buy milk") {
		t.Errorf("phone list: %q", out)
	}
	notes("phone", "rm", id)
	notes("phone", "sync")
	notes("laptop", "sync")
	if out := notes("laptop", "list"); strings.Contains(out, "buy milk") {
		t.Errorf("deleted on the phone, still on the laptop: %q", out)
	}
}
