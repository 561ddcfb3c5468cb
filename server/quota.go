package server

import (
	"database/sql"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// usageFresh is how long a user's counted bytes are trusted: within it, writes add what
// they put (an overwrite or a delete is not taken off until the next count), so the
// quota is checked without summing the user's records at every write. syncstorage-rs's
// check is as loose: it refuses the write after the one that crossed the line.
const usageFresh = 10 * time.Second

// usageEntries bounds the cache: beyond it, entries past their freshness are dropped.
const usageEntries = 10_000

type usageEntry struct {
	bytes   int64
	counted time.Time
}

// usageCache is each user's payload bytes, for the quota.
type usageCache struct {
	mu   sync.Mutex
	byID map[int64]usageEntry
}

func (c *usageCache) get(uid int64, now time.Time) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byID[uid]
	return e.bytes, ok && now.Sub(e.counted) < usageFresh
}

func (c *usageCache) put(uid, bytes int64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byID == nil {
		c.byID = map[int64]usageEntry{}
	}
	if len(c.byID) >= usageEntries {
		for id, e := range c.byID {
			if now.Sub(e.counted) >= usageFresh {
				delete(c.byID, id)
			}
		}
	}
	c.byID[uid] = usageEntry{bytes, now}
}

// wrote adds a committed write's bytes to a counted user (an uncounted one is counted at
// its next write anyway).
func (c *usageCache) wrote(uid, bytes int64) {
	if bytes == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byID[uid]; ok {
		e.bytes += bytes
		c.byID[uid] = e
	}
}

// userBytes sums a user's unexpired payload bytes in tx.
func (s *Server) userBytes(q interface {
	QueryRow(string, ...any) *sql.Row
}, uid, now int64) (int64, error) {
	var n sql.NullInt64
	err := q.QueryRow(`SELECT SUM(`+s.st.d.payloadBytes+`) FROM bsos WHERE uid = ? AND expiry > ?`, uid, now).Scan(&n)
	return n.Int64, err
}

// withinQuota refuses a POST or PUT of a user at or over the quota (403, body 14, as
// syncstorage-rs) and tells the others how much room is left (X-Weave-Quota-Remaining,
// in KB). It reports whether the write may go on; false means it has answered.
func (s *Server) withinQuota(req *request, w *writeTx) bool {
	if s.opts.Quota <= 0 || (req.r.Method != http.MethodPost && req.r.Method != http.MethodPut) {
		return true
	}
	now := s.opts.Now()
	used, fresh := s.usage.get(w.uid, now)
	if !fresh {
		var err error
		if used, err = s.userBytes(w, w.uid, s.st.nowMs()); err != nil {
			s.serverError(req, err)
			return false
		}
		s.usage.put(w.uid, used, now)
	}
	left := s.opts.Quota - used
	req.w.Header().Set("X-Weave-Quota-Remaining", strconv.FormatFloat(float64(max(left, 0))/1024, 'f', 2, 64))
	if left <= 0 {
		s.log.Debug().Int64("used", used).Int64("quota", s.opts.Quota).Msg("write refused: over quota")
		writeJSON(req.w, http.StatusForbidden, weaveOverQuota)
		return false
	}
	return true
}
