package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/firefox"
	"github.com/syncctl/syncctl/repository/remote"
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
				Bytes      int64         `json:"bytes"`
				Modified   wbo.Timestamp `json:"modified"`
			}
			var rows []row
			for name, ts := range colls {
				rows = append(rows, row{name, counts[name], int64(usage[name] * 1024), ts})
			}
			sort.Slice(rows, func(i, j int) bool { return rows[i].Collection < rows[j].Collection })
			l := a.list(cmd, "COLLECTION", "COUNT", "SIZE", "MODIFIED")
			for _, r := range rows {
				l.Add(r, r.Collection, fmt.Sprint(r.Count), size(r.Bytes), a.when(r.Modified.Time()))
			}
			return l.Close()
		},
	}
}

// shownRecord is a record as ls, get and export show it, the cleartext parsed: the line
// of an export, which import reads back.
type shownRecord = transfer.Line

// readCollection streams a collection's records, decrypted, to fn.
func readCollection(cmd *cobra.Command, acct *account, keys *crypto.Keys, coll string, q storage.Query, raw bool, fn func(shownRecord) error) error {
	opts := transfer.ReadOptions{Query: q, OnUnreadable: func(id string, err error) {
		fmt.Fprintf(cmd.ErrOrStderr(), "syncctl: %s/%s skipped: %v\n", coll, id, err)
	}}
	if encrypted(coll) && !raw {
		opts.Bundle = acct.bundle(keys, coll)
	}
	return transfer.Read(cmd.Context(), acct.client, coll, opts, fn)
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
		Long: `List a collection's records, decrypted: newest first unless --sort says otherwise,
without tombstones (deleted records) unless --include-deleted.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := storage.Query{Full: true, Sort: a.v.GetString("sort")}
			if !slices.Contains([]string{"newest", "oldest", "index"}, q.Sort) {
				return withCode(exitUsage, fmt.Errorf("--sort %q: want newest, oldest or index", q.Sort))
			}
			if s := a.v.GetString("since"); s != "" {
				since, err := parseSince(s)
				if err != nil {
					return withCode(exitUsage, err)
				}
				q.Newer = wbo.TimestampOf(since)
			}
			limit := a.v.GetInt("limit")
			if limit < 0 {
				return withCode(exitUsage, fmt.Errorf("--limit %d: want 0 (no limit) or more", limit))
			}
			acct, keys, err := a.withKeys(cmd)
			if err != nil {
				return err
			}
			defer acct.close()
			deleted := a.v.GetBool("include-deleted")
			l := a.list(cmd, "ID", "MODIFIED", "SUMMARY")
			n := 0
			errLimit := errors.New("limit reached")
			err = readCollection(cmd, acct, keys, args[0], q, a.v.GetBool("raw"), func(r shownRecord) error {
				if !deleted && wbo.IsTombstone(r.Payload) {
					return nil
				}
				if limit > 0 && n == limit {
					return errLimit
				}
				n++
				return l.Add(r, r.ID, a.when(r.Modified.Time()), summary(r.Payload))
			})
			if errors.Is(err, errLimit) {
				err = nil
			}
			if cerr := l.Close(); err == nil {
				err = cerr
			}
			return err
		},
	}
	f := cmd.Flags()
	f.Bool("raw", false, "show the payloads as stored (ciphertext)")
	f.Int("limit", 0, "at most this many records (0: all)")
	f.String("sort", "newest", "newest, oldest or index (the server's sortindex)")
	f.String("since", "", "only records modified since a duration ago (72h), a date (2026-11-01) or a server timestamp")
	f.Bool("include-deleted", false, "list tombstones too")
	return cmd
}

// parseSince reads a --since: a duration back from now, a date, an RFC 3339 time or a
// server timestamp in seconds.
func parseSince(s string) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	for _, layout := range []string{"2006-01-02", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > 0 {
		return time.UnixMilli(int64(f * 1000)), nil
	}
	return time.Time{}, fmt.Errorf("--since %q: a duration (72h), a date (2026-11-01), a time (RFC 3339) or a server timestamp", s)
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
			if errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("%s/%s: no such record on the server (`syncctl ls %s` lists them)", args[0], args[1], args[0])
			}
			if err != nil {
				return err
			}
			if a.v.GetBool("raw") {
				env := json.RawMessage(rec.AppendJSON(nil))
				return a.one(cmd, env, func(w io.Writer) error { return indentJSON(w, env) })
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
			payload := json.RawMessage(rec.Payload)
			if !json.Valid(payload) {
				payload, _ = json.Marshal(string(rec.Payload))
			}
			line := shownRecord{Collection: args[0], ID: rec.ID, Modified: rec.Modified, SortIndex: rec.SortIndex, Payload: payload}
			return a.one(cmd, line, func(w io.Writer) error { return indentJSON(w, payload) })
		},
	}
	cmd.Flags().Bool("raw", false, "print the envelope as stored")
	return cmd
}

// indentJSON prints JSON for people, two spaces a level.
func indentJSON(w io.Writer, v json.RawMessage) error {
	var buf bytes.Buffer
	if json.Indent(&buf, v, "", "  ") != nil {
		buf.Reset()
		buf.Write(v)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
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
				return withCode(exitUsage, fmt.Errorf("the record must be a JSON object: %s", jsonProblem(body, err)))
			}
			id := args[1]
			if id == "new" {
				id = wbo.NewGUID(nil) // 12 characters: a valid Places GUID
			}
			obj["id"], _ = json.Marshal(id)
			p, _ := json.Marshal(obj)
			if err := firefox.Validate(args[0], id, p); err != nil {
				hint := ""
				if errors.Is(err, firefox.ErrBadBookmarkID) {
					hint = " (or pass the id new to get one)"
				}
				return withCode(exitUsage, fmt.Errorf("%s%s", strings.TrimPrefix(err.Error(), "firefox: "), hint))
			}
			return a.write(cmd, args[0], wbo.Record{ID: id, Payload: p}, "written")
		},
	}
	return cmd
}

// jsonProblem says what is wrong with a JSON text in a person's terms: where the syntax
// breaks, or what it is instead of an object.
func jsonProblem(body []byte, err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("invalid JSON at byte %d: %s", syntax.Offset, strings.TrimPrefix(syntax.Error(), "json: "))
	case errors.As(err, &typ):
		return fmt.Sprintf("got a JSON %s", typ.Value)
	case len(bytes.TrimSpace(body)) == 0:
		return "got nothing"
	}
	return err.Error()
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
	cfg, err := acct.client.Configuration(cmd.Context())
	if err != nil {
		return err
	}
	if err := remote.Uploadable(cfg, enc); err != nil {
		return withCode(exitUsage, fmt.Errorf("%s/%s is too large for this server once encrypted (%s): a sync could never upload it", coll, rec.ID, size(int64(len(enc.Payload)))))
	}
	ts, err := acct.client.PutRecord(cmd.Context(), coll, enc, nil)
	if err != nil {
		return err
	}
	return a.written(cmd, verb, coll, rec.ID, ts, wbo.IsTombstone(rec.Payload))
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
			if a.v.GetBool("dry-run") {
				return a.dryRunWipe(cmd, "wiping would delete", "nothing was deleted", args...)
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
			res := struct {
				Wiped []string `json:"wiped"`
			}{args}
			if len(args) == 0 {
				res.Wiped = []string{"*"}
			}
			return a.one(cmd, res, say("deleted %s", what))
		},
	}
	cmd.Flags().Bool("yes", false, "do not ask")
	cmd.Flags().Bool("dry-run", false, "delete nothing: count what would be deleted")
	return cmd
}

// dryRunWipe says what a wipe of the named collections (all when none) would delete.
func (a *app) dryRunWipe(cmd *cobra.Command, lead, tail string, colls ...string) error {
	acct, err := a.account(cmd.Context())
	if err != nil {
		return err
	}
	defer acct.close()
	counts, err := acct.client.InfoCollectionCounts(cmd.Context())
	if err != nil {
		return err
	}
	type coll struct {
		Collection string `json:"collection"`
		Records    int64  `json:"records"`
	}
	var would []coll
	total := int64(0)
	for name, n := range counts {
		if len(colls) == 0 || slices.Contains(colls, name) {
			would = append(would, coll{name, n})
			total += n
		}
	}
	sort.Slice(would, func(i, j int) bool { return would[i].Collection < would[j].Collection })
	res := struct {
		DryRun      bool   `json:"dry_run"`
		Collections []coll `json:"collections"`
		Records     int64  `json:"records"`
	}{true, would, total}
	return a.one(cmd, res, say("dry run: %s %s in %s; %s", lead, plural(int(total), "record", "records"), plural(len(would), "collection", "collections"), tail))
}
