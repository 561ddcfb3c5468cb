package server

import (
	"database/sql"
	"net/http"
	"strconv"

	"github.com/syncctl/syncctl/wbo"
)

// infoView runs one info/* query in a snapshot, honouring the preconditions against the
// storage timestamp, and writes body with X-Weave-Records = the number of members.
func (s *Server) infoView(req *request, query func(tx *tx, now int64) ([]byte, int, error)) {
	pre, ok := parsePreconditions(req)
	if !ok {
		return
	}
	tx, err := s.st.readTx(req.r.Context())
	if err != nil {
		s.serverError(req, err)
		return
	}
	defer tx.Rollback()
	ts, err := s.st.queryTS(tx, `SELECT modified FROM users WHERE uid = ?`, req.uid)
	if err != nil {
		s.serverError(req, err)
		return
	}
	if !pre.check(req, ts) {
		return
	}
	body, n, err := query(tx, s.st.nowMs())
	if err != nil {
		s.serverError(req, err)
		return
	}
	setLastModified(req.w, ts)
	if n >= 0 {
		req.w.Header().Set("X-Weave-Records", strconv.Itoa(n))
	}
	writeRaw(req.w, http.StatusOK, body)
}

// jsonObject writes {"k":v,…} from rows of (name, value) where value is pre-encoded.
func jsonObject(rows *sql.Rows, value func(*sql.Rows) (string, []byte, error)) ([]byte, int, error) {
	defer rows.Close()
	out := []byte{'{'}
	n := 0
	for rows.Next() {
		k, v, err := value(rows)
		if err != nil {
			return nil, 0, err
		}
		if n > 0 {
			out = append(out, ',')
		}
		out = strconv.AppendQuote(out, k) // collection names are [A-Za-z0-9._-]
		out = append(out, ':')
		out = append(out, v...)
		n++
	}
	return append(out, '}'), n, rows.Err()
}

func (s *Server) infoCollections(req *request) {
	s.infoView(req, func(tx *tx, _ int64) ([]byte, int, error) {
		rows, err := tx.Query(`SELECT name, modified FROM collections WHERE uid = ? ORDER BY name`, req.uid)
		if err != nil {
			return nil, 0, err
		}
		return jsonObject(rows, func(r *sql.Rows) (string, []byte, error) {
			var name string
			var ts int64
			err := r.Scan(&name, &ts)
			return name, wbo.Timestamp(ts).AppendText(nil), err
		})
	})
}

func (s *Server) infoCounts(req *request) {
	s.infoView(req, func(tx *tx, now int64) ([]byte, int, error) {
		rows, err := tx.Query(`SELECT collection, COUNT(*) FROM bsos WHERE uid = ? AND expiry > ? GROUP BY collection ORDER BY collection`, req.uid, now)
		if err != nil {
			return nil, 0, err
		}
		return jsonObject(rows, func(r *sql.Rows) (string, []byte, error) {
			var name string
			var n int64
			err := r.Scan(&name, &n)
			return name, strconv.AppendInt(nil, n, 10), err
		})
	})
}

// usageKB is bytes of payload in KiB, as info/collection_usage and info/quota report it.
func usageKB(bytes int64) []byte {
	return strconv.AppendFloat(nil, float64(bytes)/1024, 'f', -1, 64)
}

func (s *Server) infoUsage(req *request) {
	s.infoView(req, func(tx *tx, now int64) ([]byte, int, error) {
		rows, err := tx.Query(`SELECT collection, SUM(`+s.st.d.payloadBytes+`) FROM bsos WHERE uid = ? AND expiry > ? GROUP BY collection ORDER BY collection`, req.uid, now)
		if err != nil {
			return nil, 0, err
		}
		return jsonObject(rows, func(r *sql.Rows) (string, []byte, error) {
			var name string
			var n int64
			err := r.Scan(&name, &n)
			return name, usageKB(n), err
		})
	})
}

func (s *Server) infoQuota(req *request) {
	s.infoView(req, func(tx *tx, now int64) ([]byte, int, error) {
		n, err := s.userBytes(tx, req.uid, now)
		if err != nil {
			return nil, 0, err
		}
		kb := usageKB(n)
		if n == 0 {
			kb = []byte("0.0")
		}
		quota := []byte("null")
		if s.opts.Quota > 0 {
			quota = usageKB(s.opts.Quota)
		}
		return append(append(append(append([]byte{'['}, kb...), ','), quota...), ']'), -1, nil
	})
}

func (s *Server) infoConfiguration(req *request) {
	req.w.Header().Set("X-Last-Modified", "0.00")
	writeJSON(req.w, http.StatusOK, s.limits)
}
