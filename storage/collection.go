package storage

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/syncctl/syncctl/internal/jsonscan"
	"github.com/syncctl/syncctl/wbo"
)

// maxIDsPerRequest is the protocol's limit on ids= in one request.
const maxIDsPerRequest = 100

// Query selects records of a collection.
type Query struct {
	Newer, Older wbo.Timestamp // 0: unbounded
	IDs          []string      // nil: all; split into requests of 100
	Full         bool          // whole records, else ids only
	Sort         string        // "", "newest", "oldest" or "index"
	// PageSize is the limit per request (default 1000, Firefox's); the client follows
	// X-Weave-Next-Offset until the server has no more.
	PageSize int
	// Borrow: a record's Payload is valid only until fn returns (it is decoded where it
	// was read, and that memory is read into next), for a caller that keeps no part of
	// it. It saves a copy of every payload.
	Borrow bool
}

// GetCollection streams the records that match q to fn, one at a time, reading
// application/newlines so memory stays flat however large the collection. Pages after the
// first carry X-If-Unmodified-Since with the first page's X-Last-Modified; if another
// client writes meanwhile the read stops with ErrCollectionMoved (start again). It
// returns the collection's X-Last-Modified.
func (c *Client) GetCollection(ctx context.Context, collection string, q Query, fn func(wbo.Record) error) (wbo.Timestamp, error) {
	if q.IDs != nil {
		var last wbo.Timestamp
		ids := q.IDs
		for len(ids) > 0 {
			n := min(len(ids), maxIDsPerRequest)
			sub := q
			sub.IDs = ids[:n]
			ts, err := c.getPages(ctx, collection, sub, fn)
			if err != nil {
				return last, err
			}
			last = max(last, ts)
			ids = ids[n:]
		}
		return last, nil
	}
	return c.getPages(ctx, collection, q, fn)
}

func (c *Client) getPages(ctx context.Context, collection string, q Query, fn func(wbo.Record) error) (wbo.Timestamp, error) {
	if q.PageSize <= 0 {
		q.PageSize = 1000
	}
	v := url.Values{}
	if q.Newer > 0 {
		v.Set("newer", q.Newer.String())
	}
	if q.Older > 0 {
		v.Set("older", q.Older.String())
	}
	if q.IDs != nil {
		v.Set("ids", strings.Join(q.IDs, ","))
	}
	if q.Full {
		v.Set("full", "1")
	}
	if q.Sort != "" {
		v.Set("sort", q.Sort)
	}
	v.Set("limit", strconv.Itoa(q.PageSize))
	base := "/storage/" + url.PathEscape(collection)
	var first wbo.Timestamp
	offset := ""
	for page := 0; ; page++ {
		pv := v
		if offset != "" {
			pv = url.Values{}
			for k, vals := range v {
				pv[k] = vals
			}
			pv.Set("offset", offset)
		}
		h := map[string]string{"Accept": "application/newlines"}
		if page > 0 {
			h["X-If-Unmodified-Since"] = first.String()
		}
		rep, err := c.do(ctx, call{method: http.MethodGet, path: base + "?" + pv.Encode(), header: h, stream: true})
		if errors.Is(err, ErrConflict) && page > 0 {
			return first, fmt.Errorf("%w: %s", ErrCollectionMoved, collection)
		}
		if err != nil {
			return first, err
		}
		if page == 0 {
			first = lastModified(rep)
		}
		offset = rep.header.Get("X-Weave-Next-Offset")
		err = readRecords(rep, q, fn)
		if err != nil {
			return first, err
		}
		if offset == "" {
			return first, nil
		}
		if err := ctx.Err(); err != nil {
			return first, err
		}
	}
}

// longLines keeps readRecords' buffer for records longer than its reader's, up to
// maxPooledLine: every blob download needs one of a megabyte or more.
var longLines sync.Pool

const maxPooledLine = 4 << 20

// readRecords decodes a body as application/newlines, or as a JSON array from a server
// that ignored our Accept header, and closes it.
func readRecords(rep *reply, q Query, fn func(wbo.Record) error) error {
	defer rep.raw.Close()
	decodeRecord := wbo.Decode
	if q.Borrow {
		decodeRecord = wbo.DecodeInPlace
	}
	decode := func(line []byte) error {
		if q.Full {
			r, err := decodeRecord(line)
			if err != nil {
				return err
			}
			return fn(r)
		}
		id, err := jsonscan.String(line)
		if err != nil {
			return fmt.Errorf("%w: id %q", wbo.ErrMalformed, line)
		}
		return fn(wbo.Record{ID: string(id)})
	}
	if !strings.HasPrefix(rep.header.Get("Content-Type"), "application/newlines") {
		body, err := io.ReadAll(rep.raw)
		if err != nil {
			return err
		}
		return jsonscan.Array(body, decode)
	}
	br := bufio.NewReaderSize(rep.raw, 64*1024)
	// A record longer than the buffer is gathered in long, which is kept for the next
	// one, and for the next response (longLines): a blob's chunks are each about a
	// megabyte, and growing a fresh slice for every one was a tenth of a download's CPU.
	// (decode copies what it keeps.)
	lp, _ := longLines.Get().(*[]byte)
	if lp == nil {
		lp = new([]byte)
	}
	long := (*lp)[:0]
	defer func() {
		if cap(long) <= maxPooledLine {
			*lp = long[:0]
			longLines.Put(lp)
		}
	}()
	gathering := false
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long, gathering = append(long, line...), true
			continue
		}
		if gathering {
			long = append(long, line...)
			line, gathering = long, false
		}
		if line := bytes.TrimSpace(line); len(line) > 0 {
			if derr := decode(line); derr != nil {
				return derr
			}
		}
		long = long[:0]
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("storage: reading records: %w", err)
		}
	}
}
