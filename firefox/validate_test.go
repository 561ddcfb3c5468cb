package firefox_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/syncctl/syncctl/firefox"
)

func TestValidateRefusesWhatFirefoxWouldDrop(t *testing.T) {
	for _, c := range []struct {
		coll, id, cleartext, wrong string // wrong "" means valid
	}{
		{"bookmarks", "aaaaaaaaaaaa", `{"type":"bookmark","parentid":"menu","bmkUri":"https://mozilla.org"}`, ""},
		{"bookmarks", "menu", `{"type":"folder","children":["aaaaaaaaaaaa"]}`, ""},
		{"bookmarks", "short", `{"type":"bookmark","parentid":"menu","bmkUri":"https://mozilla.org"}`, "12-character"},
		{"bookmarks", "aaaaaaaaaaaa", `{"type":"bookmark","parentid":"menu"}`, "bmkUri"},
		{"bookmarks", "aaaaaaaaaaaa", `{"type":"link","parentid":"menu","bmkUri":"https://a.b"}`, "type"},
		{"bookmarks", "aaaaaaaaaaaa", `{"type":"bookmark","bmkUri":"https://a.b"}`, "parentid"},
		{"bookmarks", "aaaaaaaaaaaa", `{"type":"folder","parentid":"menu","children":["x"]}`, "children"},
		{"bookmarks", "aaaaaaaaaaaa", `{"deleted":true}`, ""},
		{"passwords", "{a}", `{"hostname":"https://a.b","username":"u","password":"p","formSubmitURL":"https://a.b"}`, ""},
		{"passwords", "{a}", `{"hostname":"https://a.b","password":"p","httpRealm":"r"}`, ""},
		{"passwords", "{a}", `{"hostname":"a.b","password":"p","formSubmitURL":""}`, "hostname"},
		{"passwords", "{a}", `{"hostname":"https://a.b","password":"","formSubmitURL":""}`, "password"},
		{"passwords", "{a}", `{"hostname":"https://a.b","password":"p"}`, "exactly one"},
		{"passwords", "{a}", `{"hostname":"https://a.b","password":"p","formSubmitURL":"","httpRealm":"r"}`, "exactly one"},
		{"forms", "f1", `{"name":"q","value":"v"}`, ""},
		{"forms", "f1", `{"name":"q"}`, "value"},
		{"forms", "f1", `{"name":"q","value":"` + strings.Repeat("v", 201) + `"}`, "at most 200"},
		{"history", "h1", `{"histUri":"https://a.b","visits":[{"date":1,"type":1}]}`, ""},
		{"history", "h1", `{"histUri":"https://a.b","visits":[]}`, "visits"},
		{"notes", "n1", `{"anything":1}`, ""},
	} {
		err := firefox.Validate(c.coll, c.id, []byte(c.cleartext))
		switch {
		case c.wrong == "" && err != nil:
			t.Errorf("%s/%s %s: %v", c.coll, c.id, c.cleartext, err)
		case c.wrong != "" && (err == nil || !strings.Contains(err.Error(), c.wrong)):
			t.Errorf("%s/%s %s: %v, want an error about %s", c.coll, c.id, c.cleartext, err, c.wrong)
		case c.wrong != "" && !errors.Is(err, firefox.ErrInvalidRecord) && !errors.Is(err, firefox.ErrBadBookmarkID):
			t.Errorf("%s/%s: %v is not typed", c.coll, c.id, err)
		}
	}
}

func TestNewRecordsAreValid(t *testing.T) {
	now := time.Now()
	for coll, r := range map[string]firefox.Record{
		"bookmarks": firefox.NewBookmark("T", "https://a.example/", "menu", now),
		"passwords": firefox.NewLogin("https://a.example", "me", "pw", "https://a.example", "", now),
		"forms":     firefox.NewFormEntry("q", "v"),
	} {
		p, err := firefox.Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		var id struct{ ID string }
		json.Unmarshal(p, &id)
		if err := firefox.Validate(coll, id.ID, p); err != nil {
			t.Errorf("%s: %v\n%s", coll, err, p)
		}
	}
	realm := firefox.NewLogin("https://a.example", "", "pw", "", "Realm", now)
	if p, _ := firefox.Encode(realm); firefox.Validate("passwords", realm.ID, p) != nil || !strings.Contains(string(p), `"httpRealm":"Realm"`) || strings.Contains(string(p), "formSubmitURL") {
		t.Errorf("an HTTP-auth login: %s", p)
	}
	if f := firefox.NewFolder("F", "toolbar", now); f.Children == nil {
		t.Error("a new folder's children are nil")
	}
}
