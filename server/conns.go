package server

import (
	"io"
	"math"
	"net"
	"sync"
	"time"
)

// Connection bounds: what one client can hold of the server. An open connection costs a
// goroutine and buffers; a stalled one also pins whatever its request holds (a read
// snapshot of a large collection GET keeps SQLite's write-ahead log from being
// checkpointed), so no connection may sit without moving bytes for long.
type ConnLimits struct {
	// Stall is how long a read or write may make no progress before the connection is cut
	// (default 30 s). A write is one buffer of up to 32 KB, so a client reading slower
	// than about 1 KB/s is cut too.
	Stall time.Duration
	// PerAddress caps the open connections of one client address (default 128; 0 keeps
	// the default, negative means none). Behind a reverse proxy every client has the
	// proxy's address: raise it there, and let the proxy bound its clients.
	PerAddress int
	// Total caps all open connections (default 4096).
	Total int
}

func (l ConnLimits) withDefaults() ConnLimits {
	if l.Stall <= 0 {
		l.Stall = 30 * time.Second
	}
	if l.PerAddress == 0 {
		l.PerAddress = 128
	}
	if l.Total <= 0 {
		l.Total = 4096
	}
	return l
}

// guardedListener refuses connections past the caps (closing them at once, which a
// client sees as a reset, before any goroutine is spent on them) and wraps the rest.
type guardedListener struct {
	net.Listener
	limits ConnLimits

	mu      sync.Mutex
	open    map[string]int
	total   int
	refused uint64
}

func guard(l net.Listener, limits ConnLimits) *guardedListener {
	return &guardedListener{Listener: l, limits: limits.withDefaults(), open: map[string]int{}}
}

func (g *guardedListener) Accept() (net.Conn, error) {
	for {
		c, err := g.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := c.RemoteAddr().String()
		if host, _, err := net.SplitHostPort(addr); err == nil {
			addr = host
		}
		g.mu.Lock()
		over := g.total >= g.limits.Total || (g.limits.PerAddress > 0 && g.open[addr] >= g.limits.PerAddress)
		if over {
			g.refused++
		} else {
			g.open[addr]++
			g.total++
		}
		g.mu.Unlock()
		if over {
			c.Close()
			continue
		}
		return &stallConn{Conn: c, stall: g.limits.Stall, release: func() { g.release(addr) }}, nil
	}
}

func (g *guardedListener) release(addr string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.total--
	if g.open[addr]--; g.open[addr] <= 0 {
		delete(g.open, addr)
	}
}

// ConnStats are the connection figures, for metrics.
type ConnStats struct {
	Open    int
	Refused uint64
}

func (g *guardedListener) stats() ConnStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return ConnStats{Open: g.total, Refused: g.refused}
}

// stallConn cuts a connection whose reads or writes stop moving: before each, the
// deadline becomes the sooner of the one net/http set (header, idle and request
// timeouts) and now plus the stall allowance.
type stallConn struct {
	net.Conn
	stall   time.Duration
	release func()

	mu            sync.Mutex
	readDeadline  time.Time // what net/http asked for
	writeDeadline time.Time
	closeOnce     sync.Once
}

func sooner(asked time.Time, d time.Duration) time.Time {
	t := time.Now().Add(d)
	if !asked.IsZero() && asked.Before(t) {
		return asked
	}
	return t
}

func (c *stallConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	d := sooner(c.readDeadline, c.stall)
	c.mu.Unlock()
	c.Conn.SetReadDeadline(d)
	return c.Conn.Read(b)
}

func (c *stallConn) Write(b []byte) (int, error) {
	c.renewWriteDeadline()
	return c.Conn.Write(b)
}

// renewWriteDeadline gives the next write the stall allowance (or net/http's sooner
// deadline).
func (c *stallConn) renewWriteDeadline() {
	c.mu.Lock()
	d := sooner(c.writeDeadline, c.stall)
	c.mu.Unlock()
	c.Conn.SetWriteDeadline(d)
}

// sendPiece is how much of a file one sendfile call hands the socket: the stall
// allowance is renewed between pieces, so a piece is no larger than net/http's writes
// (see ConnLimits.Stall).
const sendPiece = 32 << 10

// ReadFrom lets net/http hand a payload file to the socket with sendfile (see
// chunk.writeTo) rather than copy it through memory twice; without it net/http sees a
// conn that cannot and copies. The file goes piece by piece, each piece a write the
// stall allowance applies to.
func (c *stallConn) ReadFrom(r io.Reader) (int64, error) {
	rf, ok := c.Conn.(io.ReaderFrom)
	if !ok {
		return io.Copy(struct{ io.Writer }{c}, r)
	}
	// A LimitedReader's own reader is taken out: package net's sendfile knows a
	// LimitedReader of an *os.File, not one inside another.
	src, remain := r, int64(math.MaxInt64)
	lr, limited := r.(*io.LimitedReader)
	if limited {
		src, remain = lr.R, lr.N
	}
	var total int64
	for remain > 0 {
		c.renewWriteDeadline()
		n, err := rf.ReadFrom(&io.LimitedReader{R: src, N: min(remain, sendPiece)})
		total, remain = total+n, remain-n
		if limited {
			lr.N = remain
		}
		if err != nil || n == 0 { // n == 0: src has ended
			return total, err
		}
	}
	return total, nil
}

func (c *stallConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.readDeadline, c.writeDeadline = t, t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *stallConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.readDeadline = t
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

func (c *stallConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.writeDeadline = t
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}

func (c *stallConn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(c.release)
	return err
}
