package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/middleware"
	"github.com/syncctl/syncctl/repository/remote"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/synchronizer"
	"github.com/syncctl/syncctl/wbo"
)

func (s *Session) checkPreconditions(ctx context.Context, r *run) (string, error) {
	if s.state(ctx, keyLoggedOut) == "1" {
		return "", ErrLoggedOut
	}
	if v := s.state(ctx, keyBackoff); v != "" {
		if until, err := time.Parse(time.RFC3339Nano, v); err == nil && s.opts.Now().Before(until) {
			return "", &storage.BackoffError{Until: until}
		}
	}
	return StageClusterURL, nil
}

// ensureClusterURL gets a token. A different api_endpoint than last time is a node
// reassignment: the server's data is gone or unknown, so every engine starts over.
func (s *Session) ensureClusterURL(ctx context.Context, r *run) (string, error) {
	tok, err := s.client.Token(ctx)
	if err != nil {
		return "", err
	}
	prev := s.state(ctx, keyEndpoint)
	if (prev != "" && prev != tok.APIEndpoint) || s.state(ctx, keyResetNext) == "1" {
		s.log.Info().Msg("new storage node or a past 401: resetting every engine")
		if err := s.resetAll(ctx, true); err != nil {
			return "", err
		}
	}
	return StageInfo, s.setState(ctx, map[string]string{keyEndpoint: tok.APIEndpoint, keyResetNext: ""})
}

func (s *Session) fetchInfo(ctx context.Context, r *run) (string, error) {
	colls, _, err := s.client.InfoCollections(ctx, 0)
	if err != nil {
		return "", err
	}
	r.colls = colls
	return StageMeta, nil
}

// fetchMeta reads meta/global (from the cache when its timestamp has not moved) and
// applies its rules: a newer storage version stops the client; an older one, or none,
// calls for a fresh start; a new syncID resets every engine.
func (s *Session) fetchMeta(ctx context.Context, r *run) (string, error) {
	ts, ok := r.colls["meta"]
	if !ok {
		return StageFreshStart, nil
	}
	payload := []byte(s.state(ctx, keyMeta))
	cachedTS, _ := wbo.ParseTimestamp(s.state(ctx, keyMetaTS))
	if len(payload) == 0 || cachedTS != ts {
		rec, err := s.client.GetRecord(ctx, "meta", "global")
		if errors.Is(err, storage.ErrNotFound) {
			return StageFreshStart, nil
		}
		if err != nil {
			return "", err
		}
		payload, ts = rec.Payload, rec.Modified
	}
	meta, err := parseMeta(payload)
	if err != nil {
		return StageFreshStart, nil // unreadable: start over, as Firefox does
	}
	switch {
	case meta.StorageVersion > StorageVersion:
		return "", fmt.Errorf("%w (server %d, ours %d)", ErrClientTooOld, meta.StorageVersion, StorageVersion)
	case meta.StorageVersion < StorageVersion || meta.SyncID == "":
		return StageFreshStart, nil
	}
	if prev := s.state(ctx, keySyncID); prev != meta.SyncID {
		if prev != "" {
			s.log.Info().Msg("meta/global has a new syncID: resetting every engine")
			if err := s.resetAll(ctx, false); err != nil {
				return "", err
			}
		}
		// A new syncID comes with new keys: never trust cached ones across it.
		if err := s.setState(ctx, map[string]string{keySyncID: meta.SyncID, keyKeys: ""}); err != nil {
			return "", err
		}
	}
	r.meta, r.metaTS = meta, ts
	r.metaChanged = s.reconcileDeclined(meta)
	return StageKeys, s.setState(ctx, map[string]string{keyMeta: string(payload), keyMetaTS: ts.String()})
}

// reconcileDeclined merges the user's choices into meta/global: declined = (remote ∪
// user-declined) − user-enabled. It reports whether meta/global changed.
func (s *Session) reconcileDeclined(meta *MetaGlobal) bool {
	want := slices.Clone(meta.Declined)
	for _, d := range s.opts.Declined {
		if !slices.Contains(want, d) {
			want = append(want, d)
		}
	}
	want = slices.DeleteFunc(want, func(d string) bool { return slices.Contains(s.opts.Enabled, d) })
	slices.Sort(want)
	have := slices.Sorted(slices.Values(meta.Declined))
	if slices.Equal(want, have) {
		return false
	}
	meta.Declined = want
	return true
}

// fetchKeys reads crypto/keys (from the cached record when its timestamp has not moved)
// and opens it with the sync key. A record that does not verify means a wrong key: stop,
// and never overwrite it.
func (s *Session) fetchKeys(ctx context.Context, r *run) (string, error) {
	ts, ok := r.colls["crypto"]
	if !ok {
		return StageFreshStart, nil
	}
	var rec wbo.Record
	if cached := s.state(ctx, keyKeys); cached != "" {
		if c, err := wbo.Decode([]byte(cached)); err == nil && c.Modified == ts {
			rec = c
		}
	}
	if rec.ID == "" {
		var err error
		rec, err = s.client.GetRecord(ctx, crypto.KeysCollection, crypto.KeysID)
		if errors.Is(err, storage.ErrNotFound) {
			return StageFreshStart, nil
		}
		if err != nil {
			return "", err
		}
	}
	keys, err := crypto.DecryptKeys(rec, s.opts.SyncKey)
	if errors.Is(err, crypto.ErrHMACMismatch) {
		return "", ErrWrongSyncKey
	}
	if err != nil {
		return "", fmt.Errorf("crypto/keys: %w", err)
	}
	fp := keys.Default.Fingerprint()
	if prev := s.state(ctx, keyKeysFP); prev != "" && prev != fp {
		s.log.Info().Msg("the bulk keys changed: resetting every engine")
		if err := s.resetAll(ctx, false); err != nil {
			return "", err
		}
	}
	r.keys = keys
	if err := s.setState(ctx, map[string]string{keyKeys: string(rec.AppendJSON(nil)), keyKeysFP: fp}); err != nil {
		return "", err
	}
	if r.forceFresh {
		r.forceFresh = false
		return StageFreshStart, nil
	}
	return StageClients, nil
}

// freshStart wipes the server and sets the account up anew: meta/global with new
// syncIDs, new bulk keys, both written only if absent (so two clients starting at once
// cannot both win), then every engine reset so local data goes up again.
func (s *Session) freshStart(ctx context.Context, r *run) (string, error) {
	if r.freshStarts++; r.freshStarts > 1 {
		return "", ErrSetupRace
	}
	r.forceFresh = false
	r.res.FreshStart = true
	// The device list, and the commands waiting in it (a wipe above all), must outlive
	// the wipe of the server, or a device would merge wiped data back in.
	kept, err := s.keptClients(ctx, r)
	if err != nil {
		return "", err
	}
	s.log.Info().Msg("fresh start: wiping the server")
	if err := s.client.DeleteAll(ctx); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return "", err
	}
	var engines []Engine
	for _, name := range s.opts.Engines.Names() {
		e, _ := s.opts.Engines.Get(name)
		engines = append(engines, e)
	}
	meta := newMeta(engines, s.opts.Declined)
	if _, err := s.client.PutRecord(ctx, "meta", wbo.Record{ID: "global", Payload: meta.payload()}, storage.Since(0)); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return "", ErrSetupRace
		}
		return "", err
	}
	keys, err := crypto.GenerateKeys(nil)
	if err != nil {
		return "", err
	}
	rec, err := keys.Record(s.opts.SyncKey, nil)
	if err != nil {
		return "", err
	}
	if _, err := s.client.PutRecord(ctx, crypto.KeysCollection, rec, storage.Since(0)); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return "", ErrSetupRace
		}
		return "", err
	}
	if len(kept) > 0 {
		res, err := s.clientsRepo(keys).Store(ctx, kept)
		if err == nil && len(res.Failed) > 0 {
			err = fmt.Errorf("%d client records refused", len(res.Failed))
		}
		if err != nil {
			return "", fmt.Errorf("fresh start: keeping other devices' commands: %w", err)
		}
	}
	if err := s.resetAll(ctx, false); err != nil {
		return "", err
	}
	kv := map[string]string{keySyncID: meta.SyncID, keyKeys: "", keyKeysFP: keys.Default.Fingerprint(), keyMeta: "", keyClientsTS: "", keyOwnRecord: ""}
	for name, e := range meta.Engines {
		kv[keyEnginePref+name+".syncID"] = e.SyncID
	}
	return StageInfo, s.setState(ctx, kv)
}

// syncEngines syncs every enabled engine. An engine's failure is recorded and the
// others go on, except for a 401 or a backoff, which stop the sync.
func (s *Session) syncEngines(ctx context.Context, r *run) (string, error) {
	for _, name := range s.opts.Engines.Names() {
		if r.only != nil && !r.only[name] {
			continue
		}
		e, _ := s.opts.Engines.Get(name)
		if r.meta.declined(name) {
			r.res.Engines[name] = EngineResult{Skipped: "declined"}
			continue
		}
		entry, ok := r.meta.Engines[name]
		if !ok || entry.Version < e.Version() {
			// Ours to add (or to bump): a new syncID tells other clients to reset.
			entry = EngineEntry{Version: e.Version(), SyncID: wbo.NewGUID(nil)}
			r.meta.Engines[name] = entry
			r.metaChanged = true
		}
		if entry.Version > e.Version() {
			r.res.Engines[name] = EngineResult{Skipped: fmt.Sprintf("the server's records are version %d, this engine reads %d", entry.Version, e.Version())}
			continue
		}
		if s.state(ctx, keyEnginePref+name+".syncID") != entry.SyncID {
			if err := s.resetEngine(ctx, e, false); err != nil {
				return "", err
			}
			if err := s.setState(ctx, map[string]string{keyEnginePref + name + ".syncID": entry.SyncID}); err != nil {
				return "", err
			}
		}
		modified, present := r.colls[name]
		if !present && s.state(ctx, name+".lastServer") != "" {
			// We synced this collection and the server no longer has it, but no wipe
			// command reached us (it would have run in the clients stage and reset
			// us): the server lost it. Upload ours again rather than lose it.
			s.log.Info().Str("engine", name).Msg("the server no longer holds this collection: uploading it again")
			if err := s.resetEngine(ctx, e, false); err != nil {
				return "", err
			}
		}
		res, err := s.syncEngine(ctx, e, r.keys, &modified)
		if rp, ok := e.(Repairing); ok && err == nil {
			// Repairs are local changes: one more pass uploads them.
			var fixed int
			if fixed, err = rp.Repair(ctx); err == nil && fixed > 0 {
				var again synchronizer.Result
				again, err = s.syncEngine(ctx, e, r.keys, nil)
				res.Add(again) // what the repair pass refused counts as much as the first's
			}
		}
		r.res.Engines[name] = EngineResult{Result: res, Err: err}
		if stopsTheSync(err) {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		if err != nil {
			s.log.Warn().Err(err).Str("engine", name).Msg("engine failed; going on with the others")
		}
	}
	return StageUploadMeta, nil
}

// stopsTheSync tells the failures that end a whole sync from those that end one
// engine's part of it (a conflict, a refused upload, a bad record): as Firefox, only an
// authentication failure, a node reassignment or a backoff stop the others.
func stopsTheSync(err error) bool {
	return errors.Is(err, storage.ErrUnauthorized) || errors.Is(err, storage.ErrBackoff) ||
		errors.Is(err, storage.ErrNodeReassigned) || errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded)
}

// syncEngine syncs one engine; modified is the collection's time in info/collections
// (nil: unknown, always fetch).
func (s *Session) syncEngine(ctx context.Context, e Engine, keys *crypto.Keys, modified *wbo.Timestamp) (synchronizer.Result, error) {
	name := e.Name()
	opts := synchronizer.Options{
		Local:          e.Local(),
		Remote:         middleware.NewCrypto(remote.New(remote.Options{Client: s.client, Collection: name}), name, keys, nil),
		Key:            name,
		RemoteModified: modified,
		Logger:         &s.log,
	}
	if rc, ok := e.(Reconciling); ok && rc.Reconciler() != nil {
		opts.Reconciler = rc.Reconciler()
	}
	if d, ok := e.(Deduping); ok && !noDupes(e) {
		opts.Deduper = d
	}
	return synchronizer.New(opts).Sync(ctx)
}

// noDupes tells a Collection that deduplicates nothing (no Dupes): its synchronizer
// then has no Deduper, and a first sync may apply many chunks in one transaction.
func noDupes(e Engine) bool {
	c, ok := e.(*Collection)
	return ok && c.Dupes == nil
}

func (s *Session) uploadMeta(ctx context.Context, r *run) (string, error) {
	if !r.metaChanged {
		return "", nil
	}
	ts, err := s.client.PutRecord(ctx, "meta", wbo.Record{ID: "global", Payload: r.meta.payload()}, storage.Since(r.metaTS))
	if err != nil {
		return "", fmt.Errorf("upload meta/global: %w", err)
	}
	return "", s.setState(ctx, map[string]string{keyMeta: string(r.meta.payload()), keyMetaTS: ts.String()})
}

// resetEngine drops an engine's sync progress; wipe also deletes its local data.
func (s *Session) resetEngine(ctx context.Context, e Engine, wipe bool) error {
	if wipe {
		if err := e.Local().Wipe(ctx); err != nil {
			return err
		}
	}
	if rs, ok := e.Local().(Resetter); ok {
		return rs.ResetSync(ctx)
	}
	s.log.Warn().Str("engine", e.Name()).Msg("local store cannot reset its sync progress")
	return nil
}

// resetAll resets every engine; forgetNode also forgets meta/global and the keys.
func (s *Session) resetAll(ctx context.Context, forgetNode bool) error {
	for _, name := range s.opts.Engines.Names() {
		e, _ := s.opts.Engines.Get(name)
		if err := s.resetEngine(ctx, e, false); err != nil {
			return err
		}
	}
	if forgetNode {
		// Nothing learnt from the old node may be compared with the new one's times.
		return s.setState(ctx, map[string]string{keySyncID: "", keyMeta: "", keyMetaTS: "", keyKeys: "", keyKeysFP: "",
			keyClientsTS: "", keyOwnRecord: ""})
	}
	return nil
}
