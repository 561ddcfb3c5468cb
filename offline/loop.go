package offline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/middleware"
	"github.com/syncctl/syncctl/repository"
	"github.com/syncctl/syncctl/repository/remote"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/wbo"
)

// Clock is the loop's time; tests use a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Options configure a Loop. Store, Client, Keys and Collections are required.
type Options struct {
	Store  *Store
	Client *storage.Client
	// Keys returns the bulk keys (crypto/keys) that encrypt the operation logs.
	Keys func(ctx context.Context) (*crypto.Keys, error)
	// Collections are the local collections to sync; each has a log "<name>.ops" on the
	// server.
	Collections []string
	// BatchSize bounds the operations uploaded per round (default 100).
	BatchSize int
	// FailurePause follows a network failure (default 5 s); IdlePause a round with
	// nothing to do (default 60 s). The server's backoff wins over both.
	FailurePause, IdlePause time.Duration
	Clock                   Clock
	// StatusFile, if set, receives the loop's Status as JSON after every round, and
	// when another process writes to the store (its pending count).
	StatusFile string
	// WatchEvery is how often the loop looks for writes to the store by other processes
	// (`syncctl offline set` in another shell), which wake it at once (default 250 ms;
	// negative: only this process's writes wake it).
	WatchEvery time.Duration
	Logger     *zerolog.Logger
}

// Event is something the loop did.
type Event struct {
	Kind       string        // "fetched", "uploaded", "idle", "error", "stopped"
	Collection string        //
	Count      int           // operations fetched or uploaded
	Err        error         // for "error"
	Pause      time.Duration // how long the loop now waits (unless woken)
	Pending    int           // changes not yet on the server, after this event
}

// Status is the loop's state, for a status file or endpoint.
type Status struct {
	State     string    `json:"state"` // "running", "waiting", "stopped"
	Pending   int       `json:"pending"`
	LastSync  time.Time `json:"last_sync,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	NextRun   time.Time `json:"next_run,omitzero"`
}

// Loop syncs a Store's collections with the server until stopped.
type Loop struct {
	opts   Options
	log    zerolog.Logger
	wake   chan struct{}
	events chan Event
	repos  map[string]*remote.Repository

	mu     sync.Mutex
	status Status
	cancel context.CancelFunc
	done   chan struct{}
}

// NewLoop returns a loop; Start runs it.
func NewLoop(opts Options) *Loop {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 100
	}
	if opts.FailurePause <= 0 {
		opts.FailurePause = 5 * time.Second
	}
	if opts.IdlePause <= 0 {
		opts.IdlePause = 60 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.WatchEvery == 0 {
		opts.WatchEvery = 250 * time.Millisecond
	}
	l := &Loop{opts: opts, log: zerolog.Nop(), wake: make(chan struct{}, 1), events: make(chan Event, 256), repos: map[string]*remote.Repository{}}
	if opts.Logger != nil {
		l.log = *opts.Logger
	}
	for _, c := range opts.Collections {
		l.repos[c] = remote.New(remote.Options{Client: opts.Client, Collection: c + ".ops"})
	}
	opts.Store.onWrite = l.Notify
	return l
}

// Events streams what the loop does. Events are dropped, not queued, when nobody reads.
func (l *Loop) Events() <-chan Event { return l.events }

// Notify wakes the loop at once (a local write does so by itself).
func (l *Loop) Notify() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Status returns the loop's current state.
func (l *Loop) Status() Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.status
}

// Start runs the loop in the background until Stop or ctx ends.
func (l *Loop) Start(ctx context.Context) {
	ctx, l.cancel = context.WithCancel(ctx)
	l.done = make(chan struct{})
	go func() {
		defer close(l.done)
		l.run(ctx)
	}()
	if l.opts.WatchEvery > 0 {
		go l.opts.Store.watchWrites(ctx, l.opts.WatchEvery, func() {
			// A write that changed what is pending came from another process (this
			// one's own writes wake the loop themselves, and its folds are what the
			// status already counts): the status file says so now, and the loop wakes.
			n, err := l.opts.Store.Pending(ctx)
			if err != nil || n == l.Status().Pending {
				return
			}
			l.setStatus(func(s *Status) { s.Pending = n })
			l.Notify()
		})
	}
}

// Stop ends the loop and waits for the round in progress to finish.
func (l *Loop) Stop() {
	if l.cancel != nil {
		l.cancel()
		<-l.done
	}
}

func (l *Loop) emit(e Event) {
	select {
	case l.events <- e:
	default:
	}
}

func (l *Loop) setStatus(fn func(*Status)) {
	l.mu.Lock()
	fn(&l.status)
	st := l.status
	l.mu.Unlock()
	if l.opts.StatusFile != "" {
		b, _ := json.MarshalIndent(st, "", "  ")
		tmp := l.opts.StatusFile + ".tmp"
		if os.WriteFile(tmp, b, 0o600) == nil {
			os.Rename(tmp, l.opts.StatusFile)
		}
	}
}

func (l *Loop) run(ctx context.Context) {
	defer func() {
		l.setStatus(func(s *Status) { s.State = "stopped"; s.NextRun = time.Time{} })
		l.emit(Event{Kind: "stopped"})
	}()
	for ctx.Err() == nil {
		l.setStatus(func(s *Status) { s.State = "running" })
		moved, err := l.round(ctx)
		if ctx.Err() != nil {
			return
		}
		pause := time.Duration(0)
		switch {
		case err != nil:
			pause = l.opts.FailurePause
			// Info, not Warn: the error is also an event, which a caller shows (the
			// daemon prints it); a warning too would say every failure twice.
			l.log.Info().Err(err).Msg("offline sync failed; will retry")
		case !moved:
			pause = l.opts.IdlePause
		}
		sig := l.opts.Client.Signals()
		until := sig.Backoff
		if sig.RetryAfter.After(until) {
			until = sig.RetryAfter
		}
		if wait := until.Sub(l.opts.Clock.Now()); wait > pause {
			pause = wait // the server's backoff always wins
		}
		pending, _ := l.opts.Store.Pending(ctx)
		now := l.opts.Clock.Now()
		l.setStatus(func(s *Status) {
			s.Pending = pending
			if err != nil {
				s.LastError = err.Error()
			} else {
				s.LastSync, s.LastError = now, ""
			}
			if pause > 0 {
				s.State, s.NextRun = "waiting", now.Add(pause)
			}
		})
		// Arm the timer before announcing the pause: whoever reacts to the event (a test
		// moving a fake clock) must find the timer already running.
		var timer <-chan time.Time
		if pause > 0 {
			timer = l.opts.Clock.After(pause)
		}
		switch {
		case err != nil:
			l.emit(Event{Kind: "error", Err: err, Pause: pause, Pending: pending})
		case !moved:
			l.emit(Event{Kind: "idle", Pause: pause, Pending: pending})
		}
		if pause == 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-l.wake:
		case <-timer:
		}
	}
}

// SyncOnce runs rounds until nothing moves (a bounded number): "sync now".
func (l *Loop) SyncOnce(ctx context.Context) error {
	for range 1000 {
		moved, err := l.round(ctx)
		if err != nil || !moved {
			return err
		}
	}
	return errors.New("offline: sync did not settle")
}

// round syncs every collection once; moved says whether anything came or went.
func (l *Loop) round(ctx context.Context) (bool, error) {
	keys, err := l.opts.Keys(ctx)
	if err != nil {
		return false, err
	}
	moved := false
	for _, coll := range l.opts.Collections {
		m, err := l.step(ctx, coll, keys)
		if err != nil {
			return moved, fmt.Errorf("%s: %w", coll, err)
		}
		moved = moved || m
	}
	return moved, nil
}

// step fetches the collection's new remote operations and applies them; if there were
// none, it uploads a batch of pending ones.
func (l *Loop) step(ctx context.Context, coll string, keys *crypto.Keys) (bool, error) {
	repo := l.repos[coll]
	enc := middleware.NewCrypto(repo, coll+".ops", keys, nil)
	since, err := l.opts.Store.progress(ctx, coll)
	if err != nil {
		return false, err
	}
	var incoming []Op
	err = enc.FetchSince(ctx, since, func(r wbo.Record) error {
		var op Op
		if err := json.Unmarshal(r.Payload, &op); err != nil || op.Collection != coll || op.Record == "" {
			// Another device's operation this one cannot apply: said, and skipped, so
			// that one bad record does not stop every later one.
			l.log.Warn().Str("id", r.ID).AnErr("decode", err).Msg("operation of another form skipped")
			return nil
		}
		incoming = append(incoming, op)
		return nil
	})
	if failed, ok := repository.AsPartial(err); ok {
		for _, f := range failed {
			l.log.Warn().Str("id", f.ID).Err(f.Err).Msg("unreadable operation skipped")
		}
		err = nil
	}
	if err != nil {
		return false, err
	}
	if len(incoming) > 0 {
		ts, _ := repo.LastModified()
		if err := l.opts.Store.fold(ctx, coll, incoming, ts); err != nil {
			return false, err
		}
		l.emit(Event{Kind: "fetched", Collection: coll, Count: len(incoming)})
		return true, nil
	}
	batch, err := l.opts.Store.pendingBatch(ctx, coll, l.opts.BatchSize)
	if err != nil || len(batch) == 0 {
		return false, err
	}
	recs := make([]wbo.Record, len(batch))
	for i, op := range batch {
		p, _ := json.Marshal(op)
		recs[i] = wbo.Record{ID: op.ID, Payload: p}
	}
	res, err := enc.Store(ctx, recs)
	if errors.Is(err, repository.ErrConflict) {
		return true, nil // someone wrote first: fetch their operations, then try again
	}
	if err != nil {
		return false, err
	}
	if len(res.Failed) > 0 {
		return false, fmt.Errorf("%d operations refused by the server", len(res.Failed))
	}
	if err := l.opts.Store.fold(ctx, coll, batch, res.Modified); err != nil {
		return false, err
	}
	l.emit(Event{Kind: "uploaded", Collection: coll, Count: len(batch)})
	return true, nil
}
