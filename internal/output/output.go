// Package output prints a command's result in the format its caller asked for: an
// aligned table for people, and JSON, JSON lines, CSV or TSV for scripts. Every format
// carries the same data: the machine forms are derived from the JSON value, so a field a
// script reads from JSON has the same name as a CSV column.
package output

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Format is one of the output forms.
type Format string

// The formats -o accepts.
const (
	Table Format = "table"
	JSON  Format = "json"
	JSONL Format = "jsonl"
	CSV   Format = "csv"
	TSV   Format = "tsv"
)

// Formats lists them, for help text and completion.
var Formats = []Format{Table, JSON, JSONL, CSV, TSV}

// ErrUnknownFormat is returned by Parse for a format not in Formats.
var ErrUnknownFormat = errors.New("unknown output format")

// Parse checks a format name.
func Parse(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("%w %q: want one of %s", ErrUnknownFormat, s, strings.Join(names, ", "))
}

// Machine reports whether the format is for scripts (everything but the table).
func (f Format) Machine() bool { return f != Table }

// List prints a stream of items. The table shows each item's columns under the head;
// JSON is an array of the items ([] when there are none); JSON lines one item per
// line; CSV and TSV the items' JSON fields, one column each.
type List struct {
	f    Format
	w    io.Writer
	head []string
	n    int
	tw   *tabwriter.Writer
	cw   *csv.Writer
	keys []string // the CSV columns, from the first item
	err  error
}

// NewList starts a list; Close ends it.
func NewList(w io.Writer, f Format, head ...string) *List {
	l := &List{f: f, w: w, head: head}
	switch f {
	case Table:
		l.tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(l.tw, strings.Join(head, "\t"))
	case CSV, TSV:
		l.cw = csv.NewWriter(w)
		if f == TSV {
			l.cw.Comma = '\t'
		}
	}
	return l
}

// Add prints one item: v in the machine formats, cols in the table.
func (l *List) Add(v any, cols ...string) error {
	if l.err != nil {
		return l.err
	}
	switch l.f {
	case Table:
		for i, c := range cols {
			cols[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(c)
		}
		_, l.err = fmt.Fprintln(l.tw, strings.Join(cols, "\t"))
	case JSON:
		b, err := marshalIndent(v, "  ")
		if err != nil {
			l.err = err
			break
		}
		sep := ",\n  "
		if l.n == 0 {
			sep = "[\n  "
		}
		_, l.err = io.WriteString(l.w, sep+string(b))
	case JSONL:
		b, err := marshal(v)
		if err == nil {
			_, err = l.w.Write(append(b, '\n'))
		}
		l.err = err
	case CSV, TSV:
		keys, vals, err := fields(v)
		if err != nil {
			l.err = err
			break
		}
		if l.n == 0 {
			l.keys = keys
			l.err = l.cw.Write(keys)
		}
		if l.err == nil {
			l.err = l.cw.Write(align(l.keys, keys, vals))
		}
	}
	l.n++
	return l.err
}

// Close ends the list. A CSV with no item still has no header: its columns come from
// the items, and there were none.
func (l *List) Close() error {
	if l.err != nil {
		return l.err
	}
	switch l.f {
	case Table:
		return l.tw.Flush()
	case JSON:
		if l.n == 0 {
			_, err := io.WriteString(l.w, "[]\n")
			return err
		}
		_, err := io.WriteString(l.w, "\n]\n")
		return err
	case CSV, TSV:
		l.cw.Flush()
		return l.cw.Error()
	}
	return nil
}

// One prints a single result: text (what people read) in the table format, v in the
// others. Without text the table shows v's fields, one per line.
func One(w io.Writer, f Format, v any, text func(io.Writer) error) error {
	switch f {
	case Table:
		if text != nil {
			return text(w)
		}
		keys, vals, err := fields(v)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for i, k := range keys {
			fmt.Fprintf(tw, "%s\t%s\n", strings.ReplaceAll(k, "_", " "), vals[i])
		}
		return tw.Flush()
	case JSON:
		b, err := marshalIndent(v, "")
		if err == nil {
			_, err = w.Write(append(b, '\n'))
		}
		return err
	case JSONL:
		b, err := marshal(v)
		if err == nil {
			_, err = w.Write(append(b, '\n'))
		}
		return err
	default:
		keys, vals, err := fields(v)
		if err != nil {
			return err
		}
		cw := csv.NewWriter(w)
		if f == TSV {
			cw.Comma = '\t'
		}
		cw.Write(keys)
		cw.Write(vals)
		cw.Flush()
		return cw.Error()
	}
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(NonNil(v)); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func marshalIndent(v any, prefix string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent(prefix, "  ")
	if err := enc.Encode(NonNil(v)); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// fields are v's top-level JSON fields in the order JSON prints them, each value a
// string: as it is for a string, else its JSON. A value that is not an object is one
// field named "value".
func fields(v any) (keys, vals []string, err error) {
	b, err := marshal(v)
	if err != nil {
		return nil, nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if t, _ := dec.Token(); t != json.Delim('{') {
		return []string{"value"}, []string{cell(b)}, nil
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, err
		}
		keys = append(keys, t.(string))
		vals = append(vals, cell(raw))
	}
	return keys, vals, nil
}

// cell is a JSON value as a CSV cell: a string unquoted, null empty, the rest as JSON.
func cell(raw []byte) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	if string(raw) == "null" {
		return ""
	}
	return string(raw)
}

// align puts vals under the columns of the first row: a field the first item lacked is
// dropped, one it had and this item lacks is empty.
func align(cols, keys, vals []string) []string {
	if len(cols) == len(keys) {
		same := true
		for i := range cols {
			same = same && cols[i] == keys[i]
		}
		if same {
			return vals
		}
	}
	row := make([]string, len(cols))
	for i, c := range cols {
		for j, k := range keys {
			if k == c {
				row[i] = vals[j]
			}
		}
	}
	return row
}
