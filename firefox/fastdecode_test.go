package firefox

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// fastCases are records that stress where the fast decoder must agree with
// encoding/json or step aside: nulls, type mismatches, case-folded and repeated keys,
// escapes, invalid UTF-8, numbers of every shape.
var fastCases = []string{
	`{"id":"0-P9fabp9vJD","type":"bookmark","title":"Customize Firefox","parentName":"Mozilla Firefox","bmkUri":"http://www.mozilla.com/en-US/firefox/customize/","tags":["firefox","mozilla"],"keyword":null,"description":"Make Firefox yours","loadInSidebar":false,"parentid":"HAZiMFYmygep","dateAdded":1326254123650}`,
	`{"id":"h1","histUri":"https://example.com/","title":"Example","visits":[{"date":1700000000000000,"type":1},{"date":1700000000000001,"type":2}]}`,
	`{"id":"h2","visits":[null,{"date":1}],"title":null}`,
	`{"id":"h3","visits":[{"date":1.5}]}`,
	`{"id":"h4","visits":[{"date":1,"type":2}],"visits":[{"date":5}]}`,
	`{"id":"b1","tags":[],"children":null,"pos":3}`,
	`{"id":"b2","tags":["a",null,"b"],"pos":-7,"deleted":true}`,
	`{"id":"b3","tags":["a",1]}`,
	`{"id":"b4","pos":1e3}`,
	`{"id":"b5","pos":99999999999999999999}`,
	`{"id":"b6","dateAdded":"1326254123650"}`,
	`{"id":"b7","dateAdded":-1.25e+3}`,
	`{"ID":"upper","Title":"case"}`,
	`{"id":"b8","BMKURI":"folded"}`,
	`{"id":"b9","title":"first","title":"second"}`,
	`{"id":"b10","title":"tab\tand \u00e9 and \ud83d\ude00 and \ud800"}`,
	"{\"id\":\"b11\",\"title\":\"bad \xff utf8\"}",
	`{"id":"b12","ti\u0074le":"escaped key"}`,
	`{"id":"b13","deleted":"yes"}`,
	`{"id":"b14","deleted":null,"keyword":"kw"}`,
	`{"id":"b15","title":7}`,
	`{"id":"b16"} trailing`,
	`[1,2]`,
	`null`,
	`{"id":"l1","hostname":"https://a","formSubmitURL":null,"httpRealm":"r","username":"u","password":"p","usernameField":"","passwordField":"","timeCreated":1,"timesUsed":2}`,
	`{"id":"f1","name":"q","value":"v"}`,
	`{"id":"a1","addonID":"x@y","applicationID":"{ec8030f7}","enabled":true,"source":"amo"}`,
	`{"id":"p1","value":{"a":1}}`,
	`{"id":"t1","clientName":"c","tabs":[{"title":"t","urlHistory":["u"],"icon":null,"lastUsed":1}]}`,
	`{"id":"k1","paſsword":"long s folds to s in encoding/json"}`,
}

// agree decodes data with unmarshal and with encoding/json into fresh values of the
// type of proto, and fails unless both err alike and produce the same value.
func agree(t *testing.T, proto any, data []byte) {
	t.Helper()
	typ := reflect.TypeOf(proto)
	fast, slow := reflect.New(typ), reflect.New(typ)
	errF := unmarshal(data, fast.Interface())
	errS := json.Unmarshal(data, slow.Interface())
	if (errF == nil) != (errS == nil) || (errF != nil && errF.Error() != errS.Error()) {
		t.Fatalf("%T from %q: fast error %v, encoding/json %v", proto, data, errF, errS)
	}
	if !reflect.DeepEqual(fast.Interface(), slow.Interface()) {
		t.Fatalf("%T from %q:\nfast %+v\njson %+v", proto, data, fast.Elem().Interface(), slow.Elem().Interface())
	}
	// The same through decodeKeeping, whose strings are parts of its one copy of data.
	kept := reflect.New(typ)
	buf := bytes.Clone(data)
	if _, err := decodeKeeping(buf, kept.Interface(), nil, false); (err == nil) != (errS == nil) {
		t.Fatalf("%T from %q: decodeKeeping error %v, encoding/json %v", proto, data, err, errS)
	}
	clear(buf) // the caller's buffer, reused: nothing decoded may have pointed into it
	if errS == nil && !reflect.DeepEqual(kept.Interface(), slow.Interface()) {
		t.Fatalf("%T from %q:\nkept %+v\njson %+v", proto, data, kept.Elem().Interface(), slow.Elem().Interface())
	}
	// And with data handed over (ParseOwned), its strings parts of data itself.
	owned := reflect.New(typ)
	if _, err := decodeKeeping(bytes.Clone(data), owned.Interface(), nil, true); (err == nil) != (errS == nil) {
		t.Fatalf("%T from %q: decodeKeeping of owned data: error %v, encoding/json %v", proto, data, err, errS)
	}
	if errS == nil && !reflect.DeepEqual(owned.Interface(), slow.Interface()) {
		t.Fatalf("%T from %q:\nowned %+v\njson %+v", proto, data, owned.Elem().Interface(), slow.Elem().Interface())
	}
}

var fastTypes = []any{Bookmark{}, History{}, Login{}, FormEntry{}, Addon{}, Tabs{}, Prefs{}, Visit{}}

func TestFastDecodeAgreesWithEncodingJSON(t *testing.T) {
	for _, proto := range fastTypes {
		for _, c := range fastCases {
			agree(t, proto, []byte(c))
		}
	}
	// The types Firefox sends most take the fast path (others may not).
	for _, proto := range []any{Bookmark{}, History{}, Login{}, FormEntry{}, Addon{}} {
		if planOf(reflect.TypeOf(proto)) == nil {
			t.Errorf("%T has no fast plan", proto)
		}
	}
}

func FuzzFastDecode(f *testing.F) {
	for _, c := range fastCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, proto := range fastTypes {
			agree(t, proto, data)
		}
	})
}
