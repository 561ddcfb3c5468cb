package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/internal/output"
	"github.com/syncctl/syncctl/offline"
)

func offlinePath(a *app) string { return filepath.Join(dataDir(), a.profileName()+"-offline.db") }

// offlineLoop opens the profile's offline store and a loop over it.
func (a *app) offlineLoop(ctx context.Context, colls []string, opts offline.Options) (*offline.Loop, *offline.Store, *account, error) {
	acct, err := a.account(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := offline.Open(offlinePath(a))
	if err != nil {
		acct.close()
		return nil, nil, nil, err
	}
	var keys *crypto.Keys
	opts.Store, opts.Client, opts.Collections, opts.Logger = st, acct.client, colls, &a.log
	opts.Keys = func(ctx context.Context) (*crypto.Keys, error) {
		if keys == nil {
			k, err := acct.keys(ctx)
			if err != nil {
				return nil, err
			}
			keys = k
		}
		return keys, nil
	}
	return offline.NewLoop(opts), st, acct, nil
}

func newDaemonCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Keep the offline store in sync in the background until stopped",
		Long: `Run the offline-first sync loop over this profile's offline store (written with
"syncctl offline" or by an app using the offline package): fetch remote changes, upload
pending ones, pause 5 s after a network failure and 60 s when idle. SIGINT or SIGTERM
stop it after the round in progress; pending changes stay queued on disk either way.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			defer limitSyncMemory(os.Getenv)()
			ctx := cmd.Context()
			colls := a.v.GetStringSlice("collection")
			l, st, acct, err := a.offlineLoop(ctx, colls, offline.Options{
				StatusFile: a.v.GetString("status-file"), IdlePause: a.v.GetDuration("idle-pause"), FailurePause: a.v.GetDuration("failure-pause"),
			})
			if err != nil {
				return err
			}
			defer acct.close()
			defer st.Close()
			out := cmd.OutOrStdout()
			if !a.format.Machine() {
				fmt.Fprintf(out, "syncctl daemon: syncing %s\n", strings.Join(colls, ", "))
			}
			// Machine formats get every event as one JSON line (JSON and JSON lines alike:
			// the daemon's output is a stream), people a line per thing that happened.
			events := output.NewList(out, output.JSONL)
			type eventView struct {
				Event      string `json:"event"`
				Collection string `json:"collection,omitempty"`
				Count      int    `json:"count"`
				Pending    int    `json:"pending"`
				Error      string `json:"error,omitempty"`
				RetryIn    string `json:"retry_in,omitempty"`
			}
			l.Start(ctx)
			for e := range l.Events() {
				if a.format.Machine() {
					v := eventView{Event: e.Kind, Collection: e.Collection, Count: e.Count, Pending: e.Pending}
					if e.Err != nil {
						v.Error, v.RetryIn = oneLine(e.Err), e.Pause.String()
					}
					events.Add(v)
					if e.Kind == "stopped" {
						return nil
					}
					continue
				}
				switch e.Kind {
				case "fetched", "uploaded":
					fmt.Fprintf(out, "%s %s (%s)\n", e.Kind, plural(e.Count, "operation", "operations"), e.Collection)
				case "error":
					fmt.Fprintf(out, "error: %s; %s pending; retrying in %s\n", oneLine(e.Err), plural(e.Pending, "change", "changes"), e.Pause)
				case "stopped":
					fmt.Fprintln(out, "stopped")
					return nil
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSlice("collection", []string{"notes"}, "collections to sync")
	f.String("status-file", "", "write the loop's state here as JSON after every round")
	f.Duration("idle-pause", 0, "pause when there is nothing to do (default 60s)")
	f.Duration("failure-pause", 0, "pause after a network failure (default 5s)")
	return cmd
}

func newOfflineCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "offline",
		Short: "Read and write the offline store (field-level changes, synced by `syncctl daemon`)",
	}
	withStore := func(fn func(*cobra.Command, []string, *offline.Store) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			st, err := offline.Open(offlinePath(a))
			if err != nil {
				return err
			}
			defer st.Close()
			return fn(cmd, args, st)
		}
	}
	set := &cobra.Command{
		Use:   "set COLLECTION ID FIELD=VALUE...",
		Short: "Write fields of a record (VALUE is JSON, or else a string); works offline",
		Args:  cobra.MinimumNArgs(3),
		RunE: withStore(func(cmd *cobra.Command, args []string, st *offline.Store) error {
			ctx := cmd.Context()
			fields := map[string]any{}
			cur, ok, err := st.Get(ctx, args[0], args[1])
			if err != nil {
				return err
			}
			if ok {
				for k, v := range cur {
					fields[k] = v
				}
			}
			for _, kv := range args[2:] {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return withCode(exitUsage, fmt.Errorf("%q: want FIELD=VALUE", kv))
				}
				var val any = v
				if json.Valid([]byte(v)) {
					val = json.RawMessage(v)
				}
				fields[k] = val
			}
			if err := st.Set(ctx, args[0], args[1], fields); err != nil {
				return err
			}
			return a.offlineWritten(cmd, st, "set", args[0], args[1])
		}),
	}
	rm := &cobra.Command{
		Use: "rm COLLECTION ID", Short: "Remove a record (for good)", Args: cobra.ExactArgs(2),
		RunE: withStore(func(cmd *cobra.Command, args []string, st *offline.Store) error {
			if err := st.Remove(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			return a.offlineWritten(cmd, st, "removed", args[0], args[1])
		}),
	}
	get := &cobra.Command{
		Use: "get COLLECTION [ID]", Short: "Print a record, or all records, as JSON", Args: cobra.RangeArgs(1, 2),
		RunE: withStore(func(cmd *cobra.Command, args []string, st *offline.Store) error {
			if len(args) == 1 {
				all, err := st.List(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return a.one(cmd, all, func(w io.Writer) error { return writeJSON(w, output.NonNil(all)) })
			}
			rec, ok, err := st.Get(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("%s/%s: no such record", args[0], args[1])
			}
			return a.one(cmd, rec, func(w io.Writer) error { return writeJSON(w, rec) })
		}),
	}
	pending := &cobra.Command{
		Use: "pending", Short: "Count the changes not yet on the server", Args: cobra.NoArgs,
		RunE: withStore(func(cmd *cobra.Command, _ []string, st *offline.Store) error {
			n, err := st.Pending(cmd.Context())
			if err != nil {
				return err
			}
			return a.one(cmd, struct {
				Pending int `json:"pending"`
			}{n}, say("%d", n))
		}),
	}
	syncNow := &cobra.Command{
		Use: "sync", Short: "Sync the offline store once, now", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, st, acct, err := a.offlineLoop(cmd.Context(), a.v.GetStringSlice("collection"), offline.Options{})
			if err != nil {
				return err
			}
			defer acct.close()
			defer st.Close()
			if err := l.SyncOnce(cmd.Context()); err != nil {
				return err
			}
			n, err := st.Pending(cmd.Context())
			if err != nil {
				return err
			}
			return a.one(cmd, struct {
				Synced  bool `json:"synced"`
				Pending int  `json:"pending"`
			}{true, n}, say("synced; %s pending", plural(n, "change", "changes")))
		},
	}
	syncNow.Flags().StringSlice("collection", []string{"notes"}, "collections to sync")
	cmd.AddCommand(set, rm, get, pending, syncNow)
	return cmd
}

// offlineWritten reports a write to the offline store and what is now pending.
func (a *app) offlineWritten(cmd *cobra.Command, st *offline.Store, verb, coll, id string) error {
	n, err := st.Pending(cmd.Context())
	if err != nil {
		return err
	}
	res := struct {
		Collection string `json:"collection"`
		ID         string `json:"id"`
		Pending    int    `json:"pending"`
	}{coll, id, n}
	return a.one(cmd, res, say("%s %s/%s (%s pending; `syncctl daemon` or `syncctl offline sync` sends it)", verb, coll, id, plural(n, "change", "changes")))
}
