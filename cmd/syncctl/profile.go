package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/engine"
	"github.com/syncctl/syncctl/firefox"
	"github.com/syncctl/syncctl/internal/localdb"
	"github.com/syncctl/syncctl/internal/lockfile"
	"github.com/syncctl/syncctl/repository/sqlite"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/token"
)

// secrets are what must never be logged or put in the config file: they live in
// secrets.json next to it, mode 0600, one entry per profile.
type secrets struct {
	Secret string `json:"secret,omitempty"` // the Bearer credential for the token endpoint
	KB     string `json:"kB,omitempty"`     // the account key, hex
	KeyID  string `json:"keyID,omitempty"`
	// MasterSecret and UID, when set, mint tokens directly for a storage node.
	MasterSecret string `json:"masterSecret,omitempty"`
	UID          uint64 `json:"uid,omitempty"`
	// FxA, when set, is a Firefox Accounts login.
	FxA *fxaSecrets `json:"fxa,omitempty"`
}

// tokenSource is how the profile gets storage credentials.
func (sec secrets) tokenSource(server string) storage.TokenSource {
	if sec.MasterSecret != "" {
		return &mintedTokens{secret: token.NewSecret(sec.MasterSecret), node: server, uid: sec.UID}
	}
	secret := sec.Secret
	return &storage.TokenServer{URL: server, KeyID: sec.KeyID, Bearer: func(context.Context) (string, error) { return secret, nil }}
}

// id names the credentials without revealing them: a changed secret or key is a new id.
func (sec secrets) id(server string) string {
	b, _ := json.Marshal(struct {
		S      secrets
		Server string
	}{sec, server})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func secretsPath() string { return filepath.Join(configDir(), "secrets.json") }

func loadSecrets() (map[string]secrets, error) {
	b, err := os.ReadFile(secretsPath())
	if errors.Is(err, os.ErrNotExist) {
		return map[string]secrets{}, nil
	}
	if err != nil {
		return nil, err
	}
	var all map[string]secrets
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, fmt.Errorf("%s: %w", secretsPath(), err)
	}
	return all, nil
}

func saveSecrets(all map[string]secrets) error {
	if err := os.MkdirAll(configDir(), 0o700); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(all, "", "  ")
	tmp := secretsPath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, secretsPath())
}

// profileName is --profile, SYNCCTL_PROFILE or the config's "profile", else "default".
func (a *app) profileName() string {
	if p := a.v.GetString("profile"); p != "" {
		return p
	}
	return "default"
}

// account is a logged-in profile, ready to talk to its server.
type account struct {
	profile string
	server  string
	user    string
	syncKey *crypto.KeyBundle
	tokens  storage.TokenSource
	client  *storage.Client
	db      *sqlite.DB
	creds   string         // a hash naming the saved credentials
	fxa     *fxaSecrets    // a Firefox Accounts login, if it is one
	lock    *lockfile.Lock // held while a session works on the local state
}

func (a *app) profileKey(k string) string { return "profiles." + a.profileName() + "." + k }

// account opens the current profile for a command that talks to the server: not while
// the server's backoff lasts (exit 4), nor while a key rotation is unfinished (its
// records are half under keys other devices cannot see yet).
func (a *app) account(ctx context.Context) (*account, error) {
	acct, err := a.offlineAccount(ctx)
	if err != nil {
		return nil, err
	}
	flags, err := engine.SavedFlags(ctx, acct.db)
	if err != nil {
		acct.close()
		return nil, err
	}
	switch {
	case time.Now().Before(flags.BackoffUntil):
		acct.close()
		return nil, backoffUntil(flags.BackoffUntil)
	case flags.RotatingKeys && !a.rotating:
		acct.close()
		return nil, errRotationUnfinished
	}
	return acct, nil
}

// errRotationUnfinished refuses commands while a key rotation is half done.
var errRotationUnfinished = errors.New("a key rotation did not finish: run `syncctl keys rotate` to finish it first")

// offlineAccount opens the current profile: its config, its secrets and its local
// database, whatever the server asked.
func (a *app) offlineAccount(ctx context.Context) (*account, error) {
	all, err := loadSecrets()
	if err != nil {
		return nil, err
	}
	sec, ok := all[a.profileName()]
	server := a.v.GetString(a.profileKey("server"))
	if !ok || server == "" {
		return nil, withCode(exitAuth, fmt.Errorf("profile %q is not logged in: run `syncctl login --server URL --user NAME`", a.profileName()))
	}
	var syncKey *crypto.KeyBundle
	if sec.FxA != nil {
		syncKey, err = sec.FxA.Credentials.SyncKey()
	} else {
		var kB []byte
		if kB, err = hex.DecodeString(sec.KB); err == nil {
			syncKey, err = crypto.SyncKeyBundle(kB)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("secrets: bad key for %q: %w", a.profileName(), err)
	}
	acct := &account{profile: a.profileName(), server: server, user: a.v.GetString(a.profileKey("user")), syncKey: syncKey, creds: sec.id(server)}
	acct.tokens = sec.tokenSource(server)
	if sec.FxA != nil {
		acct.tokens = fxaTokens(a, acct.profile, server, sec.FxA)
		acct.fxa = sec.FxA
	}
	if err := os.MkdirAll(dataDir(), 0o700); err != nil {
		return nil, fmt.Errorf("the data directory %s: %w", dataDir(), err)
	}
	path := filepath.Join(dataDir(), acct.profile+".db")
	if acct.db, err = sqlite.Open(path, nil); err != nil {
		if errors.Is(err, localdb.ErrCannotOpen) {
			var pathErr *fs.PathError
			if errors.As(err, &pathErr) {
				err = pathErr.Err // the system's reason: the path is said once, below
			}
		}
		return nil, fmt.Errorf("opening the local store %s: %w%s", path, err, writableHint(dataDir()))
	}
	acct.client = storage.New(storage.Options{Tokens: acct.tokens, Logger: &a.log})
	return acct, nil
}

// close records what the server asked for (a backoff seen by this command holds for
// the next one too), then releases the profile.
func (acct *account) close() {
	if acct.client != nil {
		// A fresh context: the command's may be cancelled, and the backoff still counts.
		if err := engine.SaveBackoff(context.Background(), acct.db, acct.client.Signals(), time.Now()); err != nil {
			fmt.Fprintf(os.Stderr, "syncctl: saving the server's backoff: %v\n", err)
		}
	}
	acct.lock.Release()
	acct.db.Close()
}

// writableHint says what to do when a directory cannot be written.
func writableHint(dir string) string {
	f, err := os.CreateTemp(dir, ".syncctl-probe-*")
	if err != nil {
		return fmt.Sprintf(" (%s is not writable: fix its permissions, or set XDG_DATA_HOME to another directory)", dir)
	}
	f.Close()
	os.Remove(f.Name())
	return ""
}

// deviceName is how this device appears to the others: --device-name, the config's
// device-name (per profile or global), else "syncctl on <host>".
func (a *app) deviceName() string {
	if n := a.v.GetString(a.profileKey("device-name")); n != "" {
		return n
	}
	if n := a.v.GetString("device-name"); n != "" {
		return n
	}
	host, _ := os.Hostname()
	return "syncctl on " + host
}

// lockWait bounds how long a command waits for another syncctl to finish with the
// profile.
const lockWait = 10 * time.Minute

// standardEngines are the Firefox collections syncctl keeps a local copy of.
var standardEngines = []struct {
	name    string
	version int
}{
	{"bookmarks", 2}, {"history", 1}, {"passwords", 1}, {"forms", 1}, {"tabs", 1}, {"prefs", 2}, {"addons", 1},
}

func (acct *account) registry() *engine.Registry {
	return engine.NewRegistry(firefox.Engines(func(c string) firefox.Store { return acct.db.Collection(c) })...)
}

// session returns the profile's sync session, holding the profile's lock until close:
// one sync, wipe or rotation at a time works on a profile's local state, the others
// wait for it.
func (acct *account) session(ctx context.Context, a *app, stderr io.Writer) (*engine.Session, error) {
	if acct.lock == nil {
		wctx, cancel := context.WithTimeout(ctx, lockWait)
		defer cancel()
		path := filepath.Join(dataDir(), acct.profile+".lock")
		l, err := lockfile.Acquire(wctx, path, func(pid int) {
			fmt.Fprintf(stderr, "syncctl: profile %q is in use by another syncctl (process %d); waiting for it\n", acct.profile, pid)
		})
		if err != nil {
			return nil, fmt.Errorf("profile %q: %w", acct.profile, err)
		}
		acct.lock = l
	}
	return acct.unlockedSession(a)
}

// unlockedSession is the profile's session without its lock: for reading its status,
// which writes nothing.
func (acct *account) unlockedSession(a *app) (*engine.Session, error) {
	return engine.NewSession(engine.Options{
		Tokens: acct.tokens, SyncKey: acct.syncKey, State: acct.db, Engines: acct.registry(),
		ClientName: a.deviceName(), Logger: &a.log, CredentialsID: acct.creds,
	})
}

// bundle is the key a collection's records are encrypted with: the sync key bundle for
// crypto/keys itself, else the collection's bulk key.
func (acct *account) bundle(keys *crypto.Keys, coll string) *crypto.KeyBundle {
	if coll == crypto.KeysCollection {
		return acct.syncKey
	}
	return keys.For(coll)
}

// keys fetches and opens crypto/keys.
func (acct *account) keys(ctx context.Context) (*crypto.Keys, error) {
	rec, err := acct.client.GetRecord(ctx, crypto.KeysCollection, crypto.KeysID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("the account has no crypto/keys yet: run `syncctl sync` once")
	}
	if err != nil {
		return nil, err
	}
	keys, err := crypto.DecryptKeys(rec, acct.syncKey)
	if errors.Is(err, crypto.ErrHMACMismatch) {
		return nil, engine.ErrWrongSyncKey
	}
	return keys, err
}
