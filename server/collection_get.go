package server

import (
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/syncctl/syncctl/internal/jsonscan"
	"github.com/syncctl/syncctl/wbo"
)

// maxIDs is how many ids one GET or DELETE may name.
const maxIDs = 100

// collectionQuery is a parsed GET/DELETE collection query.
type collectionQuery struct {
	ids          []string
	newer, older int64
	hasNewer     bool
	hasOlder     bool
	full         bool
	limit        int64
	hasLimit     bool
	sort         string
	cursor       *cursor // from offset=: where the previous page stopped
}

func badRequest(w http.ResponseWriter) { writeJSON(w, http.StatusBadRequest, weaveUnknown) }

// parseCollectionQuery validates the query; unknown parameters are ignored.
func parseCollectionQuery(req *request) (collectionQuery, bool) {
	q := collectionQuery{sort: "newest"}
	v := req.query
	if _, ok := v["ids"]; ok {
		ids, ok := parseIDs(v.Get("ids"))
		if !ok {
			return q, false
		}
		q.ids = ids
	}
	for _, p := range []struct {
		name string
		dst  *int64
		has  *bool
	}{{"newer", &q.newer, &q.hasNewer}, {"older", &q.older, &q.hasOlder}} {
		if s, ok := v[p.name]; ok {
			ts, err := wbo.ParseTimestamp(s[0])
			if err != nil {
				return q, false
			}
			*p.dst, *p.has = int64(ts), true
		}
	}
	_, q.full = v["full"]
	if s, ok := v["limit"]; ok {
		n, err := strconv.ParseInt(s[0], 10, 64)
		if err != nil || n < 0 {
			return q, false
		}
		q.limit, q.hasLimit = n, true
	}
	if s, ok := v["sort"]; ok {
		switch s[0] {
		case "newest", "oldest", "index":
			q.sort = s[0]
		case "":
		default:
			return q, false
		}
	}
	if s, ok := v["offset"]; ok {
		c, err := parseCursor(s[0])
		if err != nil {
			return q, false
		}
		q.cursor = &c
	}
	return q, true
}

// parseIDs splits a comma-separated ids list: at most 100, each a valid id.
func parseIDs(s string) ([]string, bool) {
	if s == "" {
		return []string{}, true
	}
	ids := strings.Split(s, ",")
	if len(ids) > maxIDs {
		return nil, false
	}
	for _, id := range ids {
		if !wbo.ValidID(id) {
			return nil, false
		}
	}
	return ids, true
}

// where builds the filter shared by the count and the row query.
func (q *collectionQuery) where(uid int64, coll string, now int64) (string, []any) {
	var b strings.Builder
	args := []any{uid, coll, now}
	b.WriteString(`uid = ? AND collection = ? AND expiry > ?`)
	if q.ids != nil {
		if len(q.ids) == 0 {
			b.WriteString(` AND FALSE`)
		} else {
			b.WriteString(` AND id IN (?` + strings.Repeat(`,?`, len(q.ids)-1) + `)`)
			for _, id := range q.ids {
				args = append(args, id)
			}
		}
	}
	if q.hasNewer {
		b.WriteString(` AND modified > ?`)
		args = append(args, q.newer)
	}
	if q.hasOlder {
		b.WriteString(` AND modified < ?`)
		args = append(args, q.older)
	}
	if c := q.cursor; c != nil {
		op := "<"
		if q.sort == "oldest" {
			op = ">"
		}
		// A row value, not "a > ? OR (a = ? AND id > ?)": SQLite plans it as a range
		// on the (uid, collection, modified, id) index.
		b.WriteString(` AND (` + q.sortKey() + `, id) ` + op + ` (?, ?)`)
		args = append(args, c.key, c.id)
	}
	return b.String(), args
}

// sortKey is the column the order sorts on; NULL sortindexes sort last, as in MySQL.
func (q *collectionQuery) sortKey() string {
	if q.sort == "index" {
		return `COALESCE(sortindex, -2000000000)`
	}
	return `modified`
}

func (q *collectionQuery) orderBy() string {
	if q.sort == "oldest" {
		return `modified ASC, id ASC`
	}
	return q.sortKey() + ` DESC, id DESC`
}

// accepts picks the output format from Accept: JSON (the default, also for */* and
// application/*) or application/newlines. ok is false for anything else (406).
func accepts(r *http.Request) (newlines, ok bool) {
	accept := r.Header.Get("Accept")
	if accept == "" {
		return false, true
	}
	for _, part := range strings.Split(accept, ",") {
		mt := strings.ToLower(strings.TrimSpace(strings.Split(part, ";")[0]))
		switch mt {
		case "application/newlines":
			return true, true
		case "application/json", "*/*", "application/*", "text/*", "text/plain":
			return false, true
		}
	}
	return false, false
}

// getCollection streams the matching records in chunks, each read in a short snapshot
// of its own and written only after that snapshot is released: a 100,000-record
// collection costs the server about one chunk of memory, and a client that reads slowly
// holds no database snapshot (which would keep the write-ahead log from being
// checkpointed) and no read connection (of which there are few) while it dawdles. The
// count and the next offset come from the first snapshot, before the body.
func (s *Server) getCollection(req *request) {
	newlines, ok := accepts(req.r)
	if !ok {
		writeJSON(req.w, http.StatusNotAcceptable, weaveUnknown)
		return
	}
	q, ok := parseCollectionQuery(req)
	if !ok {
		badRequest(req.w)
		return
	}
	pre, ok := parsePreconditions(req)
	if !ok {
		return
	}
	tx, err := s.st.readTx(req.r.Context())
	if err != nil {
		s.serverError(req, err)
		return
	}
	collTS, err := s.st.queryTS(tx, `SELECT modified FROM collections WHERE uid = ? AND name = ?`, req.uid, req.collection)
	if err != nil {
		tx.Rollback()
		s.serverError(req, err)
		return
	}
	if !pre.check(req, collTS) {
		tx.Rollback()
		return
	}
	now := s.st.nowMs()
	where, args := q.where(req.uid, req.collection, now)
	n, next, err := s.pageSize(tx, &q, where, args)
	if err != nil {
		tx.Rollback()
		s.serverError(req, err)
		return
	}
	if next != nil {
		req.w.Header().Set("X-Weave-Next-Offset", next.String())
	}
	setLastModified(req.w, collTS)
	h := req.w.Header()
	h.Set("X-Weave-Records", strconv.FormatInt(n, 10))
	if newlines {
		h.Set("Content-Type", "application/newlines")
	} else {
		h.Set("Content-Type", "application/json")
	}
	s.streamChunks(req, q, n, collTS, now, newlines, tx)
}

// Chunks end at chunkRows records, once they hold chunkBytes, or once they splice in
// chunkFiles payload files (each an open file until the chunk is written).
const (
	chunkRows  = 256
	chunkBytes = 256 << 10
	chunkFiles = 8
)

// A chunk is a piece of a collection GET's body: its JSON, and the payload files to be
// copied into it from disk as it is written.
type chunk struct {
	buf     []byte
	splices []splice
}

// A splice is a payload file's JSON text that belongs at buf[at] (see
// payloadFiles.appendRecord). The file is opened while the snapshot that refers to it
// is, so a sweep cannot take it from under the response.
type splice struct {
	at   int
	file *os.File
	size int64
}

// size is the chunk's length on the wire.
func (c *chunk) size() int64 {
	n := int64(len(c.buf))
	for _, sp := range c.splices {
		n += sp.size
	}
	return n
}

// writeTo writes the chunk. A file goes through io.Copy, so that net/http hands it to
// the socket with sendfile when the response has a Content-Length (a chunked body is
// copied): a pull of blob chunks, 1 MB payload files four to a GET, was read into
// memory and written out again, 16% of the server's CPU reading and 13% writing.
func (c *chunk) writeTo(w io.Writer) error {
	from := 0
	for _, sp := range c.splices {
		if _, err := w.Write(c.buf[from:sp.at]); err != nil {
			return err
		}
		n, err := io.Copy(w, io.LimitReader(sp.file, sp.size))
		if err == nil && n < sp.size {
			err = fmt.Errorf("%w: %s ended after %d of %d bytes", ErrPayloadMissing, sp.file.Name(), n, sp.size)
		}
		if err != nil {
			return err
		}
		from = sp.at
	}
	_, err := w.Write(c.buf[from:])
	return err
}

// reset closes the chunk's files and empties it for the next.
func (c *chunk) reset() {
	for _, sp := range c.splices {
		sp.file.Close()
	}
	c.buf, c.splices = c.buf[:0], c.splices[:0]
}

// streamChunks writes the n records of q, chunk by chunk, each chunk continuing from the
// last key of the one before. The first chunk is read in first, the snapshot the count
// came from, so that an answer of one chunk (most) is exactly that snapshot, whatever
// commits meanwhile; first is released before anything is written. Later chunks get
// snapshots of their own, and only records no newer than the collection's timestamp at
// the start are sent: one changed meanwhile has moved in the order, and the client gets
// it on its next sync (its modified is past the X-Last-Modified this answer carried).
//
// Nothing is written before the first chunk is read: a failure there is a 500, and an
// answer that is one chunk goes with its Content-Length (which lets its payload files go
// by sendfile). A write or read error after that ends the body early; the client sees a
// truncated body, never a wrong one.
func (s *Server) streamChunks(req *request, q collectionQuery, n, collTS, now int64, newlines bool, first *tx) {
	defer func() {
		if first != nil {
			first.Rollback()
		}
	}()
	cols := `id`
	if q.full {
		cols = `id, modified, sortindex, payload`
	}
	c := &chunk{buf: make([]byte, 0, 64*1024)}
	defer c.reset()
	var closing []byte
	if !newlines {
		c.buf, closing = append(c.buf, '['), []byte{']'}
	}
	started := false // the header is written
	fail := func(err error, what string) {
		if started {
			s.log.Error().Err(err).Msg(what)
			return
		}
		h := req.w.Header()
		h.Del("X-Weave-Records")
		h.Del("X-Weave-Next-Offset")
		s.serverError(req, err)
	}
	firstRow := true
	var scratch []byte // a payload read from its file
	for sent := int64(0); sent < n; {
		where, args := q.where(req.uid, req.collection, now)
		args = append(args, collTS, min(chunkRows, n-sent))
		tx, err := first, error(nil)
		if first == nil {
			tx, err = s.st.readTx(req.r.Context())
		}
		first = nil
		if err != nil {
			fail(err, "chunk")
			return
		}
		rows, err := tx.Query(`SELECT `+q.sortKey()+`, `+cols+` FROM bsos WHERE `+where+` AND modified <= ? ORDER BY `+q.orderBy()+` LIMIT ?`, args...)
		if err != nil {
			tx.Rollback()
			fail(err, "chunk")
			return
		}
		got, last, err := appendRows(c, rows, q.full, newlines, &firstRow, s.st.files, &scratch)
		rows.Close()
		tx.Rollback()
		if err != nil {
			fail(err, "rows")
			return
		}
		sent += int64(got)
		s.metrics.recordsOut.Add(float64(got))
		if got == 0 {
			break
		}
		q.cursor = &last
		if !started {
			if sent >= n {
				req.w.Header().Set("Content-Length", strconv.FormatInt(c.size()+int64(len(closing)), 10))
			}
			req.w.WriteHeader(http.StatusOK)
			started = true
		}
		if err := c.writeTo(req.w); err != nil {
			s.log.Debug().Err(err).Msg("collection GET cut short")
			return
		}
		c.reset()
		if sent < n {
			if f, ok := req.w.(http.Flusher); ok {
				f.Flush()
			}
		}
	}
	c.buf = append(c.buf, closing...)
	if err := c.writeTo(req.w); err != nil {
		s.log.Debug().Err(err).Msg("collection GET cut short")
	}
}

// appendRows encodes rows (sort key first) onto c until they end or c is full (see
// chunkRows), and returns how many it took and the last one's key. A payload in a file
// that needs escaping is read into *scratch; any other is spliced in.
func appendRows(c *chunk, rows *sql.Rows, full, newlines bool, first *bool, files *payloadFiles, scratch *[]byte) (int, cursor, error) {
	var (
		got       int
		last      cursor
		modified  int64
		sortindex sql.NullInt64
		payload   sql.RawBytes
	)
	for len(c.buf) < chunkBytes && len(c.splices) < chunkFiles && rows.Next() {
		var err error
		if full {
			err = rows.Scan(&last.key, &last.id, &modified, &sortindex, &payload)
		} else {
			err = rows.Scan(&last.key, &last.id)
		}
		if err != nil {
			return got, last, err
		}
		if !newlines && !*first {
			c.buf = append(c.buf, ',')
		}
		*first = false
		if full {
			rec := wbo.Record{ID: last.id, Modified: wbo.Timestamp(modified)}
			if sortindex.Valid {
				rec.SortIndex = &sortindex.Int64
			}
			if err = files.appendRecord(c, &rec, payload, scratch); err != nil {
				return got, last, err
			}
		} else {
			c.buf = jsonscan.AppendString(c.buf, []byte(last.id))
		}
		if newlines {
			c.buf = append(c.buf, '\n')
		}
		got++
	}
	return got, last, rows.Err()
}

// pageSize counts the records of this response, before any is sent (X-Weave-Records
// goes first), and finds where the next page starts. With a limit it reads only the
// page's keys plus one, from the index, so paging through a large collection costs each
// page its own size, not the collection's.
func (s *Server) pageSize(tx *tx, q *collectionQuery, where string, args []any) (int64, *cursor, error) {
	if !q.hasLimit {
		var n int64
		err := tx.QueryRow(`SELECT COUNT(*) FROM bsos WHERE `+where, args...).Scan(&n)
		return n, nil, err
	}
	rows, err := tx.Query(`SELECT `+q.sortKey()+`, id FROM bsos WHERE `+where+` ORDER BY `+q.orderBy()+` LIMIT ?`, append(args, q.limit+1)...)
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	var (
		n    int64
		last cursor
	)
	for rows.Next() {
		n++
		if n > q.limit {
			return q.limit, &last, rows.Err()
		}
		if err := rows.Scan(&last.key, &last.id); err != nil {
			return 0, nil, err
		}
	}
	return n, nil, rows.Err()
}
