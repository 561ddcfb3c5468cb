package synchronizer_test

import (
	"go/build"
	"strings"
	"testing"
)

// TestTheSynchronizerKnowsNoTransport: the synchronizer moves records between any two
// repositories, so nothing it depends on, directly or not, speaks HTTP or SyncStorage.
// Errors it must tell apart are the repository's own (repository.ErrConflict).
func TestTheSynchronizerKnowsNoTransport(t *testing.T) {
	t.Parallel()
	const module = "github.com/syncctl/syncctl/"
	forbidden := []string{module + "storage", module + "server", module + "repository/remote", "net/http"}
	seen := map[string]bool{}
	var walk func(path, from string)
	walk = func(path, from string) {
		if seen[path] {
			return
		}
		seen[path] = true
		for _, f := range forbidden {
			if path == f {
				t.Errorf("the synchronizer depends on %s (through %s)", path, from)
			}
		}
		if !strings.HasPrefix(path, module) {
			return // the standard library and modules: only their names matter here
		}
		pkg, err := build.Default.Import(path, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range pkg.Imports {
			walk(imp, path)
		}
	}
	walk(module+"synchronizer", "")
}
