package firefox_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/syncctl/syncctl/firefox"
)

func parsed(t *testing.T, payloads ...string) map[string]*firefox.Bookmark {
	t.Helper()
	out := map[string]*firefox.Bookmark{}
	for _, p := range payloads {
		b, err := firefox.Parse[firefox.Bookmark]([]byte(p))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out[b.ID] = b
	}
	return out
}

// walked is a walk written out: one line per item, indented by depth, orphans marked,
// folders closed.
func walked(tree *firefox.Tree) string {
	var b strings.Builder
	tree.Walk(firefox.Visitor{
		Enter: func(it *firefox.Bookmark, depth int, orphan bool) {
			mark := ""
			if orphan {
				mark = " (orphan)"
			}
			fmt.Fprintf(&b, "%s%s%s\n", strings.Repeat("  ", depth), firefox.DisplayTitle(it), mark)
		},
		Leave: func(it *firefox.Bookmark, depth int) { fmt.Fprintf(&b, "%s/%s\n", strings.Repeat("  ", depth), it.ID) },
	})
	return b.String()
}

func TestTheTreeHangsItemsUnderTheFolderTheirParentIDNames(t *testing.T) {
	t.Parallel()
	items := parsed(t,
		`{"id":"menu","type":"folder","parentid":"places","children":["bbbbbbbbbbbb","aaaaaaaaaaaa"]}`,
		`{"id":"toolbar","type":"folder","parentid":"places","children":["cccccccccccc"]}`,
		`{"id":"aaaaaaaaaaaa","type":"bookmark","parentid":"menu","title":"A"}`,
		`{"id":"bbbbbbbbbbbb","type":"folder","parentid":"menu","title":"B","children":["dddddddddddd"]}`,
		// Listed by the toolbar, but its parentid says menu: the parentid decides.
		`{"id":"cccccccccccc","type":"bookmark","parentid":"menu","title":"C"}`,
		// Listed by nobody: appended to the folder it names.
		`{"id":"eeeeeeeeeeee","type":"bookmark","parentid":"bbbbbbbbbbbb","title":"E"}`,
		`{"id":"dddddddddddd","type":"bookmark","parentid":"bbbbbbbbbbbb","title":"D"}`,
		// Its parent is missing, and it holds a child: it comes after the roots, whole.
		`{"id":"ffffffffffff","type":"folder","parentid":"gone00000000","title":"F","children":["hhhhhhhhhhhh"]}`,
		`{"id":"hhhhhhhhhhhh","type":"bookmark","parentid":"ffffffffffff","title":"H"}`,
		// Two folders that are each other's parent.
		`{"id":"iiiiiiiiiiii","type":"folder","parentid":"jjjjjjjjjjjj","title":"I"}`,
		`{"id":"jjjjjjjjjjjj","type":"folder","parentid":"iiiiiiiiiiii","title":"J"}`,
	)
	tree := firefox.NewTree(items)
	want := `Bookmarks Menu
  B
    D
    E
  /bbbbbbbbbbbb
  A
  C
/menu
Bookmarks Toolbar
/toolbar
F (orphan)
  H (orphan)
/ffffffffffff
I (orphan)
  J (orphan)
  /jjjjjjjjjjjj
/iiiiiiiiiiii
`
	if got := walked(tree); got != want {
		t.Errorf("walk:\n%s\nwant:\n%s", got, want)
	}
	if !tree.Rooted("dddddddddddd") || tree.Rooted("hhhhhhhhhhhh") || tree.Rooted("iiiiiiiiiiii") {
		t.Error("Rooted: want d rooted, h (missing grandparent) and i (a cycle) not")
	}
}

func TestDateAddedReadsBothFormsFirefoxWrites(t *testing.T) {
	t.Parallel()
	items := parsed(t,
		`{"id":"aaaaaaaaaaaa","type":"bookmark","dateAdded":1700000000123}`,
		`{"id":"bbbbbbbbbbbb","type":"bookmark","dateAdded":"1700000000456"}`,
		`{"id":"cccccccccccc","type":"bookmark"}`,
	)
	for id, want := range map[string]int64{"aaaaaaaaaaaa": 1700000000123, "bbbbbbbbbbbb": 1700000000456, "cccccccccccc": 0} {
		if got := items[id].AddedAt(); got != want {
			t.Errorf("%s: AddedAt = %d, want %d", id, got, want)
		}
	}
}
