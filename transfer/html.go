package transfer

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"strconv"
	"strings"

	xhtml "golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/syncctl/syncctl/firefox"
	"github.com/syncctl/syncctl/wbo"
)

// rootFlags are the attributes that mark a root folder in a bookmarks file: Firefox's
// for the toolbar and other bookmarks, and one of ours for the mobile root (browsers
// that do not know it import it as a plain folder). The menu's items are the file's
// top level, as Firefox writes them.
var rootFlags = map[string]string{"toolbar": "PERSONAL_TOOLBAR_FOLDER", "unfiled": "UNFILED_BOOKMARKS_FOLDER", "mobile": "MOBILE_BOOKMARKS_FOLDER"}

// WriteBookmarksHTML writes a tree in the Netscape bookmark file format, laid out as
// Firefox exports it: the menu's items at the top level, then the toolbar, other
// bookmarks and mobile roots as marked folders, then the items the roots do not reach.
func WriteBookmarksHTML(w io.Writer, tree *firefox.Tree) error {
	bw := &errWriter{w: w}
	bw.printf("<!DOCTYPE NETSCAPE-Bookmark-file-1>\n<!-- This is an automatically generated file.\n     It will be read and overwritten.\n     DO NOT EDIT! -->\n")
	bw.printf("<META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=UTF-8\">\n<TITLE>Bookmarks</TITLE>\n<H1>Bookmarks Menu</H1>\n\n<DL><p>\n")
	pad := func(depth int) string { return strings.Repeat("    ", depth) }
	// depth: the menu's children are at 1 (under the file's own list), every other root
	// at 1 as a folder, their children at 2.
	depthOf := func(b *firefox.Bookmark, depth int) int {
		if depth == 0 && b.ID == "menu" {
			return 0 // not written: its items are the top level
		}
		return depth + 1
	}
	tree.Walk(firefox.Visitor{
		Enter: func(b *firefox.Bookmark, depth int, orphan bool) {
			if depth == 0 && b.ID == "menu" && !orphan {
				return
			}
			d := depthOf(b, depth)
			if !orphan && depth > 0 && inMenu(tree, b) {
				d = depth
			}
			attrs := ""
			if s := b.AddedAt() / 1000; s > 0 {
				attrs += fmt.Sprintf(" ADD_DATE=\"%d\"", s)
			}
			if flag, ok := rootFlags[b.ID]; ok && depth == 0 {
				attrs += " " + flag + "=\"true\""
			}
			title := html.EscapeString(firefox.DisplayTitle(b))
			switch {
			case firefox.IsFolder(b):
				bw.printf("%s<DT><H3%s>%s</H3>\n%s<DL><p>\n", pad(d), attrs, title, pad(d))
			case b.Type == "separator":
				bw.printf("%s<HR>\n", pad(d))
			default:
				uri := b.BmkURI
				if uri == "" {
					uri = b.SiteURI // a livemark: its site
				}
				if b.Keyword != nil && *b.Keyword != "" {
					attrs += fmt.Sprintf(" SHORTCUTURL=\"%s\"", html.EscapeString(*b.Keyword))
				}
				if len(b.Tags) > 0 {
					attrs += fmt.Sprintf(" TAGS=\"%s\"", html.EscapeString(strings.Join(b.Tags, ",")))
				}
				bw.printf("%s<DT><A HREF=\"%s\"%s>%s</A>\n", pad(d), html.EscapeString(uri), attrs, title)
			}
		},
		Leave: func(b *firefox.Bookmark, depth int) {
			if depth == 0 && b.ID == "menu" {
				return
			}
			d := depthOf(b, depth)
			if depth > 0 && inMenu(tree, b) {
				d = depth
			}
			bw.printf("%s</DL><p>\n", pad(d))
		},
	})
	bw.printf("</DL>\n")
	return bw.err
}

// inMenu reports whether an item hangs under the menu root, whose level the file omits.
func inMenu(tree *firefox.Tree, b *firefox.Bookmark) bool {
	return tree.Under(b.ID, "menu")
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// ReadBookmarksHTML reads a Netscape bookmark file (Firefox's, Chrome's or ours) into
// bookmark records with new ids: the top level and unmarked folders go under the menu,
// marked folders into their roots. The roots' records list only the imported children;
// ImportLines keeps the server's ones before them.
func ReadBookmarksHTML(r io.Reader) ([]Line, error) {
	z := xhtml.NewTokenizer(r)
	type item = map[string]any
	var out []item
	roots := map[string]item{}
	root := func(id string) item {
		if roots[id] == nil {
			roots[id] = item{"id": id, "type": "folder", "parentid": firefox.RootID, "children": []string{}}
		}
		return roots[id]
	}
	stack := []item{root("menu")}
	var pending item // a folder whose <DL> comes next
	seenTopList := false
	addChild := func(it item) {
		parent := stack[len(stack)-1]
		it["parentid"] = parent["id"]
		if t, ok := parent["title"].(string); ok {
			it["parentName"] = t
		}
		parent["children"] = append(parent["children"].([]string), it["id"].(string))
		out = append(out, it)
	}
	text := func(end atom.Atom) string {
		var b strings.Builder
		for {
			switch z.Next() {
			case xhtml.ErrorToken:
				return strings.TrimSpace(b.String())
			case xhtml.TextToken:
				b.Write(z.Text())
			case xhtml.EndTagToken:
				if name, _ := z.TagName(); atom.Lookup(name) == end {
					return strings.TrimSpace(b.String())
				}
			}
		}
	}
	for {
		tt := z.Next()
		if tt == xhtml.ErrorToken {
			if z.Err() == io.EOF {
				break
			}
			return nil, fmt.Errorf("transfer: bookmarks file: %w", z.Err())
		}
		name, hasAttr := z.TagName()
		tag := atom.Lookup(name)
		attrs := map[string]string{}
		for hasAttr {
			var k, v []byte
			k, v, hasAttr = z.TagAttr()
			attrs[strings.ToUpper(string(k))] = string(v)
		}
		switch {
		case tt == xhtml.StartTagToken && tag == atom.H3:
			title := text(atom.H3)
			pending = nil
			for id, flag := range rootFlags {
				if attrs[flag] == "true" && len(stack) == 1 {
					pending = root(id)
				}
			}
			if pending == nil {
				pending = item{"id": wbo.NewGUID(nil), "type": "folder", "title": title, "children": []string{}}
				addDate(pending, attrs)
				addChild(pending)
			}
		case tt == xhtml.StartTagToken && tag == atom.Dl:
			switch {
			case pending != nil:
				stack = append(stack, pending)
				pending = nil
			case !seenTopList:
				seenTopList = true // the file's own list: the menu
			}
		case tt == xhtml.EndTagToken && tag == atom.Dl:
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
		case tt == xhtml.StartTagToken && tag == atom.A:
			it := item{"id": wbo.NewGUID(nil), "type": "bookmark", "bmkUri": attrs["HREF"]}
			it["title"] = text(atom.A)
			addDate(it, attrs)
			if k := attrs["SHORTCUTURL"]; k != "" {
				it["keyword"] = k
			}
			if t := attrs["TAGS"]; t != "" {
				it["tags"] = strings.Split(t, ",")
			}
			if strings.HasPrefix(attrs["HREF"], "place:") {
				it["type"] = "query"
			}
			addChild(it)
		case (tt == xhtml.StartTagToken || tt == xhtml.SelfClosingTagToken) && tag == atom.Hr:
			addChild(item{"id": wbo.NewGUID(nil), "type": "separator"})
		}
	}
	var lines []Line
	for _, id := range firefox.RootIDs {
		if r, ok := roots[id]; ok {
			lines = append(lines, lineOf("bookmarks", r))
		}
	}
	for _, it := range out {
		lines = append(lines, lineOf("bookmarks", it))
	}
	return lines, nil
}

func addDate(it map[string]any, attrs map[string]string) {
	if s, err := strconv.ParseInt(attrs["ADD_DATE"], 10, 64); err == nil && s > 0 {
		it["dateAdded"] = json.Number(strconv.FormatInt(s*1000, 10))
	}
}
