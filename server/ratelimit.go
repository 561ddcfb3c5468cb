package server

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// failureLimiter counts failures per key (a client address, an account) and holds a key
// back once it has failed Max times within Window: the token endpoint answers it 429
// until its oldest failure leaves the window. It holds at most maxKeys keys, forgetting
// the oldest first, so a flood of addresses costs bounded memory.
type failureLimiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	keys map[string][]time.Time
}

const maxLimiterKeys = 20_000

func newFailureLimiter(max int, window time.Duration, now func() time.Time) *failureLimiter {
	return &failureLimiter{max: max, window: window, now: now, keys: map[string][]time.Time{}}
}

// wait is how long key must wait before it may try again (0: it may now).
func (l *failureLimiter) wait(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.recent(key)
	if len(f) < l.max {
		return 0
	}
	return f[0].Add(l.window).Sub(l.now())
}

// fail records a failure of key and reports whether it has just been held back.
func (l *failureLimiter) fail(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.recent(key)
	if _, known := l.keys[key]; !known && len(l.keys) >= maxLimiterKeys {
		for k := range l.keys {
			delete(l.keys, k)
			break
		}
	}
	f = append(f, l.now())
	if len(f) > l.max {
		f = f[len(f)-l.max:]
	}
	l.keys[key] = f
	return len(f) == l.max
}

// recent drops key's failures older than the window.
func (l *failureLimiter) recent(key string) []time.Time {
	f := l.keys[key]
	cut := l.now().Add(-l.window)
	for len(f) > 0 && f[0].Before(cut) {
		f = f[1:]
	}
	if len(f) == 0 {
		delete(l.keys, key)
		return nil
	}
	l.keys[key] = f
	return f
}

// clientAddress is the request's peer address, without the port. A proxy's clients all
// share the proxy's address: the limit then counts them together.
func clientAddress(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// tooMany answers 429 with Retry-After in whole seconds.
func tooMany(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
	tokenError(w, http.StatusTooManyRequests, "error", "body", "", "Too many failed attempts: retry later")
}
