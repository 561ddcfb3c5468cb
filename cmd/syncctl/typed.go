package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/firefox"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/transfer"
	"github.com/syncctl/syncctl/wbo"
)

// writer writes typed Firefox records to the server, each checked as put checks.
type writer struct {
	a    *app
	cmd  *cobra.Command
	acct *account
	keys *crypto.Keys
	cfg  storage.Configuration
}

func (a *app) writer(cmd *cobra.Command) (*writer, error) {
	acct, keys, err := a.withKeys(cmd)
	if err != nil {
		return nil, err
	}
	cfg, err := acct.client.Configuration(cmd.Context())
	if err != nil {
		acct.close()
		return nil, err
	}
	return &writer{a, cmd, acct, keys, cfg}, nil
}

func (w *writer) close() { w.acct.close() }

// read fetches and parses a record; a missing one (or a tombstone) is an error that
// names it.
func read[T any, P interface {
	*T
	firefox.Record
}](w *writer, coll, id string) (P, error) {
	enc, err := w.acct.client.GetRecord(w.cmd.Context(), coll, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("%s/%s: no such record on the server (`syncctl ls %s` lists them)", coll, id, coll)
	}
	if err != nil {
		return nil, err
	}
	clear, err := w.acct.bundle(w.keys, coll).DecryptRecord(enc)
	if err != nil {
		return nil, err
	}
	if wbo.IsTombstone(clear.Payload) {
		return nil, fmt.Errorf("%s/%s was deleted", coll, id)
	}
	return firefox.Parse[T, P](clear.Payload)
}

// put checks and writes records in order; none is written unless all pass.
func (w *writer) put(coll string, recs ...firefox.Record) (wbo.Timestamp, error) {
	var lines []transfer.Line
	for _, r := range recs {
		p, err := firefox.Encode(r)
		if err != nil {
			return 0, err
		}
		var id struct{ ID string }
		if err := json.Unmarshal(p, &id); err != nil {
			return 0, err
		}
		l := transfer.Line{Collection: coll, ID: id.ID, Payload: p}
		if err := transfer.Check(w.cfg, w.acct.bundle(w.keys, coll), l); err != nil {
			return 0, withCode(exitUsage, errors.New(strings.TrimPrefix(strings.TrimPrefix(err.Error(), "firefox: "), "transfer: ")))
		}
		lines = append(lines, l)
	}
	var ts wbo.Timestamp
	for _, l := range lines {
		enc, err := w.acct.bundle(w.keys, coll).EncryptRecord(l.Record(), nil)
		if err != nil {
			return 0, err
		}
		if ts, err = w.acct.client.PutRecord(w.cmd.Context(), coll, enc, nil); err != nil {
			return 0, err
		}
	}
	return ts, nil
}

// tombstone deletes a record for every device.
func (w *writer) tombstone(coll, id string) (wbo.Timestamp, error) {
	enc, err := w.acct.bundle(w.keys, coll).EncryptRecord(wbo.Tombstone(id), nil)
	if err != nil {
		return 0, err
	}
	return w.acct.client.PutRecord(w.cmd.Context(), coll, enc, nil)
}

// written reports a typed write as put does.
func (a *app) written(cmd *cobra.Command, verb, coll, id string, ts wbo.Timestamp, deleted bool) error {
	res := struct {
		Collection string        `json:"collection"`
		ID         string        `json:"id"`
		Modified   wbo.Timestamp `json:"modified"`
		Deleted    bool          `json:"deleted"`
	}{coll, id, ts, deleted}
	return a.one(cmd, res, say("%s %s/%s at %s", verb, coll, id, a.when(ts.Time())))
}

// folder reads a folder, or makes the record of a root the account does not have yet.
func folder(w *writer, id string) (*firefox.Bookmark, error) {
	f, err := read[firefox.Bookmark](w, "bookmarks", id)
	if err != nil && slices.Contains(firefox.RootIDs, id) && strings.Contains(err.Error(), "no such record") {
		return &firefox.Bookmark{ID: id, Type: "folder", ParentID: firefox.RootID, Children: []string{}}, nil
	}
	if err != nil {
		return nil, err
	}
	if !firefox.IsFolder(f) {
		return nil, withCode(exitUsage, fmt.Errorf("bookmarks/%s is a %s, not a folder", id, f.Type))
	}
	return f, nil
}

func addBookmarkCmds(a *app, cmd *cobra.Command) {
	add := &cobra.Command{
		Use:   "add URL",
		Short: "Add a bookmark (or with --folder, a folder named URL) as Firefox would",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := a.writer(cmd)
			if err != nil {
				return err
			}
			defer w.close()
			parent, err := folder(w, a.v.GetString("parent"))
			if err != nil {
				return err
			}
			var b *firefox.Bookmark
			if a.v.GetBool("folder") {
				b = firefox.NewFolder(args[0], parent.ID, time.Now())
			} else {
				title := a.v.GetString("title")
				if title == "" {
					title = args[0]
				}
				b = firefox.NewBookmark(title, args[0], parent.ID, time.Now())
				b.Tags = a.v.GetStringSlice("tags")
				if k := a.v.GetString("keyword"); k != "" {
					b.Keyword = &k
				}
			}
			b.ParentName = firefox.DisplayTitle(parent)
			parent.Children = append(parent.Children, b.ID)
			// The item first, then the folder that lists it: a device that syncs
			// between the two sees an item whose folder does not list it yet, which
			// Firefox reads as the last child, rather than a child that does not exist.
			if _, err := w.put("bookmarks", b); err != nil {
				return err
			}
			ts, err := w.put("bookmarks", parent)
			if err != nil {
				return err
			}
			return a.written(cmd, "added", "bookmarks", b.ID, ts, false)
		},
	}
	f := add.Flags()
	f.String("title", "", "the title (default: the URL)")
	f.String("parent", "unfiled", "the folder: menu, toolbar, unfiled, mobile or a folder's id")
	f.StringSlice("tags", nil, "tags, comma-separated")
	f.String("keyword", "", "a keyword to type in the address bar")
	f.Bool("folder", false, "add a folder whose title is the argument")

	update := &cobra.Command{
		Use:   "update ID",
		Short: "Change a bookmark's title, URL, tags, keyword or folder",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := a.writer(cmd)
			if err != nil {
				return err
			}
			defer w.close()
			b, err := read[firefox.Bookmark](w, "bookmarks", args[0])
			if err != nil {
				return err
			}
			changed := false
			if cmd.Flags().Changed("title") {
				b.Title, changed = a.v.GetString("title"), true
			}
			if cmd.Flags().Changed("url") {
				b.BmkURI, changed = a.v.GetString("url"), true
			}
			if cmd.Flags().Changed("tags") {
				b.Tags, changed = a.v.GetStringSlice("tags"), true
			}
			if cmd.Flags().Changed("keyword") {
				k := a.v.GetString("keyword")
				b.Keyword, changed = &k, true
			}
			var moves []firefox.Record
			if p := a.v.GetString("parent"); cmd.Flags().Changed("parent") && p != b.ParentID {
				from, err := folder(w, b.ParentID)
				if err != nil {
					return err
				}
				to, err := folder(w, p)
				if err != nil {
					return err
				}
				from.Children = slices.DeleteFunc(from.Children, func(c string) bool { return c == b.ID })
				to.Children = append(to.Children, b.ID)
				b.ParentID, b.ParentName, changed = to.ID, firefox.DisplayTitle(to), true
				moves = append(moves, to, from)
			}
			if !changed {
				return withCode(exitUsage, errors.New("nothing to change: pass --title, --url, --tags, --keyword or --parent"))
			}
			ts, err := w.put("bookmarks", append([]firefox.Record{b}, moves...)...)
			if err != nil {
				return err
			}
			return a.written(cmd, "updated", "bookmarks", b.ID, ts, false)
		},
	}
	uf := update.Flags()
	uf.String("title", "", "the new title")
	uf.String("url", "", "the new URL")
	uf.StringSlice("tags", nil, "the new tags, comma-separated (empty: none)")
	uf.String("keyword", "", "the new keyword (empty: none)")
	uf.String("parent", "", "move it into this folder")

	rm := &cobra.Command{
		Use:   "rm ID",
		Short: "Delete a bookmark (or an empty folder) on every device",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if slices.Contains(firefox.RootIDs, args[0]) {
				return withCode(exitUsage, fmt.Errorf("%s is a root: Firefox's roots cannot be deleted", args[0]))
			}
			w, err := a.writer(cmd)
			if err != nil {
				return err
			}
			defer w.close()
			b, err := read[firefox.Bookmark](w, "bookmarks", args[0])
			if err != nil {
				return err
			}
			if firefox.IsFolder(b) && len(b.Children) > 0 {
				return withCode(exitUsage, fmt.Errorf("bookmarks/%s is a folder with %s: remove them first", b.ID, plural(len(b.Children), "item", "items")))
			}
			ts, err := w.tombstone("bookmarks", b.ID)
			if err != nil {
				return err
			}
			if parent, err := folder(w, b.ParentID); err == nil {
				parent.Children = slices.DeleteFunc(parent.Children, func(c string) bool { return c == b.ID })
				if ts, err = w.put("bookmarks", parent); err != nil {
					return err
				}
			}
			return a.written(cmd, "deleted", "bookmarks", b.ID, ts, true)
		},
	}
	cmd.AddCommand(add, update, rm)
}

func addPasswordCmds(a *app, cmd *cobra.Command) {
	secret := func(cmd *cobra.Command) (string, error) {
		pw, err := a.askSecret(cmd, "password", "password to save (not shown): ")
		if err == nil && pw == "" {
			err = withCode(exitUsage, errors.New("no password: pass --password-file FILE, SYNCCTL_PASSWORD, or type it when asked"))
		}
		return pw, err
	}
	add := &cobra.Command{
		Use:   "add ORIGIN",
		Short: "Save a login for a site (ORIGIN is like https://example.com)",
		Long: `Save a login for a site, as Firefox would. The password comes from --password-file,
SYNCCTL_PASSWORD or a prompt that does not show it. A web form's login is the default
(--form-action, the origin its form posts to, defaults to ORIGIN); --realm makes an HTTP
authentication login instead.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := secret(cmd)
			if err != nil {
				return err
			}
			action := a.v.GetString("form-action")
			if action == "" && a.v.GetString("realm") == "" {
				action = args[0]
			}
			w, err := a.writer(cmd)
			if err != nil {
				return err
			}
			defer w.close()
			l := firefox.NewLogin(strings.TrimSuffix(args[0], "/"), a.v.GetString("username"), pw, action, a.v.GetString("realm"), time.Now())
			ts, err := w.put("passwords", l)
			if err != nil {
				return err
			}
			return a.written(cmd, "saved", "passwords", l.ID, ts, false)
		},
	}
	f := add.Flags()
	f.String("username", "", "the user name")
	f.String("password", "", "the password (shows in ps: prefer --password-file, SYNCCTL_PASSWORD or the prompt)")
	f.String("password-file", "", "read the password from this file")
	f.String("form-action", "", "the origin the login form posts to (default: ORIGIN)")
	f.String("realm", "", "an HTTP authentication realm: a login for that, not for a form")

	update := &cobra.Command{
		Use:   "update ID",
		Short: "Change a login's user name or password (--password-file, SYNCCTL_PASSWORD or a prompt)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := a.writer(cmd)
			if err != nil {
				return err
			}
			defer w.close()
			l, err := read[firefox.Login](w, "passwords", args[0])
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("username") {
				l.Username = a.v.GetString("username")
			}
			if a.v.GetBool("new-password") || !cmd.Flags().Changed("username") {
				pw, err := secret(cmd)
				if err != nil {
					return err
				}
				l.Password, l.TimePasswordChanged = pw, time.Now().UnixMilli()
			}
			ts, err := w.put("passwords", l)
			if err != nil {
				return err
			}
			return a.written(cmd, "updated", "passwords", l.ID, ts, false)
		},
	}
	uf := update.Flags()
	uf.String("username", "", "the new user name")
	uf.Bool("new-password", false, "with --username: change the password too")
	uf.String("password", "", "the new password (shows in ps: prefer --password-file, SYNCCTL_PASSWORD or the prompt)")
	uf.String("password-file", "", "read the new password from this file")

	rm := &cobra.Command{
		Use: "rm ID", Short: "Delete a login on every device", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.deleteTyped(cmd, "passwords", args[0])
		},
	}
	cmd.AddCommand(add, update, rm)
}

// deleteTyped writes the tombstone of a record that exists.
func (a *app) deleteTyped(cmd *cobra.Command, coll, id string) error {
	w, err := a.writer(cmd)
	if err != nil {
		return err
	}
	defer w.close()
	if _, err := w.acct.client.GetRecord(cmd.Context(), coll, id); errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("%s/%s: no such record on the server (`syncctl ls %s` lists them)", coll, id, coll)
	} else if err != nil {
		return err
	}
	ts, err := w.tombstone(coll, id)
	if err != nil {
		return err
	}
	return a.written(cmd, "deleted", coll, id, ts, true)
}

func newFormsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "forms", Short: "Form history on the server: what was typed into web forms"}
	ls := &cobra.Command{
		Use: "ls", Short: "List form history entries", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			entries, err := readTyped[firefox.FormEntry](cmd, a, "forms")
			if err != nil {
				return err
			}
			slices.SortFunc(entries, func(x, y *firefox.FormEntry) int {
				return strings.Compare(x.Name+"\x00"+x.Value, y.Name+"\x00"+y.Value)
			})
			type row struct {
				ID    string `json:"id"`
				Name  string `json:"name"`
				Value string `json:"value"`
			}
			l := a.list(cmd, "ID", "FIELD", "VALUE")
			for _, e := range entries {
				l.Add(row{e.ID, e.Name, e.Value}, e.ID, e.Name, e.Value)
			}
			return l.Close()
		},
	}
	add := &cobra.Command{
		Use: "add FIELD VALUE", Short: "Add a form history entry (a value once typed into the field FIELD)", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := a.writer(cmd)
			if err != nil {
				return err
			}
			defer w.close()
			e := firefox.NewFormEntry(args[0], args[1])
			ts, err := w.put("forms", e)
			if err != nil {
				return err
			}
			return a.written(cmd, "added", "forms", e.ID, ts, false)
		},
	}
	rm := &cobra.Command{
		Use: "rm ID", Short: "Delete a form history entry on every device", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return a.deleteTyped(cmd, "forms", args[0]) },
	}
	cmd.AddCommand(ls, add, rm)
	return cmd
}
