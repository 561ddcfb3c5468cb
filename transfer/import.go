// Package transfer moves an account's records in and out as JSON lines, the format
// `syncctl export` writes: one record per line with its collection, id, time, sort index
// and cleartext payload. Import streams: memory holds a chunk per collection, never the
// file.
package transfer

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/firefox"
	"github.com/syncctl/syncctl/repository/remote"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/wbo"
)

// Line is one record of an export.
type Line struct {
	Collection string          `json:"collection"`
	ID         string          `json:"id"`
	Modified   wbo.Timestamp   `json:"modified"`
	SortIndex  *int64          `json:"sortindex,omitempty"`
	Payload    json.RawMessage `json:"payload"` // the cleartext: a JSON object, or a string for one that was not JSON
}

// ErrNotAnExport: a line that is not a record written by export. The error names the line.
var ErrNotAnExport = errors.New("not a record written by export")

// ImportOptions configure Import. Client and Bundle are required.
type ImportOptions struct {
	Client *storage.Client
	// Bundle is the key a collection's records are encrypted with.
	Bundle func(collection string) *crypto.KeyBundle
	// Chunk is how many records of a collection go up in one upload (default 2,000).
	Chunk int
	// OnStored, if set, is told how many records each upload stored (progress).
	OnStored func(n int)
	// OnRefused, if set, receives each record the server refused (the import goes on).
	// Both are called from the goroutine that uploads, never at once, and not after
	// the import has returned.
	OnRefused func(collection, id string, err error)
}

// ImportResult says what an import did.
type ImportResult struct {
	Stored      int
	Collections []string // in the order they first appeared
	// Skipped counts the lines of meta, crypto and clients: they belong to the account
	// that was exported, not to its data.
	Skipped int
}

// Import reads an export's JSON lines from r, encrypts each record as it is read and
// uploads the records of each collection in chunks.
func Import(ctx context.Context, r io.Reader, opts ImportOptions) (ImportResult, error) {
	return ImportLines(ctx, ReadLines(r), opts)
}

// ReadLines reads an export's JSON lines, one Line each; blank lines are skipped. A line
// that is not a record is an error that matches ErrNotAnExport and names the line.
func ReadLines(r io.Reader) iter.Seq2[Line, error] {
	return func(yield func(Line, error) bool) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		n := 0
		for sc.Scan() {
			n++
			if strings.TrimSpace(sc.Text()) == "" {
				continue
			}
			var l Line
			if err := decodeLine(sc.Bytes(), &l); err != nil || l.Collection == "" || l.ID == "" {
				yield(Line{}, fmt.Errorf("transfer: line %d: %w", n, ErrNotAnExport))
				return
			}
			if !yield(l, nil) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			yield(Line{}, err)
		}
	}
}

// accountCollections are exported but never imported: they belong to the exporting
// account (its keys, its meta/global, its devices), not to its data.
func accountCollection(c string) bool { return c == "meta" || c == "crypto" || c == "clients" }

// ImportLines encrypts and uploads lines, the records of each collection in chunks.
// One chunk goes up while the next is read and encrypted, so the client's work and the
// server's overlap; uploads stay one at a time and in order, and the import stops at the
// first that fails (memory holds the chunk going up and one per collection being filled).
// The bookmark roots come last and keep the children the server's roots already have:
// an import adds to a tree, and drops nothing from it.
func ImportLines(ctx context.Context, lines iter.Seq2[Line, error], opts ImportOptions) (ImportResult, error) {
	if opts.Chunk <= 0 {
		opts.Chunk = 2000
	}
	up := uploads{opts: opts}
	res, err := importLines(ctx, lines, opts, &up)
	// An upload still in flight may have failed too, before or after what stopped the
	// import: both are said.
	err = errors.Join(err, up.wait())
	res.Stored = up.stored
	return res, err
}

func importLines(ctx context.Context, lines iter.Seq2[Line, error], opts ImportOptions, up *uploads) (ImportResult, error) {
	var res ImportResult
	pending := map[string][]wbo.Record{}
	repos := map[string]*remote.Repository{}
	send := func(c string) error {
		recs := pending[c]
		if len(recs) == 0 {
			return nil
		}
		pending[c] = nil // the chunk is the upload's now
		return up.start(ctx, c, repos[c], recs)
	}
	add := func(l Line) error {
		c := l.Collection
		if _, ok := repos[c]; !ok {
			res.Collections = append(res.Collections, c)
			repos[c] = remote.New(remote.Options{Client: opts.Client, Collection: c})
		}
		e, err := opts.Bundle(c).EncryptRecord(l.Record(), nil)
		if err != nil {
			return fmt.Errorf("%s/%s: %w", c, l.ID, err)
		}
		pending[c] = append(pending[c], e)
		if len(pending[c]) >= opts.Chunk {
			return send(c)
		}
		return nil
	}
	var roots []Line
	for l, err := range lines {
		if err != nil {
			return res, err
		}
		switch {
		case accountCollection(l.Collection):
			res.Skipped++
		case l.Collection == "bookmarks" && slices.Contains(firefox.RootIDs, l.ID):
			roots = append(roots, l)
		default:
			if err := add(l); err != nil {
				return res, err
			}
		}
	}
	// The roots are read from the server once nothing of this import is in flight.
	if err := up.wait(); err != nil {
		return res, err
	}
	for _, l := range roots {
		merged, err := mergeRoot(ctx, opts, l)
		if err != nil {
			return res, err
		}
		if err := add(merged); err != nil {
			return res, err
		}
	}
	for _, c := range res.Collections {
		if err := send(c); err != nil {
			return res, err
		}
	}
	return res, nil
}

// uploads runs an import's uploads in a goroutine, one at a time: start waits for the
// one before. Its counts and the callbacks are touched by one upload at a time, and read
// after wait.
type uploads struct {
	opts     ImportOptions
	stored   int
	inFlight chan error // nil when nothing is
}

func (u *uploads) start(ctx context.Context, c string, repo *remote.Repository, recs []wbo.Record) error {
	if err := u.wait(); err != nil {
		return err
	}
	done := make(chan error, 1)
	u.inFlight = done
	go func() { done <- u.store(ctx, c, repo, recs) }()
	return nil
}

// wait returns the error of the upload in flight, once it has ended (nil if none was).
func (u *uploads) wait() error {
	if u.inFlight == nil {
		return nil
	}
	err := <-u.inFlight
	u.inFlight = nil
	return err
}

func (u *uploads) store(ctx context.Context, c string, repo *remote.Repository, recs []wbo.Record) error {
	stored, err := repo.Store(ctx, recs)
	u.stored += len(stored.Stored)
	if u.opts.OnStored != nil {
		u.opts.OnStored(len(stored.Stored))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", c, err)
	}
	if u.opts.OnRefused != nil {
		for id, e := range stored.Failed {
			u.opts.OnRefused(c, id, e)
		}
	}
	return nil
}

// Record is the line as a cleartext record (a payload exported as a string, because it
// was not JSON, is that string again).
func (l Line) Record() wbo.Record {
	rec := wbo.Record{ID: l.ID, SortIndex: l.SortIndex, Payload: []byte(l.Payload)}
	// A payload that is a JSON string is that string (a record that was not JSON); an
	// object is itself. Only a string can decode, so an object is not scanned twice.
	var s string
	if len(l.Payload) > 0 && l.Payload[0] == '"' && json.Unmarshal(l.Payload, &s) == nil {
		rec.Payload = []byte(s)
	}
	return rec
}

// mergeRoot gives an imported root folder the server's children first, then its own
// that the server's lacks.
func mergeRoot(ctx context.Context, opts ImportOptions, l Line) (Line, error) {
	enc, err := opts.Client.GetRecord(ctx, "bookmarks", l.ID)
	if errors.Is(err, storage.ErrNotFound) {
		return l, nil
	}
	if err != nil {
		return l, err
	}
	clear, err := opts.Bundle("bookmarks").DecryptRecord(enc)
	if err != nil {
		return l, fmt.Errorf("bookmarks/%s on the server: %w", l.ID, err)
	}
	have, err := firefox.Parse[firefox.Bookmark](clear.Payload)
	if err != nil || have.Deleted {
		return l, nil // nothing readable to keep
	}
	mine, err := firefox.Parse[firefox.Bookmark](l.Payload)
	if err != nil {
		return l, fmt.Errorf("bookmarks/%s: %w", l.ID, err)
	}
	children := slices.Clone(have.Children)
	for _, c := range mine.Children {
		if !slices.Contains(children, c) {
			children = append(children, c)
		}
	}
	if slices.Equal(children, mine.Children) {
		return l, nil // the server adds nothing: the line as it was written
	}
	mine.Children = children
	p, err := firefox.Encode(mine)
	if err != nil {
		return l, err
	}
	l.Payload = p
	return l, nil
}
