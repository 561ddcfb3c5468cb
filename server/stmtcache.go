package server

import (
	"database/sql"
	"sync"
)

// stmtCache keeps prepared statements, by their text, for a pool whose driver does not
// keep them itself. SQLite parses and plans a statement that is not prepared at each
// run: on a blob pull, an eighth of the embedded server's CPU was the parser, for the
// same few SELECTs. (PostgreSQL's driver caches statements per connection; it has none.)
//
// A transaction never prepares on the pool: the pool's connections may all be held by
// transactions, its own among them, and a Prepare would wait for one. A text met twice
// without a statement is prepared once its transaction has ended (see tx.end), so a text
// run once costs what it did, and one run often is parsed once per connection.
type stmtCache struct {
	pool *sql.DB
	mu   sync.Mutex
	// stmts is bounded by maxCachedStmts: a text with a list of ids has one form per
	// count, and each statement is prepared again on every connection that runs it.
	stmts map[string]*sql.Stmt
	// seen holds texts met once unprepared, bounded by maxSeenStmts.
	seen map[string]bool
}

const (
	maxCachedStmts = 64
	maxSeenStmts   = 256
)

func newStmtCache(pool *sql.DB) *stmtCache {
	return &stmtCache{pool: pool, stmts: map[string]*sql.Stmt{}, seen: map[string]bool{}}
}

// get returns the statement prepared for q, or nil; again reports whether q has been
// met unprepared before, and should be prepared when the transaction ends.
func (c *stmtCache) get(q string) (stmt *sql.Stmt, again bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.stmts[q]; ok {
		return s, false
	}
	if c.seen[q] {
		return nil, true
	}
	if len(c.seen) >= maxSeenStmts {
		clear(c.seen)
	}
	c.seen[q] = true
	return nil, false
}

// prepare prepares the texts qs on the pool, with no transaction of the caller's open.
// A failure leaves a text to be prepared another time.
func (c *stmtCache) prepare(qs []string) {
	for _, q := range qs {
		c.mu.Lock()
		_, done := c.stmts[q]
		c.mu.Unlock()
		if done {
			continue
		}
		stmt, err := c.pool.Prepare(q)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if _, done := c.stmts[q]; done {
			c.mu.Unlock()
			stmt.Close()
			continue
		}
		for old, s := range c.stmts {
			if len(c.stmts) < maxCachedStmts {
				break
			}
			// A transaction still running it keeps it: database/sql finalizes a closed
			// statement once no transaction's copy of it is open.
			s.Close()
			delete(c.stmts, old)
		}
		delete(c.seen, q)
		c.stmts[q] = stmt
		c.mu.Unlock()
	}
}

// close closes every statement; the pool is closed after it.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, s := range c.stmts {
		s.Close()
		delete(c.stmts, q)
	}
}
