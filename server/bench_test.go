package server_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/syncctl/syncctl/hawk"
	"github.com/syncctl/syncctl/server"
)

// A payload the size of an encrypted bookmark.
var benchPayload = strings.Repeat("A", 600)

func signed(c *client, method, path, body string) *http.Request {
	req, _ := http.NewRequest(method, c.endpoint+path, strings.NewReader(body))
	a := hawk.Target(method, req.URL)
	a.TS = time.Now().Unix()
	a.Nonce = fmt.Sprintf("b%d-%d", nonceSeq.Add(1), time.Now().UnixNano())
	req.Header.Set("Authorization", hawk.Header(c.id, []byte(c.key), &a))
	req.Header.Set("Content-Type", "application/json")
	return req
}

// BenchmarkPost100 posts batches of 100 records of 600 bytes over HTTP.
func BenchmarkPost100(b *testing.B) {
	_, ts := startServer(b, server.Options{})
	c := login(b, ts.URL, "alice-secret")
	var recs []string
	for i := range 100 {
		recs = append(recs, fmt.Sprintf(`{"id":"r%03d","payload":"%s"}`, i, benchPayload))
	}
	body := "[" + strings.Join(recs, ",") + "]"
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		resp, err := http.DefaultClient.Do(signed(c, "POST", fmt.Sprintf("/storage/bench%d", i%50), body))
		if err != nil || resp.StatusCode != 200 {
			b.Fatal(err, resp.StatusCode)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkGet10000 reads a 10,000-record collection in full, streamed.
func BenchmarkGet10000(b *testing.B) {
	_, ts := startServer(b, server.Options{})
	c := login(b, ts.URL, "alice-secret")
	for batch := range 100 {
		var recs []string
		for i := range 100 {
			recs = append(recs, fmt.Sprintf(`{"id":"r%05d","payload":"%s"}`, batch*100+i, benchPayload))
		}
		c.mustStatus(c.do("POST", "/storage/big", "["+strings.Join(recs, ",")+"]"), 200)
	}
	var n int64
	b.ReportAllocs()
	for b.Loop() {
		resp, err := http.DefaultClient.Do(signed(c, "GET", "/storage/big?full=1&"+url.Values{"sort": {"oldest"}}.Encode(), ""))
		if err != nil || resp.StatusCode != 200 || resp.Header.Get("X-Weave-Records") != "10000" {
			b.Fatal(err)
		}
		n, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.SetBytes(n)
	b.ReportMetric(float64(b.N*10000)/b.Elapsed().Seconds(), "records/s")
}
