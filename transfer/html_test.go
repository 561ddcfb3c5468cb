package transfer_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/syncctl/syncctl/firefox"
	"github.com/syncctl/syncctl/transfer"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what was written:\n%s\n(run with -update if the change is meant)", path, got)
	}
}

// TestTheHTMLExportIsTheTree: roots by Firefox's names, dates in either form, escaped
// titles, items outside the tree kept.
func TestTheHTMLExportIsTheTree(t *testing.T) {
	t.Parallel()
	items := map[string]*firefox.Bookmark{}
	for _, p := range []string{
		`{"id":"menu","type":"folder","parentid":"places","children":["aaaaaaaaaaaa","bbbbbbbbbbbb"]}`,
		`{"id":"toolbar","type":"folder","parentid":"places"}`,
		`{"id":"unfiled","type":"folder","parentid":"places","title":"Unsorted"}`,
		`{"id":"aaaaaaaaaaaa","type":"folder","parentid":"menu","title":"Go & friends","dateAdded":1700000000000,"children":["cccccccccccc","dddddddddddd"]}`,
		`{"id":"bbbbbbbbbbbb","type":"separator","parentid":"menu"}`,
		`{"id":"cccccccccccc","type":"bookmark","parentid":"aaaaaaaaaaaa","title":"Go","bmkUri":"https://go.dev/?a=1&b=2","dateAdded":"1700000001000"}`,
		`{"id":"dddddddddddd","type":"bookmark","parentid":"aaaaaaaaaaaa","title":"<Undated>","bmkUri":"https://example.com/"}`,
		`{"id":"eeeeeeeeeeee","type":"bookmark","parentid":"nosuchfolder","title":"Lost","bmkUri":"https://lost.example/"}`,
	} {
		b, err := firefox.Parse[firefox.Bookmark]([]byte(p))
		if err != nil {
			t.Fatal(err)
		}
		items[b.ID] = b
	}
	var out bytes.Buffer
	if err := transfer.WriteBookmarksHTML(&out, firefox.NewTree(items)); err != nil {
		t.Fatal(err)
	}
	golden(t, "bookmarks.html", out.Bytes())
}
