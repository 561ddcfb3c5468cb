package main

import (
	"errors"
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/repository/remote"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/wbo"
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

const keyRotating = "cli.rotatingKeys"

func (a *app) rotateKeys(cmd *cobra.Command) error {
	ctx := cmd.Context()
	acct, err := a.account(ctx)
	if err != nil {
		return err
	}
	defer acct.close()
	oldRec, err := acct.client.GetRecord(ctx, crypto.KeysCollection, crypto.KeysID)
	if err != nil {
		return err
	}
	oldKeys, err := crypto.DecryptKeys(oldRec, acct.syncKey)
	if err != nil {
		return err
	}
	// Resume an interrupted rotation, or start one; the pending keys are stored as their
	// encrypted record, never in cleartext.
	var newKeys *crypto.Keys
	if pending, _ := acct.db.State(ctx, keyRotating); pending != "" {
		if rec, err := wbo.Decode([]byte(pending)); err == nil {
			newKeys, _ = crypto.DecryptKeys(rec, acct.syncKey)
		}
	}
	if newKeys == nil {
		if newKeys, err = crypto.GenerateKeys(nil); err != nil {
			return err
		}
		rec, err := newKeys.Record(acct.syncKey, nil)
		if err != nil {
			return err
		}
		if err := acct.db.SetState(ctx, map[string]string{keyRotating: string(rec.AppendJSON(nil))}); err != nil {
			return err
		}
	}
	colls, _, err := acct.client.InfoCollections(ctx, 0)
	if err != nil {
		return err
	}
	total := 0
	progress := newProgress(cmd, "re-encrypting")
	for coll := range colls {
		if coll == "meta" || coll == "crypto" {
			continue
		}
		n, err := reencrypt(cmd, acct, coll, oldKeys.For(coll), newKeys.For(coll), progress)
		total += n
		if err != nil {
			return fmt.Errorf("re-encrypting %s: %w (run `syncctl keys rotate` again to resume)", coll, err)
		}
	}
	progress.done()
	rec, err := newKeys.Record(acct.syncKey, nil)
	if err != nil {
		return err
	}
	if _, err := acct.client.PutRecord(ctx, crypto.KeysCollection, rec, storage.Since(oldRec.Modified)); err != nil {
		return fmt.Errorf("writing the new crypto/keys: %w", err)
	}
	if err := acct.db.SetState(ctx, map[string]string{keyRotating: ""}); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "rotated: %d records re-encrypted; new default key %s\n", total, newKeys.Default.Fingerprint())
	return nil
}

// reencrypt rewrites a collection under the new bundle, 100 records at a time so memory
// stays bounded; records already under the new bundle (a resumed rotation) are left.
func reencrypt(cmd *cobra.Command, acct *account, coll string, oldKB, newKB *crypto.KeyBundle, p *progress) (int, error) {
	ctx := cmd.Context()
	var ids []string
	if _, err := acct.client.GetCollection(ctx, coll, storage.Query{}, func(r wbo.Record) error {
		ids = append(ids, r.ID)
		return nil
	}); err != nil {
		return 0, err
	}
	repo := remote.New(remote.Options{Client: acct.client, Collection: coll})
	done := 0
	for len(ids) > 0 {
		n := min(len(ids), 100)
		var batch []wbo.Record
		err := repo.Fetch(ctx, ids[:n], func(r wbo.Record) error {
			clear, err := oldKB.DecryptRecord(r)
			if errors.Is(err, crypto.ErrHMACMismatch) {
				if _, err2 := newKB.DecryptRecord(r); err2 == nil {
					return nil // already rotated
				}
			}
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "syncctl: %s/%s cannot be read, left as it is: %v\n", coll, r.ID, err)
				return nil
			}
			enc, err := newKB.EncryptRecord(clear, nil)
			if err != nil {
				return err
			}
			enc.TTL = nil
			batch = append(batch, enc)
			return nil
		})
		if err != nil {
			return done, err
		}
		res, err := repo.Store(ctx, batch)
		done += len(res.Stored)
		p.add(len(res.Stored))
		if err != nil {
			return done, err
		}
		if len(res.Failed) > 0 {
			return done, fmt.Errorf("%d records refused by the server", len(res.Failed))
		}
		ids = ids[n:]
	}
	return done, nil
}
