package repository

import (
	"context"

	"github.com/syncctl/syncctl/wbo"
)

// Tracked is a local record with its sync bookkeeping.
type Tracked struct {
	Record wbo.Record
	// Changed: a local change the server has not acknowledged yet.
	Changed bool
	// Mirror is the record as last synced, nil if it never was: the base of a three-way
	// merge.
	Mirror []byte
}

// Resolved is what reconciling one incoming record decided.
type Resolved struct {
	Record  wbo.Record // what the local record becomes
	Changed bool       // still (or now) a local change to upload
	Mirror  []byte     // the server's version, the next merge's base
	// Expect is the local Modified that reconciliation saw (0: absent; AnyVersion: do not
	// check). If the record was written locally since, the local write wins and the
	// resolution is dropped.
	Expect wbo.Timestamp
}

// AnyVersion as Resolved.Expect overwrites whatever is there.
const AnyVersion wbo.Timestamp = -1

// TrackedRepository is the local side of a sync: a repository that knows which records
// hold local changes, remembers the last synced version of each, and writes incoming
// records together with the sync progress they complete, in one transaction.
type TrackedRepository interface {
	Repository
	// Changes streams the records with unacknowledged local changes.
	Changes(ctx context.Context, fn func(wbo.Record) error) error
	// Lookup returns the tracked records with these ids (absent ones left out).
	Lookup(ctx context.Context, ids []string) (map[string]Tracked, error)
	// ApplyIncoming writes resolutions, removes the ids in remove, and sets the state
	// keys, atomically.
	ApplyIncoming(ctx context.Context, in []Resolved, remove []string, state map[string]string) (StoreResult, error)
	// MarkSynced clears the change mark of records the server acknowledged (as read for
	// upload; a record changed since stays marked) and sets the state keys, atomically.
	MarkSynced(ctx context.Context, recs []wbo.Record, state map[string]string) error
	// State reads a state key ("" when unset).
	State(ctx context.Context, key string) (string, error)
}

// Emptier is a TrackedRepository that can tell cheaply that it holds no record at all.
// A synchronizer then knows no incoming record of its first sync has a local version,
// and looks none up: a record created here meanwhile is caught by Expect (0, absent).
type Emptier interface {
	Empty(ctx context.Context) (bool, error)
}

// IncomingBatcher is a TrackedRepository that can hold one transaction over several
// ApplyIncoming calls. A store whose index outgrows its cache pays for every commit
// with a rewrite of most of that index, so a large first sync commits a few times
// rather than once a chunk.
type IncomingBatcher interface {
	// BeginIncoming starts the transaction. Until it ends, nothing applied through it is
	// visible to other readers or durable, and other writes to the store wait.
	BeginIncoming(ctx context.Context) (Incoming, error)
}

// Incoming is the transaction of BeginIncoming. A failed ApplyIncoming ends it, rolled
// back whole; Commit or Rollback must end it otherwise.
type Incoming interface {
	ApplyIncoming(ctx context.Context, in []Resolved, remove []string, state map[string]string) (StoreResult, error)
	Commit() error
	Rollback() error
}
