package synchronizer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/syncctl/syncctl/internal/jsonscan"
	"github.com/syncctl/syncctl/repository"
	"github.com/syncctl/syncctl/wbo"
)

// Deduper maps an incoming record to an existing local record with another GUID (as
// Firefox does for bookmarks with the same URL and parent). The local record then takes
// the incoming GUID, on both sides.
type Deduper interface {
	FindDupe(ctx context.Context, incoming wbo.Record) (localID string, found bool, err error)
}

// Options configure a Synchronizer. Local, Remote and Key are required.
type Options struct {
	Local  repository.TrackedRepository
	Remote repository.Repository
	// Key prefixes the state keys this synchronizer keeps (use the collection name).
	Key string
	// Reconciler decides records changed on both sides (default ThreeWay).
	Reconciler Reconciler
	// Deduper, if set, is asked about every incoming record that has no local twin.
	Deduper Deduper
	// ChunkSize is how many incoming records are applied at once at most (default
	// 20,000), and ChunkBytes how many bytes of their payloads (default 8 MB), each
	// chunk in a transaction of its own unless TxTime lets several share one.
	// A transaction's cost is mostly the index pages it touches, in id order: once a
	// collection's index outgrows the page cache, more records to a transaction share
	// the cost (at 1,000,000 records, 9.4 µs a record at 20,000 against 15.5 at
	// 5,000). Two chunks are in memory at a time.
	ChunkSize  int
	ChunkBytes int
	// TxTime is how long a transaction of a first sync into an empty local store may
	// take in all (default 2 s), when Local is a repository.IncomingBatcher and there is
	// no Deduper: chunks keep going into one transaction while the next is already
	// fetched, so a transaction never waits on the network, and other writers to the
	// store wait for TxTime at most (and a chunk's apply). Fewer commits rewrite the
	// local index fewer times: at 1,000,000 records the local half went from 9.5 to
	// 7.1 µs a record with 100,000 to a transaction
	// (repository/sqlite.BenchmarkApplyIncoming100k, -apply.tx).
	TxTime time.Duration
	// UploadChunk is how many local changes go to one Remote.Store (default 10,000, the
	// max_total_records of Mozilla's servers and of syncctl serve: one server batch, so
	// a group is as atomic as an upload of it alone could be).
	UploadChunk int
	// ConflictRetries bounds how often an upload that met a concurrent write (412) is
	// retried after a fresh incoming pass (default 2).
	ConflictRetries int
	// RemoteModified, if set, is the collection's last-modified time on the server as
	// info/collections gave it (0: the collection is absent). A sync with no local
	// changes and nothing newer on the server then asks the server nothing, as Firefox
	// does. Nil: always fetch.
	RemoteModified *wbo.Timestamp
	Logger         *zerolog.Logger
}

// Result counts what one sync did.
type Result struct {
	Applied    int           // incoming records applied
	Reconciled int           // incoming records that met a local change
	Deduped    int           // local records that took an incoming GUID
	Failed     int           // incoming records skipped (bad HMAC, bad JSON, …)
	Uploaded   int           // local changes the server acknowledged
	Rejected   int           // local changes the server refused (they stay pending)
	Duration   time.Duration //
}

// Add counts another pass's figures into r.
func (r *Result) Add(o Result) {
	r.Applied += o.Applied
	r.Reconciled += o.Reconciled
	r.Deduped += o.Deduped
	r.Failed += o.Failed
	r.Uploaded += o.Uploaded
	r.Rejected += o.Rejected
	r.Duration += o.Duration
}

// Synchronizer syncs one collection.
type Synchronizer struct {
	opts Options
	log  zerolog.Logger
}

// New returns a synchronizer.
func New(opts Options) *Synchronizer {
	if opts.Reconciler == nil {
		opts.Reconciler = ThreeWay{}
	}
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = 20_000
	}
	if opts.ChunkBytes <= 0 {
		opts.ChunkBytes = 8 << 20
	}
	if opts.TxTime <= 0 {
		opts.TxTime = 2 * time.Second
	}
	if opts.UploadChunk <= 0 {
		opts.UploadChunk = 10_000
	}
	if opts.ConflictRetries <= 0 {
		opts.ConflictRetries = 2
	}
	s := &Synchronizer{opts: opts, log: zerolog.Nop()}
	if opts.Logger != nil {
		s.log = *opts.Logger
	}
	return s
}

// StateKey is the state key of the server timestamp up to which incoming is done.
func (s *Synchronizer) StateKey() string { return s.opts.Key + ".lastServer" }

// LastSync returns the server timestamp the last sync reached (0: never synced).
func (s *Synchronizer) LastSync(ctx context.Context) (wbo.Timestamp, error) {
	v, err := s.opts.Local.State(ctx, s.StateKey())
	if err != nil || v == "" {
		return 0, err
	}
	return wbo.ParseTimestamp(v)
}

// Sync runs incoming then outgoing. An upload that meets a concurrent write (412) runs
// incoming again and retries, a bounded number of times. Records that fail alone (a bad
// HMAC incoming, a refused record outgoing) are counted, never fatal; local changes stay
// pending until the server acknowledges them.
func (s *Synchronizer) Sync(ctx context.Context) (Result, error) {
	start := time.Now()
	var res Result
	if idle, err := s.idle(ctx); err != nil || idle {
		return res, err
	}
	for attempt := 0; ; attempt++ {
		if err := s.incoming(ctx, &res); err != nil {
			res.Duration = time.Since(start)
			return res, err
		}
		err := s.outgoing(ctx, &res)
		if errors.Is(err, repository.ErrConflict) && attempt < s.opts.ConflictRetries {
			s.log.Info().Str("collection", s.opts.Key).Msg("upload met a concurrent write; fetching again")
			continue
		}
		res.Duration = time.Since(start)
		return res, err
	}
}

// errHasChanges stops the scan of local changes at the first one.
var errHasChanges = errors.New("has changes")

// idle reports whether there is nothing to do: the server's collection has not moved
// past our progress and no local change waits.
func (s *Synchronizer) idle(ctx context.Context) (bool, error) {
	if s.opts.RemoteModified == nil {
		return false, nil
	}
	since, err := s.LastSync(ctx)
	if err != nil || *s.opts.RemoteModified > since {
		return false, err
	}
	err = s.opts.Local.Changes(ctx, func(wbo.Record) error { return errHasChanges })
	if errors.Is(err, errHasChanges) {
		return false, nil
	}
	return err == nil, err
}

func (s *Synchronizer) incoming(ctx context.Context, res *Result) error {
	since, err := s.LastSync(ctx)
	if err != nil {
		return err
	}
	// Chunks are applied by a second goroutine while the next one is fetched, decrypted
	// and looked up locally, in order, one waiting at most: the network, the local reads
	// and the local writes work at the same time, and memory holds two chunks.
	//
	// A chunk looked up while the one before it was being applied can only have missed
	// what that apply wrote to its own ids (one fetch names each id once) and the local
	// duplicates it removed: after a chunk that removed any, the next is looked up again.
	// Anything else written locally in between is caught by Expect.
	// Into an empty local store (a new device's first sync) nothing needs looking up:
	// every record is new here, and Expect 0 keeps a record created meanwhile.
	empty := false
	if e, ok := s.opts.Local.(repository.Emptier); ok {
		if empty, err = e.Empty(ctx); err != nil {
			return err
		}
	}
	fetchCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	type work struct {
		chunk    []wbo.Record
		locals   map[string]repository.Tracked
		progress wbo.Timestamp
	}
	queue := make(chan work, 1)
	applied := make(chan error, 1)
	var counts Result // the applier's counts, merged into res once it is done
	// A first sync with nothing to deduplicate against may put several chunks in one
	// transaction (TxTime): nothing it reads locally could see them before they commit.
	batcher, _ := s.opts.Local.(repository.IncomingBatcher)
	if !empty || s.opts.Deduper != nil {
		batcher = nil
	}
	go func() {
		var (
			err     error
			removed bool
			tx      repository.Incoming // open while each next chunk is ready at once
			txStart time.Time
		)
		end := func() {
			if tx == nil {
				return
			}
			if err == nil {
				err = tx.Commit()
			} else {
				tx.Rollback() // ended already if its ApplyIncoming failed
			}
			tx = nil
		}
		next := func() (work, bool) {
			if tx != nil && err == nil && time.Since(txStart) < s.opts.TxTime {
				select {
				case w, ok := <-queue:
					return w, ok
				default: // still being fetched: commit rather than wait with it open
				}
			}
			end()
			w, ok := <-queue
			return w, ok
		}
		for w, ok := next(); ok; w, ok = next() {
			if err != nil {
				continue
			}
			if removed {
				w.locals = nil
			}
			store := s.opts.Local.ApplyIncoming
			if batcher != nil {
				if tx == nil {
					tx, err = batcher.BeginIncoming(ctx)
					txStart = time.Now()
				}
				if tx != nil {
					store = tx.ApplyIncoming
				}
			}
			if err == nil {
				removed, err = s.apply(ctx, store, w.chunk, w.locals, w.progress, &counts)
			}
			if err != nil {
				end()
				cancel() // stop fetching what can no longer be applied
			}
		}
		end()
		applied <- err
	}()
	var (
		chunk      []wbo.Record
		chunkBytes int
		done       = since // every record up to this timestamp is applied (or queued to be)
		seen       = since // the newest timestamp fetched
	)
	// flush queues the chunk with the progress it completes. Records arrive oldest
	// first, but several share a commit's timestamp, and a chunk may end inside such a
	// group: until the end of the fetch only a timestamp below the newest seen is known
	// complete. At the end, everything seen is complete, even when the last chunk came
	// out empty (a collection of exactly ChunkSize records under one timestamp).
	flush := func(final bool) error {
		progress := done
		for _, r := range chunk {
			if r.Modified > progress && (r.Modified < seen || final) {
				progress = r.Modified
			}
		}
		if final {
			progress = max(progress, seen)
		}
		if len(chunk) == 0 && progress == done {
			return nil
		}
		locals := map[string]repository.Tracked{}
		if !empty {
			var err error
			if locals, err = s.opts.Local.Lookup(fetchCtx, idsOf(chunk)); err != nil {
				return err
			}
		}
		select {
		case queue <- work{chunk: chunk, locals: locals, progress: progress}:
		case <-fetchCtx.Done():
			return fetchCtx.Err()
		}
		done = progress
		chunk, chunkBytes = nil, 0
		return nil
	}
	err = s.opts.Remote.FetchSince(fetchCtx, since, func(r wbo.Record) error {
		chunk = append(chunk, r)
		chunkBytes += len(r.Payload)
		seen = max(seen, r.Modified)
		if len(chunk) >= s.opts.ChunkSize || chunkBytes >= s.opts.ChunkBytes {
			return flush(false)
		}
		return nil
	})
	failed, partial := repository.AsPartial(err)
	if partial {
		for _, f := range failed {
			s.log.Warn().Str("collection", s.opts.Key).Str("id", f.ID).Err(f.Err).Msg("incoming record skipped")
		}
		err = nil
	}
	if err == nil {
		err = flush(true)
	}
	close(queue)
	applyErr := <-applied
	res.Applied += counts.Applied
	res.Reconciled += counts.Reconciled
	res.Deduped += counts.Deduped
	res.Failed += len(failed)
	if applyErr != nil {
		return applyErr // the fetch, if it failed, only failed because this stopped it
	}
	if err != nil {
		return fmt.Errorf("incoming %s: %w", s.opts.Key, err)
	}
	return nil
}

func idsOf(chunk []wbo.Record) []string {
	ids := make([]string, len(chunk))
	for i, r := range chunk {
		ids[i] = r.ID
	}
	return ids
}

// applyFunc is an ApplyIncoming: the local store's, or that of a transaction of it.
type applyFunc func(ctx context.Context, in []repository.Resolved, remove []string, state map[string]string) (repository.StoreResult, error)

// apply reconciles a chunk of incoming records against local state (locals, or looked
// up here if nil) and writes the outcome with the progress it completes by store, in one
// transaction (one of its own, or one it shares with the chunks before it). removed: it
// deleted local records (duplicates that took incoming ids).
func (s *Synchronizer) apply(ctx context.Context, store applyFunc, chunk []wbo.Record, locals map[string]repository.Tracked, progress wbo.Timestamp, res *Result) (removed bool, err error) {
	if locals == nil {
		if locals, err = s.opts.Local.Lookup(ctx, idsOf(chunk)); err != nil {
			return false, err
		}
	}
	var (
		out    []repository.Resolved
		remove []string
	)
	for _, in := range chunk {
		l, has := locals[in.ID]
		var expect wbo.Timestamp // the local version reconciled against; 0: none
		if has {
			expect = l.Record.Modified
		} else if s.opts.Deduper != nil && !wbo.IsTombstone(in.Payload) {
			dup, found, err := s.findDupe(ctx, in)
			if err != nil {
				return false, err
			}
			if found {
				// The local record takes the incoming GUID. Its old GUID goes locally
				// and, if the server ever had it, gets a tombstone there.
				remove = append(remove, dup.Record.ID)
				if dup.Mirror != nil {
					out = append(out, repository.Resolved{Record: wbo.Tombstone(dup.Record.ID), Changed: true, Expect: repository.AnyVersion})
				}
				dup.Record.Payload = rewriteID(dup.Record.Payload, in.ID)
				dup.Record.ID = in.ID
				l, has = repository.Tracked{Record: dup.Record, Changed: true}, true
				res.Deduped++
			}
		}
		r := repository.Resolved{Record: in, Mirror: in.Payload, Expect: expect}
		if has && l.Changed && !bytes.Equal(l.Record.Payload, in.Payload) {
			merged := s.opts.Reconciler.Reconcile(l.Record, in, l.Mirror)
			if !bytes.Equal(merged.Payload, in.Payload) {
				r.Record, r.Changed = merged, true
			}
			res.Reconciled++
		}
		out = append(out, r)
	}
	state := map[string]string{}
	if progress > 0 {
		state[s.StateKey()] = progress.String()
	}
	stored, err := store(ctx, out, remove, state)
	if err != nil {
		return false, err
	}
	res.Applied += len(stored.Stored)
	return len(remove) > 0, nil
}

// findDupe asks the Deduper and loads the local record it names.
func (s *Synchronizer) findDupe(ctx context.Context, in wbo.Record) (repository.Tracked, bool, error) {
	id, found, err := s.opts.Deduper.FindDupe(ctx, in)
	if err != nil || !found || id == in.ID {
		return repository.Tracked{}, false, err
	}
	got, err := s.opts.Local.Lookup(ctx, []string{id})
	d, ok := got[id]
	return d, ok, err
}

// rewriteID sets the "id" member of a cleartext to id.
func rewriteID(payload []byte, id string) []byte {
	m, keys, ok := fields(payload)
	if !ok {
		return payload
	}
	if _, had := m["id"]; !had {
		keys = append([]string{"id"}, keys...)
	}
	m["id"] = jsonscan.AppendString(nil, []byte(id))
	return encodeObject(m, keys)
}

// outgoing uploads the local changes UploadChunk at a time, each group marked synced
// locally by a second goroutine while the next goes up: the local write and the network
// work at the same time, and only one group is held encrypted.
func (s *Synchronizer) outgoing(ctx context.Context, res *Result) error {
	marked := make(chan error, 1)
	marking := false
	waitMarked := func() error {
		if !marking {
			return nil
		}
		marking = false
		return <-marked
	}
	// Changes are uploaded as they are read, UploadChunk to a group: memory holds the
	// group being uploaded and the one being marked, not every change.
	var upErr, markErr error
	upload := func(group []wbo.Record) error {
		stored, err := s.opts.Remote.Store(ctx, group)
		upErr = err
		res.Uploaded += len(stored.Stored)
		res.Rejected += len(stored.Failed)
		for id, e := range stored.Failed {
			s.log.Warn().Str("collection", s.opts.Key).Str("id", id).Err(e).Msg("record not uploaded")
		}
		// One mark at a time and in order: each moves the progress to its own commit.
		if markErr = waitMarked(); markErr != nil {
			return errStopOutgoing
		}
		if len(stored.Stored) > 0 {
			acked := make(map[string]bool, len(stored.Stored))
			for _, id := range stored.Stored {
				acked[id] = true
			}
			var mark []wbo.Record
			for _, r := range group {
				if acked[r.ID] {
					mark = append(mark, r)
				}
			}
			// Our own commit moved the collection on: the next incoming starts after it.
			state := map[string]string{s.StateKey(): stored.Modified.String()}
			marking = true
			go func() { marked <- s.opts.Local.MarkSynced(ctx, mark, state) }()
		}
		if upErr != nil {
			return errStopOutgoing
		}
		return nil
	}
	var group []wbo.Record
	err := s.opts.Local.Changes(ctx, func(r wbo.Record) error {
		group = append(group, r)
		if len(group) < s.opts.UploadChunk {
			return nil
		}
		full := group
		group = nil
		return upload(full)
	})
	if err == nil && len(group) > 0 {
		err = upload(group)
	}
	if merr := waitMarked(); merr != nil {
		markErr = merr
	}
	switch {
	case markErr != nil:
		return errors.Join(upErr, markErr)
	case upErr != nil:
		return fmt.Errorf("outgoing %s: %w", s.opts.Key, upErr)
	case err != nil && !errors.Is(err, errStopOutgoing):
		return err // reading the changes failed
	}
	return nil
}

// errStopOutgoing ends the reading of changes once an upload or a mark failed.
var errStopOutgoing = errors.New("synchronizer: outgoing stopped")
