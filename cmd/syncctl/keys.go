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
			fps := map[string]string{"sync key": acct.syncKey.Fingerprint(), "default bulk key": keys.Default.Fingerprint()}
			for name, kb := range keys.Collections {
				fps["bulk key for "+name] = kb.Fingerprint()
			}
			if a.v.GetString("output") == "json" {
				return writeJSON(cmd.OutOrStdout(), fps)
			}
			names := make([]string, 0, len(fps))
			for n := range fps {
				names = append(names, n)
			}
			sort.Strings(names)
			t := table(cmd.OutOrStdout(), "KEY", "FINGERPRINT")
			for _, n := range names {
				t.row(n, fps[n])
			}
			return t.flush()
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
	cmd.AddCommand(rotate)
	return cmd
}

func (a *app) rotateKeys(cmd *cobra.Command) error {
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
	progress := newProgress(cmd, "re-encrypting")
	done := 0
	res, err := s.RotateKeys(ctx, func(n int) { progress.add(n - done); done = n })
	progress.done()
	if err != nil {
		return fmt.Errorf("%w (run `syncctl keys rotate` again to resume)", err)
	}
	if res.Unreadable > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "syncctl: %d records open with neither key and were left as they are\n", res.Unreadable)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "rotated: %d records re-encrypted; new default key %s\n", res.Reencrypted, res.Fingerprint)
	return nil
}
