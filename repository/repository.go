// Package repository defines where records live: a Repository is one collection's worth
// of records, local (memory, SQLite) or remote (one collection on a SyncStorage server),
// cleartext or, through the crypto middleware, encrypted. The synchronizer moves records
// between two of them.
package repository

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/syncctl/syncctl/wbo"
)

// Repository is one collection of records. Fetches stream to fn and stop at its first
// error. Implementations are safe for concurrent use, and every call honours its
// context. The package repositorytest holds these promises as a test suite that every
// implementation runs.
type Repository interface {
	// FetchSince streams the records modified after since, oldest first.
	FetchSince(ctx context.Context, since wbo.Timestamp, fn func(wbo.Record) error) error
	// GUIDsSince lists the ids of records modified after since.
	GUIDsSince(ctx context.Context, since wbo.Timestamp) ([]string, error)
	// Fetch streams the records with the given ids, each once however often it is
	// asked for; absent ids are skipped.
	Fetch(ctx context.Context, ids []string, fn func(wbo.Record) error) error
	// Store writes records. Per-record failures are in the result, not the error; the
	// error is for failures of the whole call (after which Stored says what got through).
	Store(ctx context.Context, recs []wbo.Record) (StoreResult, error)
	// Wipe deletes every record.
	Wipe(ctx context.Context) error
}

// Lender is a Repository that can lend the records it streams: a lent record's Payload
// is valid only until fn returns, and the repository may reuse its memory after. A
// caller that keeps nothing of a payload (the crypto middleware, whose cleartext is new
// memory) saves a copy of each: of a record's bytes, the payload is nearly all.
type Lender interface {
	// FetchSinceLent is FetchSince with lent payloads.
	FetchSinceLent(ctx context.Context, since wbo.Timestamp, fn func(wbo.Record) error) error
	// FetchLent is Fetch with lent payloads.
	FetchLent(ctx context.Context, ids []string, fn func(wbo.Record) error) error
}

// StoreResult says what a Store did.
type StoreResult struct {
	// Modified is the repository's timestamp of the write (for a server: the commit's).
	Modified wbo.Timestamp
	// Stored lists the ids written.
	Stored []string
	// Failed maps the ids not written to why.
	Failed map[string]error
}

// Fail records a per-record failure.
func (r *StoreResult) Fail(id string, err error) {
	if r.Failed == nil {
		r.Failed = map[string]error{}
	}
	r.Failed[id] = err
}

// Errors a repository returns, whatever it stores records in. A remote repository maps
// its protocol's answers onto them (SyncStorage's 412 is ErrConflict), so a caller such as
// the synchronizer needs no knowledge of the transport.
var (
	// ErrConflict: someone else wrote since this repository last read, and a write that
	// would have overwritten their change was refused. Read again, then write.
	ErrConflict = errors.New("repository: written by someone else since it was last read")
	// ErrRefused matches every RefusedError.
	ErrRefused = errors.New("repository: record refused")
)

// RefusedError is one record a Store did not write, and the reason its destination gave
// (for a server, its words: "invalid id", "size limit exceeded"). It is a per-record
// failure, in StoreResult.Failed.
type RefusedError struct {
	ID     string
	Reason string
}

func (e *RefusedError) Error() string { return fmt.Sprintf("record %q refused: %s", e.ID, e.Reason) }

// Is makes every RefusedError match ErrRefused.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// RecordError is one record a fetch could not deliver (a bad HMAC, bad JSON, …).
type RecordError struct {
	ID  string
	Err error
}

func (e RecordError) Error() string { return fmt.Sprintf("record %q: %v", e.ID, e.Err) }
func (e RecordError) Unwrap() error { return e.Err }

// PartialError ends a fetch that delivered every good record but skipped bad ones.
// errors.Is sees through it to each record's error (e.g. crypto.ErrHMACMismatch).
type PartialError struct {
	Failed []RecordError
}

func (e *PartialError) Error() string {
	parts := make([]string, 0, min(len(e.Failed), 3))
	for _, f := range e.Failed[:min(len(e.Failed), 3)] {
		parts = append(parts, f.Error())
	}
	more := ""
	if len(e.Failed) > 3 {
		more = fmt.Sprintf(" and %d more", len(e.Failed)-3)
	}
	return fmt.Sprintf("%d records skipped: %s%s", len(e.Failed), strings.Join(parts, "; "), more)
}

// Unwrap exposes each record's error to errors.Is and errors.As.
func (e *PartialError) Unwrap() []error {
	out := make([]error, len(e.Failed))
	for i, f := range e.Failed {
		out[i] = f
	}
	return out
}

// AsPartial returns the skipped records of a fetch error, and whether the fetch otherwise
// completed.
func AsPartial(err error) ([]RecordError, bool) {
	var p *PartialError
	if errors.As(err, &p) {
		return p.Failed, true
	}
	return nil, false
}

// Unique returns ids without repeats, in their first order: what Fetch implementations
// query, so that a repeated id is delivered once even when the ids go in chunks.
func Unique(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
