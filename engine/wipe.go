package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/storage"
)

// Wipe deletes the named engines' data (every engine's when none are named) on the
// server and in the local store, and tells the other devices to wipe theirs, as
// Firefox's wipeRemote does: a wipeEngine (or wipeAll) command is delivered at once, in
// the clients collection, so each device honours it at its next sync even if this one
// never syncs again. meta/global, crypto/keys and the clients collection stay.
func (s *Session) Wipe(ctx context.Context, engines ...string) (*Result, error) {
	for _, name := range engines {
		if _, ok := s.opts.Engines.Get(name); !ok {
			return nil, fmt.Errorf("engine: no engine %q (have %v)", name, s.opts.Engines.Names())
		}
	}
	r := s.newRun()
	// The account must be set up and its keys read, to address the other devices.
	if err := s.run(ctx, r, StagePreconditions, StageClients); err != nil {
		return r.res, err
	}
	names := engines
	if len(names) == 0 {
		// Everything but the account's set-up: every collection the server holds, and
		// every engine of ours.
		seen := map[string]bool{}
		for coll := range r.colls {
			if coll != "meta" && coll != crypto.KeysCollection && coll != ClientsCollection {
				names, seen[coll] = append(names, coll), true
			}
		}
		for _, name := range s.opts.Engines.Names() {
			if !seen[name] {
				names = append(names, name)
			}
		}
	}
	for _, name := range names {
		if err := s.client.DeleteCollection(ctx, name, nil); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return r.res, fmt.Errorf("wipe %s: %w", name, err)
		}
		if e, ok := s.opts.Engines.Get(name); ok {
			if err := s.resetEngine(ctx, e, true); err != nil {
				return r.res, err
			}
		}
	}
	var err error
	if len(engines) == 0 {
		err = s.SendCommand(ctx, "*", "wipeAll")
	}
	for _, name := range engines {
		if err == nil {
			err = s.SendCommand(ctx, "*", "wipeEngine", name)
		}
	}
	if err != nil {
		return r.res, err
	}
	// The collections are gone. A sync of just the wiped engines from info/collections
	// on delivers the commands (the clients stage) and puts back on the server what an
	// engine keeps even when empty (the bookmark roots): Firefox acts on a wipeEngine
	// command only if it can decrypt a record of the collection.
	r.only = map[string]bool{}
	for _, name := range names {
		r.only[name] = true
	}
	if err := s.run(ctx, r, StageInfo, ""); err != nil {
		return r.res, err
	}
	if e := r.res.Engines[ClientsCollection].Err; e != nil {
		return r.res, fmt.Errorf("wipe: done here and on the server; the other devices will be told at the next sync: %w", e)
	}
	return r.res, nil
}
