package blob

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/wbo"
)

// Options configure a Syncer. Store, Client and Keys are required.
type Options struct {
	Store  *Store
	Client *storage.Client
	Keys   *crypto.Keys
	// Collection holds the chunk and manifest records (default "blobs").
	Collection string
	// DBLimit and TransferLimit bound concurrent index work and concurrent transfers
	// (defaults 1 and 8), separately. Eight transfers keep two cores busy while each
	// waits on the server: a 256 MB push ran 8% faster than with four, the heap 58 MB.
	DBLimit, TransferLimit int
	// ChunkSize is the bytes of content per chunk record (default: the largest that fits
	// max_record_payload_bytes and a 1 MB POST).
	ChunkSize int
	// Now is the clock of the retry schedule; tests inject one.
	Now func() time.Time
	// Progress, if set, is told of every chunk's bytes moved.
	Progress func(bytes int64)
	// Finished, if set, is told when a blob's transfer ends (err nil: it succeeded).
	Finished func(id string, err error)
	Logger   *zerolog.Logger
}

// Syncer moves blobs between a Store and the server.
type Syncer struct {
	opts   Options
	log    zerolog.Logger
	dbSem  chan struct{}
	xfer   chan struct{}
	limits struct{ xferNow, xferMax, dbNow, dbMax atomic.Int32 }
	// readBufs holds chunk-sized read buffers of uploads.
	readBufs sync.Pool
	// cfg is the server's info/configuration, fetched once (it was fetched twice per
	// blob: a thousand small files were two thousand requests).
	cfgMu sync.Mutex
	cfg   *storage.Configuration
}

// configuration is the server's info/configuration, asked for once per Syncer.
func (s *Syncer) configuration(ctx context.Context) (storage.Configuration, error) {
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	if s.cfg == nil {
		cfg, err := s.opts.Client.Configuration(ctx)
		if err != nil {
			return cfg, err
		}
		s.cfg = &cfg
	}
	return *s.cfg, nil
}

// NewSyncer returns a syncer.
func NewSyncer(opts Options) *Syncer {
	if opts.Collection == "" {
		opts.Collection = "blobs"
	}
	if opts.DBLimit <= 0 {
		opts.DBLimit = 1
	}
	if opts.TransferLimit <= 0 {
		opts.TransferLimit = 8
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Syncer{opts: opts, log: zerolog.Nop(), dbSem: make(chan struct{}, opts.DBLimit), xfer: make(chan struct{}, opts.TransferLimit)}
	if opts.Logger != nil {
		s.log = *opts.Logger
	}
	return s
}

// RetryDelay is the wait before attempt n+1 after n failed ones: 10 s, 20, 30, 40, 50,
// then 60 s for good.
func RetryDelay(failures int) time.Duration {
	return time.Duration(min(max(failures, 1), 6)) * 10 * time.Second
}

// MaxConcurrency reports the most transfers and index operations seen at once.
func (s *Syncer) MaxConcurrency() (transfers, db int) {
	return int(s.limits.xferMax.Load()), int(s.limits.dbMax.Load())
}

func enter(sem chan struct{}, now, peak *atomic.Int32) func() {
	sem <- struct{}{}
	n := now.Add(1)
	for {
		p := peak.Load()
		if n <= p || peak.CompareAndSwap(p, n) {
			break
		}
	}
	return func() { now.Add(-1); <-sem }
}

// db runs index work within the database limit.
func (s *Syncer) db(fn func() error) error {
	defer enter(s.dbSem, &s.limits.dbNow, &s.limits.dbMax)()
	return fn()
}

// ErrMAC is a final failure: a chunk or the whole blob did not verify. Such a blob is
// FAILED_DOWNLOAD and none of its bytes reach the store.
var ErrMAC = errors.New("blob: content does not verify")

// Result counts what a round did.
type Result struct {
	Uploaded, Downloaded, Failed, Retrying int
	Bytes                                  int64
	Errors                                 map[string]error // per blob
}

// Sync lists the server's blobs, marks what is missing here PENDING_DOWNLOAD, and
// transfers everything pending whose time has come.
func (s *Syncer) Sync(ctx context.Context) (Result, error) {
	remoteIDs, err := s.ServerBlobs(ctx)
	if err != nil {
		return Result{}, err
	}
	want := map[string]int64{}
	for id := range remoteIDs {
		want[id] = 0
	}
	err = s.db(func() error {
		if err := s.opts.Store.Want(ctx, want); err != nil {
			return err
		}
		// A blob this store holds as SYNCED but the server lost (a wipe, a fresh start)
		// goes up again.
		return s.opts.Store.Requeue(ctx, remoteIDs)
	})
	if err != nil {
		return Result{}, err
	}
	return s.Transfer(ctx, nil)
}

// ServerBlobs lists the ids of the blobs on the server (their manifests).
func (s *Syncer) ServerBlobs(ctx context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	_, err := s.opts.Client.GetCollection(ctx, s.opts.Collection, storage.Query{}, func(r wbo.Record) error {
		if !strings.Contains(r.ID, ".") {
			out[r.ID] = true
		}
		return nil
	})
	return out, err
}

// Transfer uploads and downloads the pending blobs (of only, if not nil) whose next
// attempt is due, within the transfer limit. A failed transfer is retried later on the
// RetryDelay schedule; only a MAC failure is final. Downloaded blobs are kept in the
// store, encrypted.
func (s *Syncer) Transfer(ctx context.Context, only map[string]bool) (Result, error) {
	return s.TransferTo(ctx, only, nil)
}

// A Sink takes a downloaded blob's bytes where they are to live (a temp file beside a
// destination, say): Write streams them in order; Commit is called once they verified
// against the blob's id, and puts them in place; Abort when they did not, or the
// transfer stopped, and leaves nothing behind.
type Sink interface {
	io.Writer
	Commit(ctx context.Context) error
	Abort()
}

// TransferTo is Transfer with each download written to the Sink sink returns for its
// id (nil sink, or a nil Sink: kept in the store).
func (s *Syncer) TransferTo(ctx context.Context, only map[string]bool, sink func(id string) (Sink, error)) (Result, error) {
	var list []Info
	err := s.db(func() (err error) { list, err = s.opts.Store.List(ctx); return })
	if err != nil {
		return Result{}, err
	}
	res := Result{Errors: map[string]error{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	now := s.opts.Now()
	for _, in := range list {
		if (in.Status != PendingUpload && in.Status != PendingDownload) || (only != nil && !only[in.ID]) {
			continue
		}
		if in.NextAttempt.After(now) {
			mu.Lock()
			res.Retrying++
			mu.Unlock()
			continue
		}
		// The slot is taken before the goroutine starts, so a queue of 100,000 blobs is
		// never 100,000 goroutines.
		leave := enter(s.xfer, &s.limits.xferNow, &s.limits.xferMax)
		if ctx.Err() != nil { // stopped: the blobs not started stay as they were
			leave()
			break
		}
		wg.Add(1)
		go func(in Info) {
			defer wg.Done()
			var n int64
			var err error
			if in.Status == PendingUpload {
				n, err = s.upload(ctx, in.ID)
			} else {
				n, err = s.download(ctx, in.ID, sink)
			}
			leave()
			if s.opts.Finished != nil {
				s.opts.Finished(in.ID, err)
			}
			var now Status
			var serr error
			if interrupted := err != nil && !errors.Is(err, ErrMAC) && ctx.Err() != nil; !interrupted {
				// What was transferred is recorded even if the caller has just given up.
				now, serr = s.settle(context.WithoutCancel(ctx), in, err)
			} // else: not failed, stopped; no attempt is counted and the next run resumes
			mu.Lock()
			defer mu.Unlock()
			res.Bytes += n
			switch {
			case now == Synced && in.Status == PendingUpload:
				res.Uploaded++
			case now == Synced:
				res.Downloaded++
			case now == FailedDownload:
				res.Failed++
			case now != "" || err != nil: // waiting for a retry, or forgotten (see settle)
				res.Retrying++
			}
			if err = cmp.Or(serr, err); err != nil {
				res.Errors[in.ID] = err
			}
		}(in)
	}
	wg.Wait()
	return res, ctx.Err()
}

// settle records the outcome of one transfer in the index and returns the blob's new
// status: SYNCED, FAILED_DOWNLOAD after a MAC failure, or still pending with the next
// attempt scheduled.
func (s *Syncer) settle(ctx context.Context, in Info, err error) (Status, error) {
	st, attempts, next, msg := Synced, 0, time.Time{}, ""
	switch {
	case in.Status == PendingUpload && errors.Is(err, ErrNotHere):
		// Its bytes are nowhere on this device any more (the file it was read from was
		// edited or removed, and the store kept no copy): there is nothing to send, and
		// nothing is lost by forgetting it.
		s.log.Info().Str("blob", in.ID).Msg("blob to upload is no longer here; forgotten")
		return "", s.db(func() error { return s.opts.Store.Remove(ctx, in.ID) })
	case errors.Is(err, ErrMAC):
		st, attempts, msg = FailedDownload, in.Attempts+1, err.Error()
	case err != nil:
		st, attempts, msg = in.Status, in.Attempts+1, err.Error()
		next = s.opts.Now().Add(RetryDelay(attempts))
		s.log.Info().Str("blob", in.ID).Err(err).Time("next", next).Msg("blob transfer failed; will retry")
	}
	return st, s.db(func() error { return s.opts.Store.set(ctx, in.ID, st, attempts, next, msg) })
}

// manifest is the record that makes a blob visible; written last.
type manifest struct {
	ID        string `json:"id"`
	Size      int64  `json:"size"`
	Chunks    int    `json:"chunks"`
	ChunkSize int    `json:"chunkSize"`
}

// decodeManifest checks a manifest's numbers agree: its HMAC verified, but a buggy or
// hostile writer could still send nonsense, and nonsense must not become a huge loop.
func decodeManifest(b []byte, id string) (manifest, error) {
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%w: manifest: %v", ErrMAC, err)
	}
	if m.ID != id || m.Size < 0 || m.Chunks < 0 || m.ChunkSize <= 0 ||
		int64(m.Chunks) != (m.Size+int64(m.ChunkSize)-1)/int64(m.ChunkSize) {
		return m, fmt.Errorf("%w: manifest of %s does not add up", ErrMAC, id)
	}
	return m, nil
}

func chunkID(id string, i int) string { return fmt.Sprintf("%s.%d", id, i) }

// chunkSize fits a chunk's record (its header and content, AES-CBC, base64, the
// envelope) within max_record_payload_bytes and a 1 MB POST.
func (s *Syncer) chunkSize(ctx context.Context) (int, error) {
	if s.opts.ChunkSize > 0 {
		return s.opts.ChunkSize, nil
	}
	cfg, err := s.configuration(ctx)
	if err != nil {
		return 0, err
	}
	limit := min(cfg.MaxRecordPayloadBytes, cfg.MaxPostBytes, 1<<20)
	return int(limit-1024)/4*3 - maxChunkHeader, nil
}

// groupBytes bounds the content a download asks for at once, so memory stays flat.
const groupBytes = 4 << 20

// poster sends records in POSTs within the server's limits and the protocol's advice
// (100 records, 1 MB). No X-If-Unmodified-Since: blobs are immutable and their ids are
// their content, so two writers of one id write the same bytes, and transfers of
// different blobs must not fail each other.
type poster struct {
	s          *Syncer
	maxRecords int
	maxBytes   int
	recs       []wbo.Record
	bytes      int
}

func (s *Syncer) newPoster(ctx context.Context) (*poster, error) {
	cfg, err := s.configuration(ctx)
	if err != nil {
		return nil, err
	}
	return &poster{s: s, maxRecords: int(min(100, cfg.MaxPostRecords)), maxBytes: int(min(1<<20, cfg.MaxPostBytes))}, nil
}

func (p *poster) add(ctx context.Context, rec wbo.Record) error {
	if len(p.recs) > 0 && (len(p.recs) >= p.maxRecords || p.bytes+len(rec.Payload) > p.maxBytes) {
		if err := p.flush(ctx); err != nil {
			return err
		}
	}
	p.recs = append(p.recs, rec)
	p.bytes += len(rec.Payload)
	return nil
}

func (p *poster) flush(ctx context.Context) error {
	if len(p.recs) == 0 {
		return nil
	}
	res, err := p.s.opts.Client.Post(ctx, p.s.opts.Collection, p.recs, storage.PostOptions{})
	if err != nil {
		return err
	}
	ok := map[string]bool{}
	for _, id := range res.Success {
		ok[id] = true
	}
	for _, r := range p.recs {
		if !ok[r.ID] {
			return &refusedError{id: r.ID, reason: res.Failed[r.ID], written: ok}
		}
	}
	p.recs, p.bytes = p.recs[:0], 0
	return nil
}

// refusedError is a POST of which the server refused a record (written: the ids it
// wrote).
type refusedError struct {
	id, reason string
	written    map[string]bool
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("blob: the server refused record %s: %s", e.id, e.reason)
}

func (s *Syncer) upload(ctx context.Context, id string) (int64, error) {
	if err := s.db(func() error { return s.opts.Store.requireHere(ctx, id) }); err != nil {
		return 0, err
	}
	size, err := s.chunkSize(ctx)
	if err != nil {
		return 0, err
	}
	post, err := s.newPoster(ctx)
	if err != nil {
		return 0, err
	}
	f, err := s.opts.Store.Open(ctx, id)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	kb := s.opts.Keys.For(s.opts.Collection)
	// The read buffer comes from a pool: most blobs are small files, and a fresh
	// chunk-sized buffer for each was a tenth of a push's client CPU (allocating and
	// zeroing it).
	pb, _ := s.readBufs.Get().(*[]byte)
	if pb == nil || len(*pb) != size {
		b := make([]byte, size)
		pb = &b
	}
	defer s.readBufs.Put(pb)
	buf := *pb
	var packBuf []byte // reused by every chunk of this blob
	var total int64
	n := 0
	for {
		k, rerr := io.ReadFull(f, buf)
		if k > 0 {
			rec, err := sealChunk(kb, chunkID(id, n), buf[:k], &packBuf)
			if err != nil {
				return total, err
			}
			if err := post.add(ctx, rec); err != nil {
				return total, err
			}
			n++
			total += int64(k)
			if s.opts.Progress != nil {
				s.opts.Progress(int64(k))
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return total, rerr
		}
	}
	// The manifest goes last, in the POST of the last chunks when it fits: a POST is
	// written in one transaction, so a reader that sees the manifest finds every chunk.
	// (It went in a POST of its own: two requests for every small file.) Should the
	// server write the manifest but refuse a chunk of that POST, the manifest is
	// deleted again.
	m, _ := json.Marshal(manifest{ID: id, Size: total, Chunks: n, ChunkSize: size})
	rec, err := kb.EncryptRecord(wbo.Record{ID: id, Payload: m}, nil)
	if err != nil {
		return total, err
	}
	if err := post.add(ctx, rec); err != nil {
		return total, err
	}
	err = post.flush(ctx)
	if refused, ok := err.(*refusedError); ok && refused.written[id] {
		if _, derr := s.opts.Client.DeleteRecord(ctx, s.opts.Collection, id, nil); derr != nil && !errors.Is(derr, storage.ErrNotFound) {
			return total, fmt.Errorf("%w; and deleting its manifest again: %v", err, derr)
		}
	}
	return total, err
}

// macFailure turns a verification failure into the final ErrMAC.
func macFailure(err error) error {
	if errors.Is(err, crypto.ErrHMACMismatch) || errors.Is(err, crypto.ErrBadPadding) || errors.Is(err, crypto.ErrMalformedPayload) || errors.Is(err, crypto.ErrRecordIDMismatch) {
		return fmt.Errorf("%w: %v", ErrMAC, err)
	}
	return err
}

// storeSink keeps a downloaded blob in the store, encrypted.
type storeSink struct {
	st *Store
	w  *sealer
	id string
}

func (k *storeSink) Write(p []byte) (int, error) { return k.w.Write(p) }
func (k *storeSink) Abort()                      { k.w.abort() }
func (k *storeSink) Commit(context.Context) error {
	_, err := k.w.finish(k.st, k.id)
	return err
}

func (s *Syncer) download(ctx context.Context, id string, sink func(string) (Sink, error)) (int64, error) {
	kb := s.opts.Keys.For(s.opts.Collection)
	raw, err := s.opts.Client.GetRecord(ctx, s.opts.Collection, id)
	if err != nil {
		return 0, err
	}
	clear, err := kb.DecryptRecord(raw)
	if err != nil {
		return 0, macFailure(err)
	}
	m, err := decodeManifest(clear.Payload, id)
	if err != nil {
		return 0, err
	}
	var out Sink
	if sink != nil {
		if out, err = sink(id); err != nil {
			return 0, err
		}
	}
	if out == nil {
		w, err := s.opts.Store.startSealer(false) // fetch checks the content against the id
		if err != nil {
			return 0, err
		}
		out = &storeSink{st: s.opts.Store, w: w, id: id}
	}
	total, err := s.fetch(ctx, kb, id, m, out)
	if err != nil {
		out.Abort()
		return total, err
	}
	return total, out.Commit(ctx)
}

// fetchGroup gets the chunks ids in one request and hands each one's content to use, in
// the order of ids; it returns the bytes handed on.
func (s *Syncer) fetchGroup(ctx context.Context, kb *crypto.KeyBundle, ids []string, chunkSize int, use func([]byte) error) (int64, error) {
	parts := make(map[string]*chunkBuf, len(ids))
	defer func() {
		for _, b := range parts {
			b.release()
		}
	}()
	// Borrowed: the payload is decoded where it was read; openChunk's content is in a
	// buffer of its own.
	_, err := s.opts.Client.GetCollection(ctx, s.opts.Collection, storage.Query{IDs: ids, Full: true, Borrow: true}, func(r wbo.Record) error {
		b := chunkBufs.Get().(*chunkBuf)
		if _, err := openChunk(kb, r, chunkSize, b); err != nil {
			b.release()
			return fmt.Errorf("%w (%s)", err, r.ID)
		}
		if old, ok := parts[r.ID]; ok { // sent twice: the last one counts, as before
			old.release()
		}
		parts[r.ID] = b
		return nil
	})
	if err != nil {
		return 0, err
	}
	var n int64
	for _, cid := range ids {
		b, ok := parts[cid]
		if !ok {
			return n, fmt.Errorf("blob: chunk %s is missing on the server", cid)
		}
		if err := use(b.content); err != nil {
			return n, err
		}
		n += int64(len(b.content))
	}
	return n, nil
}

// fetch streams a blob's chunks into out, in order, and checks the whole against its id;
// out is to be used only if it returns nil.
func (s *Syncer) fetch(ctx context.Context, kb *crypto.KeyBundle, id string, m manifest, out io.Writer) (int64, error) {
	h := s.opts.Store.hasher()
	var total int64
	per := max(1, groupBytes/max(1, m.ChunkSize))
	for first := 0; first < m.Chunks; first += per {
		var ids []string
		for i := first; i < min(first+per, m.Chunks); i++ {
			ids = append(ids, chunkID(id, i))
		}
		n, err := s.fetchGroup(ctx, kb, ids, m.ChunkSize, func(data []byte) error {
			h.Write(data)
			if _, err := out.Write(data); err != nil {
				return err
			}
			if s.opts.Progress != nil {
				s.opts.Progress(int64(len(data)))
			}
			return nil
		})
		total += n
		if err != nil {
			return total, err
		}
	}
	if idOf(h.Sum(nil)) != id || total != m.Size {
		return total, fmt.Errorf("%w: the whole content does not match its id", ErrMAC)
	}
	return total, nil
}
