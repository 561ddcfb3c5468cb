package remote

import (
	"context"
	"errors"
	"fmt"

	"github.com/syncctl/syncctl/repository"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/wbo"
)

// limits are the effective upload limits: ours capped by the server's.
type limits struct {
	postRecords, postBytes, requestBytes int64
	totalRecords, totalBytes             int64
	recordPayload                        int64
}

func (r *Repository) limits(cfg storage.Configuration) limits {
	return limits{
		postRecords:   min(r.opts.MaxPostRecords, cfg.MaxPostRecords),
		postBytes:     min(r.opts.MaxPostBytes, cfg.MaxPostBytes),
		requestBytes:  cfg.MaxRequestBytes,
		totalRecords:  cfg.MaxTotalRecords,
		totalBytes:    cfg.MaxTotalBytes,
		recordPayload: cfg.MaxRecordPayloadBytes,
	}
}

// Uploadable says whether a sync with the default Options can ever upload rec to a
// server with these limits (cfg with its defaults filled in): ErrRecordTooLarge if
// not. A tool that writes a record outside a sync checks it first, so that no record
// sits on a server, or pending on a device, that a sync would refuse for ever.
func Uploadable(cfg storage.Configuration, rec wbo.Record) error {
	l := New(Options{}).limits(cfg.WithDefaults())
	return l.fits(rec.AppendJSON(nil), int64(len(rec.Payload)))
}

// fits checks one record, given its JSON and its payload size, against the limits.
func (l limits) fits(recJSON []byte, size int64) error {
	if size > l.recordPayload || size > l.postBytes || int64(len(recJSON))+3 > l.requestBytes {
		limit := min(l.recordPayload, l.postBytes, l.requestBytes-3)
		return fmt.Errorf("%w: %d bytes of payload, at most %d fit", storage.ErrRecordTooLarge, size, limit)
	}
	return nil
}

// post is the records of one POST and their sizes.
type post struct {
	recs         []wbo.Record
	payloadBytes int64
}

// plan splits records into batches of POSTs. A POST holds records while its count stays
// within postRecords, its payload bytes within postBytes and its JSON body within
// requestBytes; a batch holds POSTs while its totals stay within the total limits.
// Records that can never fit fail here, before anything is sent.
func plan(recs []wbo.Record, l limits, res *repository.StoreResult) [][]post {
	var (
		batches [][]post
		batch   []post
		cur     post
		curReq  int64 = 2 // "[" and "]"
		totRecs int64
		totByte int64
	)
	flushPost := func() {
		if len(cur.recs) > 0 {
			batch = append(batch, cur)
			cur, curReq = post{}, 2
		}
	}
	flushBatch := func() {
		flushPost()
		if len(batch) > 0 {
			batches = append(batches, batch)
			batch, totRecs, totByte = nil, 0, 0
		}
	}
	var buf []byte
	for _, rec := range recs {
		size := int64(len(rec.Payload))
		rec.Modified = 0
		buf = rec.AppendJSON(buf[:0])
		jsonLen := int64(len(buf)) + 1 // the comma
		if err := l.fits(buf, size); err != nil {
			res.Fail(rec.ID, err)
			continue
		}
		if totRecs+1 > l.totalRecords || totByte+size > l.totalBytes {
			flushBatch()
		}
		if int64(len(cur.recs))+1 > l.postRecords || cur.payloadBytes+size > l.postBytes || curReq+jsonLen > l.requestBytes {
			flushPost()
		}
		cur.recs = append(cur.recs, rec)
		cur.payloadBytes += size
		curReq += jsonLen
		totRecs++
		totByte += size
	}
	flushBatch()
	return batches
}

// Store implements repository.Repository. Each batch is sent as batch=true, appends and a
// commit (a single POST goes alone), all with X-If-Unmodified-Since of the last timestamp
// seen, so a concurrent writer makes it fail with repository.ErrConflict and leaves nothing
// behind. Records the server refuses are in the result's Failed. When a batch fails, the
// error says so and Stored holds only what earlier batches committed.
func (r *Repository) Store(ctx context.Context, recs []wbo.Record) (repository.StoreResult, error) {
	r.writing.Lock()
	defer r.writing.Unlock()
	var res repository.StoreResult
	cfg, err := r.config(ctx)
	if err != nil {
		return res, err
	}
	for _, batch := range plan(recs, r.limits(cfg), &res) {
		if err := r.sendBatch(ctx, batch, &res); err != nil {
			if errors.Is(err, storage.ErrConflict) {
				return res, fmt.Errorf("upload to %s: %w (%w)", r.opts.Collection, repository.ErrConflict, err)
			}
			return res, fmt.Errorf("upload to %s: %w", r.opts.Collection, err)
		}
	}
	return res, nil
}

func (r *Repository) sendBatch(ctx context.Context, batch []post, res *repository.StoreResult) error {
	var totalRecs, totalBytes int64
	for _, p := range batch {
		totalRecs += int64(len(p.recs))
		totalBytes += p.payloadBytes
	}
	since, known := r.LastModified()
	var ius *wbo.Timestamp
	if known {
		ius = storage.Since(since)
	}
	batchID := ""
	var staged []string          // accepted, waiting for the commit, in order
	pending := map[string]bool{} // the same, as a set
	for i, p := range batch {
		opts := storage.PostOptions{IfUnmodifiedSince: ius}
		last := i == len(batch)-1
		switch {
		case len(batch) == 1:
		case batchID == "":
			opts.Batch, opts.TotalRecords, opts.TotalBytes = "true", totalRecs, totalBytes
		default:
			opts.Batch, opts.Commit = batchID, last
		}
		out, err := r.opts.Client.Post(ctx, r.opts.Collection, p.recs, opts)
		if err != nil {
			return err
		}
		committed := out.Status == 200
		if opts.Batch == "true" {
			if committed {
				// The server ignored batch=true: each POST commits on its own now, and
				// the upload is no longer atomic.
				batchID = ""
			} else {
				batchID = out.Batch
			}
		}
		for _, id := range out.Success {
			if !pending[id] {
				pending[id] = true
				staged = append(staged, id)
			}
		}
		for id, reason := range out.Failed {
			res.Fail(id, &repository.RefusedError{ID: id, Reason: reason})
		}
		for _, rec := range p.recs {
			if _, ok := out.Failed[rec.ID]; !ok && !pending[rec.ID] {
				res.Fail(rec.ID, &repository.RefusedError{ID: rec.ID, Reason: "not in the server's answer"})
			}
		}
		if committed {
			res.Stored = append(res.Stored, staged...)
			staged, pending = nil, map[string]bool{}
			res.Modified = out.Modified
			r.SetLastModified(out.Modified)
			ius = storage.Since(out.Modified)
		}
	}
	return nil
}
