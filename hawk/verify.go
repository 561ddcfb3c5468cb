package hawk

import (
	"crypto/hmac"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// Verifier checks Hawk headers on the server side. The zero value is not usable; see
// NewVerifier.
type Verifier struct {
	// Skew is how far a request's ts may be from the server clock.
	Skew time.Duration
	// Now is the clock; tests inject one.
	Now func() time.Time

	mu     sync.Mutex
	nonces map[string]int64 // id|nonce|ts → ts, forgotten once outside the skew window
}

// NewVerifier returns a verifier with the given skew allowance (0 means 60 s), remembering
// nonces so that a captured request cannot be replayed within the window.
func NewVerifier(skew time.Duration, now func() time.Time) *Verifier {
	if skew <= 0 {
		skew = 60 * time.Second
	}
	if now == nil {
		now = time.Now
	}
	return &Verifier{Skew: skew, Now: now, nonces: map[string]int64{}}
}

// Request is what the server saw: method, resource, host and port, and, when the header
// carries a hash, the body and its content type so the hash can be checked.
type Request struct {
	Method, Resource, Host string
	Port                   int
	ContentType            string
	Body                   []byte
}

// Verify checks at against the request with the key that key(id) returns. The order
// matters: the MAC first (so unauthenticated input learns nothing), then the payload hash,
// the timestamp, and last the nonce, which is only remembered for a request that passed.
func (v *Verifier) Verify(at Attributes, req Request, key []byte) error {
	ts, err := strconv.ParseInt(at.TS, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: ts %q", ErrMalformed, at.TS)
	}
	a := Artifacts{TS: ts, Nonce: at.Nonce, Method: req.Method, Resource: req.Resource, Host: req.Host,
		Port: req.Port, Hash: at.Hash, Ext: at.Ext, App: at.App, Dlg: at.Dlg}
	if !hmac.Equal([]byte(a.MAC(key)), []byte(at.MAC)) {
		return ErrBadMAC
	}
	if at.Hash != "" && req.Body != nil && !hmac.Equal([]byte(PayloadHash(req.ContentType, req.Body)), []byte(at.Hash)) {
		return ErrBadHash
	}
	now := v.Now()
	if d := now.Sub(time.Unix(ts, 0)); d > v.Skew || d < -v.Skew {
		return fmt.Errorf("%w: %d is %s from the server clock", ErrStale, ts, d.Round(time.Second))
	}
	return v.remember(at.ID+"|"+at.Nonce+"|"+at.TS, ts, now)
}

// maxNonces bounds memory under a flood; past it the oldest half of the window is dropped
// early, which only narrows replay protection, never authentication.
const maxNonces = 1 << 20

func (v *Verifier) remember(k string, ts int64, now time.Time) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, seen := v.nonces[k]; seen {
		return ErrReplay
	}
	if len(v.nonces) >= maxNonces || len(v.nonces)%1024 == 0 {
		cutoff := now.Add(-v.Skew).Unix()
		if len(v.nonces) >= maxNonces {
			cutoff = now.Unix()
		}
		for n, t := range v.nonces {
			if t < cutoff {
				delete(v.nonces, n)
			}
		}
	}
	v.nonces[k] = ts
	return nil
}
