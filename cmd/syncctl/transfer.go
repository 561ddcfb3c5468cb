package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/firefox"
	"github.com/syncctl/syncctl/storage"
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
	p := newProgress(cmd, "exporting", -1)
	switch format {
	case "jsonl":
		for _, c := range colls {
			err = readCollection(cmd, acct, keys, c, storage.Query{Sort: "oldest"}, false, func(r shownRecord) error {
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
		var cw *transfer.CSVWriter
		if cw, err = transfer.NewCSVWriter(w, colls[0]); err != nil {
			return withCode(exitUsage, errors.New("--format csv is for passwords, bookmarks and history"))
		}
		err = readCollection(cmd, acct, keys, colls[0], storage.Query{Sort: "oldest"}, false, func(r shownRecord) error {
			if werr := cw.Write(r); werr != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "syncctl: left out: %v\n", werr)
			}
			p.add(1)
			return nil
		})
		if err == nil {
			err = cw.Flush()
		}
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
	if err != nil || a.v.GetString("out") == "-" || a.v.GetString("out") == "" {
		return err // the export itself went to standard output
	}
	res := struct {
		File        string   `json:"file"`
		Format      string   `json:"format"`
		Collections []string `json:"collections"`
		Records     int      `json:"records"`
	}{a.v.GetString("out"), format, colls, p.count}
	return a.one(cmd, res, say("exported %s of %s to %s", plural(p.count, "record", "records"), plural(len(colls), "collection", "collections"), res.File))
}

// exportBookmarksHTML writes the Netscape bookmark file format: the tree as firefox.Tree
// reads it, under the roots menu, toolbar, unfiled and mobile, then what they do not reach.
func exportBookmarksHTML(cmd *cobra.Command, acct *account, keys *crypto.Keys, w io.Writer) error {
	items := map[string]*firefox.Bookmark{}
	err := readCollection(cmd, acct, keys, "bookmarks", storage.Query{Sort: "oldest"}, false, func(r shownRecord) error {
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
	return transfer.WriteBookmarksHTML(w, firefox.NewTree(items))
}

func newImportCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import [FILE]",
		Short: "Import an export (JSON lines, CSV or bookmarks.html): check, encrypt and upload it (- or no FILE: standard input)",
		Long: `Import records: JSON lines written by export, a CSV of passwords, bookmarks or history
(export --format csv, or Firefox's about:logins export), or a bookmarks.html from any
browser. Every record is checked first (a valid Firefox record, small enough for this
server once encrypted): if any is not, nothing is imported and the command says which.
Bookmarks land in the account's tree beside what is there: the roots keep their
children. meta, crypto and clients records are skipped: they belong to the exporting
account.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return a.importFile(cmd, args) },
	}
	f := cmd.Flags()
	f.String("format", "", "jsonl, csv or html (default: from the file's extension, else jsonl)")
	f.String("collection", "", "with --format csv: passwords, bookmarks or history (default: from the header)")
	f.Bool("dry-run", false, "check every record and count them; upload nothing")
	return cmd
}

// importFile checks every record of the file, then uploads them: a file with one bad
// record stores nothing.
func (a *app) importFile(cmd *cobra.Command, args []string) error {
	ctx := cmd.Context()
	path := "-"
	if len(args) == 1 {
		path = args[0]
	}
	format := a.v.GetString("format")
	if format == "" {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".csv":
			format = "csv"
		case ".html", ".htm":
			format = "html"
		default:
			format = "jsonl"
		}
	}
	src, cleanup, err := a.importSource(cmd, path, format)
	if err != nil {
		return err
	}
	defer cleanup()
	acct, keys, err := a.withKeys(cmd)
	if err != nil {
		return err
	}
	defer acct.close()
	cfg, err := acct.client.Configuration(ctx)
	if err != nil {
		return err
	}
	checked, err := transfer.CheckAll(src(), cfg, func(c string) *crypto.KeyBundle { return acct.bundle(keys, c) })
	if errors.Is(err, transfer.ErrNotAnExport) || errors.Is(err, transfer.ErrNoCSV) {
		return withCode(exitUsage, err)
	}
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("%s: %w", path, err))
	}
	if checked.Bad > 0 {
		for _, p := range checked.Problems {
			fmt.Fprintf(cmd.ErrOrStderr(), "cannot import: %s\n", strings.TrimPrefix(strings.TrimPrefix(p.Error(), "firefox: "), "transfer: "))
		}
		return withCode(exitUsage, fmt.Errorf("%s of %s cannot be imported (listed above%s): nothing was imported",
			plural(checked.Bad, "record", "records"), path, map[bool]string{true: ", the first 10", false: ""}[checked.Bad > 10]))
	}
	counts := checked.Records
	type collCount struct {
		Collection string `json:"collection"`
		Records    int    `json:"records"`
	}
	var per []collCount
	total := 0
	for c, n := range counts {
		per = append(per, collCount{c, n})
		total += n
	}
	sort.Slice(per, func(i, j int) bool { return per[i].Collection < per[j].Collection })
	if a.v.GetBool("dry-run") {
		res := struct {
			DryRun      bool        `json:"dry_run"`
			Records     int         `json:"records"`
			Collections []collCount `json:"collections"`
		}{true, total, per}
		return a.one(cmd, res, say("dry run: %s in %s would be imported; all are valid; nothing was uploaded",
			plural(total, "record", "records"), plural(len(per), "collection", "collections")))
	}
	p := newProgress(cmd, "importing", int64(total))
	res, err := transfer.ImportLines(ctx, src(), transfer.ImportOptions{
		Client: acct.client, Bundle: func(c string) *crypto.KeyBundle { return acct.bundle(keys, c) }, OnStored: p.add,
		OnRefused: func(c, id string, e error) {
			fmt.Fprintf(cmd.ErrOrStderr(), "syncctl: %s/%s not imported: %s\n", c, id, explain(e))
		},
	})
	p.done()
	if err != nil {
		return err
	}
	view := struct {
		Imported    int      `json:"imported"`
		Collections []string `json:"collections"`
		Skipped     int      `json:"skipped"`
		Refused     int      `json:"refused"`
	}{res.Stored, res.Collections, res.Skipped, total - res.Stored}
	err = a.one(cmd, view, func(out io.Writer) error {
		fmt.Fprintf(out, "imported %s into %s", plural(res.Stored, "record", "records"), plural(len(res.Collections), "collection", "collections"))
		if res.Skipped > 0 {
			fmt.Fprintf(out, " (skipped %d of meta, crypto and clients: they belong to the exporting account)", res.Skipped)
		}
		_, err := fmt.Fprintln(out)
		return err
	})
	if err == nil && view.Refused > 0 {
		err = fmt.Errorf("the server refused %s (listed above)", plural(view.Refused, "record", "records"))
	}
	return err
}

// importSource opens what import reads, as something it can read twice (once to check,
// once to upload): a file is opened again, standard input is kept in a private
// temporary file, and CSV and HTML (small, and given new ids as they are read) are read
// once into memory.
func (a *app) importSource(cmd *cobra.Command, path, format string) (func() iter.Seq2[transfer.Line, error], func(), error) {
	cleanup := func() {}
	if path == "-" {
		tmp, err := os.CreateTemp(dataDir(), ".import-*")
		if err != nil {
			if err := os.MkdirAll(dataDir(), 0o700); err != nil {
				return nil, nil, err
			}
			if tmp, err = os.CreateTemp(dataDir(), ".import-*"); err != nil {
				return nil, nil, err
			}
		}
		cleanup = func() { os.Remove(tmp.Name()) }
		_, err = io.Copy(tmp, cmd.InOrStdin())
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			cleanup()
			return nil, nil, err
		}
		path = tmp.Name()
	}
	open := func() (*os.File, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, withCode(exitUsage, err)
		}
		return f, nil
	}
	switch format {
	case "jsonl":
		return func() iter.Seq2[transfer.Line, error] {
			return func(yield func(transfer.Line, error) bool) {
				f, err := open()
				if err != nil {
					yield(transfer.Line{}, err)
					return
				}
				defer f.Close()
				for l, err := range transfer.ReadLines(f) {
					if !yield(l, err) {
						return
					}
				}
			}
		}, cleanup, nil
	case "csv", "html":
		f, err := open()
		if err != nil {
			cleanup()
			return nil, nil, err
		}
		defer f.Close()
		var lines []transfer.Line
		if format == "html" {
			lines, err = transfer.ReadBookmarksHTML(f)
		} else {
			lines, err = readCSV(f, a.v.GetString("collection"))
		}
		if err != nil {
			cleanup()
			return nil, nil, withCode(exitUsage, err)
		}
		return func() iter.Seq2[transfer.Line, error] {
			return func(yield func(transfer.Line, error) bool) {
				for _, l := range lines {
					if !yield(l, nil) {
						return
					}
				}
			}
		}, cleanup, nil
	}
	cleanup()
	return nil, nil, withCode(exitUsage, fmt.Errorf("--format %q: want jsonl, csv or html", format))
}

// readCSV reads a CSV export; without --collection the header says which collection.
func readCSV(r io.Reader, coll string) ([]transfer.Line, error) {
	br := bufio.NewReader(r)
	if coll == "" {
		head, _ := br.Peek(4096)
		first, _, _ := strings.Cut(string(head), "\n")
		switch {
		case strings.Contains(first, "hostname") || strings.Contains(first, "url") && strings.Contains(first, "password"):
			coll = "passwords"
		case strings.Contains(first, "bmkUri"):
			coll = "bookmarks"
		case strings.Contains(first, "histUri"):
			coll = "history"
		default:
			return nil, errors.New("which collection is this CSV? pass --collection passwords, bookmarks or history")
		}
	}
	var lines []transfer.Line
	for l, err := range transfer.ReadCSV(br, coll) {
		if err != nil {
			return nil, err
		}
		lines = append(lines, l)
	}
	return lines, nil
}
