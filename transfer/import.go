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
	"strings"

	"github.com/syncctl/syncctl/crypto"
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

// Import reads an export from r, encrypts each record as it is read and uploads the
// records of each collection in chunks.
func Import(ctx context.Context, r io.Reader, opts ImportOptions) (ImportResult, error) {
	if opts.Chunk <= 0 {
		opts.Chunk = 2000
	}
	var res ImportResult
	pending := map[string][]wbo.Record{}
	repos := map[string]*remote.Repository{}
	send := func(c string) error {
		recs := pending[c]
		if len(recs) == 0 {
			return nil
		}
		stored, err := repos[c].Store(ctx, recs)
		res.Stored += len(stored.Stored)
		if opts.OnStored != nil {
			opts.OnStored(len(stored.Stored))
		}
		pending[c] = recs[:0]
		if err != nil {
			return fmt.Errorf("%s: %w", c, err)
		}
		if opts.OnRefused != nil {
			for id, e := range stored.Failed {
				opts.OnRefused(c, id, e)
			}
		}
		return nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var l Line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil || l.Collection == "" || l.ID == "" {
			return res, fmt.Errorf("transfer: line %d: %w", line, ErrNotAnExport)
		}
		if l.Collection == "meta" || l.Collection == "crypto" || l.Collection == "clients" {
			res.Skipped++
			continue
		}
		rec := wbo.Record{ID: l.ID, SortIndex: l.SortIndex, Payload: []byte(l.Payload)}
		var s string
		if json.Unmarshal(l.Payload, &s) == nil { // a payload that was not JSON
			rec.Payload = []byte(s)
		}
		c := l.Collection
		if _, ok := repos[c]; !ok {
			res.Collections = append(res.Collections, c)
			repos[c] = remote.New(remote.Options{Client: opts.Client, Collection: c})
		}
		e, err := opts.Bundle(c).EncryptRecord(rec, nil)
		if err != nil {
			return res, fmt.Errorf("%s/%s: %w", c, l.ID, err)
		}
		pending[c] = append(pending[c], e)
		if len(pending[c]) >= opts.Chunk {
			if err := send(c); err != nil {
				return res, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return res, err
	}
	for _, c := range res.Collections {
		if err := send(c); err != nil {
			return res, err
		}
	}
	return res, nil
}
