package engine

import "errors"

// Errors a session ends with. Test with errors.Is.
var (
	// ErrClientTooOld: meta/global says a newer storage version; this client must be
	// upgraded before it may sync (it never writes in that case).
	ErrClientTooOld = errors.New("engine: the server holds a newer storage version; upgrade syncctl")
	// ErrWrongSyncKey: crypto/keys does not verify with our sync key. Nothing is
	// overwritten: the key is wrong (or changed on another device).
	ErrWrongSyncKey = errors.New("engine: crypto/keys does not verify with this sync key; is the key right?")
	// ErrLoggedOut: another client sent this one a logout command.
	ErrLoggedOut = errors.New("engine: logged out by another client")
	// ErrNoKeys: the account has no crypto/keys yet (nothing was ever synced to it).
	ErrNoKeys = errors.New("engine: the account has no crypto/keys yet; run a sync first")
	// ErrSetupRace: a fresh start met another client's fresh start twice in a row.
	ErrSetupRace = errors.New("engine: another client is setting up the account at the same time")
)
