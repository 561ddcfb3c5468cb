package transfer

import (
	"encoding/json"
	"reflect"
	"testing"
)

var lineCases = []string{
	`{"collection":"history","id":"abc","modified":1326254123.65,"sortindex":7,"payload":{"id":"abc","histUri":"http://a/"}}`,
	`{"collection":"bookmarks","id":"x","modified":"1326254123.65","payload":"not json"}`,
	`{"collection":"forms","id":"f","modified":1,"payload":{},"extra":[1,{"a":null}]}`,
	` {"payload" : [1,2] , "id":"i", "collection":"c"} `,
	`{"collection":"c","id":"i","Collection":"d"}`,
	`{"collection":"c","id":"i","collection":"d"}`,
	`{"collection":"c","id":"i","sortindex":null}`,
	`{"collection":"c","id":"i","sortindex":1.5}`,
	`{"collection":"c","id":"i","sortindex":"7"}`,
	`{"collection":"c","id":"i","sortindex":99999999999999999999}`,
	`{"collection":"c","id":"i","modified":null}`,
	`{"collection":"c","id":"i","modified":-1}`,
	`{"collection":"c","id":"i","modified":true}`,
	`{"collection":"c","id":"i","payload":null}`,
	`{"collection":"c","id":7}`,
	`{"collection":"c","id":"\u00e9\ud83d\ude00\ud800x"}`,
	"{\"collection\":\"c\",\"id\":\"bad \xff utf8\"}",
	`{"colle\u0063tion":"c","id":"i"}`,
	`{"ID":"i","collection":"c"}`,
	`{"ſortindex":1,"collection":"c","id":"i"}`,
	`{"collection":"c","id":"i"} trailing`,
	`{"collection":"c","id":"i",}`,
	`{"collection":"c"`,
	`[1]`,
	`null`,
	``,
}

// decodeLine gives what json.Unmarshal gives: the same Line and the same error.
func agreeLine(t *testing.T, data []byte) {
	t.Helper()
	var fast, slow Line
	errF := decodeLine(data, &fast)
	errS := json.Unmarshal(data, &slow)
	if (errF == nil) != (errS == nil) || errF != nil && errF.Error() != errS.Error() {
		t.Fatalf("%q: error %v, encoding/json %v", data, errF, errS)
	}
	if errS == nil && !reflect.DeepEqual(fast, slow) {
		t.Fatalf("%q:\n got %+v\nwant %+v", data, fast, slow)
	}
}

func TestDecodeLineAgreesWithEncodingJSON(t *testing.T) {
	for _, c := range lineCases {
		agreeLine(t, []byte(c))
	}
	// A line as export writes it takes the fast path.
	var l Line
	if err := decodeLineFast([]byte(lineCases[0]), &l); err != nil || l.SortIndex == nil || *l.SortIndex != 7 {
		t.Fatalf("an export's line: %+v, %v", l, err)
	}
}

func FuzzDecodeLine(f *testing.F) {
	for _, c := range lineCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) { agreeLine(t, data) })
}

// BenchmarkDecodeLine is a history line as export writes it, by decodeLine and by
// encoding/json, in the same run.
func BenchmarkDecodeLine(b *testing.B) {
	line := []byte(`{"collection":"history","id":"h00000012345","modified":1700000000.12,"payload":{"id":"h00000012345","histUri":"https://example.com/page/12345","title":"Page 12345","visits":[{"date":1700000000012345,"type":1}]}}`)
	for _, c := range []struct {
		name   string
		decode func([]byte, *Line) error
	}{{"ours", decodeLine}, {"encoding-json", func(d []byte, l *Line) error { return json.Unmarshal(d, l) }}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var l Line
				if err := c.decode(line, &l); err != nil || l.ID == "" {
					b.Fatal(err)
				}
				_ = l.Record()
			}
		})
	}
}
