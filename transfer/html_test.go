package transfer_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/syncctl/syncctl/firefox"
	"github.com/syncctl/syncctl/internal/golden"
	"github.com/syncctl/syncctl/transfer"
)

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
	golden.File(t, filepath.Join("testdata", "bookmarks.html"), out.Bytes())
}
