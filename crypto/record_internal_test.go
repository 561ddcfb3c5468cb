package crypto

import (
	"errors"
	"testing"

	"pgregory.net/rapid"
)

// TestIDFirstAgreesWithTheScan: where idFirst accepts a cleartext, the scan does too,
// and checkCleartextID's verdict is the scan's on every cleartext.
func TestIDFirstAgreesWithTheScan(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		piece := rapid.SampledFrom([]string{"a", "Z9", "-_", `"`, `\`, `\"`, "\x01", "é", " ", "\xff", "}", ","})
		id := ""
		for range rapid.IntRange(0, 4).Draw(t, "pieces") {
			id += piece.Draw(t, "piece")
		}
		other := id
		if rapid.Bool().Draw(t, "other id") {
			other = id + piece.Draw(t, "more")
		}
		tail := rapid.SampledFrom([]string{`}`, `,"x":1}`, ` ,"x":1}`, `,`, `x`, ``, `,"id":"other"}`}).Draw(t, "tail")
		clear := []byte(`{"id":"` + other + `"` + tail)
		fast := idFirst(clear, id)
		scan := scanCleartextID(clear, id)
		if fast && scan != nil {
			t.Fatalf("%q with id %q: idFirst accepts, the scan says %v", clear, id, scan)
		}
		if got := checkCleartextID(clear, id); (got == nil) != (scan == nil) || scan != nil && !errors.Is(got, ErrRecordIDMismatch) && !errors.Is(got, ErrMalformedPayload) {
			t.Fatalf("%q with id %q: %v, the scan says %v", clear, id, got, scan)
		}
	})
	if !idFirst([]byte(`{"id":"0-P9fabp9vJD","type":"bookmark"}`), "0-P9fabp9vJD") {
		t.Error("a cleartext as Firefox writes it does not take the short way")
	}
}
