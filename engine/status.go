package engine

import (
	"context"
	"time"

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

// Status reads the session's saved state and every registered engine's progress.
func (s *Session) Status(ctx context.Context) (Status, error) {
	get := func(key string) (string, error) { return s.opts.State.State(ctx, key) }
	var st Status
	var err error
	if st.ClientID, err = get(keyClientID); err != nil {
		return st, err
	}
	for key, into := range map[string]*time.Time{keyLastSync: &st.LastSync, keyBackoff: &st.BackoffUntil} {
		v, err := get(key)
		if err != nil {
			return st, err
		}
		if v == "" {
			continue
		}
		// Written by this package as RFC 3339; a value it cannot read is reported as
		// unknown (zero) rather than failing the whole status.
		if t, perr := time.Parse(time.RFC3339Nano, v); perr == nil {
			*into = t
		}
	}
	rotating, err := get(keyRotating)
	if err != nil {
		return st, err
	}
	loggedOut, err := get(keyLoggedOut)
	if err != nil {
		return st, err
	}
	st.RotatingKeys, st.LoggedOut = rotating != "", loggedOut == "1"
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
