package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/firefox"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/transfer"
	"github.com/syncctl/syncctl/wbo"
)

// cleartextCollections are not encrypted.
func encrypted(collection string) bool { return collection != "meta" }

func newInfoCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "info",
		Short: "Collections on the server, with counts, sizes and timestamps",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			acct, err := a.account(ctx)
			if err != nil {
				return err
			}
			defer acct.close()
			colls, _, err := acct.client.InfoCollections(ctx, 0)
			if err != nil {
				return err
			}
			counts, err := acct.client.InfoCollectionCounts(ctx)
			if err != nil {
				return err
			}
			usage, err := acct.client.InfoCollectionUsage(ctx)
			if err != nil {
				return err
			}
			type row struct {
				Collection string        `json:"collection"`
				Count      int64         `json:"count"`
				SizeKB     float64       `json:"size_kb"`
				Modified   wbo.Timestamp `json:"modified"`
			}
			var rows []row
			for name, ts := range colls {
				rows = append(rows, row{name, counts[name], usage[name], ts})
			}
			sort.Slice(rows, func(i, j int) bool { return rows[i].Collection < rows[j].Collection })
			if a.v.GetString("output") == "json" {
				return writeJSON(cmd.OutOrStdout(), rows)
			}
			t := table(cmd.OutOrStdout(), "COLLECTION", "COUNT", "SIZE", "MODIFIED")
			for _, r := range rows {
				t.row(r.Collection, fmt.Sprint(r.Count), fmt.Sprintf("%.1f KB", r.SizeKB), r.Modified.Time().UTC().Format("2006-01-02 15:04:05"))
			}
			return t.flush()
		},
	}
}

// shownRecord is a record as ls, get and export show it, the cleartext parsed: the line
// of an export, which import reads back.
type shownRecord = transfer.Line

// readCollection streams a collection's records, decrypted, to fn.
func readCollection(cmd *cobra.Command, acct *account, keys *crypto.Keys, coll string, raw bool, fn func(shownRecord) error) error {
	var kb *crypto.KeyBundle
	if encrypted(coll) && !raw {
		kb = acct.bundle(keys, coll)
	}
	skipped := 0
	_, err := acct.client.GetCollection(cmd.Context(), coll, storage.Query{Full: true, Sort: "oldest"}, func(r wbo.Record) error {
		if kb != nil {
			clear, err := kb.DecryptRecord(r)
			if err != nil {
				skipped++
				fmt.Fprintf(cmd.ErrOrStderr(), "syncctl: %s/%s skipped: %v\n", coll, r.ID, err)
				return nil
			}
			r = clear
		}
		payload := json.RawMessage(r.Payload)
		if !json.Valid(payload) {
			payload, _ = json.Marshal(string(r.Payload))
		}
		return fn(shownRecord{Collection: coll, ID: r.ID, Modified: r.Modified, SortIndex: r.SortIndex, Payload: payload})
	})
	return err
}

// summary is a record's most telling field, for ls.
func summary(p json.RawMessage) string {
	var m map[string]any
	if json.Unmarshal(p, &m) != nil {
		return truncate(string(p), 60)
	}
	if d, _ := m["deleted"].(bool); d {
		return "(deleted)"
	}
	for _, k := range []string{"title", "name", "histUri", "hostname", "bmkUri", "text", "clientName", "addonID"} {
		if s, ok := m[k].(string); ok && s != "" {
			return truncate(s, 60)
		}
	}
	return truncate(string(p), 60)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func newLsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ls COLLECTION",
		Short: "List a collection's records, decrypted",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			acct, keys, err := a.withKeys(cmd)
			if err != nil {
				return err
			}
			defer acct.close()
			raw := a.v.GetBool("raw")
			jsonOut := a.v.GetString("output") == "json"
			var t *tableWriter
			if !jsonOut {
				t = table(cmd.OutOrStdout(), "ID", "MODIFIED", "SUMMARY")
			} else {
				fmt.Fprint(cmd.OutOrStdout(), "[")
			}
			n := 0
			err = readCollection(cmd, acct, keys, args[0], raw, func(r shownRecord) error {
				if jsonOut {
					if n > 0 {
						fmt.Fprint(cmd.OutOrStdout(), ",")
					}
					b, _ := json.Marshal(r)
					cmd.OutOrStdout().Write(b)
				} else {
					t.row(r.ID, r.Modified.Time().UTC().Format("2006-01-02 15:04:05"), summary(r.Payload))
				}
				n++
				return nil
			})
			if jsonOut {
				fmt.Fprintln(cmd.OutOrStdout(), "]")
				return err
			}
			if ferr := t.flush(); err == nil {
				err = ferr
			}
			return err
		},
	}
	cmd.Flags().Bool("raw", false, "show the payloads as stored (ciphertext)")
	return cmd
}

// withKeys opens the account and, unless --raw, its crypto/keys.
func (a *app) withKeys(cmd *cobra.Command) (*account, *crypto.Keys, error) {
	acct, err := a.account(cmd.Context())
	if err != nil {
		return nil, nil, err
	}
	if a.v.GetBool("raw") {
		return acct, nil, nil
	}
	keys, err := acct.keys(cmd.Context())
	if err != nil {
		acct.close()
		return nil, nil, err
	}
	return acct, keys, nil
}

func newGetCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get COLLECTION ID",
		Short: "Print one record, decrypted (--raw: the envelope as stored)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			acct, keys, err := a.withKeys(cmd)
			if err != nil {
				return err
			}
			defer acct.close()
			rec, err := acct.client.GetRecord(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if a.v.GetBool("raw") {
				var buf bytes.Buffer
				json.Indent(&buf, rec.AppendJSON(nil), "", "  ")
				fmt.Fprintln(out, buf.String())
				return nil
			}
			if args[0] == crypto.KeysCollection {
				// Verified and opened with the sync key; shown as fingerprints, never keys.
				k, err := crypto.DecryptKeys(rec, acct.syncKey)
				if err != nil {
					return err
				}
				shown := map[string]any{"id": rec.ID, "collection": crypto.KeysCollection, "default": k.Default.Fingerprint()}
				colls := map[string]string{}
				for name, kb := range k.Collections {
					colls[name] = kb.Fingerprint()
				}
				shown["collections"] = colls
				rec.Payload, _ = json.Marshal(shown)
			} else if encrypted(args[0]) {
				if rec, err = acct.bundle(keys, args[0]).DecryptRecord(rec); err != nil {
					return err
				}
			}
			var buf bytes.Buffer
			if json.Indent(&buf, rec.Payload, "", "  ") != nil {
				buf.Write(rec.Payload)
			}
			fmt.Fprintln(out, buf.String())
			return nil
		},
	}
	cmd.Flags().Bool("raw", false, "print the envelope as stored")
	return cmd
}

func newPutCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "put COLLECTION ID|new [JSON|-]",
		Short: "Encrypt and write one record (the cleartext is a JSON object; - reads standard input; the id new makes a fresh GUID)",
		Args:  cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			var body []byte
			if len(args) == 2 || args[2] == "-" {
				b, err := io.ReadAll(cmd.InOrStdin())
				if err != nil {
					return err
				}
				body = b
			} else {
				body = []byte(args[2])
			}
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(body, &obj); err != nil {
				return withCode(exitUsage, fmt.Errorf("the record must be a JSON object: %w", err))
			}
			id := args[1]
			if id == "new" {
				id = wbo.NewGUID(nil) // 12 characters: a valid Places GUID
			}
			if args[0] == "bookmarks" {
				if err := firefox.ValidBookmarkID(id); err != nil {
					return withCode(exitUsage, fmt.Errorf("%w (or pass the id new to get one)", err))
				}
			}
			obj["id"], _ = json.Marshal(id)
			p, _ := json.Marshal(obj)
			return a.write(cmd, args[0], wbo.Record{ID: id, Payload: p}, "written")
		},
	}
	return cmd
}

func newRmCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "rm COLLECTION ID",
		Short: "Delete a record by writing its tombstone, so that other devices delete it too",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.write(cmd, args[0], wbo.Tombstone(args[1]), "deleted")
		},
	}
}

func (a *app) write(cmd *cobra.Command, coll string, rec wbo.Record, verb string) error {
	if coll == "meta" || coll == "crypto" {
		return withCode(exitUsage, fmt.Errorf("%s is managed by sync itself", coll))
	}
	acct, keys, err := a.withKeys(cmd)
	if err != nil {
		return err
	}
	defer acct.close()
	enc, err := acct.bundle(keys, coll).EncryptRecord(rec, nil)
	if err != nil {
		return err
	}
	ts, err := acct.client.PutRecord(cmd.Context(), coll, enc, nil)
	if err != nil {
		return err
	}
	if a.v.GetString("output") == "json" {
		return writeJSON(cmd.OutOrStdout(), map[string]any{"collection": coll, "id": rec.ID, "modified": ts})
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s %s/%s at %s\n", verb, coll, rec.ID, ts)
	return nil
}

// confirm asks on a terminal; elsewhere it needs --yes.
func confirm(cmd *cobra.Command, yes bool, question string) error {
	if yes {
		return nil
	}
	in, ok := cmd.InOrStdin().(*os.File)
	if !ok || !isatty.IsTerminal(in.Fd()) {
		return withCode(exitUsage, errors.New(question+": pass --yes to confirm"))
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%s [y/N] ", question)
	line, _ := bufio.NewReader(in).ReadString('\n')
	if strings.ToLower(strings.TrimSpace(line)) != "y" {
		return withCode(exitUsage, errors.New("not confirmed"))
	}
	return nil
}

func newWipeCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "wipe [COLLECTION]",
		Short: "Delete a collection (or everything) on the server and in this profile's local copy",
		Long: `Delete one collection, or with no argument every collection, on the server and in this
profile's local store, and tell the other devices to wipe theirs (a wipeEngine or
wipeAll command, delivered at their next sync).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			what := "everything on the server"
			if len(args) == 1 {
				what = "the " + args[0] + " collection"
			}
			if err := confirm(cmd, a.v.GetBool("yes"), "delete "+what); err != nil {
				return err
			}
			ctx := cmd.Context()
			acct, err := a.account(ctx)
			if err != nil {
				return err
			}
			defer acct.close()
			s, err := acct.session(ctx, a, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if _, err := s.Wipe(ctx, args...); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted %s\n", what)
			return nil
		},
	}
	cmd.Flags().Bool("yes", false, "do not ask")
	return cmd
}
