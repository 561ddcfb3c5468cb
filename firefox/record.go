package firefox

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
)

// Raw is a record's members as received. Encoding starts from it, so members the type
// does not name are kept, and so is the spelling of an empty value ("tags": [],
// "keyword": null) while the field stays empty. It holds the received JSON and reads
// its members only when asked (an encode, Member): a record that is only read, as most
// incoming records are, is parsed once.
type Raw struct{ r *received }

// received is what Raw points to: the JSON, and its members once read (records are
// copied by value; the members, never changed once read, are shared by the copies).
type received struct {
	data    []byte
	once    sync.Once
	members map[string]json.RawMessage
}

// Members are the received members by name (nil when nothing was received). The map
// is shared: do not change it.
func (r Raw) Members() map[string]json.RawMessage {
	if r.r == nil {
		return nil
	}
	r.r.once.Do(func() {
		if json.Unmarshal(r.r.data, &r.r.members) != nil {
			r.r.members = nil
		}
	})
	return r.r.members
}

// Member is one received member (nil when absent).
func (r Raw) Member(name string) json.RawMessage { return r.Members()[name] }

// decodeKeeping fills v (a pointer to a struct) from data and keeps a copy of data.
func decodeKeeping(data []byte, v any) (Raw, error) {
	if err := json.Unmarshal(data, v); err != nil {
		return Raw{}, err
	}
	// Unmarshal succeeded: data is one JSON value. An object is kept (a copy: the
	// caller's buffer may be reused); anything else has no members.
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Raw{}, nil
	}
	return Raw{&received{data: bytes.Clone(trimmed)}}, nil
}

// encodeKeeping encodes v (a struct) over the members received: v's fields win; a field
// v left out as empty keeps its received spelling if that was empty too, and is dropped
// if it was not (the field was cleared); members v does not name stay as they were.
func encodeKeeping(v any, got Raw) ([]byte, error) {
	known, err := json.Marshal(v)
	if err != nil {
		return known, err
	}
	raw := got.Members()
	if len(raw) == 0 {
		return known, nil
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
