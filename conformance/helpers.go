package conformance

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/syncctl/syncctl/wbo"
)

var twoDecimals = regexp.MustCompile(`^[0-9]+\.[0-9]{2}$`)

// put writes one item and returns its timestamp.
func put(t *T, coll, id, body string) wbo.Timestamp {
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
	r, res := post(t, "/storage/"+coll, body)
	r.Expect(200)
	return res
}

// fill writes ids one POST each, so that each gets its own timestamp.
func fill(t *T, coll string, ids ...string) []wbo.Timestamp {
	var ts []wbo.Timestamp
	for i, id := range ids {
		r, _ := post(t, "/storage/"+coll, fmt.Sprintf(`[{"id":%q,"payload":"p%d","sortindex":%d}]`, id, i, 100-i))
		ts = append(ts, r.Expect(200).TS("X-Last-Modified"))
	}
	return ts
}

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
