package conformance

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/syncctl/syncctl/wbo"
)

var twoDecimals = regexp.MustCompile(`^[0-9]+\.[0-9]{2}$`)

// put writes one item and returns its timestamp.
func put(t *T, coll, id, body string) wbo.Timestamp {
	defer t.Given()()
	r := t.Do("PUT", "/storage/"+coll+"/"+id, body).Expect(200)
	return r.TS("X-Last-Modified")
}

// postResult is the answer to a POST.
type postResult struct {
	Modified float64        `json:"modified"`
	Batch    string         `json:"batch"`
	Success  []string       `json:"success"`
	Failed   map[string]any `json:"failed"`
	Raw      map[string]any `json:"-"`
}

func post(t *T, path, body string, headers ...string) (*Resp, postResult) {
	r := t.Do("POST", path, body, headers...)
	var res postResult
	if r.Status == 200 || r.Status == 202 {
		r.JSON(&res)
	}
	return r, res
}

// postOK posts and requires a 200.
func postOK(t *T, coll, body string) postResult {
	defer t.Given()()
	r, res := post(t, "/storage/"+coll, body)
	r.Expect(200)
	return res
}

// fill writes ids one POST each, so that each gets its own timestamp.
func fill(t *T, coll string, ids ...string) []wbo.Timestamp {
	defer t.Given()()
	var ts []wbo.Timestamp
	for i, id := range ids {
		r, _ := post(t, "/storage/"+coll, fmt.Sprintf(`[{"id":%q,"payload":"p%d","sortindex":%d}]`, id, i, 100-i))
		ts = append(ts, r.Expect(200).TS("X-Last-Modified"))
	}
	return ts
}

// begin opens a batch holding body's records and returns its id, escaped for a query.
func begin(t *T, coll, body string, headers ...string) string {
	defer t.Given()()
	r, res := post(t, "/storage/"+coll+"?batch=true", body, headers...)
	r.Expect(202)
	t.Check(res.Batch != "", "POST ?batch=true: no batch id in %s", quoteBody(r.Body))
	return url.QueryEscape(res.Batch)
}

// written makes sure coll exists, holding one record, so that a case probing the
// collection's parameters meets a server that has data to look at: some servers answer
// 200 [] for a collection that was never written before they validate anything.
func written(t *T, name string) string {
	c := t.Coll(name)
	fill(t, c, "present")
	return c
}

// config reads info/configuration.
func config(t *T) map[string]int64 {
	defer t.Given()()
	var cfg map[string]int64
	t.Do("GET", "/info/configuration", "").Expect(200).JSON(&cfg)
	for _, k := range []string{"max_post_records", "max_post_bytes", "max_record_payload_bytes", "max_request_bytes", "max_total_bytes", "max_total_records"} {
		t.Check(cfg[k] > 0, "info/configuration: %s is %d", k, cfg[k])
	}
	return cfg
}

// payloadOf is a payload of n bytes.
func payloadOf(n int) string { return strings.Repeat("x", n) }

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func list(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
