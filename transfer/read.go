package transfer

import (
	"context"
	"encoding/json"
	"iter"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/wbo"
)

// ReadOptions configure Read.
type ReadOptions struct {
	// Bundle opens the collection's records; nil reads them as stored (ciphertext, or
	// meta's cleartext).
	Bundle *crypto.KeyBundle
	// Query narrows and orders the records (Full is implied).
	Query storage.Query
	// OnUnreadable, if set, is told of each record that does not open with Bundle (a
	// bad HMAC, another key): it is skipped, and the read goes on.
	OnUnreadable func(id string, err error)
}

// Read streams a collection's records as export lines, decrypted as they arrive: what
// export writes, ls lists and the typed views parse. A cleartext that is not JSON comes
// as a JSON string, as Line says.
func Read(ctx context.Context, client *storage.Client, collection string, opts ReadOptions, fn func(Line) error) error {
	q := opts.Query
	q.Full = true
	_, err := client.GetCollection(ctx, collection, q, func(r wbo.Record) error {
		if opts.Bundle != nil {
			clear, err := opts.Bundle.DecryptRecord(r)
			if err != nil {
				if opts.OnUnreadable != nil {
					opts.OnUnreadable(r.ID, err)
				}
				return nil
			}
			r = clear
		}
		return fn(LineOf(collection, r))
	})
	return err
}

// LineOf is a cleartext record as an export line.
func LineOf(collection string, r wbo.Record) Line {
	payload := json.RawMessage(r.Payload)
	if !json.Valid(payload) {
		payload, _ = json.Marshal(string(r.Payload))
	}
	return Line{Collection: collection, ID: r.ID, Modified: r.Modified, SortIndex: r.SortIndex, Payload: payload}
}

// CheckResult is what CheckAll found.
type CheckResult struct {
	Records  map[string]int // per collection, the records that passed
	Skipped  int            // meta, crypto and clients: never imported
	Bad      int            // records that did not pass
	Problems []error        // the first ten of them
}

// CheckAll runs Check over every line, with bundle giving each collection's key: what
// an import does before it stores anything. A line that is not a record ends it with
// that error.
func CheckAll(lines iter.Seq2[Line, error], cfg storage.Configuration, bundle func(collection string) *crypto.KeyBundle) (CheckResult, error) {
	res := CheckResult{Records: map[string]int{}}
	for l, err := range lines {
		if err != nil {
			return res, err
		}
		if accountCollection(l.Collection) {
			res.Skipped++
			continue
		}
		if _, err := Check(cfg, bundle(l.Collection), l); err != nil {
			res.Bad++
			if len(res.Problems) < 10 {
				res.Problems = append(res.Problems, err)
			}
			continue
		}
		res.Records[l.Collection]++
	}
	return res, nil
}
