package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/syncctl/syncctl/firefox"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/wbo"
)

// readTyped reads a collection from the server, decrypted and parsed, skipping tombstones.
func readTyped[T any, P interface {
	*T
	firefox.Record
}](cmd *cobra.Command, a *app, coll string) ([]P, error) {
	acct, keys, err := a.withKeys(cmd)
	if err != nil {
		return nil, err
	}
	defer acct.close()
	var out []P
	err = readCollection(cmd, acct, keys, coll, storage.Query{Sort: "oldest"}, false, func(r shownRecord) error {
		if wbo.IsTombstone(r.Payload) {
			return nil
		}
		v, err := firefox.ParseOwned[T, P](r.Payload) // decrypted for this record (no Borrow): not reused
		if err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "syncctl: %s/%s: %v\n", coll, r.ID, err)
			return nil
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

func newBookmarksCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "bookmarks", Short: "Bookmarks on the server: the tree, and add, update, rm"}
	tree := &cobra.Command{
		Use: "tree", Short: "Print the bookmark tree (--ids: with each item's id)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			items, err := readTyped[firefox.Bookmark](cmd, a, "bookmarks")
			if err != nil {
				return err
			}
			byID := map[string]*firefox.Bookmark{}
			for _, b := range items {
				byID[b.ID] = b
			}
			if a.format.Machine() {
				return a.bookmarkRows(cmd, byID)
			}
			printTree(cmd.OutOrStdout(), byID, a.v.GetBool("ids"))
			return nil
		},
	}
	tree.Flags().Bool("ids", false, "show each item's id (for bookmarks update and rm)")
	cmd.AddCommand(tree)
	addBookmarkCmds(a, cmd)
	return cmd
}

// bookmarkRows lists the bookmarks in tree order, for scripts: each with its folder
// path and depth, the ones the roots do not reach marked as orphans.
func (a *app) bookmarkRows(cmd *cobra.Command, byID map[string]*firefox.Bookmark) error {
	type row struct {
		ID       string   `json:"id"`
		Type     string   `json:"type"`
		Title    string   `json:"title"`
		URL      string   `json:"url,omitempty"`
		ParentID string   `json:"parent_id"`
		Depth    int      `json:"depth"`
		Tags     []string `json:"tags"`
		Keyword  string   `json:"keyword,omitempty"`
		Orphan   bool     `json:"orphan"`
	}
	l := a.list(cmd)
	firefox.NewTree(byID).Walk(firefox.Visitor{Enter: func(b *firefox.Bookmark, depth int, orphan bool) {
		r := row{ID: b.ID, Type: b.Type, Title: firefox.DisplayTitle(b), URL: b.BmkURI, ParentID: b.ParentID, Depth: depth, Tags: b.Tags, Orphan: orphan}
		if b.Keyword != nil {
			r.Keyword = *b.Keyword
		}
		l.Add(r)
	}})
	return l.Close()
}

// printTree prints the bookmark tree as firefox.Tree reads it, with the items the roots
// do not reach under a heading of their own.
func printTree(out io.Writer, byID map[string]*firefox.Bookmark, ids bool) {
	headed := false
	firefox.NewTree(byID).Walk(firefox.Visitor{Enter: func(b *firefox.Bookmark, depth int, orphan bool) {
		if orphan {
			if !headed {
				fmt.Fprintln(out, "(not in the tree)/")
				headed = true
			}
			depth++
		}
		pad := strings.Repeat("  ", depth)
		if ids {
			pad += "[" + b.ID + "] "
		}
		switch b.Type {
		case "folder", "livemark":
			fmt.Fprintf(out, "%s%s/\n", pad, firefox.DisplayTitle(b))
		case "separator":
			fmt.Fprintf(out, "%s----\n", pad)
		default:
			fmt.Fprintf(out, "%s%s <%s>\n", pad, firefox.DisplayTitle(b), b.BmkURI)
		}
	}})
}

func newPasswordsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "passwords", Short: "Saved logins on the server: ls, add, update, rm"}
	ls := &cobra.Command{
		Use: "ls", Short: "List logins (passwords hidden unless --show)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logins, err := readTyped[firefox.Login](cmd, a, "passwords")
			if err != nil {
				return err
			}
			show := a.v.GetBool("show")
			sort.Slice(logins, func(i, j int) bool {
				return logins[i].Hostname+logins[i].Username < logins[j].Hostname+logins[j].Username
			})
			type row struct {
				ID       string `json:"id"`
				Hostname string `json:"hostname"`
				Username string `json:"username"`
				Password string `json:"password"`
			}
			var rows []row
			for _, l := range logins {
				pw := "••••••••"
				if show {
					pw = l.Password
				}
				rows = append(rows, row{l.ID, l.Hostname, l.Username, pw})
			}
			l := a.list(cmd, "ID", "ORIGIN", "USERNAME", "PASSWORD")
			for _, r := range rows {
				l.Add(r, r.ID, r.Hostname, r.Username, r.Password)
			}
			return l.Close()
		},
	}
	ls.Flags().Bool("show", false, "show the passwords")
	cmd.AddCommand(ls)
	addPasswordCmds(a, cmd)
	return cmd
}

func newHistoryCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "history", Short: "Browsing history on the server, decrypted"}
	ls := &cobra.Command{
		Use: "ls", Short: "List visited pages, most recent first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var since time.Time
			if s := a.v.GetString("since"); s != "" {
				if d, err := time.ParseDuration(s); err == nil {
					since = time.Now().Add(-d)
				} else if t, err := time.Parse("2006-01-02", s); err == nil {
					since = t
				} else {
					return withCode(exitUsage, fmt.Errorf("--since %q: a duration (72h) or a date (2026-11-01)", s))
				}
			}
			pages, err := readTyped[firefox.History](cmd, a, "history")
			if err != nil {
				return err
			}
			type row struct {
				URL       string    `json:"url"`
				Title     string    `json:"title"`
				LastVisit time.Time `json:"last_visit"`
				Visits    int       `json:"visits"`
			}
			var rows []row
			for _, h := range pages {
				var last int64
				for _, v := range h.Visits {
					last = max(last, v.Date)
				}
				t := time.UnixMicro(last)
				if t.Before(since) {
					continue
				}
				title := ""
				if h.Title != nil {
					title = *h.Title
				}
				rows = append(rows, row{h.HistURI, title, t.UTC(), len(h.Visits)})
			}
			sort.Slice(rows, func(i, j int) bool { return rows[i].LastVisit.After(rows[j].LastVisit) })
			l := a.list(cmd, "LAST VISIT", "VISITS", "TITLE", "URL")
			for _, r := range rows {
				l.Add(r, a.when(r.LastVisit), fmt.Sprint(r.Visits), truncate(r.Title, 40), r.URL)
			}
			return l.Close()
		},
	}
	ls.Flags().String("since", "", "only pages visited since a duration ago (72h) or a date (2026-11-01)")
	cmd.AddCommand(ls)
	return cmd
}

func newTabsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "tabs", Short: "Open tabs of every device, from the server"}
	cmd.AddCommand(&cobra.Command{
		Use: "ls", Short: "List every device's open tabs", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			devices, err := readTyped[firefox.Tabs](cmd, a, "tabs")
			if err != nil {
				return err
			}
			sort.Slice(devices, func(i, j int) bool { return devices[i].ClientName < devices[j].ClientName })
			type row struct {
				Device   string `json:"device"`
				DeviceID string `json:"device_id"`
				Title    string `json:"title"`
				URL      string `json:"url"`
			}
			l := a.list(cmd, "DEVICE", "TITLE", "URL")
			for _, d := range devices {
				for _, tab := range d.Tabs {
					url := ""
					if len(tab.URLHistory) > 0 {
						url = tab.URLHistory[0]
					}
					l.Add(row{d.ClientName, d.ID, tab.Title, url}, d.ClientName, truncate(tab.Title, 40), url)
				}
			}
			return l.Close()
		},
	})
	return cmd
}
