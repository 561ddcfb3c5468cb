package server

import (
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/syncctl/syncctl/wbo"
)

// postMode is what a POST does with respect to the batch API.
type postMode int

const (
	postPlain  postMode = iota // no batch, or batch=true&commit=true
	postCreate                 // batch=true
	postAppend                 // batch=<id>
	postCommit                 // batch=<id>&commit=true
)

// batchMode reads batch= and commit=. commit without batch, a commit other than "true"
// and a batch id we never issued are 400s.
func batchMode(req *request) (postMode, int64, bool) {
	batch, hasBatch := req.query["batch"]
	commit, hasCommit := req.query["commit"]
	if hasCommit && (!strings.EqualFold(commit[0], "true") || !hasBatch) {
		return 0, 0, false
	}
	if !hasBatch {
		return postPlain, 0, true
	}
	if batch[0] == "" || strings.EqualFold(batch[0], "true") {
		if hasCommit {
			return postPlain, 0, true
		}
		return postCreate, 0, true
	}
	id, ok := decodeBatchID(batch[0])
	if !ok {
		return 0, 0, false
	}
	if hasCommit {
		return postCommit, id, true
	}
	return postAppend, id, true
}

// Batch ids are base64 of a decimal number, the shape syncstorage-rs's MySQL backend uses.
func encodeBatchID(id int64) string {
	return base64.StdEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10)))
}

func decodeBatchID(s string) (int64, bool) {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return 0, false
	}
	id, err := strconv.ParseInt(string(raw), 10, 64)
	return id, err == nil && id > 0
}

// checkWeaveHeaders enforces X-Weave-Records/Bytes and X-Weave-Total-Records/Bytes: a
// value over its limit is 400 code 17, a value that is not a whole number 400.
func (s *Server) checkWeaveHeaders(req *request) bool {
	for _, h := range []struct {
		name  string
		limit int64
	}{
		{"X-Weave-Records", int64(s.limits.MaxPostRecords)},
		{"X-Weave-Bytes", s.limits.MaxPostBytes},
		{"X-Weave-Total-Records", int64(s.limits.MaxTotalRecords)},
		{"X-Weave-Total-Bytes", s.limits.MaxTotalBytes},
	} {
		v := req.r.Header.Get(h.name)
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			badRequest(req.w)
			return false
		}
		if n > h.limit {
			writeJSON(req.w, http.StatusBadRequest, weaveSizeExceeded)
			return false
		}
	}
	return true
}

// postResult is the body of a POST answer.
type postResult struct {
	success []string
	failed  map[string]string
}

func (p *postResult) fail(id, reason string) {
	p.failed[id] = reason
}

// parsePost turns the body into the BSOs to write and the per-item failures. ok is false
// when the request as a whole is bad (400 code 8): not a list, an element that is not an
// object, a BSO without id, a duplicate id, or the known-bad crypto payload.
func (s *Server) parsePost(req *request, body []byte, newlines bool) ([]bsoInput, *postResult, bool) {
	res := &postResult{success: []string{}, failed: map[string]string{}}
	seen := map[string]bool{}
	var (
		valid []bsoInput
		bytes int64
	)
	ok := eachBSO(body, newlines, func(in bsoInput, err error) bool {
		if !in.HasID || seen[in.ID] {
			return false
		}
		seen[in.ID] = true
		if req.collection == "crypto" && knownBadPayload.MatchString(in.Payload) {
			return false
		}
		size := int64(len(in.Payload))
		switch {
		case err != nil:
			res.fail(in.ID, err.Error())
		case len(valid) >= s.limits.MaxPostRecords:
			res.fail(in.ID, "retry bso")
		case size > int64(s.limits.MaxRecordPayloadBytes) || bytes+size > s.limits.MaxPostBytes:
			res.fail(in.ID, "retry bytes")
		default:
			valid = append(valid, in)
			bytes += size
		}
		return true
	})
	if !ok {
		return nil, nil, false
	}
	return valid, res, true
}

func (s *Server) postCollection(req *request) {
	pre, ok := parsePreconditions(req)
	if !ok {
		return
	}
	mode, batchID, ok := batchMode(req)
	if !ok {
		badRequest(req.w)
		return
	}
	if !s.checkWeaveHeaders(req) {
		return
	}
	body, newlines, ok := s.readBody(req, true)
	if !ok {
		return
	}
	defer releaseBody(body) // large payloads refer into it until written (see parseBSO)
	items, res, ok := s.parsePost(req, body, newlines)
	if !ok {
		writeJSON(req.w, http.StatusBadRequest, weaveInvalidWBO)
		return
	}

	spilled, err := s.st.files.spill(items)
	if err != nil {
		s.serverError(req, err)
		return
	}
	status := http.StatusOK
	var collTS int64
	w, ok := s.write(req, pre, collectionResource(req), func(w *writeTx, ts int64) error {
		collTS = ts
		if mode == postAppend || mode == postCommit {
			exists, err := w.batchExists(batchID, req.collection)
			if err != nil {
				return err
			}
			if !exists {
				badRequest(req.w)
				return errAnswered
			}
		}
		var err error
		if mode != postPlain {
			if items, err = w.capBatch(batchID, items, res, s.limits); err != nil {
				return err
			}
		}
		switch mode {
		case postPlain:
			err = w.putAll(req.collection, items, res)
		case postCreate:
			if batchID, err = w.createBatch(req.collection, s.opts.BatchLifetime.Milliseconds()); err == nil {
				err = w.stage(batchID, items, res)
			}
			status = http.StatusAccepted
		case postAppend:
			err = w.stage(batchID, items, res)
			status = http.StatusAccepted
		case postCommit:
			err = w.commitBatch(batchID, req.collection, items, res)
			w.batchCommitted = err == nil
		}
		if err != nil {
			return err
		}
		if status == http.StatusAccepted {
			w.keepTS = true // staging is not a write the client can see
			return nil
		}
		return w.touchCollection(req.collection)
	})
	if !ok {
		s.st.files.forget(spilled)
		return
	}
	out := []byte(`{`)
	if status == http.StatusAccepted {
		setLastModified(req.w, collTS)
		out = append(strconv.AppendQuote(append(out, `"batch":`...), encodeBatchID(batchID)), ',')
	} else {
		setLastModified(req.w, w.ts)
		out = append(wbo.Timestamp(w.ts).AppendText(append(out, `"modified":`...)), ',')
	}
	succ, _ := json.Marshal(res.success)
	fail, _ := json.Marshal(res.failed)
	out = append(append(append(append(out, `"success":`...), succ...), `,"failed":`...), fail...)
	writeRaw(req.w, status, append(out, '}'))
}

func (w *writeTx) putAll(coll string, items []bsoInput, res *postResult) error {
	if err := w.putEach(coll, items); err != nil {
		return err
	}
	for i := range items {
		res.success = append(res.success, items[i].ID)
	}
	return nil
}

// putEach writes items in order, as put does one by one: set-based when bulk allows.
func (w *writeTx) putEach(coll string, items []bsoInput) error {
	w.written += len(items)
	if bulk(items) {
		return w.putMany(coll, items)
	}
	for i := range items {
		if err := w.put(coll, &items[i]); err != nil {
			return err
		}
	}
	return nil
}

// bulk reports whether items can be written by putMany: each carries a payload (so
// nothing of a record already there is kept but, when not given, its sortindex and
// expiry), and no id comes twice (putMany groups items by the fields they carry, and a
// repeated id must see its earlier version, in order).
func bulk(items []bsoInput) bool {
	if len(items) < 2 {
		return false
	}
	seen := make(map[string]bool, len(items))
	for i := range items {
		if !items[i].HasPayload || seen[items[i].ID] {
			return false
		}
		seen[items[i].ID] = true
	}
	return true
}

// putMany writes items as put would, a multi-row upsert per combination of the fields
// they carry (sortindex given or not, ttl given or not) and per 200 rows (well under
// SQLite's bound on a statement's parameters), instead of a read and a write per item:
// the write lock is held for a fraction of the time.
func (w *writeTx) putMany(coll string, items []bsoInput) error {
	now := w.st.nowMs()
	type shape struct{ sortindex, ttl bool }
	groups := map[shape][]*bsoInput{}
	var order []shape
	for i := range items {
		k := shape{items[i].HasSortIndex, items[i].HasTTL}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], &items[i])
	}
	for _, k := range order {
		for all := groups[k]; len(all) > 0; {
			group := all[:min(len(all), 200)]
			all = all[len(group):]
			if err := w.upsert(coll, group, k.sortindex, k.ttl, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// upsert is one statement of putMany: items that all carry a sortindex or all do not,
// and all a ttl or all not.
func (w *writeTx) upsert(coll string, group []*bsoInput, hasSortindex, hasTTL bool, now int64) error {
	args := make([]any, 0, len(group)*7)
	for _, in := range group {
		sortindex := sql.NullInt64{Int64: in.SortIndex, Valid: hasSortindex && in.SortIndexSet}
		ttl := int64(defaultTTL)
		if in.HasTTL && in.TTLSet {
			ttl = in.TTL
		}
		args = append(args, w.uid, coll, in.ID, sortindex, in.Payload, w.ts, now+ttl*1000)
		w.bytesIn += payloadSize(in.Payload)
	}
	// A record already there, and not expired, keeps what the item does not carry;
	// an expired one is as good as absent (as in put).
	// now is a parameter, not a literal: a statement's text is then the same at every
	// call of one shape and size, and PostgreSQL's connections prepare it once.
	keepSortindex, keepExpiry := "excluded.sortindex", "excluded.expiry"
	if !hasSortindex {
		keepSortindex = "CASE WHEN bsos.expiry > ? THEN bsos.sortindex END"
		args = append(args, now)
	}
	if !hasTTL {
		keepExpiry = "CASE WHEN bsos.expiry > ? THEN bsos.expiry ELSE excluded.expiry END"
		args = append(args, now)
	}
	q := `INSERT INTO bsos (uid, collection, id, sortindex, payload, modified, expiry) VALUES (?, ?, ?, ?, ?, ?, ?)` +
		strings.Repeat(`, (?, ?, ?, ?, ?, ?, ?)`, len(group)-1) +
		` ON CONFLICT (uid, collection, id) DO UPDATE SET payload = excluded.payload, modified = excluded.modified, sortindex = ` +
		keepSortindex + `, expiry = ` + keepExpiry
	_, err := w.execMany(q, args...)
	return err
}

func (w *writeTx) createBatch(coll string, lifetimeMs int64) (int64, error) {
	// Abandoned batches of this user go when the user starts a new one.
	now := w.st.nowMs()
	if _, err := w.Exec(`DELETE FROM batch_bsos WHERE batch IN (SELECT id FROM batches WHERE uid = ? AND expiry <= ?)`, w.uid, now); err != nil {
		return 0, err
	}
	if _, err := w.Exec(`DELETE FROM batches WHERE uid = ? AND expiry <= ?`, w.uid, now); err != nil {
		return 0, err
	}
	var id int64
	err := w.QueryRow(`INSERT INTO batches (uid, collection, expiry) VALUES (?, ?, ?) RETURNING id`, w.uid, coll, w.st.nowMs()+lifetimeMs).Scan(&id)
	return id, err
}

// batchExists: batches are scoped to their user and collection and die at expiry.
func (w *writeTx) batchExists(id int64, coll string) (bool, error) {
	var n int
	err := w.QueryRow(`SELECT COUNT(*) FROM batches WHERE id = ? AND uid = ? AND collection = ? AND expiry > ?`,
		id, w.uid, coll, w.st.nowMs()).Scan(&n)
	return n > 0, err
}

// capBatch fails the items that would take the batch past max_total_records or
// max_total_bytes, counting what is already staged.
func (w *writeTx) capBatch(id int64, items []bsoInput, res *postResult, l Limits) ([]bsoInput, error) {
	var count, bytes int64
	if id != 0 {
		if err := w.QueryRow(`SELECT records, bytes FROM batches WHERE id = ?`, id).Scan(&count, &bytes); err != nil {
			return nil, err
		}
	}
	kept := items[:0]
	for _, in := range items {
		size := payloadSize(in.Payload)
		switch {
		case count+1 > int64(l.MaxTotalRecords):
			res.fail(in.ID, "retry bso")
		case bytes+size > l.MaxTotalBytes:
			res.fail(in.ID, "retry bytes")
		default:
			kept = append(kept, in)
			count++
			bytes += size
		}
	}
	return kept, nil
}

// stage appends items to a batch, many rows to a statement, and adds them to its totals.
func (w *writeTx) stage(id int64, items []bsoInput, res *postResult) error {
	var seq int64
	if err := w.QueryRow(`SELECT COALESCE(MAX(seq), 0) FROM batch_bsos WHERE batch = ?`, id).Scan(&seq); err != nil {
		return err
	}
	var bytes int64
	for all := items; len(all) > 0; {
		group := all[:min(len(all), 100)]
		all = all[len(group):]
		args := make([]any, 0, len(group)*9)
		for _, in := range group {
			seq++
			sortindex := sql.NullInt64{Int64: in.SortIndex, Valid: in.SortIndexSet}
			ttl := sql.NullInt64{Int64: in.TTL, Valid: in.TTLSet}
			args = append(args, id, seq, in.ID, in.HasPayload, in.Payload, in.HasSortIndex, sortindex, in.HasTTL, ttl)
			bytes += payloadSize(in.Payload)
		}
		q := `INSERT INTO batch_bsos (batch, seq, id, has_payload, payload, has_sortindex, sortindex, has_ttl, ttl) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)` +
			strings.Repeat(`, (?, ?, ?, ?, ?, ?, ?, ?, ?)`, len(group)-1)
		if _, err := w.execMany(q, args...); err != nil {
			return err
		}
	}
	if _, err := w.Exec(`UPDATE batches SET records = records + ?, bytes = bytes + ? WHERE id = ?`, len(items), bytes, id); err != nil {
		return err
	}
	for _, in := range items {
		res.success = append(res.success, in.ID)
	}
	return nil
}

// commitBatch applies the staged BSOs in the order they came, then the commit's own, all
// at the commit's timestamp (TTLs count from it too), and forgets the batch.
func (w *writeTx) commitBatch(id int64, coll string, items []bsoInput, res *postResult) error {
	moved, err := w.commitStagedInPlace(id, coll)
	if err != nil {
		return err
	}
	if moved {
		return w.finishBatch(id, coll, items, res)
	}
	rows, err := w.Query(`SELECT id, has_payload, payload, has_sortindex, sortindex, has_ttl, ttl FROM batch_bsos WHERE batch = ? ORDER BY seq`, id)
	if err != nil {
		return err
	}
	var staged []bsoInput
	for rows.Next() {
		var (
			in        bsoInput
			payload   sql.NullString
			sortindex sql.NullInt64
			ttl       sql.NullInt64
		)
		if err := rows.Scan(&in.ID, &in.HasPayload, &payload, &in.HasSortIndex, &sortindex, &in.HasTTL, &ttl); err != nil {
			rows.Close()
			return err
		}
		in.Payload = payload.String
		in.SortIndex, in.SortIndexSet = sortindex.Int64, sortindex.Valid
		in.TTL, in.TTLSet = ttl.Int64, ttl.Valid
		staged = append(staged, in)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if err := w.putEach(coll, staged); err != nil {
		return err
	}
	return w.finishBatch(id, coll, items, res)
}

// finishBatch writes the commit's own items after the staged ones and forgets the batch.
func (w *writeTx) finishBatch(id int64, coll string, items []bsoInput, res *postResult) error {
	if err := w.putAll(coll, items, res); err != nil {
		return err
	}
	if _, err := w.Exec(`DELETE FROM batch_bsos WHERE batch = ?`, id); err != nil {
		return err
	}
	_, err := w.Exec(`DELETE FROM batches WHERE id = ?`, id)
	return err
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// commitStagedInPlace moves a batch's staged BSOs into bsos with one INSERT … SELECT per
// shape (sortindex given or not, ttl given or not), inside the database, when they are
// what putMany handles (each carries a payload, no id twice): then nothing is read out
// into the server and bound back in. It reports false, having done nothing, otherwise.
func (w *writeTx) commitStagedInPlace(id int64, coll string) (bool, error) {
	// One pass over the staged rows says whether they qualify and which shapes occur.
	var n, distinct, noPayload, bytes int64
	var shapes [4]int64 // by 2*sortindex given + ttl given
	if err := w.QueryRow(`SELECT COUNT(*), COUNT(DISTINCT id), COALESCE(SUM(CASE WHEN has_payload THEN 0 ELSE 1 END), 0),
		COALESCE(MAX(CASE WHEN NOT has_sortindex AND NOT has_ttl THEN 1 ELSE 0 END), 0),
		COALESCE(MAX(CASE WHEN NOT has_sortindex AND has_ttl THEN 1 ELSE 0 END), 0),
		COALESCE(MAX(CASE WHEN has_sortindex AND NOT has_ttl THEN 1 ELSE 0 END), 0),
		COALESCE(MAX(CASE WHEN has_sortindex AND has_ttl THEN 1 ELSE 0 END), 0)
		FROM batch_bsos WHERE batch = ?`, id).
		Scan(&n, &distinct, &noPayload, &shapes[0], &shapes[1], &shapes[2], &shapes[3]); err != nil {
		return false, err
	}
	if n == 0 || n != distinct || noPayload != 0 {
		return false, nil
	}
	if err := w.QueryRow(`SELECT bytes FROM batches WHERE id = ?`, id).Scan(&bytes); err != nil {
		return false, err
	}
	now := w.st.nowMs()
	for _, hasSortindex := range []bool{false, true} {
		for _, hasTTL := range []bool{false, true} {
			if k := 2*b2i(hasSortindex) + b2i(hasTTL); shapes[k] == 0 {
				continue // no staged row of this shape
			}
			// As upsert: a record already there, and not expired, keeps what the item
			// does not carry; an expired one is as good as absent. (The casts give
			// PostgreSQL the parameters' types, which a SELECT list does not.)
			sortindex, keepSortindex := "CAST(NULL AS BIGINT)", "CASE WHEN bsos.expiry > ? THEN bsos.sortindex END"
			if hasSortindex {
				sortindex, keepSortindex = "sortindex", "excluded.sortindex"
			}
			ttl, keepExpiry := "CAST(? AS BIGINT)", "CASE WHEN bsos.expiry > ? THEN bsos.expiry ELSE excluded.expiry END"
			if hasTTL {
				ttl, keepExpiry = "COALESCE(ttl, ?)", "excluded.expiry"
			}
			q := `INSERT INTO bsos (uid, collection, id, sortindex, payload, modified, expiry)
				SELECT CAST(? AS BIGINT), CAST(? AS TEXT), id, ` + sortindex + `, payload, CAST(? AS BIGINT), CAST(? AS BIGINT) + ` + ttl + ` * 1000 FROM batch_bsos
				WHERE batch = ? AND has_sortindex = ? AND has_ttl = ?
				ON CONFLICT (uid, collection, id) DO UPDATE SET payload = excluded.payload, modified = excluded.modified,
				sortindex = ` + keepSortindex + `, expiry = ` + keepExpiry
			args := []any{w.uid, coll, w.ts, now, int64(defaultTTL), id, hasSortindex, hasTTL}
			if !hasSortindex {
				args = append(args, now)
			}
			if !hasTTL {
				args = append(args, now)
			}
			if _, err := w.Exec(q, args...); err != nil {
				return false, err
			}
		}
	}
	w.written += int(n)
	w.bytesIn += bytes
	return true, nil
}
