package firefox

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/syncctl/syncctl/internal/jsonscan"
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
	data    []byte // never written: it may be a string's bytes
	once    sync.Once
	members map[string]json.RawMessage
	// sorted is members in memberOrder, for the fast encoder.
	sortOnce sync.Once
	sorted   []namedMember
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

// trimJSONSpace is bytes.Trim(b, " \t\n\r"), which builds its set of bytes at every
// call (a fiftieth of parsing a bookmark).
func trimJSONSpace(b []byte) []byte {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// decodeKeeping fills v (a pointer to a struct) from data and keeps a copy of data, in
// into when it is not nil.
func decodeKeeping(data []byte, v any, into *received, owned bool) (Raw, error) {
	// An object is kept (a copy, unless the caller handed data over: its buffer may be
	// reused), made as a string so that v's strings can be parts of it; anything else
	// has no members.
	// JSON's white space only: bytes.TrimSpace would also take \v, \f, U+0085 and U+00A0
	// off, and a record ending in one (invalid JSON) would then decode.
	trimmed := trimJSONSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		if err := unmarshal(data, v); err != nil {
			return Raw{}, err
		}
		return Raw{}, nil
	}
	var kept string
	if owned {
		kept = unsafe.String(unsafe.SliceData(trimmed), len(trimmed))
	} else {
		kept = string(trimmed)
	}
	// Read only, ever: the bytes are the string's.
	keptBytes := unsafe.Slice(unsafe.StringData(kept), len(kept))
	if err := unmarshalText(text{data: keptBytes, base: kept}, v); err != nil {
		return Raw{}, err
	}
	if into == nil {
		into = new(received)
	}
	into.data = keptBytes
	return Raw{into}, nil
}

// encodeKeeping encodes v (a struct) over the members received: v's fields win; a field
// v left out as empty keeps its received spelling if that was empty too, and is dropped
// if it was not (the field was cleared); members v does not name stay as they were.
// Members come out in memberOrder (the id, then the rest by name), each value compact
// and HTML-escaped: the bytes json.Marshal of the merged map[string]json.RawMessage
// would give with its id moved to the front, built without decoding v's encoding again
// or marshalling a map (that was four fifths of encoding a bookmark).
func encodeKeeping(v any, got Raw) ([]byte, error) {
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() && rv.Elem().Kind() == reflect.Struct {
		if p := planOf(rv.Elem().Type()); p != nil && p.canEncode {
			if out, ok := encodeFast(rv.Elem(), p, got); ok {
				return out, nil
			}
		}
	}
	known, err := json.Marshal(v)
	if err != nil {
		return known, err
	}
	raw := got.Members()
	if len(raw) == 0 {
		return known, nil
	}
	type member struct {
		key   string
		value []byte
	}
	out := make([]member, 0, len(raw)+16)
	named := namesOf(reflect.TypeOf(v).Elem())
	// v's own members, as json.Marshal wrote them: plain names (struct tags, so found in
	// named), values already compact and escaped.
	if err := jsonscan.Object(known, func(key, value []byte) error {
		k, ok := named[string(key)]
		if !ok {
			k = string(key)
		}
		out = append(out, member{k, value})
		return nil
	}); err != nil {
		return nil, err
	}
	mine := out[:len(out):len(out)]
	for k, r := range raw {
		if _, isField := named[k]; isField && !isEmptyJSON(r) {
			continue
		}
		if slices.ContainsFunc(mine, func(m member) bool { return m.key == k }) {
			continue
		}
		out = append(out, member{k, r})
	}
	slices.SortFunc(out, func(a, b member) int { return memberOrder(a.key, b.key) })
	buf := make([]byte, 0, len(known)+len(got.r.data)+64)
	buf = append(buf, '{')
	for i, m := range out {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(appendJSONString(buf, m.key), ':') // a map key is written as a string
		buf = appendCompactEscaped(buf, m.value)
	}
	return append(buf, '}'), nil
}

// appendCompactEscaped writes a JSON value (well formed: it was parsed when received) as
// json.Marshal writes a json.RawMessage: without white space between tokens, and with <,
// >, &, U+2028 and U+2029 escaped in strings as \u003c, \u003e, \u0026, \u2028, \u2029.
func appendCompactEscaped(buf, v []byte) []byte {
	plain := true // most values hold nothing to compact or escape: copied at once
	for _, c := range v {
		if compactsOrEscapes[c] {
			plain = false
			break
		}
	}
	if plain {
		return append(buf, v...)
	}
	const hexDigits = "0123456789abcdef"
	inString := false
	start := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		if inString {
			switch {
			case c == '\\':
				i++ // the escaped character, whatever it is
			case c == '"':
				inString = false
			case c == '<' || c == '>' || c == '&':
				buf = append(append(buf, v[start:i]...), '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
				start = i + 1
			case c == 0xe2 && i+2 < len(v) && v[i+1] == 0x80 && v[i+2]&^1 == 0xa8:
				buf = append(append(buf, v[start:i]...), '\\', 'u', '2', '0', '2', hexDigits[v[i+2]&0xf])
				i += 2
				start = i + 1
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case ' ', '\t', '\n', '\r':
			buf = append(buf, v[start:i]...)
			start = i + 1
		}
	}
	return append(buf, v[start:]...)
}

// compactsOrEscapes: the bytes appendCompactEscaped may have to change (white space, <,
// >, &, and the first byte of U+2028 and U+2029).
var compactsOrEscapes = func() (t [256]bool) {
	for _, c := range []byte(" \t\n\r<>&\xe2") {
		t[c] = true
	}
	return t
}()

// namesOf is the JSON member names of a struct type's fields (each mapped to itself, so
// a name read from bytes is had without allocating it), computed once per type.
func namesOf(t reflect.Type) map[string]string {
	if m, ok := fieldNames.Load(t); ok {
		return m.(map[string]string)
	}
	m := map[string]string{}
	for _, n := range jsonNames(t) {
		m[n] = n
	}
	fieldNames.Store(t, m)
	return m
}

var fieldNames sync.Map // reflect.Type → map[string]string

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

// memberOrder is the order an encoded record's members are written in: "id" first, as
// Firefox writes it (readers that check the cleartext's id, ours among them, stop
// there), then the others in the byte order of their names, as json.Marshal writes a
// map's.
func memberOrder(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == "id":
		return -1
	case b == "id":
		return 1
	}
	return strings.Compare(a, b)
}
