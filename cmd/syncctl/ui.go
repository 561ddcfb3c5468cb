package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/syncctl/syncctl/engine"
	"github.com/syncctl/syncctl/firefox"
	"github.com/syncctl/syncctl/webui"
)

func newUICmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ui",
		Short: "A local web page of your account: bookmarks, history, passwords, tabs, sync status",
		Long: `Serve a web page of the logged-in profile's account on 127.0.0.1 and print its address.
The address carries a one-time token: the first browser to open it gets in, and no one
else (other users of this machine cannot read the page). Everything is read from the
server and decrypted here; the page loads nothing from the network. Ctrl-C stops it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The account must open now, not at the first page load.
			acct, err := a.offlineAccount(cmd.Context())
			if err != nil {
				return err
			}
			acct.close()
			ui, token := webui.New(&uiSource{a: a, cmd: cmd})
			l, err := listen("--listen", a.v.GetString("listen"))
			if err != nil {
				return err
			}
			url := "http://" + l.Addr().String() + "/?token=" + token
			res := struct {
				URL string `json:"url"`
			}{url}
			if err := a.one(cmd, res, say("open %s\n(one browser, once; Ctrl-C stops the page)", url)); err != nil {
				return err
			}
			hs := &http.Server{Handler: ui, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
			go func() {
				<-cmd.Context().Done()
				hs.Close()
			}()
			if err := hs.Serve(l); err != http.ErrServerClosed {
				return err
			}
			return nil
		},
	}
	cmd.Flags().String("listen", "127.0.0.1:0", "address of the page (loopback only: it shows your passwords)")
	return cmd
}

// uiSource reads the account for the page, the way the view commands do.
type uiSource struct {
	a   *app
	cmd *cobra.Command
}

func (s *uiSource) Bookmarks(context.Context) (map[string]*firefox.Bookmark, error) {
	items, err := readTyped[firefox.Bookmark](s.cmd, s.a, "bookmarks")
	byID := map[string]*firefox.Bookmark{}
	for _, b := range items {
		byID[b.ID] = b
	}
	return byID, uiError(err)
}

func (s *uiSource) History(context.Context) ([]*firefox.History, error) {
	h, err := readTyped[firefox.History](s.cmd, s.a, "history")
	return h, uiError(err)
}

func (s *uiSource) Logins(context.Context) ([]*firefox.Login, error) {
	l, err := readTyped[firefox.Login](s.cmd, s.a, "passwords")
	return l, uiError(err)
}

func (s *uiSource) Tabs(context.Context) ([]*firefox.Tabs, error) {
	t, err := readTyped[firefox.Tabs](s.cmd, s.a, "tabs")
	return t, uiError(err)
}

func (s *uiSource) Status(ctx context.Context) (webui.Status, error) {
	acct, err := s.a.offlineAccount(ctx)
	if err != nil {
		return webui.Status{}, uiError(err)
	}
	defer acct.close()
	sess, err := acct.unlockedSession(s.a)
	if err != nil {
		return webui.Status{}, uiError(err)
	}
	saved, err := sess.Status(ctx)
	if err != nil {
		return webui.Status{}, uiError(err)
	}
	st := webui.Status{Profile: acct.profile, Server: acct.server, User: acct.user, Device: s.a.deviceName(), LastSync: saved.LastSync}
	for _, e := range standardEngines {
		es := saved.Engines[e.name]
		var last time.Time
		if es.LastServer != 0 {
			last = es.LastServer.Time()
		}
		st.Engines = append(st.Engines, webui.EngineStatus{Name: e.name, LastServer: last, PendingChanges: es.Pending})
	}
	st.Syncs, err = readSyncLog(syncLogPath(s.a))
	return st, err
}

// uiError is an error as the page shows it: the CLI's one line.
func uiError(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s", explain(err))
}

// The sync log: one JSON line per sync of the profile, the last syncLogKeep kept, for
// the page's chart. It holds counts, durations and error lines, nothing of the records.
const syncLogKeep = 100

func syncLogPath(a *app) string { return filepath.Join(dataDir(), a.profileName()+"-syncs.jsonl") }

// logSync appends a sync's figures to the profile's log (best effort: a sync that
// worked is not failed for its log).
func logSync(a *app, at time.Time, res *engine.Result, err error) {
	rec := webui.SyncRecord{At: at, Took: time.Since(at)}
	if res != nil {
		for _, e := range res.Engines {
			rec.Downloaded += e.Applied + e.Reconciled + e.Deduped
			rec.Uploaded += e.Uploaded
			if e.Err != nil && rec.Error == "" {
				rec.Error = oneLine(e.Err)
			}
		}
	}
	if err != nil {
		rec.Error = oneLine(err)
	}
	path := syncLogPath(a)
	recs, _ := readSyncLog(path)
	recs = append(recs, rec)
	if len(recs) > syncLogKeep {
		recs = recs[len(recs)-syncLogKeep:]
	}
	var b strings.Builder
	for _, r := range recs {
		line, _ := json.Marshal(r)
		b.Write(line)
		b.WriteByte('\n')
	}
	tmp := path + ".tmp"
	if os.WriteFile(tmp, []byte(b.String()), 0o600) == nil {
		os.Rename(tmp, path)
	}
}

func readSyncLog(path string) ([]webui.SyncRecord, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []webui.SyncRecord
	sc := bufio.NewScanner(io.LimitReader(f, 16<<20))
	for sc.Scan() {
		var r webui.SyncRecord
		if json.Unmarshal(sc.Bytes(), &r) == nil {
			out = append(out, r)
		}
	}
	return out, sc.Err()
}
