package wbo_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/syncctl/syncctl/wbo"
)

// FuzzDecode: no panic, typed errors only, and what decodes re-encodes to a record that
// decodes to the same thing (modified to its two decimals). encoding/json must agree that accepted input is JSON.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"id":"abc","modified":1234567890.12,"sortindex":5,"payload":"{\"ciphertext\":\"x\"}"}`,
		`{"id":"a","modified":"1.5","ttl":null,"payload":"\u00e9\ud83d\ude00"}`,
		`{"payload": "{\"ciphertext\":\"K5\",\"IV\":\"THPKCzWVX35\\/5123ho6mJQ==\"}", "id": "GJN0ojnlXXhU", "modified": 1332402035.78}`,
		`{}`, `[]`, `{"id":"a","x":[[[{}]]]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := wbo.Decode(data)
		// In place, the same record and the same error (on a copy: it overwrites).
		inPlace, ierr := wbo.DecodeInPlace(append([]byte(nil), data...))
		if (err == nil) != (ierr == nil) || inPlace.ID != r.ID || !bytes.Equal(inPlace.Payload, r.Payload) || inPlace.Modified != r.Modified {
			t.Fatalf("%q: in place %+v (%v), copied %+v (%v)", data, inPlace, ierr, r, err)
		}
		if err != nil {
			if !errors.Is(err, wbo.ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		// The id and the payload are the strings encoding/json reads (the last of a
		// repeated key, as in a map).
		var members map[string]json.RawMessage
		if err := json.Unmarshal(data, &members); err != nil {
			t.Fatalf("%q: %v", data, err)
		}
		for name, got := range map[string]string{"id": r.ID, "payload": string(r.Payload)} {
			var want string
			if raw, ok := members[name]; ok && json.Unmarshal(raw, &want) == nil && got != want {
				t.Fatalf("%q: %s %q, encoding/json %q", data, name, got, want)
			}
		}
		again, err := wbo.Decode(r.AppendJSON(nil))
		if err != nil {
			t.Fatalf("re-decode of %q: %v", r.AppendJSON(nil), err)
		}
		// modified comes back to its two decimals: AppendText truncates finer ones.
		if again.ID != r.ID || !bytes.Equal(again.Payload, r.Payload) || again.Modified != r.Modified/10*10 {
			t.Fatalf("round trip changed %+v to %+v", r, again)
		}
	})
}
