// Package webui is `syncctl ui`: a local web page of what an account holds — the bookmark
// tree, history as a searchable timeline, passwords hidden until revealed, every device's
// tabs, and each engine's sync status with a chart of recent syncs. It serves on
// 127.0.0.1 only, behind a one-time token (other local users cannot read it), with
// plain server-rendered HTML and a little JavaScript, everything embedded: nothing
// leaves the machine and the page needs no network.
package webui

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/syncctl/syncctl/firefox"
)

// Source is where the page reads the account: the server, decrypted with the profile's
// keys. Each page load reads afresh.
type Source interface {
	Bookmarks(ctx context.Context) (map[string]*firefox.Bookmark, error)
	History(ctx context.Context) ([]*firefox.History, error)
	Logins(ctx context.Context) ([]*firefox.Login, error)
	Tabs(ctx context.Context) ([]*firefox.Tabs, error)
	Status(ctx context.Context) (Status, error)
}

// Status is the profile and its syncs.
type Status struct {
	Profile, Server, User, Device string
	LastSync                      time.Time
	Engines                       []EngineStatus
	Syncs                         []SyncRecord // oldest first
}

// EngineStatus is one engine's state.
type EngineStatus struct {
	Name           string
	LastServer     time.Time
	PendingChanges int
}

// SyncRecord is one sync, as the sync log keeps it.
type SyncRecord struct {
	At         time.Time     `json:"at"`
	Took       time.Duration `json:"took"`
	Downloaded int           `json:"downloaded"`
	Uploaded   int           `json:"uploaded"`
	Error      string        `json:"error,omitempty"`
}

//go:embed templates/*.html static/*
var files embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.Local().Format("2006-01-02 15:04")
	},
}).ParseFS(files, "templates/*.html"))

// UI is the page's handler.
type UI struct {
	src Source
	mux *http.ServeMux

	mu      sync.Mutex
	token   string // the one-time token of the URL; "" once used
	session string // the cookie the token was exchanged for
}

// New returns the UI for src, and the one-time token its first URL carries.
func New(src Source) (*UI, string) {
	u := &UI{src: src, token: random(), session: random(), mux: http.NewServeMux()}
	static, _ := fs.Sub(files, "static")
	u.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	u.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/bookmarks", http.StatusSeeOther) })
	u.mux.HandleFunc("GET /bookmarks", u.bookmarks)
	u.mux.HandleFunc("GET /history", u.history)
	u.mux.HandleFunc("GET /passwords", u.passwords)
	u.mux.HandleFunc("POST /passwords/{id}/reveal", u.reveal)
	u.mux.HandleFunc("GET /tabs", u.tabs)
	u.mux.HandleFunc("GET /status", u.status)
	return u, u.token
}

func random() string {
	var b [24]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

const cookieName = "syncctl_ui"

// ServeHTTP lets in the browser that brought the one-time token (once: it gets a
// session cookie, HttpOnly and SameSite=Strict, and the token is spent) and that browser
// only. Every answer forbids framing, caching, referrers and any script, style or image
// from elsewhere.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if tok := r.URL.Query().Get("token"); tok != "" {
		u.mu.Lock()
		ok := u.token != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(u.token)) == 1
		if ok {
			u.token = ""
		}
		u.mu.Unlock()
		if !ok {
			http.Error(w, "This link was used already, or is not this page's: run syncctl ui again for a new one.", http.StatusForbidden)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: cookieName, Value: u.session, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		q := r.URL.Query()
		q.Del("token")
		r.URL.RawQuery = q.Encode()
		http.Redirect(w, r, r.URL.RequestURI(), http.StatusSeeOther)
		return
	}
	c, err := r.Cookie(cookieName)
	if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(u.session)) != 1 {
		http.Error(w, "Open the link syncctl ui printed: this page is for the browser that opened it.", http.StatusForbidden)
		return
	}
	u.mux.ServeHTTP(w, r)
}

// page is what every template gets.
type page struct {
	Title, Active string
	Error         string
	Data          any
}

func (u *UI) render(w http.ResponseWriter, name string, p page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pages.ExecuteTemplate(w, name, p); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

// node is a bookmark and what it holds, for the tree template.
type node struct {
	Title, URL, Kind string
	Children         []*node
}

func (u *UI) bookmarks(w http.ResponseWriter, r *http.Request) {
	p := page{Title: "Bookmarks", Active: "bookmarks"}
	items, err := u.src.Bookmarks(r.Context())
	if err != nil {
		p.Error = err.Error()
		u.render(w, "bookmarks.html", p)
		return
	}
	var roots []*node
	var stack []*node
	firefox.NewTree(items).Walk(firefox.Visitor{
		Enter: func(b *firefox.Bookmark, depth int, _ bool) {
			n := &node{Title: firefox.DisplayTitle(b), URL: b.BmkURI, Kind: b.Type}
			if n.Kind == "" {
				n.Kind = "bookmark"
			}
			stack = stack[:min(depth, len(stack))]
			if depth == 0 || len(stack) == 0 {
				roots = append(roots, n)
			} else {
				parent := stack[len(stack)-1]
				parent.Children = append(parent.Children, n)
			}
			stack = append(stack, n)
		},
	})
	p.Data = roots
	u.render(w, "bookmarks.html", p)
}

// day is one day of the history timeline.
type day struct {
	Date  string
	Pages []visited
}

type visited struct {
	Title, URL, Time string
	Visits           int
}

func (u *UI) history(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	p := page{Title: "History", Active: "history"}
	pages, err := u.src.History(r.Context())
	if err != nil {
		p.Error = err.Error()
		u.render(w, "history.html", p)
		return
	}
	type entry struct {
		visited
		at time.Time
	}
	var all []entry
	needle := strings.ToLower(q)
	for _, h := range pages {
		title := ""
		if h.Title != nil {
			title = *h.Title
		}
		if needle != "" && !strings.Contains(strings.ToLower(title+" "+h.HistURI), needle) {
			continue
		}
		var last int64
		for _, v := range h.Visits {
			last = max(last, v.Date)
		}
		at := time.UnixMicro(last).Local()
		all = append(all, entry{visited{Title: title, URL: h.HistURI, Time: at.Format("15:04"), Visits: len(h.Visits)}, at})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].at.After(all[j].at) })
	var days []day
	for _, e := range all {
		d := e.at.Format("Monday 2 January 2006")
		if len(days) == 0 || days[len(days)-1].Date != d {
			days = append(days, day{Date: d})
		}
		days[len(days)-1].Pages = append(days[len(days)-1].Pages, e.visited)
	}
	p.Data = struct {
		Query string
		Days  []day
		Count int
	}{q, days, len(all)}
	u.render(w, "history.html", p)
}

func (u *UI) passwords(w http.ResponseWriter, r *http.Request) {
	p := page{Title: "Passwords", Active: "passwords"}
	logins, err := u.src.Logins(r.Context())
	if err != nil {
		p.Error = err.Error()
	}
	sort.Slice(logins, func(i, j int) bool { return logins[i].Hostname < logins[j].Hostname })
	type row struct{ ID, Origin, Username string }
	var rows []row
	for _, l := range logins {
		rows = append(rows, row{l.ID, l.Hostname, l.Username}) // the password stays on the server side until asked for
	}
	p.Data = rows
	u.render(w, "passwords.html", p)
}

// reveal answers one password, to the page's own script only: a POST (no link or image
// can make one), with the header the script sets (no form can), from the session.
func (u *UI) reveal(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Syncctl-UI") != "reveal" {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	logins, err := u.src.Logins(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	for _, l := range logins {
		if l.ID == r.PathValue("id") {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write([]byte(l.Password))
			return
		}
	}
	http.NotFound(w, r)
}

func (u *UI) tabs(w http.ResponseWriter, r *http.Request) {
	p := page{Title: "Tabs", Active: "tabs"}
	devices, err := u.src.Tabs(r.Context())
	if err != nil {
		p.Error = err.Error()
	}
	sort.Slice(devices, func(i, j int) bool { return devices[i].ClientName < devices[j].ClientName })
	type tab struct{ Title, URL string }
	type device struct {
		Name string
		Tabs []tab
	}
	var out []device
	for _, d := range devices {
		dev := device{Name: d.ClientName}
		for _, t := range d.Tabs {
			url := ""
			if len(t.URLHistory) > 0 {
				url = t.URLHistory[0]
			}
			dev.Tabs = append(dev.Tabs, tab{t.Title, url})
		}
		out = append(out, dev)
	}
	p.Data = out
	u.render(w, "tabs.html", p)
}

// bar is one sync in the chart: heights in the SVG's units.
type bar struct {
	X, DownH, UpH, DownY, UpY int
	Label                     string
	Failed                    bool
}

func (u *UI) status(w http.ResponseWriter, r *http.Request) {
	p := page{Title: "Status", Active: "status"}
	st, err := u.src.Status(r.Context())
	if err != nil {
		p.Error = err.Error()
	}
	syncs := st.Syncs
	if len(syncs) > 30 {
		syncs = syncs[len(syncs)-30:]
	}
	most := 1
	for _, s := range syncs {
		most = max(most, s.Downloaded, s.Uploaded)
	}
	const height = 100
	var bars []bar
	var errs []SyncRecord
	for i, s := range syncs {
		down, up := s.Downloaded*height/most, s.Uploaded*height/most
		if s.Error != "" {
			down, up = height, 0 // a failed sync is a full red bar, whatever it moved
		}
		down, up = max(down, 1), max(up, 1) // a sync that moved nothing is still a mark
		bars = append(bars, bar{X: i * 20, DownH: down, DownY: height - down, UpH: up, UpY: height - up, Failed: s.Error != "",
			Label: s.At.Local().Format("01-02 15:04") + ": " + strconv.Itoa(s.Downloaded) + " in, " + strconv.Itoa(s.Uploaded) + " out, " + s.Took.Round(10*time.Millisecond).String()})
		if s.Error != "" {
			errs = append(errs, s)
		}
	}
	if len(errs) > 5 {
		errs = errs[len(errs)-5:]
	}
	p.Data = struct {
		Status
		Bars   []bar
		Width  int
		Errors []SyncRecord
	}{st, bars, 30 * 20, errs} // room for 30 syncs, whatever the count: bars keep one width
	u.render(w, "status.html", p)
}
