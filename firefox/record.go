package firefox

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
)

// Raw is a record's members as received. Encoding starts from it, so members the type
// does not name are kept, and so is the spelling of an empty value ("tags": [],
// "keyword": null) while the field stays empty.
type Raw map[string]json.RawMessage

// decodeKeeping fills v (a pointer to a struct) from data and returns every member raw.
func decodeKeeping(data []byte, v any) (Raw, error) {
	if err := json.Unmarshal(data, v); err != nil {
		return nil, err
	}
	var all Raw
	if err := json.Unmarshal(data, &all); err != nil {
		return nil, err
	}
	return all, nil
}

// encodeKeeping encodes v (a struct) over the members received: v's fields win; a field
// v left out as empty keeps its received spelling if that was empty too, and is dropped
// if it was not (the field was cleared); members v does not name stay as they were.
func encodeKeeping(v any, raw Raw) ([]byte, error) {
	known, err := json.Marshal(v)
	if err != nil || len(raw) == 0 {
		return known, err
	}
	var cur map[string]json.RawMessage
	if err := json.Unmarshal(known, &cur); err != nil {
		return nil, err
	}
	out := make(map[string]json.RawMessage, len(raw)+len(cur))
	named := map[string]bool{}
	for _, n := range jsonNames(reflect.TypeOf(v).Elem()) {
		named[n] = true
	}
	for k, r := range raw {
		if !named[k] || isEmptyJSON(r) {
			out[k] = r
		}
	}
	for k, c := range cur {
		out[k] = c
	}
	return json.Marshal(out)
}

func isEmptyJSON(r json.RawMessage) bool {
	switch string(bytes.TrimSpace(r)) {
	case "null", "[]", "{}", `""`, "false", "0":
		return true
	}
	return false
}

func jsonNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
	}
	return names
}
