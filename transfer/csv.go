package transfer

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strconv"

	"github.com/syncctl/syncctl/wbo"
)

// CSVColumns are the fields a CSV export has per collection, in Firefox's order where
// it has one (about:logins exports passwords with these names).
var CSVColumns = map[string][]string{
	"passwords": {"hostname", "username", "password", "formSubmitURL", "httpRealm", "usernameField", "passwordField", "timeCreated", "timePasswordChanged", "timeLastUsed", "timesUsed", "id"},
	"bookmarks": {"id", "type", "title", "bmkUri", "parentid", "parentName", "keyword", "tags", "dateAdded"},
	"history":   {"id", "histUri", "title", "visits"},
}

// numberFields and jsonFields are the columns whose cells are not strings.
var (
	numberFields = []string{"timeCreated", "timePasswordChanged", "timeLastUsed", "timesUsed", "dateAdded"}
	jsonFields   = []string{"tags", "visits"}
)

// ErrNoCSV: the collection has no CSV form.
var ErrNoCSV = errors.New("transfer: CSV is for passwords, bookmarks and history")

// CSVWriter writes one collection as CSV, a header and a row per record; tombstones are
// left out.
type CSVWriter struct {
	cols []string
	cw   *csv.Writer
}

// NewCSVWriter writes the header.
func NewCSVWriter(w io.Writer, collection string) (*CSVWriter, error) {
	cols, ok := CSVColumns[collection]
	if !ok {
		return nil, fmt.Errorf("%w, not %s", ErrNoCSV, collection)
	}
	cw := csv.NewWriter(w)
	return &CSVWriter{cols, cw}, cw.Write(cols)
}

// Write adds a record's row. A payload that is not a JSON object is an error; the
// caller may skip it and go on.
func (c *CSVWriter) Write(l Line) error {
	var m map[string]any
	if err := json.Unmarshal(l.Payload, &m); err != nil {
		return fmt.Errorf("%s/%s: not a JSON object: %w", l.Collection, l.ID, err)
	}
	if m["deleted"] == true {
		return nil
	}
	row := make([]string, len(c.cols))
	for i, col := range c.cols {
		switch v := m[col].(type) {
		case nil:
		case string:
			row[i] = v
		case float64:
			row[i] = strconv.FormatFloat(v, 'f', -1, 64)
		default:
			b, _ := json.Marshal(v)
			row[i] = string(b)
		}
	}
	return c.cw.Write(row)
}

// Flush ends the file.
func (c *CSVWriter) Flush() error {
	c.cw.Flush()
	return c.cw.Error()
}

// ReadCSV reads a CSV export of a collection back into lines: the header names the
// fields (any order; unknown columns are kept as strings). Rows without an id get a
// new one. Bookmark folders get their children from the rows' parentid, in row order,
// since the CSV has no children column.
func ReadCSV(r io.Reader, collection string) iter.Seq2[Line, error] {
	return func(yield func(Line, error) bool) {
		if _, ok := CSVColumns[collection]; !ok {
			yield(Line{}, fmt.Errorf("%w, not %s", ErrNoCSV, collection))
			return
		}
		cr := csv.NewReader(r)
		cr.FieldsPerRecord = -1
		head, err := cr.Read()
		if err != nil {
			yield(Line{}, fmt.Errorf("transfer: CSV header: %w", err))
			return
		}
		var out []map[string]any
		for n := 2; ; n++ {
			row, err := cr.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				yield(Line{}, fmt.Errorf("transfer: CSV: %w", err))
				return
			}
			m, err := csvRecord(head, row, collection)
			if err != nil {
				yield(Line{}, fmt.Errorf("transfer: CSV line %d: %w", n, err))
				return
			}
			if collection != "bookmarks" {
				if !yield(lineOf(collection, m), nil) {
					return
				}
				continue
			}
			out = append(out, m)
		}
		// Bookmarks: the folders' children, from their items' parentid.
		kids := map[string][]string{}
		for _, m := range out {
			if p, _ := m["parentid"].(string); p != "" {
				kids[p] = append(kids[p], m["id"].(string))
			}
		}
		for _, m := range out {
			if m["type"] == "folder" {
				m["children"] = append([]string{}, kids[m["id"].(string)]...)
			}
			if !yield(lineOf(collection, m), nil) {
				return
			}
		}
	}
}

// firefoxColumns are the names about:logins gives the passwords columns in its CSV.
var firefoxColumns = map[string]string{"url": "hostname", "formActionOrigin": "formSubmitURL", "guid": "id"}

func csvRecord(head, row []string, collection string) (map[string]any, error) {
	m := map[string]any{}
	for i, col := range head {
		if name, ok := firefoxColumns[col]; ok && collection == "passwords" {
			col = name
		}
		if i >= len(row) || row[i] == "" {
			continue
		}
		cell := row[i]
		switch {
		case slices.Contains(numberFields, col):
			n, err := strconv.ParseFloat(cell, 64)
			if err != nil {
				return nil, fmt.Errorf("%s %q: want a number", col, cell)
			}
			m[col] = n
		case slices.Contains(jsonFields, col):
			var v any
			if err := json.Unmarshal([]byte(cell), &v); err != nil {
				return nil, fmt.Errorf("%s: want JSON: %w", col, err)
			}
			m[col] = v
		default:
			m[col] = cell
		}
	}
	if id, _ := m["id"].(string); id == "" {
		m["id"] = wbo.NewGUID(nil)
		if collection == "passwords" {
			m["id"] = "{" + wbo.NewGUID(nil) + "}"
		}
	}
	if collection == "passwords" {
		// A login is a web form's or an HTTP realm's: the CSV has both columns, and an
		// empty one means "not this kind".
		if m["httpRealm"] == nil {
			if m["formSubmitURL"] == nil {
				m["formSubmitURL"] = ""
			}
		} else {
			delete(m, "formSubmitURL")
		}
		for _, f := range []string{"username", "usernameField", "passwordField"} {
			if m[f] == nil {
				m[f] = ""
			}
		}
	}
	return m, nil
}

func lineOf(collection string, m map[string]any) Line {
	p, _ := json.Marshal(m)
	return Line{Collection: collection, ID: m["id"].(string), Payload: p}
}
