package engine

import (
	"context"
	"time"

	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/synchronizer"
	"github.com/syncctl/syncctl/wbo"
)

// Status is what this device's saved state says about the account: read locally, without
// a request to any server, so it answers when the server cannot.
type Status struct {
	ClientID     string    // this device's id in the clients collection ("" before its first sync)
	LastSync     time.Time // the end of the last sync that reached the engines; zero: never
	BackoffUntil time.Time // the server asked for no requests before this; zero: it did not
	RotatingKeys bool      // a key rotation began and did not finish: RotateKeys finishes it
	LoggedOut    bool      // another device removed this one from the account
	Engines      map[string]EngineStatus
}

// EngineStatus is one engine's part of a Status.
type EngineStatus struct {
	LastServer wbo.Timestamp // the server time its last incoming pass reached; 0: never synced
	Pending    int           // local changes not yet acknowledged by the server
}

// Flags are the parts of the saved state a tool checks before it talks to the server:
// read without opening any engine.
type Flags struct {
	BackoffUntil time.Time // zero: no backoff asked for
	RotatingKeys bool      // a key rotation began and did not finish
	LoggedOut    bool      // another device removed this one
}

// SavedFlags reads the flags from a session's state store.
func SavedFlags(ctx context.Context, state StateStore) (Flags, error) {
	var f Flags
	backoff, err := state.State(ctx, keyBackoff)
	if err != nil {
		return f, err
	}
	// Written by this package as RFC 3339; a value it cannot read is reported as
	// unknown (zero) rather than failing.
	if t, perr := time.Parse(time.RFC3339Nano, backoff); perr == nil {
		f.BackoffUntil = t
	}
	rotating, err := state.State(ctx, keyRotating)
	if err != nil {
		return f, err
	}
	loggedOut, err := state.State(ctx, keyLoggedOut)
	if err != nil {
		return f, err
	}
	f.RotatingKeys, f.LoggedOut = rotating != "", loggedOut == "1"
	return f, nil
}

// SaveBackoff records the server's backoff or Retry-After deadline seen by a client
// outside a sync (a tool's single request), so that the next sync, and the next tool,
// honour it. A deadline in the past, or one earlier than the one saved, changes nothing.
func SaveBackoff(ctx context.Context, state StateStore, sig storage.Signals, now time.Time) error {
	until := sig.Backoff
	if sig.RetryAfter.After(until) {
		until = sig.RetryAfter
	}
	if !until.After(now) {
		return nil
	}
	if f, err := SavedFlags(ctx, state); err != nil || !until.After(f.BackoffUntil) {
		return err
	}
	return state.SetState(ctx, map[string]string{keyBackoff: until.Format(time.RFC3339Nano)})
}

// Status reads the session's saved state and every registered engine's progress.
func (s *Session) Status(ctx context.Context) (Status, error) {
	var st Status
	var err error
	if st.ClientID, err = s.opts.State.State(ctx, keyClientID); err != nil {
		return st, err
	}
	last, err := s.opts.State.State(ctx, keyLastSync)
	if err != nil {
		return st, err
	}
	if t, perr := time.Parse(time.RFC3339Nano, last); perr == nil {
		st.LastSync = t
	}
	f, err := SavedFlags(ctx, s.opts.State)
	if err != nil {
		return st, err
	}
	st.BackoffUntil, st.RotatingKeys, st.LoggedOut = f.BackoffUntil, f.RotatingKeys, f.LoggedOut
	st.Engines = map[string]EngineStatus{}
	for _, name := range s.opts.Engines.Names() {
		e, _ := s.opts.Engines.Get(name)
		local := e.Local()
		last, err := synchronizer.New(synchronizer.Options{Local: local, Key: name}).LastSync(ctx)
		if err != nil {
			return st, err
		}
		es := EngineStatus{LastServer: last}
		if err := local.Changes(ctx, func(wbo.Record) error { es.Pending++; return nil }); err != nil {
			return st, err
		}
		st.Engines[name] = es
	}
	return st, nil
}
