package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/syncctl/syncctl/engine"
)

// syncView is what sync prints: per engine what came in and went out, and the records
// that failed either way, which make the exit code 1.
type syncView struct {
	FreshStart bool                  `json:"fresh_start"`
	Stages     []string              `json:"stages"`
	Engines    map[string]engineView `json:"engines"`
	Devices    []deviceView          `json:"devices"`
	Error      string                `json:"error,omitempty"`
}

type engineView struct {
	Applied    int    `json:"applied"`
	Reconciled int    `json:"reconciled"`
	Deduped    int    `json:"deduped"`
	Failed     int    `json:"failed"`   // incoming records that could not be read
	Uploaded   int    `json:"uploaded"` // local changes the server took
	Rejected   int    `json:"rejected"` // local changes the server refused (still pending)
	Skipped    string `json:"skipped,omitempty"`
	Error      string `json:"error,omitempty"`
}

type deviceView struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

// errRecordsFailed makes a sync whose records did not all go through exit 1.
var errRecordsFailed = errors.New("records failed")

func newSyncCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "sync [ENGINE...]",
		Short: "Run one full sync (all engines, or the ones named) and summarize it",
		Long: `Run the life of a sync: token, info/collections, meta/global, crypto/keys, a fresh start
if the account is new, the clients engine, then each engine (bookmarks, history,
passwords, forms, tabs, prefs, addons), keeping a local copy of each in this profile's
database. Exit code 1 when an engine failed or records did not go through (they stay
pending, and the summary counts them).`,
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			names := []string{engine.ClientsCollection}
			for _, e := range standardEngines {
				names = append(names, e.name)
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			defer limitSyncMemory(os.Getenv)()
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
			began := time.Now()
			res, err := s.Sync(ctx, args...)
			if !errors.Is(err, engine.ErrNoSuchEngine) {
				logSync(a, began, res, err)
			}
			if errors.Is(err, engine.ErrNoSuchEngine) {
				return withCode(exitUsage, fmt.Errorf("no engine %s: want %s", strings.Join(args, " "), strings.Join(engineNames(), ", ")))
			}
			view := syncView{FreshStart: res.FreshStart, Stages: res.Stages, Engines: map[string]engineView{}}
			var failed []string
			for name, e := range res.Engines {
				v := engineView{e.Applied, e.Reconciled, e.Deduped, e.Failed, e.Uploaded, e.Rejected, e.Skipped, ""}
				if e.Err != nil {
					v.Error = oneLine(e.Err)
					failed = append(failed, fmt.Sprintf("%s: %s", name, v.Error))
				} else if e.Failed+e.Rejected > 0 {
					failed = append(failed, fmt.Sprintf("%s: %d in, %d out did not go through", name, e.Failed, e.Rejected))
				}
				view.Engines[name] = v
			}
			sort.Strings(failed)
			for _, c := range res.Clients {
				view.Devices = append(view.Devices, deviceView{c.ID, c.Name, c.Type})
			}
			if err != nil {
				view.Error = oneLine(err)
			}
			if perr := a.one(cmd, view, func(out io.Writer) error { return printSync(out, view, err) }); perr != nil {
				return perr
			}
			switch {
			case err != nil:
				return err
			case len(failed) > 0:
				return fmt.Errorf("%w: %s (run with -v to see each)", errRecordsFailed, strings.Join(failed, "; "))
			}
			return nil
		},
	}
}

func engineNames() []string {
	names := []string{engine.ClientsCollection}
	for _, e := range standardEngines {
		names = append(names, e.name)
	}
	return names
}

func printSync(out io.Writer, v syncView, err error) error {
	if err != nil && len(v.Engines) == 0 {
		return nil // the error line says it all
	}
	if v.FreshStart {
		fmt.Fprintln(out, "fresh start: the account was set up anew (meta/global, keys)")
	}
	l := newTable(out, "ENGINE", "IN", "OUT", "MERGED", "FAILED", "STATUS")
	for _, name := range engineNames() {
		r, ok := v.Engines[name]
		if !ok {
			continue
		}
		status := "ok"
		switch {
		case r.Skipped != "":
			status = r.Skipped
		case r.Error != "":
			status = r.Error
		case r.Rejected > 0:
			status = fmt.Sprintf("%d refused by the server (still pending)", r.Rejected)
		case r.Failed > 0:
			status = fmt.Sprintf("%d unreadable", r.Failed)
		}
		l.Add(nil, name, fmt.Sprint(r.Applied), fmt.Sprint(r.Uploaded), fmt.Sprint(r.Reconciled), fmt.Sprint(r.Failed+r.Rejected), status)
	}
	if err := l.Close(); err != nil {
		return err
	}
	if len(v.Devices) > 0 {
		fmt.Fprintf(out, "other devices: %d\n", len(v.Devices))
	}
	return nil
}

func newFreshStartCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fresh-start",
		Short: "Wipe the server and set the account up anew from this device's data",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if a.v.GetBool("dry-run") {
				return a.dryRunWipe(cmd, "a fresh start would delete", "then upload this device's data; nothing was changed")
			}
			if err := confirm(cmd, a.v.GetBool("yes"), "wipe the server and start over from this device"); err != nil {
				return err
			}
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
			view := struct {
				FreshStart bool `json:"fresh_start"`
				Uploaded   int  `json:"uploaded"`
			}{true, up}
			return a.one(cmd, view, say("fresh start done: new meta/global and keys, %s uploaded", plural(up, "record", "records")))
		},
	}
	cmd.Flags().Bool("yes", false, "do not ask")
	cmd.Flags().Bool("dry-run", false, "change nothing: say what would be deleted")
	return cmd
}
