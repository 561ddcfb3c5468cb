package firefox

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"pgregory.net/rapid"
)

// jsonText draws strings that reach every branch of string encoding: plain ASCII, HTML
// characters, quotes and escapes, controls, non-ASCII, U+2028, invalid UTF-8.
func jsonText() *rapid.Generator[string] {
	return rapid.OneOf(
		rapid.StringMatching(`[a-zA-Z0-9 :/.?=-]{0,12}`),
		rapid.SampledFrom([]string{"", "<b>", "a&b", `q"uote`, `back\slash`, "tab\t", "\b\f\x01", "é ü", "\u2028\u2029", "bad \xff", "😀"}),
		rapid.String(),
	)
}

// fillRandom sets every field of sv that the plan knows to a drawn value, empty ones
// included (nil and empty slices, nil pointers, zero numbers).
func fillRandom(t *rapid.T, sv reflect.Value, p *plan, label string) {
	for _, f := range p.fields {
		fv := sv.Field(f.index)
		name := label + "." + f.name
		if rapid.Bool().Draw(t, name+".zero") {
			continue
		}
		switch f.kind {
		case kString:
			fv.SetString(jsonText().Draw(t, name))
		case kNumber:
			fv.SetString(rapid.SampledFrom([]string{"", "0", "1326254123650", "-5", "1.5", "1e3", "nope"}).Draw(t, name))
		case kBool:
			fv.SetBool(rapid.Bool().Draw(t, name))
		case kInt:
			fv.SetInt(rapid.Int64Range(-1<<31, 1<<31).Draw(t, name))
		case kStringPtr, kBoolPtr, kIntPtr:
			e := reflect.New(fv.Type().Elem())
			switch f.kind {
			case kStringPtr:
				e.Elem().SetString(jsonText().Draw(t, name))
			case kBoolPtr:
				e.Elem().SetBool(rapid.Bool().Draw(t, name))
			default:
				e.Elem().SetInt(rapid.Int64Range(-1000, 1000).Draw(t, name))
			}
			fv.Set(e)
		case kStrings:
			n := rapid.IntRange(0, 3).Draw(t, name+".len")
			s := reflect.MakeSlice(fv.Type(), n, n)
			for i := range n {
				s.Index(i).SetString(jsonText().Draw(t, name))
			}
			fv.Set(s)
		case kStructs:
			n := rapid.IntRange(0, 3).Draw(t, name+".len")
			s := reflect.MakeSlice(fv.Type(), n, n)
			for i := range n {
				fillRandom(t, s.Index(i), f.elem, name)
			}
			fv.Set(s)
		}
	}
}

// receivedJSON draws the members a record might have arrived with: some of the type's
// own names (empty or not), unknown ones, names needing escapes, odd spacing.
func receivedJSON(t *rapid.T, p *plan) []byte {
	var names []string
	for _, f := range p.fields {
		names = append(names, f.name)
	}
	names = append(names, "unknown", "zzz", "AAA", "a<b", "é", "Title", "_x")
	values := []string{`null`, `[]`, `{}`, `""`, `false`, `0`, `1`, `"s"`, `"<&>"`, `[1, 2]`, `{"k" : "v"}`, `"\u2028"`, `true`}
	n := rapid.IntRange(0, 8).Draw(t, "members")
	members := map[string]json.RawMessage{}
	for range n {
		members[rapid.SampledFrom(names).Draw(t, "name")] = json.RawMessage(rapid.SampledFrom(values).Draw(t, "value"))
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	i := 0
	for k, v := range members {
		if i > 0 {
			buf.WriteString(" , ")
		}
		i++
		q, _ := json.Marshal(k)
		buf.Write(q)
		buf.WriteString(": ")
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// TestFastEncodingIsEncodingJSONs draws records of every fast type, with and without
// received members, and requires the fast encoder's bytes (or its refusal, which sends
// the record the old way) to be exactly what json.Marshal of the merged members gives.
func TestFastEncodingIsEncodingJSONs(t *testing.T) {
	for _, proto := range fastTypes {
		typ := reflect.TypeOf(proto)
		p := planOf(typ)
		if p == nil || !p.canEncode {
			continue
		}
		t.Run(typ.Name(), func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) {
				v := reflect.New(typ)
				var got Raw
				if rapid.Bool().Draw(t, "received") {
					got = Raw{&received{data: receivedJSON(t, p)}}
				}
				fillRandom(t, v.Elem(), p, typ.Name())
				fast, ok := encodeFast(v.Elem(), p, got)
				want, err := encodeKeepingMapped(v.Interface(), got)
				if len(got.Members()) == 0 {
					want, err = json.Marshal(v.Interface())
				}
				if !ok {
					if v, ok := v.Elem().FieldByName("DateAdded").Interface().(json.Number); ok && v != "" && v != "0" {
						return // a json.Number with a fraction or exponent, or invalid: encoding/json's to check
					}
					t.Fatalf("the fast encoder refused %+v (encoding/json: %s, %v)", v.Elem().Interface(), want, err)
				}
				if err != nil || !bytes.Equal(fast, want) {
					t.Fatalf("%+v over %v:\nfast %s\njson %s (%v)", v.Elem().Interface(), got.Members(), fast, want, err)
				}
			})
		})
	}
}

func TestTheRecordTypesEncodeFast(t *testing.T) {
	for _, proto := range []any{Bookmark{}, History{}, Login{}, FormEntry{}, Addon{}} {
		if p := planOf(reflect.TypeOf(proto)); p == nil || !p.canEncode {
			t.Errorf("%T has no fast encoding", proto)
		}
	}
}
