package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/syncctl/syncctl/engine"
)

func newSyncCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "sync [ENGINE...]",
		Short: "Run one full sync (all engines, or the ones named) and summarize it",
		Long: `Run the life of a sync: token, info/collections, meta/global, crypto/keys, a fresh start
if the account is new, the clients engine, then each engine (bookmarks, history,
passwords, forms, tabs, prefs, addons), keeping a local copy of each in this profile's
database.`,
		RunE: func(cmd *cobra.Command, args []string) error {
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
			res, err := s.Sync(ctx, args...)
			if a.v.GetString("output") == "json" {
				type engineJSON struct {
					Applied, Reconciled, Failed, Uploaded, Rejected int
					Skipped                                         string `json:",omitempty"`
					Error                                           string `json:",omitempty"`
				}
				out := map[string]any{"stages": res.Stages, "fresh_start": res.FreshStart, "clients": res.Clients}
				eng := map[string]engineJSON{}
				for name, e := range res.Engines {
					j := engineJSON{e.Applied, e.Reconciled, e.Failed, e.Uploaded, e.Rejected, e.Skipped, ""}
					if e.Err != nil {
						j.Error = e.Err.Error()
					}
					eng[name] = j
				}
				out["engines"] = eng
				if err != nil {
					out["error"] = err.Error()
				}
				if werr := writeJSON(cmd.OutOrStdout(), out); werr != nil {
					return werr
				}
				return err
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if res.FreshStart {
				fmt.Fprintln(out, "fresh start: the account was set up anew (meta/global, keys)")
			}
			t := table(out, "ENGINE", "IN", "OUT", "MERGED", "FAILED", "STATUS")
			var failed []error
			names := []string{engine.ClientsCollection}
			for _, e := range standardEngines {
				names = append(names, e.name)
			}
			for _, name := range names {
				r, ok := res.Engines[name]
				if !ok {
					continue
				}
				status := "ok"
				switch {
				case r.Skipped != "":
					status = r.Skipped
				case r.Err != nil:
					status = oneLine(r.Err)
					failed = append(failed, fmt.Errorf("%s: %w", name, r.Err))
				}
				t.row(name, fmt.Sprint(r.Applied), fmt.Sprint(r.Uploaded), fmt.Sprint(r.Reconciled), fmt.Sprint(r.Failed+r.Rejected), status)
			}
			if err := t.flush(); err != nil {
				return err
			}
			if len(res.Clients) > 0 {
				fmt.Fprintf(out, "other devices: %d\n", len(res.Clients))
			}
			return errors.Join(failed...)
		},
	}
}

func newFreshStartCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fresh-start",
		Short: "Wipe the server and set the account up anew from this device's data",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := confirm(cmd, a.v.GetBool("yes"), "wipe the server and start over from this device"); err != nil {
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
			res, err := s.FreshStart(ctx)
			if err != nil {
				return err
			}
			up := 0
			for _, e := range res.Engines {
				up += e.Uploaded
			}
			fmt.Fprintf(cmd.OutOrStdout(), "fresh start done: new meta/global and keys, %d records uploaded\n", up)
			return nil
		},
	}
	cmd.Flags().Bool("yes", false, "do not ask")
	return cmd
}
