package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/firefox"
	"github.com/syncctl/syncctl/transfer"
	"github.com/syncctl/syncctl/wbo"
)

func newExportCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export [COLLECTION...]",
		Short: "Export collections decrypted: JSON lines, CSV (passwords, bookmarks, history) or bookmarks.html",
		Long: `Export decrypted records. The default format, jsonl, writes one JSON object per record
({"collection","id","modified","sortindex","payload"}) and is what import reads back. csv
writes passwords, bookmarks or history (one collection) as spreadsheets do; html writes
bookmarks as a Netscape bookmarks file that browsers import.`,
		RunE: func(cmd *cobra.Command, args []string) error { return a.export(cmd, args) },
	}
	cmd.Flags().String("format", "jsonl", "jsonl, csv or html")
	cmd.Flags().StringP("out", "f", "-", "output file (- for standard output)")
	return cmd
}

func openOut(cmd *cobra.Command, path string) (io.Writer, func() error, error) {
	if path == "-" || path == "" {
		return cmd.OutOrStdout(), func() error { return nil }, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600) // decrypted data
	if err != nil {
		return nil, nil, err
	}
	return f, f.Close, nil
}

func (a *app) export(cmd *cobra.Command, colls []string) error {
	ctx := cmd.Context()
	acct, keys, err := a.withKeys(cmd)
	if err != nil {
		return err
	}
	defer acct.close()
	format := a.v.GetString("format")
	if len(colls) == 0 {
		all, _, err := acct.client.InfoCollections(ctx, 0)
		if err != nil {
			return err
		}
		for c := range all {
			if c != "crypto" && c != "meta" {
				colls = append(colls, c)
			}
		}
		sort.Strings(colls)
	}
	if format != "jsonl" && len(colls) != 1 {
		return withCode(exitUsage, fmt.Errorf("--format %s exports one collection: name it", format))
	}
	out, closeOut, err := openOut(cmd, a.v.GetString("out"))
	if err != nil {
		return err
	}
	w := bufio.NewWriter(out)
	p := newProgress(cmd, "exporting")
	switch format {
	case "jsonl":
		for _, c := range colls {
			err = readCollection(cmd, acct, keys, c, false, func(r shownRecord) error {
				b, _ := json.Marshal(r)
				w.Write(append(b, '\n'))
				p.add(1)
				return nil
			})
			if err != nil {
				return err
			}
		}
	case "csv":
		err = exportCSV(cmd, acct, keys, colls[0], w)
	case "html":
		if colls[0] != "bookmarks" {
			return withCode(exitUsage, fmt.Errorf("--format html is for bookmarks"))
		}
		err = exportBookmarksHTML(cmd, acct, keys, w)
	default:
		return withCode(exitUsage, fmt.Errorf("--format: want jsonl, csv or html, not %q", format))
	}
	p.done()
	if err == nil {
		err = w.Flush()
	}
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	return err
}

// csvColumns are the fields exported per collection, in Firefox's order where it has one.
var csvColumns = map[string][]string{
	"passwords": {"hostname", "username", "password", "formSubmitURL", "httpRealm", "usernameField", "passwordField", "timeCreated", "timePasswordChanged", "timeLastUsed", "timesUsed", "id"},
	"bookmarks": {"id", "type", "title", "bmkUri", "parentid", "parentName", "keyword", "tags", "dateAdded"},
	"history":   {"id", "histUri", "title", "visits"},
}

func exportCSV(cmd *cobra.Command, acct *account, keys *crypto.Keys, coll string, w io.Writer) error {
	cols, ok := csvColumns[coll]
	if !ok {
		return withCode(exitUsage, fmt.Errorf("--format csv is for passwords, bookmarks and history"))
	}
	cw := csv.NewWriter(w)
	cw.Write(cols)
	err := readCollection(cmd, acct, keys, coll, false, func(r shownRecord) error {
		var m map[string]any
		if err := json.Unmarshal(r.Payload, &m); err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "syncctl: %s/%s left out: not a JSON object: %v\n", coll, r.ID, err)
			return nil
		}
		if m["deleted"] == true {
			return nil
		}
		row := make([]string, len(cols))
		for i, c := range cols {
			switch v := m[c].(type) {
			case nil:
			case string:
				row[i] = v
			case float64:
				row[i] = fmt.Sprintf("%.0f", v)
			default:
				b, _ := json.Marshal(v)
				row[i] = string(b)
			}
		}
		return cw.Write(row)
	})
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	return err
}

// exportBookmarksHTML writes the Netscape bookmark file format: the tree as firefox.Tree
// reads it, under the roots menu, toolbar, unfiled and mobile, then what they do not reach.
func exportBookmarksHTML(cmd *cobra.Command, acct *account, keys *crypto.Keys, w io.Writer) error {
	items := map[string]*firefox.Bookmark{}
	err := readCollection(cmd, acct, keys, "bookmarks", false, func(r shownRecord) error {
		if wbo.IsTombstone(r.Payload) {
			return nil
		}
		b, err := firefox.Parse[firefox.Bookmark](r.Payload)
		if err != nil {
			// Left out of the export, and said so: the rest of the tree is still worth
			// having.
			fmt.Fprintf(cmd.ErrOrStderr(), "syncctl: bookmarks/%s left out: %v\n", r.ID, err)
			return nil
		}
		items[r.ID] = b
		return nil
	})
	if err != nil {
		return err
	}
	writeBookmarksHTML(w, firefox.NewTree(items))
	return nil
}

// writeBookmarksHTML writes a tree in the Netscape bookmark file format.
func writeBookmarksHTML(w io.Writer, tree *firefox.Tree) {
	fmt.Fprint(w, "<!DOCTYPE NETSCAPE-Bookmark-file-1>\n<META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=UTF-8\">\n<TITLE>Bookmarks</TITLE>\n<H1>Bookmarks</H1>\n<DL><p>\n")
	pad := func(depth int) string { return strings.Repeat("    ", depth+1) }
	tree.Walk(firefox.Visitor{
		Enter: func(b *firefox.Bookmark, depth int, _ bool) {
			added := ""
			if ms := b.AddedAt(); ms > 0 {
				added = fmt.Sprintf(" ADD_DATE=\"%d\"", ms/1000)
			}
			title := html.EscapeString(firefox.DisplayTitle(b))
			switch {
			case firefox.IsFolder(b):
				fmt.Fprintf(w, "%s<DT><H3%s>%s</H3>\n%s<DL><p>\n", pad(depth), added, title, pad(depth))
			case b.Type == "separator":
				fmt.Fprintf(w, "%s<HR>\n", pad(depth))
			default:
				uri := b.BmkURI
				if uri == "" {
					uri = b.SiteURI // a livemark: its site
				}
				fmt.Fprintf(w, "%s<DT><A HREF=\"%s\"%s>%s</A>\n", pad(depth), html.EscapeString(uri), added, title)
			}
		},
		Leave: func(_ *firefox.Bookmark, depth int) { fmt.Fprintf(w, "%s</DL><p>\n", pad(depth)) },
	})
	fmt.Fprint(w, "</DL><p>\n")
}

func newImportCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "import [FILE]",
		Short: "Import JSON lines written by export: encrypt and upload them (- or no FILE: standard input)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			in := cmd.InOrStdin()
			if len(args) == 1 && args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			acct, keys, err := a.withKeys(cmd)
			if err != nil {
				return err
			}
			defer acct.close()
			p := newProgress(cmd, "importing")
			res, err := transfer.Import(ctx, in, transfer.ImportOptions{
				Client: acct.client, Bundle: func(c string) *crypto.KeyBundle { return acct.bundle(keys, c) }, OnStored: p.add,
				OnRefused: func(c, id string, e error) {
					fmt.Fprintf(cmd.ErrOrStderr(), "syncctl: %s/%s not imported: %v\n", c, id, e)
				},
			})
			if errors.Is(err, transfer.ErrNotAnExport) {
				return withCode(exitUsage, err)
			}
			if err != nil {
				return err
			}
			total, order, skipped := res.Stored, res.Collections, res.Skipped
			p.done()
			fmt.Fprintf(cmd.OutOrStdout(), "imported %d records into %d collections", total, len(order))
			if skipped > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), " (skipped %d of meta, crypto and clients: they belong to the exporting account)", skipped)
			}
			fmt.Fprintln(cmd.OutOrStdout())
			return nil
		},
	}
}
