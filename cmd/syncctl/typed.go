package main

import (
	"cmp"
	"context"
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
	last wbo.Timestamp // the server's time of the last write
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
	return &writer{a: a, cmd: cmd, acct: acct, keys: keys, cfg: cfg}, nil
}

func (w *writer) close() { w.acct.close() }

// Get is firefox.Records' read: the server's record, decrypted.
func (w *writer) Get(ctx context.Context, coll, id string) ([]byte, error) {
	enc, err := w.acct.client.GetRecord(ctx, coll, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s/%s is not on the server (`syncctl ls %s` lists them)", firefox.ErrNoSuchRecord, coll, id, coll)
	}
	if err != nil {
		return nil, err
	}
	clear, err := w.acct.bundle(w.keys, coll).DecryptRecord(enc)
	if err != nil {
		return nil, err
	}
	if wbo.IsTombstone(clear.Payload) {
		return nil, fmt.Errorf("%w: %s/%s was deleted", firefox.ErrNoSuchRecord, coll, id)
	}
	return clear.Payload, nil
}

// Put is firefox.Records' write.
func (w *writer) Put(_ context.Context, coll string, recs ...firefox.Record) error {
	_, err := w.put(coll, recs...)
	return err
}

// Delete is firefox.Records' tombstone.
func (w *writer) Delete(_ context.Context, coll, id string) error {
	_, err := w.tombstone(coll, id)
	return err
}

// read fetches and parses a record.
func read[T any, P interface {
	*T
	firefox.Record
}](w *writer, coll, id string) (P, error) {
	p, err := w.Get(w.cmd.Context(), coll, id)
	if err != nil {
		return nil, err
	}
	return firefox.Parse[T, P](p)
}

// editError is an Editor's refusal as the CLI says it: a usage error.
func editError(err error) error {
	if errors.Is(err, firefox.ErrRoot) || errors.Is(err, firefox.ErrNotAFolder) || errors.Is(err, firefox.ErrFolderNotEmpty) {
		return withCode(exitUsage, errors.New(strings.TrimPrefix(err.Error(), "firefox: ")))
	}
	if errors.Is(err, firefox.ErrNoSuchRecord) {
		return errors.New(strings.TrimPrefix(err.Error(), firefox.ErrNoSuchRecord.Error()+": "))
	}
	return err
}

// put checks and writes records in order; none is written unless all pass.
func (w *writer) put(coll string, recs ...firefox.Record) (wbo.Timestamp, error) {
	var sealed []wbo.Record
	for _, r := range recs {
		p, err := firefox.Encode(r)
		if err != nil {
			return 0, err
		}
		var id struct{ ID string }
		if err := json.Unmarshal(p, &id); err != nil {
			return 0, err
		}
		enc, err := transfer.Check(w.cfg, w.acct.bundle(w.keys, coll), transfer.Line{Collection: coll, ID: id.ID, Payload: p})
		if err != nil {
			return 0, withCode(exitUsage, errors.New(strings.TrimPrefix(strings.TrimPrefix(err.Error(), "firefox: "), "transfer: ")))
		}
		sealed = append(sealed, enc)
	}
	var ts wbo.Timestamp
	for _, enc := range sealed {
		var err error
		if ts, err = w.acct.client.PutRecord(w.cmd.Context(), coll, enc, nil); err != nil {
			return 0, err
		}
		w.last = ts
	}
	return ts, nil
}

// tombstone deletes a record for every device.
func (w *writer) tombstone(coll, id string) (wbo.Timestamp, error) {
	enc, err := w.acct.bundle(w.keys, coll).EncryptRecord(wbo.Tombstone(id), nil)
	if err != nil {
		return 0, err
	}
	ts, err := w.acct.client.PutRecord(w.cmd.Context(), coll, enc, nil)
	if err == nil {
		w.last = ts
	}
	return ts, err
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

func addBookmarkCmds(a *app, cmd *cobra.Command) {
	add := &cobra.Command{
		Use:   "add URL",
		Short: "Add a bookmark (or with --folder, a folder named URL) as Firefox would",
		Args:  cobra.ExactArgs(1),
		RunE: a.writing(func(cmd *cobra.Command, args []string, w *writer) error {
			var b *firefox.Bookmark
			if a.v.GetBool("folder") {
				b = firefox.NewFolder(args[0], a.v.GetString("parent"), time.Now())
			} else {
				b = firefox.NewBookmark(cmp.Or(a.v.GetString("title"), args[0]), args[0], a.v.GetString("parent"), time.Now())
				b.Tags = a.v.GetStringSlice("tags")
				if k := a.v.GetString("keyword"); k != "" {
					b.Keyword = &k
				}
			}
			if err := (firefox.Editor{R: w}).Add(cmd.Context(), b); err != nil {
				return editError(err)
			}
			return a.written(cmd, "added", "bookmarks", b.ID, w.last, false)
		}),
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
		RunE: a.writing(func(cmd *cobra.Command, args []string, w *writer) error {
			flags := cmd.Flags()
			if !flags.Changed("title") && !flags.Changed("url") && !flags.Changed("tags") && !flags.Changed("keyword") && !flags.Changed("parent") {
				return withCode(exitUsage, errors.New("nothing to change: pass --title, --url, --tags, --keyword or --parent"))
			}
			b, err := (firefox.Editor{R: w}).Update(cmd.Context(), args[0], a.v.GetString("parent"), func(b *firefox.Bookmark) {
				if flags.Changed("title") {
					b.Title = a.v.GetString("title")
				}
				if flags.Changed("url") {
					b.BmkURI = a.v.GetString("url")
				}
				if flags.Changed("tags") {
					b.Tags = a.v.GetStringSlice("tags")
				}
				if flags.Changed("keyword") {
					k := a.v.GetString("keyword")
					b.Keyword = &k
				}
			})
			if err != nil {
				return editError(err)
			}
			return a.written(cmd, "updated", "bookmarks", b.ID, w.last, false)
		}),
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
		RunE: a.writing(func(cmd *cobra.Command, args []string, w *writer) error {
			if err := (firefox.Editor{R: w}).Remove(cmd.Context(), args[0]); err != nil {
				return editError(err)
			}
			return a.written(cmd, "deleted", "bookmarks", args[0], w.last, true)
		}),
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
		RunE: a.writing(func(cmd *cobra.Command, args []string, w *writer) error {
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
		}),
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
	if _, err := w.Get(cmd.Context(), coll, id); err != nil {
		return editError(err)
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
		RunE: a.writing(func(cmd *cobra.Command, args []string, w *writer) error {
			e := firefox.NewFormEntry(args[0], args[1])
			ts, err := w.put("forms", e)
			if err != nil {
				return err
			}
			return a.written(cmd, "added", "forms", e.ID, ts, false)
		}),
	}
	rm := &cobra.Command{
		Use: "rm ID", Short: "Delete a form history entry on every device", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return a.deleteTyped(cmd, "forms", args[0]) },
	}
	cmd.AddCommand(ls, add, rm)
	return cmd
}

// writing runs a record command with a writer open on the account, closed after.
func (a *app) writing(fn func(*cobra.Command, []string, *writer) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		w, err := a.writer(cmd)
		if err != nil {
			return err
		}
		defer w.close()
		return fn(cmd, args, w)
	}
}
