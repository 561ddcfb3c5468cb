package firefox

import (
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"unicode/utf8"
)

// The fast encoder writes a record type's fields as json.Marshal would, driven by the
// type's decode plan, and merges them with the received members in one pass: no
// json.Marshal of the struct to scan back, no sort. A field or value it is not sure to
// write byte for byte as encoding/json does (a string needing more than ASCII quoting, a
// number json.Number would check) is written by encoding/json itself, or the whole
// record goes the old way. Encoding was three fifths of a bookmark's outgoing path.

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// encodable reports whether every field of a plan's type (nested ones included) is
// written by encoding/json's default rules, which the fast encoder follows.
func (p *plan) encodable(t reflect.Type) bool {
	if implementsMarshaler(t) {
		return false
	}
	for _, f := range p.fields {
		ft := t.Field(f.index).Type
		if implementsMarshaler(ft) || ft.Kind() == reflect.Pointer && implementsMarshaler(ft.Elem()) {
			return false
		}
		if ft.Kind() == reflect.Slice && implementsMarshaler(ft.Elem()) {
			return false
		}
		if f.kind == kStructs && !f.elem.encodable(ft.Elem()) {
			return false
		}
	}
	return true
}

func implementsMarshaler(t reflect.Type) bool {
	return t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType) ||
		t.Implements(textMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType)
}

// isEmptyField is encoding/json's omitempty test for the kinds a plan holds.
func isEmptyField(fv reflect.Value, f *fieldPlan) bool {
	switch f.kind {
	case kString, kNumber, kStrings, kStructs:
		return fv.Len() == 0
	case kBool:
		return !fv.Bool()
	case kInt:
		return fv.Int() == 0
	case kStringPtr, kBoolPtr, kIntPtr:
		return fv.IsNil()
	}
	return false
}

// appendStruct writes sv's fields in declaration order, as json.Marshal writes a struct.
func appendStruct(buf []byte, sv reflect.Value, p *plan) ([]byte, bool) {
	buf = append(buf, '{')
	first := true
	for i := range p.fields {
		f := &p.fields[i]
		fv := sv.Field(f.index)
		if f.omitEmpty && isEmptyField(fv, f) {
			continue
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = append(appendJSONString(buf, f.name), ':')
		var ok bool
		if buf, ok = appendField(buf, fv, f); !ok {
			return buf, false
		}
	}
	return append(buf, '}'), true
}

// appendField writes one field's value; false when encoding/json could write it
// otherwise (or refuse it).
func appendField(buf []byte, fv reflect.Value, f *fieldPlan) ([]byte, bool) {
	switch f.kind {
	case kString:
		return appendJSONString(buf, fv.String()), true
	case kNumber:
		s := fv.String()
		if s == "" {
			return append(buf, '0'), true
		}
		if !isJSONInteger(s) {
			return buf, false // a fraction, an exponent or not a number: encoding/json checks it
		}
		return append(buf, s...), true
	case kBool:
		return strconv.AppendBool(buf, fv.Bool()), true
	case kInt:
		return strconv.AppendInt(buf, fv.Int(), 10), true
	case kStringPtr, kBoolPtr, kIntPtr:
		if fv.IsNil() {
			return append(buf, "null"...), true
		}
		e := fv.Elem()
		switch f.kind {
		case kStringPtr:
			return appendJSONString(buf, e.String()), true
		case kBoolPtr:
			return strconv.AppendBool(buf, e.Bool()), true
		default:
			return strconv.AppendInt(buf, e.Int(), 10), true
		}
	case kStrings:
		return appendArray(buf, fv, func(buf []byte, e reflect.Value) ([]byte, bool) {
			return appendJSONString(buf, e.String()), true
		})
	case kStructs:
		return appendArray(buf, fv, func(buf []byte, e reflect.Value) ([]byte, bool) {
			return appendStruct(buf, e, f.elem)
		})
	}
	return buf, false
}

// appendArray writes fv, a slice, as json.Marshal does (null when nil), each element
// by elem.
func appendArray(buf []byte, fv reflect.Value, elem func([]byte, reflect.Value) ([]byte, bool)) ([]byte, bool) {
	if fv.IsNil() {
		return append(buf, "null"...), true
	}
	buf = append(buf, '[')
	for i := range fv.Len() {
		if i > 0 {
			buf = append(buf, ',')
		}
		var ok bool
		if buf, ok = elem(buf, fv.Index(i)); !ok {
			return buf, false
		}
	}
	return append(buf, ']'), true
}

// appendJSONString quotes s as json.Marshal does (HTML-escaped). Printable ASCII with
// nothing to escape, nearly every string a record holds, is copied; anything else is
// left to encoding/json.
func appendJSONString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !quotesAsIs[s[i]] {
			q, _ := json.Marshal(s) // a string always encodes
			return append(buf, q...)
		}
	}
	return append(append(append(buf, '"'), s...), '"')
}

// quotesAsIs: the bytes json.Marshal writes unchanged inside a string.
var quotesAsIs = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// isJSONInteger: -?(0|[1-9][0-9]*), a number json.Number writes as it is.
func isJSONInteger(s string) bool {
	if s != "" && s[0] == '-' {
		s = s[1:]
	}
	if s == "" || s[0] == '0' && len(s) > 1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// encodeFast is encodeKeeping by the plan: v's fields and the members received merged
// in name order. false sends the record the old way.
func encodeFast(sv reflect.Value, p *plan, got Raw) ([]byte, bool) {
	keys := got.sortedMembers()
	if len(keys) == 0 {
		// Nothing received: json.Marshal's own encoding, fields in declaration order.
		return appendStruct(make([]byte, 0, 256), sv, p)
	}
	buf := make([]byte, 0, len(got.r.data)+64)
	buf = append(buf, '{')
	first := true
	member := func(key string) {
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = append(appendJSONString(buf, key), ':') // a map key is written as a string
	}
	fi, ki := 0, 0
	for fi < len(p.sorted) || ki < len(keys) {
		var f *fieldPlan
		if fi < len(p.sorted) {
			f = &p.fields[p.sorted[fi]]
		}
		if f == nil || ki < len(keys) && memberOrder(keys[ki].name, f.name) < 0 {
			// A member the type does not name: kept as received.
			member(keys[ki].name)
			buf = appendCompactEscaped(buf, keys[ki].value)
			ki++
			continue
		}
		fi++
		r, received := json.RawMessage(nil), ki < len(keys) && keys[ki].name == f.name
		if received {
			r = keys[ki].value
			ki++
		}
		fv := sv.Field(f.index)
		if f.omitEmpty && isEmptyField(fv, f) {
			// Left out as empty: an empty received spelling stays, anything else was
			// cleared.
			if received && isEmptyJSON(r) {
				member(f.name)
				buf = appendCompactEscaped(buf, r)
			}
			continue
		}
		member(f.name)
		var ok bool
		if buf, ok = appendField(buf, fv, f); !ok {
			return nil, false
		}
	}
	return append(buf, '}'), true
}

// sortedMembers are Members in memberOrder, computed once.
func (r Raw) sortedMembers() []namedMember {
	m := r.Members()
	if len(m) == 0 {
		return nil
	}
	r.r.sortOnce.Do(func() {
		sorted := make([]namedMember, 0, len(m))
		for k, v := range m {
			sorted = append(sorted, namedMember{k, v})
		}
		slices.SortFunc(sorted, func(a, b namedMember) int { return memberOrder(a.name, b.name) })
		r.r.sorted = sorted
	})
	return r.r.sorted
}

type namedMember struct {
	name  string
	value json.RawMessage
}
