package jsonscan_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/syncctl/syncctl/internal/jsonscan"
)

func TestObjectWalksMembersInOrder(t *testing.T) {
	t.Parallel()
	var keys []string
	var vals []string
	err := jsonscan.Object([]byte(` { "a" : 1 , "b\u0063":[1,{"x":"}"}], "d":"q\"uote" , "e":null,"f":-1.5e3 } `), func(k, v []byte) error {
		keys = append(keys, string(k))
		vals = append(vals, string(v))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`1`, `[1,{"x":"}"}]`, `"q\"uote"`, `null`, `-1.5e3`}
	if len(vals) != len(want) {
		t.Fatalf("vals = %q", vals)
	}
	for i := range want {
		if vals[i] != want[i] {
			t.Errorf("value %d = %s, want %s", i, vals[i], want[i])
		}
	}
	if !jsonscan.Key([]byte(keys[1]), "bc") {
		t.Errorf("escaped key %q does not match bc", keys[1])
	}
}

func TestStringUnescapesLikeEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{`"plain"`, `"a\/b"`, `"\n\t\"\\"`, `"\u00e9\ud83d\ude00"`, `"\ud800x"`, `"é"`, `""`} {
		got, err := jsonscan.String([]byte(raw))
		var want string
		if jerr := json.Unmarshal([]byte(raw), &want); jerr != nil || err != nil || string(got) != want {
			t.Errorf("String(%s) = %q, %v; encoding/json %q, %v", raw, got, err, want, jerr)
		}
	}
}

func TestAppendStringRoundTripsThroughEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", "q\"b\\", "ctl\x01\x1f\n\r\t", "é😀", "<&>", "bad\xffutf8", "\u2028\u2029"} {
		enc := jsonscan.AppendString(nil, []byte(s))
		var back string
		if err := json.Unmarshal(enc, &back); err != nil {
			t.Fatalf("%q → %s: %v", s, enc, err)
		}
		if utf8.ValidString(s) && back != s {
			t.Errorf("%q → %s → %q", s, enc, back)
		}
	}
}

// FuzzObject: Object accepts exactly the JSON objects encoding/json accepts (up to our depth
// bound), and String agrees with encoding/json on every string member.
func FuzzObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":"b"}`, `{"a":[1,2,{"c":null}],"d":true}`, `{"a":"\u00e9\/"}`, `[1]`, `{"a":1e+5,"b":-0.5}`, `{"a" "b"}`,
		// Strings long enough for the long-run scan (more than 512 bytes plain, past its
		// 4 KB window).
		`{"p":"` + strings.Repeat("QUJD", 200) + `\"` + strings.Repeat("x", 5000) + `","q":"` + strings.Repeat("é", 400) + `"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := jsonscan.Object(data, func(k, v []byte) error {
			if jsonscan.Kind(v) == '"' {
				got, err := jsonscan.String(v)
				var want string
				if jerr := json.Unmarshal(v, &want); (err == nil) != (jerr == nil) || (err == nil && !bytes.Equal(got, []byte(want)) && utf8.Valid(got)) {
					t.Fatalf("String(%s) = %q, %v; encoding/json %q, %v", v, got, err, want, jerr)
				}
			}
			return nil
		})
		// encoding/json replaces invalid UTF-8; we refuse it, as syncstorage-rs's serde_json
		// does. Compare only on valid UTF-8.
		if !utf8.Valid(data) {
			return
		}
		var m map[string]any
		jerr := json.Unmarshal(data, &m)
		isObject := jerr == nil && m != nil
		if (err == nil) != isObject && !bytes.Contains(data, []byte("[[[[")) {
			t.Fatalf("Object(%q) err = %v, encoding/json err = %v", data, err, jerr)
		}
	})
}

// FuzzElements: an array of objects walked by Elements with ObjectAt gives the members
// and the verdict that Array with Object gives.
func FuzzElements(f *testing.F) {
	for _, s := range []string{`[]`, `[{}]`, `[{"a":"b"},{"c":[1,{"d":2}]}]`, ` [ {"a":1} , {"b":"\""} ] `, `[{"a":1}]x`, `[{"a":1},]`, `[1]`, `[{"a" "b"}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var viaArray, viaElements []string
		arrErr := jsonscan.Array(data, func(v []byte) error {
			return jsonscan.Object(v, func(k, v []byte) error {
				viaArray = append(viaArray, string(k)+"="+string(v))
				return nil
			})
		})
		elErr := jsonscan.Elements(data, func(data []byte, i int) (int, error) {
			return jsonscan.ObjectAt(data, i, func(k, v []byte) error {
				viaElements = append(viaElements, string(k)+"="+string(v))
				return nil
			})
		})
		if (arrErr == nil) != (elErr == nil) || (arrErr == nil && !slices.Equal(viaArray, viaElements)) {
			t.Fatalf("%q: Elements %v %q, Array %v %q", data, elErr, viaElements, arrErr, viaArray)
		}
	})
}

// FuzzMembers: Members, with strings read by StringAt and other values by SkipValue,
// gives the members and the verdict Object with String gives.
func FuzzMembers(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":"b"}`, ` {"a":[1,2,{"c":"\""}],"d":true} `, `{"a":"\u00e9\/"}`, `[1]`, `{"a":"b"}x`, `{"a" "b"}`, `{"a":"b",}`, `{"a":}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var viaObject, viaMembers []string
		objErr := jsonscan.Object(data, func(k, v []byte) error {
			if jsonscan.Kind(v) == '"' {
				s, err := jsonscan.String(v)
				if err != nil {
					return err
				}
				v = s
			}
			viaObject = append(viaObject, string(k)+"="+string(v))
			return nil
		})
		memErr := jsonscan.Members(data, func(k, data []byte, i int) (int, error) {
			if data[i] == '"' {
				s, end, err := jsonscan.StringAt(data, i, jsonscan.Alias)
				viaMembers = append(viaMembers, string(k)+"="+string(s))
				return end, err
			}
			end, err := jsonscan.SkipValue(data, i)
			if err == nil {
				viaMembers = append(viaMembers, string(k)+"="+string(data[i:end]))
			}
			return end, err
		})
		if (objErr == nil) != (memErr == nil) || (objErr == nil && !slices.Equal(viaObject, viaMembers)) {
			t.Fatalf("%q: Members %v %q, Object %v %q", data, memErr, viaMembers, objErr, viaObject)
		}
	})
}

func TestEqualFoldASCII(t *testing.T) {
	for _, c := range []struct {
		key, name string
		want      bool
	}{{"ID", "id", true}, {"sortIndex", "sortindex", true}, {"id", "id", true}, {"ie", "id", false}, {"i", "id", false}, {"[d", "{d", false}, {"ſ", "s", false}} {
		if got := jsonscan.EqualFoldASCII([]byte(c.key), c.name); got != c.want {
			t.Errorf("EqualFoldASCII(%q, %q) = %v", c.key, c.name, got)
		}
	}
}
