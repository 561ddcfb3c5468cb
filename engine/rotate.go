package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/repository/remote"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/wbo"
)

// RotateResult is what a key rotation did.
type RotateResult struct {
	Reencrypted int    // records rewritten under the new keys
	Unreadable  int    // records that opened with neither key, left as they were
	Fingerprint string // of the new default bulk key
}

// ErrRotationConflict: another device wrote to a collection while it was re-encrypted.
// Nothing is lost; running the rotation again resumes it.
var ErrRotationConflict = errors.New("engine: another device wrote during the key rotation; run it again to resume")

// RotateKeys makes new bulk keys and re-encrypts every record on the server with them,
// then replaces crypto/keys. The new keys are kept in the state store (encrypted with the
// sync key, never in clear) until the rotation completes, so an interrupted rotation
// resumes with the same keys. Each collection is rewritten only if no other device wrote
// to it meanwhile (X-If-Unmodified-Since), so a concurrent edit is never overwritten.
// Other devices see the new keys at their next sync and read everything again; this
// one does not reset. progress, if set, is called with the records done so far.
func (s *Session) RotateKeys(ctx context.Context, progress func(done int)) (RotateResult, error) {
	var out RotateResult
	oldRec, err := s.client.GetRecord(ctx, crypto.KeysCollection, crypto.KeysID)
	if errors.Is(err, storage.ErrNotFound) {
		return out, ErrNoKeys
	}
	if err != nil {
		return out, err
	}
	oldKeys, err := crypto.DecryptKeys(oldRec, s.opts.SyncKey)
	if errors.Is(err, crypto.ErrHMACMismatch) {
		return out, ErrWrongSyncKey
	}
	if err != nil {
		return out, err
	}
	var newKeys *crypto.Keys
	if pending := s.state(ctx, keyRotating); pending != "" {
		if rec, err := wbo.Decode([]byte(pending)); err == nil {
			newKeys, _ = crypto.DecryptKeys(rec, s.opts.SyncKey)
		}
	}
	if newKeys == nil {
		if newKeys, err = crypto.GenerateKeys(nil); err != nil {
			return out, err
		}
		rec, err := newKeys.Record(s.opts.SyncKey, nil)
		if err != nil {
			return out, err
		}
		if err := s.setState(ctx, map[string]string{keyRotating: string(rec.AppendJSON(nil))}); err != nil {
			return out, err
		}
	}
	colls, _, err := s.client.InfoCollections(ctx, 0)
	if err != nil {
		return out, err
	}
	for coll := range colls {
		if coll == "meta" || coll == crypto.KeysCollection {
			continue
		}
		err := s.reencrypt(ctx, coll, oldKeys.For(coll), newKeys.For(coll), &out, progress)
		if errors.Is(err, storage.ErrConflict) {
			err = fmt.Errorf("%s: %w", coll, ErrRotationConflict)
		}
		if err != nil {
			return out, fmt.Errorf("re-encrypting %s: %w", coll, err)
		}
	}
	rec, err := newKeys.Record(s.opts.SyncKey, nil)
	if err != nil {
		return out, err
	}
	ts, err := s.client.PutRecord(ctx, crypto.KeysCollection, rec, storage.Since(oldRec.Modified))
	if err != nil {
		return out, fmt.Errorf("writing the new crypto/keys: %w", err)
	}
	rec.Modified = ts
	out.Fingerprint = newKeys.Default.Fingerprint()
	// This device knows the new keys: its next sync must not treat them as news.
	return out, s.setState(ctx, map[string]string{keyRotating: "", keyKeys: string(rec.AppendJSON(nil)), keyKeysFP: out.Fingerprint})
}

// reencrypt rewrites a collection under the new bundle, 100 records at a time so memory
// stays bounded; records already under the new bundle (a resumed rotation) are left.
func (s *Session) reencrypt(ctx context.Context, coll string, oldKB, newKB *crypto.KeyBundle, out *RotateResult, progress func(int)) error {
	var ids []string
	ts, err := s.client.GetCollection(ctx, coll, storage.Query{}, func(r wbo.Record) error {
		ids = append(ids, r.ID)
		return nil
	})
	if err != nil {
		return err
	}
	repo := remote.New(remote.Options{Client: s.client, Collection: coll})
	repo.SetLastModified(ts) // every batch: only if nobody wrote since the listing
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
				out.Unreadable++
				s.log.Warn().Str("collection", coll).Str("id", r.ID).Err(err).Msg("record opens with neither key; left as it is")
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
			return err
		}
		res, err := repo.Store(ctx, batch)
		out.Reencrypted += len(res.Stored)
		if progress != nil {
			progress(out.Reencrypted)
		}
		if err != nil {
			return err
		}
		if len(res.Failed) > 0 {
			return fmt.Errorf("%d records refused by the server", len(res.Failed))
		}
		ids = ids[n:]
	}
	return nil
}
