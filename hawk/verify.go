package hawk

import (
	"crypto/hmac"
	"crypto/sha256"
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

	// MaxNonces caps the replay cache (default DefaultMaxNonces); past it the oldest are
	// forgotten early, which narrows replay protection, never authentication.
	MaxNonces int
	// Shared, if set, is a replay cache other servers share (several nodes behind one
	// load balancer): it is asked after this verifier's own cache let a nonce through,
	// with the nonce's hash and the unix second it can be forgotten at, and reports
	// whether the nonce was new there too.
	Shared func(key []byte, expiry int64) (fresh bool, err error)

	mu      sync.Mutex
	nonces  map[nonceKey]struct{}
	order   []remembered // insertion order, which is also expiry order
	head    int
	evicted uint64
	refused uint64
}

// nonceKey is a hash of id, nonce and ts: 32 bytes whatever a client sends.
type nonceKey [sha256.Size]byte

type remembered struct {
	key    nonceKey
	expiry int64 // unix seconds
}

// MaxNonceLength is the longest nonce accepted (Hawk clients send 6 to 32 bytes).
const MaxNonceLength = 128

// DefaultMaxNonces bounds the replay cache at about 8 MB (a key and its queue entry are
// ~80 bytes with the map's overhead), a minute of 2,000 requests a second.
const DefaultMaxNonces = 100_000

// NonceStats describe the replay cache, for metrics.
type NonceStats struct {
	Size    int    // nonces remembered now
	Evicted uint64 // forgotten early, at the ceiling
	Refused uint64 // nonces refused for their length
}

// Stats reads the replay cache's figures.
func (v *Verifier) Stats() NonceStats {
	v.mu.Lock()
	defer v.mu.Unlock()
	return NonceStats{Size: len(v.nonces), Evicted: v.evicted, Refused: v.refused}
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
	return &Verifier{Skew: skew, Now: now, MaxNonces: DefaultMaxNonces, nonces: map[nonceKey]struct{}{}}
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
	if len(at.Nonce) > MaxNonceLength || at.Nonce == "" {
		v.mu.Lock()
		v.refused++
		v.mu.Unlock()
		return fmt.Errorf("%w: a nonce of %d bytes (at most %d)", ErrMalformed, len(at.Nonce), MaxNonceLength)
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
	h := sha256.New()
	for _, part := range []string{at.ID, at.Nonce, at.TS} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	var k nonceKey
	h.Sum(k[:0])
	if err := v.remember(k, now); err != nil || v.Shared == nil {
		return err
	}
	fresh, err := v.Shared(k[:], now.Add(2*v.Skew).Unix())
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNonceStore, err)
	}
	if !fresh {
		return ErrReplay
	}
	return nil
}

// remember records a nonce until no request carrying it can pass the clock check: its
// ts is within Skew of now, so it expires at most 2×Skew from now. Entries are queued in
// insertion order, which is expiry order, so pruning is a walk from the front.
func (v *Verifier) remember(k nonceKey, now time.Time) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, seen := v.nonces[k]; seen {
		return ErrReplay
	}
	for v.head < len(v.order) && (v.order[v.head].expiry < now.Unix() || len(v.nonces) >= max(v.MaxNonces, 1)) {
		if v.order[v.head].expiry >= now.Unix() {
			v.evicted++
		}
		delete(v.nonces, v.order[v.head].key)
		v.head++
	}
	if v.head > len(v.order)/2 && v.head > 1024 {
		v.order = append(v.order[:0], v.order[v.head:]...)
		v.head = 0
	}
	v.nonces[k] = struct{}{}
	v.order = append(v.order, remembered{key: k, expiry: now.Add(2 * v.Skew).Unix()})
	return nil
}
