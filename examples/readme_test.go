// Package examples_test holds the README to the code: its Go snippets are excerpts of
// Example functions that go test compiles and runs.
package examples_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// normalized is Go source as lines without indentation, blank lines or runs of spaces
// (gofmt aligns comments by context, which an excerpt loses).
func normalized(src string) []string {
	space := regexp.MustCompile(`\s+`)
	var out []string
	for _, l := range strings.Split(src, "\n") {
		if l = strings.TrimSpace(space.ReplaceAllString(l, " ")); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func contains(haystack, needle []string) bool {
	for i := 0; i+len(needle) <= len(haystack); i++ {
		if strings.Join(haystack[i:i+len(needle)], "\n") == strings.Join(needle, "\n") {
			return true
		}
	}
	return false
}

func TestEveryGoSnippetInTheREADMEIsARunExample(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	examples, err := filepath.Glob("../*/example_test.go")
	if err != nil || len(examples) == 0 {
		t.Fatalf("no example files: %v", err)
	}
	var sources [][]string
	for _, p := range examples {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, normalized(string(b)))
	}
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	if len(blocks) == 0 {
		t.Fatal("the README has no Go snippets")
	}
	for _, b := range blocks {
		snippet := normalized(b[1])
		found := false
		for _, src := range sources {
			found = found || contains(src, snippet)
		}
		if !found {
			t.Errorf("this README snippet is in no */example_test.go (write it as an Example, then copy it):\n%s", b[1])
		}
	}
}
