package transfer_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/syncctl/syncctl/firefox"
	"github.com/syncctl/syncctl/transfer"
)

func bookmarkLines() []transfer.Line {
	raw := []string{
		`{"id":"menu","type":"folder","parentid":"places","children":["aaaaaaaaaaaa","ffffffffffff"]}`,
		`{"id":"toolbar","type":"folder","parentid":"places","children":["bbbbbbbbbbbb"]}`,
		`{"id":"unfiled","type":"folder","parentid":"places","children":[]}`,
		`{"id":"aaaaaaaaaaaa","type":"bookmark","parentid":"menu","title":"Mozilla & co","bmkUri":"https://mozilla.org/?a=1&b=2","dateAdded":1700000000000,"tags":["x","y"],"keyword":"moz"}`,
		`{"id":"ffffffffffff","type":"folder","parentid":"menu","title":"Reading","children":["cccccccccccc","dddddddddddd"]}`,
		`{"id":"cccccccccccc","type":"bookmark","parentid":"ffffffffffff","title":"Go","bmkUri":"https://go.dev","dateAdded":5}`,
		`{"id":"dddddddddddd","type":"separator","parentid":"ffffffffffff"}`,
		`{"id":"bbbbbbbbbbbb","type":"bookmark","parentid":"toolbar","title":"Toolbar item","bmkUri":"https://example.com"}`,
	}
	var out []transfer.Line
	for _, r := range raw {
		var m map[string]any
		json.Unmarshal([]byte(r), &m)
		out = append(out, transfer.Line{Collection: "bookmarks", ID: m["id"].(string), Payload: json.RawMessage(r)})
	}
	return out
}

// shape is a tree as paths: "root/folder/title <url>", in order.
func shape(t *testing.T, lines []transfer.Line) []string {
	t.Helper()
	items := map[string]*firefox.Bookmark{}
	for _, l := range lines {
		b, err := firefox.Parse[firefox.Bookmark](l.Payload)
		if err != nil {
			t.Fatal(err)
		}
		items[b.ID] = b
	}
	var out, path []string
	firefox.NewTree(items).Walk(firefox.Visitor{
		Enter: func(b *firefox.Bookmark, depth int, orphan bool) {
			path = append(path[:depth], firefox.DisplayTitle(b))
			s := strings.Join(path, "/")
			if b.BmkURI != "" {
				s += " <" + b.BmkURI + ">"
			}
			if b.Type == "separator" {
				s += "----"
			}
			if len(b.Tags) > 0 {
				s += " tags=" + strings.Join(b.Tags, ",")
			}
			if b.Keyword != nil {
				s += " keyword=" + *b.Keyword
			}
			if orphan {
				s += " (orphan)"
			}
			out = append(out, s)
		},
	})
	return out
}

func TestBookmarksHTMLRoundTrips(t *testing.T) {
	lines := bookmarkLines()
	items := map[string]*firefox.Bookmark{}
	for _, l := range lines {
		b, _ := firefox.Parse[firefox.Bookmark](l.Payload)
		items[b.ID] = b
	}
	var buf bytes.Buffer
	if err := transfer.WriteBookmarksHTML(&buf, firefox.NewTree(items)); err != nil {
		t.Fatal(err)
	}
	file := buf.String()
	for _, want := range []string{
		`<H1>Bookmarks Menu</H1>`,
		`PERSONAL_TOOLBAR_FOLDER="true">Bookmarks Toolbar</H3>`,
		`UNFILED_BOOKMARKS_FOLDER="true">Other Bookmarks</H3>`,
		`<DT><A HREF="https://mozilla.org/?a=1&amp;b=2" ADD_DATE="1700000000" SHORTCUTURL="moz" TAGS="x,y">Mozilla &amp; co</A>`,
		"\n        <DT><A HREF=\"https://go.dev\">Go</A>", // 5 ms is no date: no ADD_DATE="0"
	} {
		if !strings.Contains(file, want) {
			t.Errorf("the file lacks %q:\n%s", want, file)
		}
	}
	if strings.Contains(file, `ADD_DATE="0"`) || strings.Contains(file, "<H3></H3>") {
		t.Errorf("an empty date or title:\n%s", file)
	}
	back, err := transfer.ReadBookmarksHTML(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range back {
		if err := firefox.Validate("bookmarks", l.ID, l.Payload); err != nil {
			t.Errorf("read back invalid: %v", err)
		}
	}
	if got, want := shape(t, back), shape(t, lines); !slices.Equal(got, want) {
		t.Errorf("read back:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAChromeBookmarksFileReadsIntoTheRoots(t *testing.T) {
	file := `<!DOCTYPE NETSCAPE-Bookmark-file-1>
<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=UTF-8">
<TITLE>Bookmarks</TITLE>
<H1>Bookmarks</H1>
<DL><p>
    <DT><H3 ADD_DATE="1" LAST_MODIFIED="2" PERSONAL_TOOLBAR_FOLDER="true">Bookmarks bar</H3>
    <DL><p>
        <DT><A HREF="https://a.example/" ADD_DATE="1600000000">A</A>
        <DT><H3>Sub</H3>
        <DL><p>
            <DT><A HREF="https://b.example/">B</A>
        </DL><p>
    </DL><p>
    <DT><A HREF="https://c.example/">C</A>
</DL><p>`
	lines, err := transfer.ReadBookmarksHTML(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Bookmarks Menu", "Bookmarks Menu/C <https://c.example/>", "Bookmarks Toolbar",
		"Bookmarks Toolbar/A <https://a.example/>", "Bookmarks Toolbar/Sub", "Bookmarks Toolbar/Sub/B <https://b.example/>"}
	if got := shape(t, lines); !slices.Equal(got, want) {
		t.Errorf("got\n%s", strings.Join(got, "\n"))
	}
}

func TestCSVRoundTrips(t *testing.T) {
	logins := []transfer.Line{
		{Collection: "passwords", ID: "{l1}", Payload: json.RawMessage(`{"id":"{l1}","hostname":"https://a.example","username":"me","password":"p, \"quoted\"","formSubmitURL":"https://a.example","usernameField":"u","passwordField":"p","timeCreated":1700000000123,"timesUsed":3}`)},
		{Collection: "passwords", ID: "{l2}", Payload: json.RawMessage(`{"id":"{l2}","hostname":"https://b.example","username":"","password":"q","httpRealm":"Realm","usernameField":"","passwordField":""}`)},
		{Collection: "passwords", ID: "{l3}", Payload: json.RawMessage(`{"id":"{l3}","deleted":true}`)},
	}
	var buf bytes.Buffer
	w, err := transfer.NewCSVWriter(&buf, "passwords")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range logins {
		if err := w.Write(l); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	var back []transfer.Line
	for l, err := range transfer.ReadCSV(strings.NewReader(buf.String()), "passwords") {
		if err != nil {
			t.Fatal(err)
		}
		back = append(back, l)
	}
	if len(back) != 2 {
		t.Fatalf("read %d logins from\n%s", len(back), buf.String())
	}
	for i, l := range back {
		var got, want map[string]any
		json.Unmarshal(l.Payload, &got)
		json.Unmarshal(logins[i].Payload, &want)
		for k, v := range want {
			if g := got[k]; !jsonEqual(g, v) {
				t.Errorf("%s %s: %v, want %v", l.ID, k, g, v)
			}
		}
		if err := firefox.Validate("passwords", l.ID, l.Payload); err != nil {
			t.Error(err)
		}
	}

	// Bookmarks: the folders' children come back from the parentids.
	var bbuf bytes.Buffer
	bw, _ := transfer.NewCSVWriter(&bbuf, "bookmarks")
	for _, l := range bookmarkLines() {
		bw.Write(l)
	}
	bw.Flush()
	var bback []transfer.Line
	for l, err := range transfer.ReadCSV(strings.NewReader(bbuf.String()), "bookmarks") {
		if err != nil {
			t.Fatal(err)
		}
		bback = append(bback, l)
	}
	if got, want := shape(t, bback), shape(t, bookmarkLines()); !slices.Equal(got, want) {
		t.Errorf("bookmarks from CSV:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := transfer.NewCSVWriter(&buf, "tabs"); err == nil {
		t.Error("a CSV of tabs")
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestFirefoxsLoginsCSVReads(t *testing.T) {
	// about:logins → Export Logins writes these columns.
	file := `"url","username","password","httpRealm","formActionOrigin","guid","timeCreated","timeLastUsed","timePasswordChanged"
"https://a.example","me","secret",,"https://a.example","{0a1b}","1700000000000","1700000000001","1700000000002"
"https://b.example","","pw","Realm",,"{0a1c}","1700000000000","1700000000000","1700000000000"
`
	var got []transfer.Line
	for l, err := range transfer.ReadCSV(strings.NewReader(file), "passwords") {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, l)
	}
	if len(got) != 2 || got[0].ID != "{0a1b}" {
		t.Fatalf("%+v", got)
	}
	for _, l := range got {
		if err := firefox.Validate("passwords", l.ID, l.Payload); err != nil {
			t.Errorf("%v: %s", err, l.Payload)
		}
	}
	if !strings.Contains(string(got[0].Payload), `"hostname":"https://a.example"`) || !strings.Contains(string(got[1].Payload), `"httpRealm":"Realm"`) {
		t.Errorf("%s\n%s", got[0].Payload, got[1].Payload)
	}
}
