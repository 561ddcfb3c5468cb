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
	rec := wbo.Record{ID: req.id, Modified: wbo.Timestamp(modified), Payload: payload}
	if sortindex.Valid {
		rec.SortIndex = &sortindex.Int64
	}
	setLastModified(req.w, modified)
	writeRaw(req.w, http.StatusOK, rec.AppendJSON(nil))
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
	w, err := s.st.beginWrite(req.r.Context(), req.uid)
	if err != nil {
		s.serverError(req, err)
		return
	}
	defer w.rollback()
	itemTS, err := w.itemTS(req.collection, req.id)
	if err != nil {
		s.serverError(req, err)
		return
	}
	if !pre.check(req, itemTS) {
		return
	}
	if err := w.put(req.collection, &in); err != nil {
		s.serverError(req, err)
		return
	}
	if err := w.touchCollection(req.collection); err != nil {
		s.serverError(req, err)
		return
	}
	if err := w.commit(); err != nil {
		s.serverError(req, err)
		return
	}
	setLastModified(req.w, w.ts)
	writeRaw(req.w, http.StatusOK, wbo.Timestamp(w.ts).AppendText(nil))
}

func (s *Server) deleteItem(req *request) {
	pre, ok := parsePreconditions(req)
	if !ok {
		return
	}
	w, err := s.st.beginWrite(req.r.Context(), req.uid)
	if err != nil {
		s.serverError(req, err)
		return
	}
	defer w.rollback()
	itemTS, err := w.itemTS(req.collection, req.id)
	if err != nil {
		s.serverError(req, err)
		return
	}
	if itemTS == 0 {
		notFound(req.w)
		return
	}
	if !pre.check(req, itemTS) {
		return
	}
	if _, err := w.Exec(`DELETE FROM bsos WHERE uid = ? AND collection = ? AND id = ?`, req.uid, req.collection, req.id); err != nil {
		s.serverError(req, err)
		return
	}
	if err := w.touchCollection(req.collection); err != nil {
		s.serverError(req, err)
		return
	}
	if err := w.commit(); err != nil {
		s.serverError(req, err)
		return
	}
	setLastModified(req.w, w.ts)
	writeRaw(req.w, http.StatusOK, append(append([]byte(`{"modified":`), wbo.Timestamp(w.ts).AppendText(nil)...), '}'))
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
	w, err := s.st.beginWrite(req.r.Context(), req.uid)
	if err != nil {
		s.serverError(req, err)
		return
	}
	defer w.rollback()
	collTS, err := w.collectionTS(req.collection)
	if err == nil && !pre.check(req, collTS) {
		return
	}
	if err == nil && collTS == 0 {
		// Nothing to delete: succeed without a write, answering the storage timestamp.
		ts, err := w.storageTS()
		if err != nil {
			s.serverError(req, err)
			return
		}
		writeRaw(req.w, http.StatusOK, wbo.Timestamp(ts).AppendText(nil))
		return
	}
	if ids != nil {
		for _, id := range ids {
			if err == nil {
				_, err = w.Exec(`DELETE FROM bsos WHERE uid = ? AND collection = ? AND id = ?`, req.uid, req.collection, id)
			}
		}
		if err == nil {
			err = w.touchCollection(req.collection)
		}
	} else {
		for _, q := range []string{
			`DELETE FROM bsos WHERE uid = ? AND collection = ?`,
			`DELETE FROM collections WHERE uid = ? AND name = ?`,
			`DELETE FROM batch_bsos WHERE batch IN (SELECT id FROM batches WHERE uid = ? AND collection = ?)`,
			`DELETE FROM batches WHERE uid = ? AND collection = ?`,
		} {
			if err == nil {
				_, err = w.Exec(q, req.uid, req.collection)
			}
		}
	}
	if err == nil {
		err = w.commit()
	}
	if err != nil {
		s.serverError(req, err)
		return
	}
	setLastModified(req.w, w.ts)
	writeRaw(req.w, http.StatusOK, wbo.Timestamp(w.ts).AppendText(nil))
}

// deleteAll removes every collection of the user (DELETE /1.5/{uid} and /storage).
func (s *Server) deleteAll(req *request) {
	pre, ok := parsePreconditions(req)
	if !ok {
		return
	}
	w, err := s.st.beginWrite(req.r.Context(), req.uid)
	if err != nil {
		s.serverError(req, err)
		return
	}
	defer w.rollback()
	ts, err := w.storageTS()
	if err == nil && !pre.check(req, ts) {
		return
	}
	for _, q := range []string{
		`DELETE FROM bsos WHERE uid = ?`,
		`DELETE FROM collections WHERE uid = ?`,
		`DELETE FROM batch_bsos WHERE batch IN (SELECT id FROM batches WHERE uid = ?)`,
		`DELETE FROM batches WHERE uid = ?`,
	} {
		if err == nil {
			_, err = w.Exec(q, req.uid)
		}
	}
	if err == nil {
		err = w.commit()
	}
	if err != nil {
		s.serverError(req, err)
		return
	}
	setLastModified(req.w, w.ts)
	writeRaw(req.w, http.StatusOK, []byte("null"))
}
