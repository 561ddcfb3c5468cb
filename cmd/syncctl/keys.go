package main

import (
	"fmt"
	"sort"

	"github.com/spf13/cobra"
)

func newKeysCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Show key fingerprints (never the keys); `keys rotate` makes new bulk keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			acct, keys, err := a.withKeys(cmd)
			if err != nil {
				return err
			}
			defer acct.close()
			type key struct {
				Key         string `json:"key"`
				Collection  string `json:"collection,omitempty"`
				Fingerprint string `json:"fingerprint"`
			}
			shown := []key{{"sync", "", acct.syncKey.Fingerprint()}, {"default", "", keys.Default.Fingerprint()}}
			names := make([]string, 0, len(keys.Collections))
			for n := range keys.Collections {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				shown = append(shown, key{"collection", n, keys.Collections[n].Fingerprint()})
			}
			l := a.list(cmd, "KEY", "FINGERPRINT")
			for _, k := range shown {
				label := k.Key + " key"
				if k.Collection != "" {
					label = "bulk key for " + k.Collection
				} else if k.Key == "default" {
					label = "default bulk key"
				}
				l.Add(k, label, k.Fingerprint)
			}
			return l.Close()
		},
	}
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Make new bulk keys and re-encrypt every record with them",
		Long: `Make new crypto/keys and re-encrypt every record on the server. The new keys are kept
locally (encrypted) until the rotation completes, so an interrupted rotation resumes
when run again. Other devices notice the new keys at their next sync, reset, and
download everything again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.rotateKeys(cmd) },
	}
	rotate.Flags().Bool("yes", false, "do not ask")
	rotate.Flags().Bool("dry-run", false, "change nothing: count the records a rotation would re-encrypt")
	cmd.AddCommand(rotate)
	return cmd
}

func (a *app) rotateKeys(cmd *cobra.Command) error {
	ctx := cmd.Context()
	a.rotating = true
	acct, err := a.account(ctx)
	if err != nil {
		return err
	}
	defer acct.close()
	if a.v.GetBool("dry-run") {
		counts, err := acct.client.InfoCollectionCounts(ctx)
		if err != nil {
			return err
		}
		n := int64(0)
		for c, k := range counts {
			if c != "meta" && c != "crypto" {
				n += k
			}
		}
		res := struct {
			DryRun      bool  `json:"dry_run"`
			Reencrypted int64 `json:"reencrypted"`
		}{true, n}
		return a.one(cmd, res, say("dry run: a rotation would re-encrypt %s with new keys; nothing was changed", plural(int(n), "record", "records")))
	}
	if err := confirm(cmd, a.v.GetBool("yes"), "re-encrypt every record with new keys (other devices download everything again)"); err != nil {
		return err
	}
	s, err := acct.session(ctx, a, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	progress := newProgress(cmd, "re-encrypting", -1)
	done := 0
	res, err := s.RotateKeys(ctx, func(n int) { progress.add(n - done); done = n })
	progress.done()
	if err != nil {
		return &hinted{"the rotation stopped: ", "; run `syncctl keys rotate` again to finish it", err}
	}
	if res.Unreadable > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "syncctl: %s open with neither key and were left as they are\n", plural(res.Unreadable, "record", "records"))
	}
	view := struct {
		Reencrypted int    `json:"reencrypted"`
		Unreadable  int    `json:"unreadable"`
		Fingerprint string `json:"fingerprint"`
	}{res.Reencrypted, res.Unreadable, res.Fingerprint}
	return a.one(cmd, view, say("rotated: %s re-encrypted; new default key %s", plural(res.Reencrypted, "record", "records"), res.Fingerprint))
}
