package server

import (
	"database/sql"
	"errors"
	"net/http"

	"github.com/syncctl/syncctl/wbo"
)

func (s *Server) getItem(req *request) {
	pre, ok := parsePreconditions(req)
	if !ok {
		return
	}
	var (
		modified  int64
		sortindex sql.NullInt64
		payload   []byte
	)
	err := s.st.r.QueryRowContext(req.r.Context(), `SELECT modified, sortindex, payload FROM bsos WHERE uid = ? AND collection = ? AND id = ? AND expiry > ?`,
		req.uid, req.collection, req.id, s.st.nowMs()).Scan(&modified, &sortindex, &payload)
	if errors.Is(err, sql.ErrNoRows) {
		notFound(req.w)
		return
	}
	if err != nil {
		s.serverError(req, err)
		return
	}
	if !pre.check(req, modified) {
		return
	}
	if payload, err = s.st.files.resolve(payload, new([]byte)); err != nil {
		s.serverError(req, err)
		return
	}
	rec := wbo.Record{ID: req.id, Modified: wbo.Timestamp(modified), Payload: payload}
	if sortindex.Valid {
		rec.SortIndex = &sortindex.Int64
	}
	setLastModified(req.w, modified)
	writeRaw(req.w, http.StatusOK, rec.AppendJSON(nil))
	s.metrics.recordsOut.Inc()
}

func (s *Server) putItem(req *request) {
	pre, ok := parsePreconditions(req)
	if !ok {
		return
	}
	body, _, ok := s.readBody(req, false)
	if !ok {
		return
	}
	defer releaseBody(body) // a large payload refers into it until written (see parseBSO)
	in, err := parseBSO(body)
	if err != nil {
		writeJSON(req.w, http.StatusBadRequest, weaveInvalidWBO)
		return
	}
	in.ID = req.id // the URL's id wins over the body's
	if len(in.Payload) > s.limits.MaxRecordPayloadBytes ||
		(req.collection == "crypto" && knownBadPayload.MatchString(in.Payload)) {
		writeJSON(req.w, http.StatusBadRequest, weaveInvalidWBO)
		return
	}
	items := []bsoInput{in}
	spilled, err := s.st.files.spill(items)
	if err != nil {
		s.serverError(req, err)
		return
	}
	w, ok := s.write(req, pre, itemResource(req), func(w *writeTx, _ int64) error {
		if err := w.put(req.collection, &items[0]); err != nil {
			return err
		}
		return w.touchCollection(req.collection)
	})
	if !ok {
		s.st.files.forget(spilled)
		return
	}
	setLastModified(req.w, w.ts)
	writeRaw(req.w, http.StatusOK, wbo.Timestamp(w.ts).AppendText(nil))
}

func itemResource(req *request) func(*writeTx) (int64, error) {
	return func(w *writeTx) (int64, error) { return w.itemTS(req.collection, req.id) }
}

func collectionResource(req *request) func(*writeTx) (int64, error) {
	return func(w *writeTx) (int64, error) { return w.collectionTS(req.collection) }
}

func (s *Server) deleteItem(req *request) {
	pre, ok := parsePreconditions(req)
	if !ok {
		return
	}
	w, ok := s.write(req, pre, itemResource(req), func(w *writeTx, itemTS int64) error {
		if itemTS == 0 {
			notFound(req.w)
			return errAnswered
		}
		if _, err := w.Exec(`DELETE FROM bsos WHERE uid = ? AND collection = ? AND id = ?`, req.uid, req.collection, req.id); err != nil {
			return err
		}
		return w.touchCollection(req.collection)
	})
	if ok {
		setLastModified(req.w, w.ts)
		writeRaw(req.w, http.StatusOK, append(append([]byte(`{"modified":`), wbo.Timestamp(w.ts).AppendText(nil)...), '}'))
	}
}

// deleteCollection deletes the items named by ids=, or the whole collection. Either way
// the answer is the new timestamp as a bare number, as syncstorage-rs sends it.
func (s *Server) deleteCollection(req *request) {
	pre, ok := parsePreconditions(req)
	if !ok {
		return
	}
	var ids []string
	if _, has := req.query["ids"]; has {
		if ids, ok = parseIDs(req.query.Get("ids")); !ok {
			badRequest(req.w)
			return
		}
	}
	w, ok := s.write(req, pre, collectionResource(req), func(w *writeTx, collTS int64) error {
		if collTS == 0 {
			// Nothing to delete: succeed without a write, answering the storage timestamp.
			ts, err := w.storageTS()
			if err != nil {
				return err
			}
			writeRaw(req.w, http.StatusOK, wbo.Timestamp(ts).AppendText(nil))
			return errAnswered
		}
		if ids != nil {
			for _, id := range ids {
				if _, err := w.Exec(`DELETE FROM bsos WHERE uid = ? AND collection = ? AND id = ?`, req.uid, req.collection, id); err != nil {
					return err
				}
			}
			return w.touchCollection(req.collection)
		}
		return w.execAll([]string{
			`DELETE FROM bsos WHERE uid = ? AND collection = ?`,
			`DELETE FROM collections WHERE uid = ? AND name = ?`,
			`DELETE FROM batch_bsos WHERE batch IN (SELECT id FROM batches WHERE uid = ? AND collection = ?)`,
			`DELETE FROM batches WHERE uid = ? AND collection = ?`,
		}, req.uid, req.collection)
	})
	if ok {
		setLastModified(req.w, w.ts)
		writeRaw(req.w, http.StatusOK, wbo.Timestamp(w.ts).AppendText(nil))
	}
}

// deleteAll removes every collection of the user (DELETE /1.5/{uid} and /storage).
func (s *Server) deleteAll(req *request) {
	pre, ok := parsePreconditions(req)
	if !ok {
		return
	}
	w, ok := s.write(req, pre, func(w *writeTx) (int64, error) { return w.storageTS() }, func(w *writeTx, _ int64) error {
		return w.execAll([]string{
			`DELETE FROM bsos WHERE uid = ?`,
			`DELETE FROM collections WHERE uid = ?`,
			`DELETE FROM batch_bsos WHERE batch IN (SELECT id FROM batches WHERE uid = ?)`,
			`DELETE FROM batches WHERE uid = ?`,
		}, req.uid)
	})
	if ok {
		setLastModified(req.w, w.ts)
		writeRaw(req.w, http.StatusOK, []byte("null"))
	}
}

// errAnswered: a write's body has answered the request itself; nothing is committed.
var errAnswered = errors.New("answered")

// write runs one write request: it takes the write lock at a new timestamp, checks the
// preconditions against the resource's timestamp, runs do, and commits. It has answered
// every failure itself when ok is false.
func (s *Server) write(req *request, pre preconditions, resource func(*writeTx) (int64, error), do func(w *writeTx, resourceTS int64) error) (w *writeTx, ok bool) {
	w, err := s.st.beginWrite(req.r.Context(), req.uid)
	if err != nil {
		s.serverError(req, err)
		return nil, false
	}
	defer w.rollback()
	ts, err := resource(w)
	if err != nil {
		s.serverError(req, err)
		return nil, false
	}
	if !pre.check(req, ts) {
		return nil, false
	}
	if !s.withinQuota(req, w) {
		return nil, false
	}
	if err := do(w, ts); err != nil {
		if !errors.Is(err, errAnswered) {
			s.serverError(req, err)
		}
		return nil, false
	}
	if err := w.commit(); err != nil {
		s.serverError(req, err)
		return nil, false
	}
	if !w.keepTS {
		s.metrics.recordsIn.Add(float64(w.written))
	}
	if s.opts.Quota > 0 {
		s.usage.wrote(w.uid, w.bytesIn)
	}
	if w.batchCommitted {
		s.metrics.batchCommits.Inc()
	}
	return w, true
}

// execAll runs statements that take the same arguments, stopping at the first error.
func (w *writeTx) execAll(stmts []string, args ...any) error {
	for _, q := range stmts {
		if _, err := w.Exec(q, args...); err != nil {
			return err
		}
	}
	return nil
}
