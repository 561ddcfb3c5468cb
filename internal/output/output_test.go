package output_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/syncctl/syncctl/internal/output"
)

type item struct {
	ID    string   `json:"id"`
	Tags  []string `json:"tags"`
	Count int      `json:"count"`
}

func list(t *testing.T, f output.Format, items ...item) string {
	t.Helper()
	var buf bytes.Buffer
	l := output.NewList(&buf, f, "ID", "COUNT")
	for _, it := range items {
		if err := l.Add(it, it.ID, "n"); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestEveryFormatCarriesTheSameFields(t *testing.T) {
	items := []item{{ID: "a", Count: 1}, {ID: "b,c", Tags: []string{"x"}, Count: 2}}
	for f, want := range map[output.Format]string{
		output.Table: "ID   COUNT\na    n\nb,c  n\n",
		output.JSON:  "[\n  {\n    \"id\": \"a\",\n    \"tags\": [],\n    \"count\": 1\n  },\n  {\n    \"id\": \"b,c\",\n    \"tags\": [\n      \"x\"\n    ],\n    \"count\": 2\n  }\n]\n",
		output.JSONL: "{\"id\":\"a\",\"tags\":[],\"count\":1}\n{\"id\":\"b,c\",\"tags\":[\"x\"],\"count\":2}\n",
		output.CSV:   "id,tags,count\na,[],1\n\"b,c\",\"[\"\"x\"\"]\",2\n",
		output.TSV:   "id\ttags\tcount\na\t[]\t1\nb,c\t\"[\"\"x\"\"]\"\t2\n",
	} {
		if got := list(t, f, items...); got != want {
			t.Errorf("%s:\n%s\nwant:\n%s", f, got, want)
		}
	}
}

func TestAnEmptyListIsAnEmptyArray(t *testing.T) {
	if got := list(t, output.JSON); got != "[]\n" {
		t.Errorf("json: %q", got)
	}
	if got := list(t, output.JSONL); got != "" {
		t.Errorf("jsonl: %q", got)
	}
	if got := list(t, output.Table); got != "ID  COUNT\n" {
		t.Errorf("table: %q", got)
	}
}

func TestNilSlicesAndMapsPrintEmpty(t *testing.T) {
	type inner struct {
		M map[string]int `json:"m"`
	}
	type outer struct {
		L   []inner         `json:"l"`
		P   *inner          `json:"p"`
		Any any             `json:"any"`
		Raw json.RawMessage `json:"raw,omitempty"`
	}
	v := outer{L: []inner{{}}, P: &inner{}, Any: []string(nil)}
	var buf bytes.Buffer
	if err := output.One(&buf, output.JSONL, v, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), `{"l":[{"m":{}}],"p":{"m":{}},"any":[]}`+"\n"; got != want {
		t.Errorf("got %s want %s", got, want)
	}
	buf.Reset()
	output.One(&buf, output.JSON, (*outer)(nil), nil)
	if buf.String() != "null\n" {
		t.Errorf("a nil pointer: %q", buf.String())
	}
}

func TestOnePrintsTextForPeopleAndFieldsForScripts(t *testing.T) {
	v := struct {
		Profile string `json:"profile"`
		Records int    `json:"records"`
	}{"default", 3}
	text := func(w io.Writer) error { _, err := io.WriteString(w, "imported 3 records\n"); return err }
	for f, want := range map[output.Format]string{
		output.Table: "imported 3 records\n",
		output.JSON:  "{\n  \"profile\": \"default\",\n  \"records\": 3\n}\n",
		output.JSONL: "{\"profile\":\"default\",\"records\":3}\n",
		output.CSV:   "profile,records\ndefault,3\n",
		output.TSV:   "profile\trecords\ndefault\t3\n",
	} {
		var buf bytes.Buffer
		if err := output.One(&buf, f, v, text); err != nil {
			t.Fatal(err)
		}
		if buf.String() != want {
			t.Errorf("%s: %q, want %q", f, buf.String(), want)
		}
	}
	var buf bytes.Buffer
	output.One(&buf, output.Table, v, nil)
	if !strings.Contains(buf.String(), "profile  default") {
		t.Errorf("fields as a table: %q", buf.String())
	}
}

func TestUnknownFormatsAreRefused(t *testing.T) {
	for _, s := range []string{"xml", "yaml", "", "JSON"} {
		if _, err := output.Parse(s); !errors.Is(err, output.ErrUnknownFormat) {
			t.Errorf("%q: %v", s, err)
		}
	}
	for _, f := range output.Formats {
		if got, err := output.Parse(string(f)); err != nil || got != f {
			t.Errorf("%s: %v", f, err)
		}
	}
}
