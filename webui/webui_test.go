package webui

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/syncctl/syncctl/firefox"
)

// account is an in-memory Source, for the handler's own tests (the real one, reading a
// server, is tested end to end in a real browser by cmd/syncctl).
type account struct{ logins []*firefox.Login }

func (a account) Bookmarks(context.Context) (map[string]*firefox.Bookmark, error) {
	return map[string]*firefox.Bookmark{
		"menu":         {ID: "menu", Type: "folder", ParentID: "places", Children: []string{"aaaaaaaaaaaa"}},
		"aaaaaaaaaaaa": {ID: "aaaaaaaaaaaa", Type: "bookmark", Title: "Example <b>", BmkURI: "https://example.org/", ParentID: "menu"},
		"bbbbbbbbbbbb": {ID: "bbbbbbbbbbbb", Type: "bookmark", Title: "Evil", BmkURI: "javascript:alert(1)", ParentID: "menu"},
	}, nil
}
func (account) History(context.Context) ([]*firefox.History, error) {
	t1, t2 := "Go documentation", "Weather"
	return []*firefox.History{
		{ID: "h1", HistURI: "https://go.dev/doc/", Title: &t1, Visits: []firefox.Visit{{Date: time.Now().UnixMicro(), Type: 1}}},
		{ID: "h2", HistURI: "https://weather.example/", Title: &t2, Visits: []firefox.Visit{{Date: time.Now().Add(-48 * time.Hour).UnixMicro(), Type: 1}}},
	}, nil
}
func (a account) Logins(context.Context) ([]*firefox.Login, error) { return a.logins, nil }
func (account) Tabs(context.Context) ([]*firefox.Tabs, error) {
	return []*firefox.Tabs{{ID: "d1", ClientName: "phone", Tabs: []firefox.Tab{{Title: "News", URLHistory: []string{"https://news.example/"}}}}}, nil
}
func (account) Status(context.Context) (Status, error) {
	return Status{Profile: "default", Syncs: []SyncRecord{{At: time.Now(), Downloaded: 10, Uploaded: 2}, {At: time.Now(), Error: "the server is down"}}}, nil
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	r, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return r.StatusCode, string(b)
}

func TestOnlyTheBrowserWithTheTokenGetsIn(t *testing.T) {
	ui, token := New(account{logins: []*firefox.Login{{ID: "l1", Hostname: "https://bank.example", Username: "me", Password: "hunter2"}}})
	srv := httptest.NewServer(ui)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	if code, _ := get(t, http.DefaultClient, srv.URL+"/bookmarks"); code != 403 {
		t.Fatalf("without the token: %d", code)
	}
	if code, body := get(t, browser, srv.URL+"/?token="+token); code != 200 || !strings.Contains(body, "Example &lt;b&gt;") {
		t.Fatalf("with the token: %d %s", code, body)
	}
	if code, _ := get(t, &http.Client{}, srv.URL+"/?token="+token); code != 403 {
		t.Fatalf("the token a second time, from another client: %d", code)
	}
	code, body := get(t, browser, srv.URL+"/bookmarks")
	if code != 200 || strings.Contains(body, "javascript:") {
		t.Fatalf("a javascript: bookmark must not be a live link: %s", body)
	}
	if _, body := get(t, browser, srv.URL+"/passwords"); strings.Contains(body, "hunter2") || !strings.Contains(body, "bank.example") {
		t.Fatalf("the password list shows the password, or not the site: %s", body)
	}
	if code, _ := get(t, browser, srv.URL+"/passwords/l1/reveal"); code != 405 {
		t.Fatalf("a GET reveals: %d", code)
	}
	req, _ := http.NewRequest("POST", srv.URL+"/passwords/l1/reveal", nil)
	if r, _ := browser.Do(req); r.StatusCode != 403 {
		t.Fatalf("a POST without the page's header (a form) reveals: %d", r.StatusCode)
	}
	req.Header.Set("X-Syncctl-UI", "reveal")
	r, _ := browser.Do(req)
	b, _ := io.ReadAll(r.Body)
	if string(b) != "hunter2" || r.Header.Get("Cache-Control") != "no-store" || !strings.Contains(r.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("reveal: %q %v", b, r.Header)
	}
	if _, body := get(t, browser, srv.URL+"/history?q=go"); !strings.Contains(body, "Go documentation") || strings.Contains(body, "Weather") || !strings.Contains(body, "1 page<") {
		t.Fatalf("history search: %s", body)
	}
	if _, body := get(t, browser, srv.URL+"/tabs"); !strings.Contains(body, "phone") || !strings.Contains(body, "https://news.example/") {
		t.Fatalf("tabs: %s", body)
	}
	if _, body := get(t, browser, srv.URL+"/status"); !strings.Contains(body, "<svg") || !strings.Contains(body, "the server is down") || !strings.Contains(body, "10 in, 2 out") {
		t.Fatalf("status: %s", body)
	}
	if code, body := get(t, browser, srv.URL+"/static/ui.js"); code != 200 || !strings.Contains(body, "reveal") {
		t.Fatalf("the script: %d", code)
	}
}
