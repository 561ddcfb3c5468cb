package firefox

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/syncctl/syncctl/internal/jsonscan"
)

// unmarshal is json.Unmarshal into one of the record types, made fast for the records
// Firefox writes: a plan per type (field names, kinds) drives a single scan with
// jsonscan. Whatever the plan is not sure to decode exactly as encoding/json would
// (a type mismatch, a key differing from a field's name only in case, a repeated key,
// malformed JSON or invalid UTF-8) sends the whole record to encoding/json instead,
// from a zero value, so the result and the error are encoding/json's in every case.
// Decoding was most of a bookmark's incoming path (4.4 of 7.1 µs).
func unmarshal(data []byte, v any) error { return unmarshalText(text{data: data}, v) }

// text is a record being decoded. base, when set, is the same bytes as a string: a
// string member that needs no unescaping is then a substring of it, not a copy of its
// own (a bookmark's eight strings were eight allocations).
type text struct {
	data []byte
	base string
}

// str is s, a string member's unescaped bytes, as a string.
func (t *text) str(s []byte) string {
	if t.base != "" && len(s) > 0 {
		// s aliases data when nothing in it was escaped (jsonscan.String).
		off := uintptr(unsafe.Pointer(unsafe.SliceData(s))) - uintptr(unsafe.Pointer(unsafe.SliceData(t.data)))
		if off < uintptr(len(t.data)) && uintptr(len(s)) <= uintptr(len(t.data))-off {
			return t.base[off : off+uintptr(len(s))]
		}
	}
	return string(s)
}

func unmarshalText(t text, v any) error {
	data := t.data
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() && rv.Elem().Kind() == reflect.Struct {
		if p := planOf(rv.Elem().Type()); p != nil {
			if decodeStruct(&t, data, rv.Elem(), p) == nil {
				return nil
			}
			rv.Elem().SetZero()
		}
	}
	return json.Unmarshal(data, v)
}

// errSlowPath: this record goes to encoding/json.
var errSlowPath = errors.New("firefox: decode with encoding/json")

type fieldKind int

const (
	kString fieldKind = iota
	kStringPtr
	kBool
	kBoolPtr
	kInt // any signed integer kind
	kIntPtr
	kNumber  // json.Number
	kStrings // []string
	kStructs // []struct, with its own plan
)

type fieldPlan struct {
	name  string
	index int
	kind  fieldKind
	elem  *plan // kStructs
	// omitEmpty: the tag's omitempty, for encoding.
	omitEmpty bool
}

// plan is how to decode one struct type; nil when some field is of a kind it does not
// handle (a map, a type with its own UnmarshalJSON), and the type always takes the slow
// path.
type plan struct {
	fields []fieldPlan
	byName map[string]int // exact JSON name → fields index
	// byLen is the fields' indexes by the length of their names: a key is looked up
	// among the few names of its length, exactly and then ignoring ASCII case (a key
	// encoding/json would match to a field case-insensitively). A map lookup of every
	// key, and a second one of its lower-cased form for the keys no field has, cost a
	// fifth of decoding a bookmark.
	byLen [][]int
	// sorted is the fields' indexes in memberOrder, and canEncode
	// whether the fast encoder writes this type (see fastencode.go).
	sorted    []int
	canEncode bool
}

var plans sync.Map // reflect.Type → *plan (or a typed nil)

func planOf(t reflect.Type) *plan {
	if p, ok := plans.Load(t); ok {
		return p.(*plan)
	}
	p := makePlan(t, 0)
	plans.Store(t, p)
	return p
}

var (
	numberType      = reflect.TypeFor[json.Number]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
)

func makePlan(t reflect.Type, depth int) *plan {
	if depth > 2 || reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	p := &plan{byName: map[string]int{}}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" || !plainTagName(name) || strings.Contains(opts, "string") || f.Anonymous {
			return nil // the default name, ",string", embedding: not worth the rules
		}
		fp := fieldPlan{name: name, index: i, omitEmpty: slices.Contains(strings.Split(opts, ","), "omitempty")}
		ft := f.Type
		switch {
		case ft == numberType:
			fp.kind = kNumber
		case ft.Kind() == reflect.String:
			fp.kind = kString
		case ft.Kind() == reflect.Bool:
			fp.kind = kBool
		case ft.Kind() >= reflect.Int && ft.Kind() <= reflect.Int64:
			fp.kind = kInt
		case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.String && ft.Elem() != numberType:
			fp.kind = kStringPtr
		case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Bool:
			fp.kind = kBoolPtr
		case ft.Kind() == reflect.Pointer && ft.Elem().Kind() >= reflect.Int && ft.Elem().Kind() <= reflect.Int64:
			fp.kind = kIntPtr
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.String && ft.Elem() != numberType:
			fp.kind = kStrings
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			fp.kind = kStructs
			if fp.elem = makePlan(ft.Elem(), depth+1); fp.elem == nil {
				return nil
			}
		default:
			return nil
		}
		if ft.Implements(unmarshalerType) || reflect.PointerTo(ft).Implements(unmarshalerType) {
			return nil
		}
		if _, dup := p.byName[name]; dup {
			return nil
		}
		p.byName[name] = len(p.fields)
		for len(p.byLen) <= len(name) {
			p.byLen = append(p.byLen, nil)
		}
		p.byLen[len(name)] = append(p.byLen[len(name)], len(p.fields))
		p.fields = append(p.fields, fp)
	}
	p.sorted = make([]int, len(p.fields))
	for i := range p.sorted {
		p.sorted[i] = i
	}
	slices.SortFunc(p.sorted, func(a, b int) int { return memberOrder(p.fields[a].name, p.fields[b].name) })
	p.canEncode = p.encodable(t)
	return p
}

// decodeStruct fills sv (a zero struct) from the object in data, or returns errSlowPath
// (or a syntax error) for encoding/json to do it.
func decodeStruct(t *text, data []byte, sv reflect.Value, p *plan) error {
	var seen uint64 // fields set, by plan index (a repeated key takes the slow path)
	return jsonscan.Members(data, func(key, data []byte, vi int) (int, error) {
		i, folds := p.field(key)
		if i < 0 {
			// A field's name is plain ASCII, so a key equal to one is too; any other key
			// with escapes or bytes beyond ASCII may still be one under encoding/json's
			// unescaping and folding rules.
			if folds || len(key) == 0 || !plainASCII(key) {
				return 0, errSlowPath // encoding/json would match it to a field, or may
			}
			return jsonscan.SkipValue(data, vi) // a member the type does not name: kept in Raw
		}
		if i >= 64 || seen&(1<<i) != 0 {
			return 0, errSlowPath
		}
		seen |= 1 << i
		f := &p.fields[i]
		fv := sv.Field(f.index)
		if f.kind == kString && data[vi] == '"' {
			// Decoded in the pass that finds its end: most of a record's members.
			s, end, err := jsonscan.StringAt(data, vi, jsonscan.Alias)
			if err != nil {
				return 0, errSlowPath
			}
			fv.SetString(t.str(s))
			return end, nil
		}
		end, err := jsonscan.SkipValue(data, vi)
		if err != nil {
			return 0, err
		}
		return end, decodeField(t, data[vi:end], fv, f)
	})
}

// plainTagName: a name encoding/json takes from a tag (which it ignores for one with
// other characters, or quotes or backslashes), and ASCII: a key equal to it byte for byte
// is then that name, with no escape or folding to think of.
func plainTagName(name string) bool {
	for _, c := range []byte(name) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// plainASCII: no escape and no byte beyond ASCII.
// field is the index of the field named key, or -1 and whether key, ASCII, equals a
// field's name but for case.
func (p *plan) field(key []byte) (int, bool) {
	if len(key) >= len(p.byLen) {
		return -1, false
	}
	same := p.byLen[len(key)]
	for _, i := range same {
		if string(key) == p.fields[i].name {
			return i, false
		}
	}
	for _, i := range same {
		if jsonscan.EqualFoldASCII(key, p.fields[i].name) {
			return -1, true
		}
	}
	return -1, false
}

func plainASCII(b []byte) bool {
	for _, x := range b {
		if x == '\\' || x >= 0x80 {
			return false
		}
	}
	return true
}

func decodeField(t *text, value []byte, fv reflect.Value, f *fieldPlan) error {
	null := len(value) == 4 && string(value) == "null"
	switch f.kind {
	case kString, kStringPtr:
		if null {
			if f.kind == kStringPtr {
				fv.SetZero()
			}
			return nil // encoding/json leaves a string alone on null
		}
		if value[0] != '"' {
			return errSlowPath
		}
		s, err := jsonscan.String(value)
		if err != nil {
			return errSlowPath
		}
		if f.kind == kString {
			fv.SetString(t.str(s))
		} else {
			p := reflect.New(fv.Type().Elem())
			p.Elem().SetString(t.str(s))
			fv.Set(p)
		}
	case kBool, kBoolPtr:
		if null {
			if f.kind == kBoolPtr {
				fv.SetZero()
			}
			return nil
		}
		var b bool
		switch string(value) {
		case "true":
			b = true
		case "false":
		default:
			return errSlowPath
		}
		if f.kind == kBool {
			fv.SetBool(b)
		} else {
			p := reflect.New(fv.Type().Elem())
			p.Elem().SetBool(b)
			fv.Set(p)
		}
	case kInt, kIntPtr:
		if null {
			if f.kind == kIntPtr {
				fv.SetZero()
			}
			return nil
		}
		t := fv.Type()
		if f.kind == kIntPtr {
			t = t.Elem()
		}
		n, err := strconv.ParseInt(string(value), 10, t.Bits())
		if err != nil { // a fraction, an exponent, a string, too large: encoding/json's
			return errSlowPath
		}
		if f.kind == kInt {
			fv.SetInt(n)
		} else {
			p := reflect.New(t)
			p.Elem().SetInt(n)
			fv.Set(p)
		}
	case kNumber:
		if null {
			return nil
		}
		if c := value[0]; c != '-' && (c < '0' || c > '9') {
			return errSlowPath // a quoted number: encoding/json's rules
		}
		fv.SetString(t.str(value)) // jsonscan checked it is a well-formed number
	case kStrings:
		if null {
			fv.SetZero()
			return nil
		}
		if value[0] != '[' {
			return errSlowPath
		}
		out := make([]string, 0, 4)
		err := jsonscan.Array(value, func(e []byte) error {
			if len(e) == 4 && string(e) == "null" {
				out = append(out, "")
				return nil
			}
			if e[0] != '"' {
				return errSlowPath
			}
			s, err := jsonscan.String(e)
			if err != nil {
				return errSlowPath
			}
			out = append(out, t.str(s))
			return nil
		})
		if err != nil {
			return errSlowPath
		}
		if p, ok := fv.Addr().Interface().(*[]string); ok {
			*p = out // without boxing the slice in an interface, an allocation
		} else {
			fv.Set(reflect.ValueOf(out).Convert(fv.Type()))
		}
	case kStructs:
		if null {
			fv.SetZero()
			return nil
		}
		if value[0] != '[' {
			return errSlowPath
		}
		out := reflect.MakeSlice(fv.Type(), 0, 4)
		err := jsonscan.Array(value, func(e []byte) error {
			out = reflect.Append(out, reflect.Zero(fv.Type().Elem()))
			if len(e) == 4 && string(e) == "null" {
				return nil
			}
			if e[0] != '{' {
				return errSlowPath
			}
			return decodeStruct(t, e, out.Index(out.Len()-1), f.elem)
		})
		if err != nil {
			return errSlowPath
		}
		fv.Set(out)
	}
	return nil
}
