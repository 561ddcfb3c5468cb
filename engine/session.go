package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/rs/zerolog"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/synchronizer"
	"github.com/syncctl/syncctl/wbo"
)

// StateStore keeps the session's state between syncs (sqlite.DB is one).
type StateStore interface {
	State(ctx context.Context, key string) (string, error)
	SetState(ctx context.Context, kv map[string]string) error
}

// Options configure a Session. Tokens, SyncKey, State and Engines are required.
type Options struct {
	// Tokens gives storage credentials (a tokenserver, or a pre-issued token).
	Tokens storage.TokenSource
	// SyncKey is the Sync Key Bundle (from FxA kB, kSync, or a legacy Sync Key): it opens
	// crypto/keys, which holds the keys of everything else.
	SyncKey *crypto.KeyBundle
	State   StateStore
	Engines *Registry
	// ClientName and ClientType describe this device in the clients collection
	// (defaults "syncctl", "desktop").
	ClientName, ClientType string
	// Declined and Enabled are the user's choices: engines to keep off or back on,
	// merged with the account's declined list in meta/global.
	Declined, Enabled []string
	// OnDisplayURI receives displayURI commands sent to this client.
	OnDisplayURI func(uri, senderID, title string)
	// CredentialsID names the credentials Tokens presents (a hash of them, never the
	// secret itself). A cached token obtained under other credentials is not used, so a
	// changed or wrong secret is noticed at the next sync, not when the token expires.
	CredentialsID string
	HTTPClient    *http.Client
	Now           func() time.Time
	Logger        *zerolog.Logger
}

// Session runs syncs for one account and device.
type Session struct {
	opts   Options
	client *storage.Client
	log    zerolog.Logger
}

// NewSession returns a session.
func NewSession(opts Options) (*Session, error) {
	if opts.Tokens == nil || opts.SyncKey == nil || opts.State == nil || opts.Engines == nil {
		return nil, errors.New("engine: Tokens, SyncKey, State and Engines are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ClientName == "" {
		opts.ClientName = "syncctl"
	}
	if opts.ClientType == "" {
		opts.ClientType = "desktop"
	}
	s := &Session{opts: opts, log: zerolog.Nop()}
	if opts.Logger != nil {
		s.log = *opts.Logger
	}
	s.client = storage.New(storage.Options{Tokens: &cachedTokens{inner: opts.Tokens, state: opts.State, now: opts.Now, creds: opts.CredentialsID},
		HTTPClient: opts.HTTPClient, Now: opts.Now, Logger: opts.Logger})
	return s, nil
}

// Client returns the storage client the session uses.
func (s *Session) Client() *storage.Client { return s.client }

// Result is what a sync did.
type Result struct {
	Stages     []string // the stages run, in order
	FreshStart bool
	Engines    map[string]EngineResult
	Clients    []ClientRecord // the other devices
	Backoff    time.Time      // no sync before this, if set
	Alert      string         // X-Weave-Alert, if the server sent one
}

// EngineResult is one engine's part of a sync.
type EngineResult struct {
	synchronizer.Result
	Skipped string // why it did not sync (declined, …), else ""
	Err     error
}

// Persisted state keys.
const (
	keyBackoff      = "session.backoffUntil"
	keyEndpoint     = "session.endpoint"
	keyResetNext    = "session.resetNext"
	keySyncID       = "session.syncID"
	keyMeta         = "session.meta"       // payload of meta/global
	keyMetaTS       = "session.metaTS"     // its modified
	keyKeys         = "session.keys"       // the crypto/keys record as fetched (encrypted)
	keyKeysFP       = "session.keysFP"     // fingerprint of the default bulk key
	keyClientID     = "session.clientID"   //
	keyLoggedOut    = "session.loggedOut"  //
	keyOutbox       = "session.outbox"     // commands to send to other clients
	keyEnginePref   = "session.engine."    // + name + ".syncID"
	keyToken        = "session.token"      // the storage token, until it expires
	keyLastSync     = "session.lastSyncAt" // wall time of the last successful sync
	keyTokenCreds   = "session.tokenCredentials"
	keyClientsTS    = "session.clientsTS"    // the clients collection's time after our last visit
	keyOwnRecord    = "session.ownRecord"    // our client record as last uploaded
	keyOwnAt        = "session.ownRecordAt"  // and when (wall time)
	keyClientList   = "session.clients"      // the other devices, as last fetched
	keyDoneCommands = "session.doneCommands" // flow ids of the commands run last
	keyRotating     = "session.rotatingKeys" // new crypto/keys of a rotation under way (encrypted)
)

func (s *Session) state(ctx context.Context, key string) string {
	v, err := s.opts.State.State(ctx, key)
	if err != nil {
		s.log.Warn().Err(err).Str("key", key).Msg("reading state")
	}
	return v
}

// stateJSON decodes a state value written as JSON; an unset key leaves into as it is.
func (s *Session) stateJSON(ctx context.Context, key string, into any) error {
	v, err := s.opts.State.State(ctx, key)
	if err != nil || v == "" {
		return err
	}
	if err := json.Unmarshal([]byte(v), into); err != nil {
		return fmt.Errorf("engine: saved state %s: %w", key, err)
	}
	return nil
}

func (s *Session) setState(ctx context.Context, kv map[string]string) error {
	return s.opts.State.SetState(ctx, kv)
}

// run is the state of one sync as it moves through the stages.
type run struct {
	only        map[string]bool
	colls       map[string]wbo.Timestamp
	meta        *MetaGlobal
	metaTS      wbo.Timestamp
	metaChanged bool
	keys        *crypto.Keys
	freshStarts int
	// forceFresh makes a fresh start happen once the keys are read (FreshStart).
	forceFresh bool
	res        *Result
}

// stage is one named step; it returns the name of the next ("" ends the sync).
type stage func(ctx context.Context, r *run) (string, error)

// Stage names, in the order a normal sync meets them.
const (
	StagePreconditions = "check preconditions"
	StageClusterURL    = "ensure cluster URL"
	StageInfo          = "fetch info/collections"
	StageMeta          = "fetch meta/global"
	StageKeys          = "fetch crypto/keys"
	StageFreshStart    = "fresh start"
	StageClients       = "sync clients"
	StageEngines       = "sync engines"
	StageUploadMeta    = "upload meta/global"
)

// maxStages bounds the state machine: a sync that loops this long is a bug.
const maxStages = 32

// ErrNoSuchEngine: Sync was asked for an engine the registry does not have.
var ErrNoSuchEngine = errors.New("engine: no such engine")

// Sync runs one sync of the named engines (all when none are named).
func (s *Session) Sync(ctx context.Context, engines ...string) (*Result, error) {
	r := s.newRun()
	if len(engines) > 0 {
		r.only = map[string]bool{}
		for _, e := range engines {
			if _, ok := s.opts.Engines.Get(e); !ok {
				return r.res, fmt.Errorf("%w %q (have %v)", ErrNoSuchEngine, e, s.opts.Engines.Names())
			}
			r.only[e] = true
		}
	}
	err := s.run(ctx, r, StagePreconditions, "")
	return r.res, err
}

// Setup runs a sync's stages and no engine: the account's meta/global and keys (set up
// anew when the account is new) and this device's client record. A new account used
// only for some engines gets nothing of the others.
func (s *Session) Setup(ctx context.Context) (*Result, error) {
	r := s.newRun()
	r.only = map[string]bool{}
	err := s.run(ctx, r, StagePreconditions, "")
	return r.res, err
}

// FreshStart wipes the server and sets the account up anew from this device's data, as
// the first sync of a new account does. Other devices notice the new syncID and keys at
// their next sync and merge their data back in; commands still waiting for them (a
// wipe) survive the wipe, so a wiped collection does not come back.
func (s *Session) FreshStart(ctx context.Context) (*Result, error) {
	r := s.newRun()
	r.forceFresh = true
	err := s.run(ctx, r, StagePreconditions, "")
	return r.res, err
}

func (s *Session) newRun() *run { return &run{res: &Result{Engines: map[string]EngineResult{}}} }

// run moves through the stages from first until a stage names until as the next (""
// runs to the end).
func (s *Session) run(ctx context.Context, r *run, first, until string) error {
	stages := map[string]stage{
		StagePreconditions: s.checkPreconditions,
		StageClusterURL:    s.ensureClusterURL,
		StageInfo:          s.fetchInfo,
		StageMeta:          s.fetchMeta,
		StageKeys:          s.fetchKeys,
		StageFreshStart:    s.freshStart,
		StageClients:       s.syncClients,
		StageEngines:       s.syncEngines,
		StageUploadMeta:    s.uploadMeta,
	}
	next := first
	var err error
	for i := 0; next != "" && next != until && err == nil; i++ {
		if i == maxStages {
			return errors.New("engine: sync did not settle")
		}
		if err = ctx.Err(); err != nil {
			break
		}
		r.res.Stages = append(r.res.Stages, next)
		s.log.Debug().Str("stage", next).Msg("sync")
		next, err = stages[next](ctx, r)
	}
	s.after(ctx, r, err)
	return err
}

// after records the server's signals and what a 401 means for next time.
func (s *Session) after(ctx context.Context, r *run, err error) {
	sig := s.client.Signals()
	until := sig.Backoff
	if sig.RetryAfter.After(until) {
		until = sig.RetryAfter
	}
	r.res.Backoff, r.res.Alert = until, sig.Alert
	kv := map[string]string{}
	if until.After(s.opts.Now()) {
		kv[keyBackoff] = until.Format(time.RFC3339Nano)
	}
	if errors.Is(err, storage.ErrUnauthorized) || errors.Is(err, storage.ErrNodeReassigned) {
		// Start the next sync with a new token and from scratch: the node may be new.
		kv[keyToken], kv[keyResetNext] = "", "1"
	}
	if err == nil && slices.Contains(r.res.Stages, StageEngines) {
		kv[keyLastSync] = s.opts.Now().UTC().Format(time.RFC3339)
	}
	if len(kv) > 0 {
		if serr := s.setState(ctx, kv); serr != nil {
			s.log.Warn().Err(serr).Msg("saving session state")
		}
	}
}

// cachedTokens keeps the storage token in the state store until it expires, so that a
// sync does not ask the tokenserver every time.
type cachedTokens struct {
	inner storage.TokenSource
	state StateStore
	now   func() time.Time
	creds string // the credentials the inner source presents
}

func (c *cachedTokens) Token(ctx context.Context, force bool) (storage.Token, error) {
	if !force {
		v, _ := c.state.State(ctx, keyToken)
		creds, _ := c.state.State(ctx, keyTokenCreds)
		if v != "" && creds == c.creds {
			var t storage.Token
			// A cached token that cannot be read is as good as none: a new one is asked for.
			if json.Unmarshal([]byte(v), &t) == nil && c.now().Before(t.Expires.Add(-time.Minute)) {
				return t, nil
			}
		}
	}
	t, err := c.inner.Token(ctx, force)
	if err != nil {
		return t, err
	}
	b, _ := json.Marshal(t)
	if err := c.state.SetState(ctx, map[string]string{keyToken: string(b), keyTokenCreds: c.creds}); err != nil {
		return t, err
	}
	return t, nil
}
