// Package middleware holds repositories that wrap repositories. Crypto is the one every
// Firefox Sync engine needs: it encrypts records on their way into a repository and
// verifies and decrypts them on their way out, so that engines only ever see cleartext
// and a record that fails its HMAC never reaches them.
package middleware

import (
	"context"
	"io"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/repository"
	"github.com/syncctl/syncctl/wbo"
)

// Crypto is a Repository of cleartext records over a Repository of encrypted ones.
type Crypto struct {
	inner      repository.Repository
	collection string
	keys       *crypto.Keys
	rnd        io.Reader
}

// NewCrypto wraps inner, which holds the encrypted records of collection; keys picks the
// collection's bundle (its own, else the default). rnd may be nil for crypto/rand.
func NewCrypto(inner repository.Repository, collection string, keys *crypto.Keys, rnd io.Reader) *Crypto {
	return &Crypto{inner: inner, collection: collection, keys: keys, rnd: rnd}
}

// Inner returns the wrapped repository.
func (c *Crypto) Inner() repository.Repository { return c.inner }

// decrypting returns fn behind a decryption step that sets bad records aside.
func (c *Crypto) decrypting(fn func(wbo.Record) error, bad *[]repository.RecordError) func(wbo.Record) error {
	kb := c.keys.For(c.collection)
	return func(r wbo.Record) error {
		clear, err := kb.DecryptRecord(r)
		if err != nil {
			*bad = append(*bad, repository.RecordError{ID: r.ID, Err: err})
			return nil
		}
		return fn(clear)
	}
}

func partial(err error, bad []repository.RecordError) error {
	if err != nil || len(bad) == 0 {
		return err
	}
	return &repository.PartialError{Failed: bad}
}

// FetchSince streams decrypted records. Records that fail verification or decryption are
// skipped and reported at the end as a *repository.PartialError (errors.Is sees
// crypto.ErrHMACMismatch and the rest through it).
func (c *Crypto) FetchSince(ctx context.Context, since wbo.Timestamp, fn func(wbo.Record) error) error {
	var bad []repository.RecordError
	var err error
	if l, ok := c.inner.(repository.Lender); ok {
		// Lent: what fn gets is the cleartext, new memory, and nothing of the envelope.
		err = l.FetchSinceLent(ctx, since, c.decrypting(fn, &bad))
	} else {
		err = c.inner.FetchSince(ctx, since, c.decrypting(fn, &bad))
	}
	return partial(err, bad)
}

// Fetch is FetchSince by ids.
func (c *Crypto) Fetch(ctx context.Context, ids []string, fn func(wbo.Record) error) error {
	var bad []repository.RecordError
	var err error
	if l, ok := c.inner.(repository.Lender); ok {
		err = l.FetchLent(ctx, ids, c.decrypting(fn, &bad))
	} else {
		err = c.inner.Fetch(ctx, ids, c.decrypting(fn, &bad))
	}
	return partial(err, bad)
}

// GUIDsSince passes through: ids are not encrypted.
func (c *Crypto) GUIDsSince(ctx context.Context, since wbo.Timestamp) ([]string, error) {
	return c.inner.GUIDsSince(ctx, since)
}

// Store encrypts and stores. A record whose cleartext is not an object or whose id
// differs from its envelope id fails alone (readers would refuse it).
func (c *Crypto) Store(ctx context.Context, recs []wbo.Record) (repository.StoreResult, error) {
	kb := c.keys.For(c.collection)
	var failed repository.StoreResult
	enc := make([]wbo.Record, 0, len(recs))
	for _, r := range recs {
		e, err := kb.EncryptRecord(r, c.rnd)
		if err != nil {
			failed.Fail(r.ID, err)
			continue
		}
		enc = append(enc, e)
	}
	res, err := c.inner.Store(ctx, enc)
	for id, e := range failed.Failed {
		res.Fail(id, e)
	}
	return res, err
}

// Wipe passes through.
func (c *Crypto) Wipe(ctx context.Context) error { return c.inner.Wipe(ctx) }

var _ repository.Repository = (*Crypto)(nil)
