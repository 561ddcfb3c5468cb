package wbo_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/syncctl/syncctl/wbo"
)

func TestTimestampParsesEveryServerSpelling(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]wbo.Timestamp{
		"1234567890.12":  1234567890120,
		"1234567890":     1234567890000,
		"1234567890.1":   1234567890100,
		"1234567890.123": 1234567890123,
		"0.00":           0,
		"1.005":          1005,
		"1.0059":         1005,
	} {
		got, err := wbo.ParseTimestamp(in)
		if err != nil || got != want {
			t.Errorf("ParseTimestamp(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "1e9", "1.", ".5", "abc", "1.2.3", "+1", " 1"} {
		if _, err := wbo.ParseTimestamp(bad); !errors.Is(err, wbo.ErrBadTimestamp) {
			t.Errorf("ParseTimestamp(%q) err = %v", bad, err)
		}
	}
}

func TestTimestampWritesTwoDecimalsWithoutDrift(t *testing.T) {
	t.Parallel()
	for ms, want := range map[wbo.Timestamp]string{
		1234567890120: "1234567890.12",
		1234567890000: "1234567890.00",
		1234567890129: "1234567890.12",
		5:             "0.00",
		90:            "0.09",
	} {
		if got := ms.String(); got != want {
			t.Errorf("%d → %s, want %s", ms, got, want)
		}
	}
	// The value a float64 would mangle: 1326254123.65 * 1000 = 1326254123649.9998.
	ts, _ := wbo.ParseTimestamp("1326254123.65")
	if ts != 1326254123650 || ts.String() != "1326254123.65" {
		t.Errorf("drift: %d %s", ts, ts)
	}
}

func TestTimestampJSONAcceptsNumberAndString(t *testing.T) {
	t.Parallel()
	var v struct{ A, B wbo.Timestamp }
	if err := json.Unmarshal([]byte(`{"A":1234567890.12,"B":"1234567890.12"}`), &v); err != nil || v.A != v.B || v.A != 1234567890120 {
		t.Errorf("%+v %v", v, err)
	}
}

func TestDecodeReadsTheEnvelope(t *testing.T) {
	t.Parallel()
	r, err := wbo.Decode([]byte(`{"id":"abc","modified":"1234567890.12","sortindex":-42,"payload":"{\"a\":\"\\n\"}","extra":[1,{"x":null}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != "abc" || r.Modified != 1234567890120 || *r.SortIndex != -42 || string(r.Payload) != `{"a":"\n"}` || r.TTL != nil {
		t.Errorf("%+v", r)
	}
	back, err := wbo.Decode(r.AppendJSON(nil))
	if err != nil || back.ID != r.ID || string(back.Payload) != string(r.Payload) || *back.SortIndex != -42 || back.Modified != r.Modified {
		t.Errorf("round trip: %+v %v", back, err)
	}
}

func TestDecodeRejectsMalformedRecords(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		``, `[]`, `{"id":1}`, `{"payload":"x"}`, `{"id":"a","payload":5}`, `{"id":"a","sortindex":"x"}`,
		`{"id":"a","modified":-1}`, `{"id":"a"`, `{"id":"a"} x`, `{"id":"a\u00"}`,
	} {
		if _, err := wbo.Decode([]byte(in)); !errors.Is(err, wbo.ErrMalformed) {
			t.Errorf("Decode(%q) err = %v, want ErrMalformed", in, err)
		}
	}
}

func TestValidateAppliesTheProtocolLimits(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		rec  wbo.Record
		want error
	}{
		{"a 12-char GUID", wbo.Record{ID: "0-P9fabp9vJD"}, nil},
		{"64 printable chars", wbo.Record{ID: strings.Repeat("~", 64)}, nil},
		{"an empty id", wbo.Record{}, wbo.ErrInvalidID},
		{"65 chars", wbo.Record{ID: strings.Repeat("a", 65)}, wbo.ErrInvalidID},
		{"a newline", wbo.Record{ID: "a\n"}, wbo.ErrInvalidID},
		{"a tab", wbo.Record{ID: "a\tb"}, wbo.ErrInvalidID},
		{"non-ASCII", wbo.Record{ID: "é"}, wbo.ErrInvalidID},
		{"sortindex at the max", wbo.Record{ID: "a", SortIndex: wbo.Int(999_999_999)}, nil},
		{"sortindex past the max", wbo.Record{ID: "a", SortIndex: wbo.Int(1_000_000_000)}, wbo.ErrSortIndexRange},
		{"sortindex past the min", wbo.Record{ID: "a", SortIndex: wbo.Int(-1_000_000_000)}, wbo.ErrSortIndexRange},
		{"a negative ttl", wbo.Record{ID: "a", TTL: wbo.Int(-1)}, wbo.ErrTTLRange},
		{"ttl 0", wbo.Record{ID: "a", TTL: wbo.Int(0)}, nil},
		{"a huge ttl", wbo.Record{ID: "a", TTL: wbo.Int(1_000_000_000)}, wbo.ErrTTLRange},
		{"a payload at the default limit", wbo.Record{ID: "a", Payload: make([]byte, wbo.DefaultMaxPayloadBytes)}, nil},
		{"a payload over it", wbo.Record{ID: "a", Payload: make([]byte, wbo.DefaultMaxPayloadBytes+1)}, wbo.ErrPayloadTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.rec.Validate(wbo.Limits{}); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
	small := wbo.Record{ID: "a", Payload: make([]byte, 11)}
	if err := small.Validate(wbo.Limits{MaxPayloadBytes: 10}); !errors.Is(err, wbo.ErrPayloadTooLarge) {
		t.Errorf("configured limit ignored: %v", err)
	}
}

func TestTombstones(t *testing.T) {
	t.Parallel()
	ts := wbo.Tombstone(`we"ird`)
	if string(ts.Payload) != `{"id":"we\"ird","deleted":true}` || !wbo.IsTombstone(ts.Payload) {
		t.Errorf("%s", ts.Payload)
	}
	for in, want := range map[string]bool{`{"deleted":true}`: true, `{"deleted":false}`: false, `{"id":"x"}`: false, `nope`: false} {
		if wbo.IsTombstone([]byte(in)) != want {
			t.Errorf("IsTombstone(%s) != %v", in, want)
		}
	}
}

func TestNewGUIDIsTwelveURLSafeChars(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		g := wbo.NewGUID(nil)
		if len(g) != 12 || strings.ContainsAny(g, "+/=") || seen[g] {
			t.Fatalf("bad or repeated GUID %q", g)
		}
		seen[g] = true
	}
}

func TestNewGUIDsNeverStartWithADash(t *testing.T) {
	for range 20000 {
		if id := wbo.NewGUID(nil); len(id) != 12 || id[0] == '-' {
			t.Fatalf("GUID %q", id)
		}
	}
}
