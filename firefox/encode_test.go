package firefox

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// encodeKeepingMapped is how encodeKeeping worked before it built its output by hand,
// with the id moved to the front: the reference its bytes are checked against.
func encodeKeepingMapped(v any, got Raw) ([]byte, error) {
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
	id, hasID := out["id"]
	delete(out, "id")
	rest, err := json.Marshal(out)
	if err != nil || !hasID {
		return rest, err
	}
	// The id goes first (memberOrder), its value spelled as json.Marshal spells it.
	first, err := json.Marshal(map[string]json.RawMessage{"id": id})
	if err != nil || len(rest) == 2 {
		return first, err
	}
	return append(first[:len(first)-1:len(first)-1], append([]byte{','}, rest[1:]...)...), nil
}

// encodeCases add to fastCases what encoding meets: members that need escaping or
// compacting, empty spellings, cleared fields, unknown members of every kind.
var encodeCases = []string{
	`{"id":"e1","title":"a <b> & c","bmkUri":"http://x/?a=1&b=2","unknownObj":{ "k" : [1, 2, {"z":null}] },"tags":[]}`,
	`{"id":"e2","keyword":null,"tags":[],"title":"","children":["a","b"],"extra\u003c":"key with an escape"}`,
	`{"id":"e3","description":"line\u2028separator … ellipsis","loadInSidebar":false,"dateAdded":1}`,
	`{"id":"e4","pos":0,"deleted":false,"parentName":"p","weird":  "spaced"  }`,
	`{"id":"e5","visits":[{"date":1,"type":1,"transition":"x"}],"histUri":"h","title":null}`,
	`{"id":"e6","<key>":1,"a&b":2}`,
}

func sameEncoding(t *testing.T, proto any, data []byte, edit func(v reflect.Value)) {
	t.Helper()
	v := reflect.New(reflect.TypeOf(proto))
	raw, err := decodeKeeping(data, v.Interface(), nil, false)
	if err != nil {
		return // not a record of this type
	}
	if edit != nil {
		edit(v.Elem())
	}
	got, errGot := encodeKeeping(v.Interface(), raw)
	want, errWant := encodeKeepingMapped(v.Interface(), raw)
	if (errGot == nil) != (errWant == nil) || !bytes.Equal(got, want) {
		t.Fatalf("%T from %q:\n got %s (%v)\nwant %s (%v)", proto, data, got, errGot, want, errWant)
	}
}

// clearAndSet edits a decoded record the ways engines do: a title changed, a field
// cleared.
func clearAndSet(v reflect.Value) {
	if f := v.FieldByName("Title"); f.IsValid() && f.Kind() == reflect.String {
		f.SetString(f.String() + " <edited> & more")
	}
	if f := v.FieldByName("Tags"); f.IsValid() {
		f.SetZero()
	}
}

func TestEncodeKeepingMatchesTheMappedEncoding(t *testing.T) {
	for _, proto := range fastTypes {
		for _, c := range append(append([]string{}, fastCases...), encodeCases...) {
			sameEncoding(t, proto, []byte(c), nil)
			sameEncoding(t, proto, []byte(c), clearAndSet)
		}
	}
}

func FuzzEncodeKeeping(f *testing.F) {
	for _, c := range append(append([]string{}, fastCases...), encodeCases...) {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, proto := range fastTypes {
			sameEncoding(t, proto, data, nil)
			sameEncoding(t, proto, data, clearAndSet)
		}
	})
}
