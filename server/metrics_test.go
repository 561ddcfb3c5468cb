package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rs/zerolog"

	"github.com/syncctl/syncctl/server"
)

// lockedBuffer is a log sink the server's goroutines may write at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimSpace(l.b.String()), "\n")
}

func scrape(t *testing.T, srv *server.Server) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: %d", rec.Code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("the metrics do not parse as Prometheus text: %v", err)
	}
	return families
}

// value is the sum of a family's counters, gauges or histogram counts whose labels
// include want.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	var sum float64
	f, ok := fams[name]
	if !ok {
		return -1
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

// A known load, scraped and parsed by Prometheus's own parser: every counter says what
// happened, and no label names a user, a token or a collection.
func TestMetricsCountAKnownLoad(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	log := zerolog.New(logs)
	srv, ts := startServer(t, server.Options{Logger: &log})
	c := login(t, ts.URL, "alice-secret")
	req, _ := http.NewRequest("GET", ts.URL+"/1.0/sync/1.5", nil)
	req.Header.Set("Authorization", "Bearer nobody's-secret")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	items := func(from, n int) string {
		var s []string
		for i := from; i < from+n; i++ {
			s = append(s, fmt.Sprintf(`{"id":"r%d","payload":"p%d"}`, i, i))
		}
		return "[" + strings.Join(s, ",") + "]"
	}
	for i := range 3 {
		c.mustStatus(c.do("POST", "/storage/secretengine", items(i*10, 10)), 200)
	}
	var b struct{ Batch string }
	c.mustStatus(c.do("POST", "/storage/secretengine?batch=true", items(30, 5)), 202).json(t, &b)
	c.mustStatus(c.do("POST", "/storage/secretengine?commit=true&batch="+b.Batch, items(35, 5)), 200)
	c.mustStatus(c.do("GET", "/storage/secretengine?full=1", ""), 200)
	c.mustStatus(c.do("GET", "/storage/secretengine/r1", ""), 200)
	c.mustStatus(c.do("GET", "/info/collections", ""), 200)

	m := scrape(t, srv)
	for _, check := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"syncctl_http_requests_total", map[string]string{"route": "collection", "method": "POST", "status": "200"}, 4},
		{"syncctl_http_requests_total", map[string]string{"route": "collection", "method": "POST", "status": "202"}, 1},
		{"syncctl_http_requests_total", map[string]string{"route": "collection", "method": "GET"}, 1},
		{"syncctl_http_requests_total", map[string]string{"route": "record", "method": "GET", "status": "200"}, 1},
		{"syncctl_http_requests_total", map[string]string{"route": "info_collections"}, 1},
		{"syncctl_http_request_duration_seconds", map[string]string{"route": "collection"}, 6},
		{"syncctl_records_written_total", nil, 40},
		{"syncctl_records_read_total", nil, 41},
		{"syncctl_batch_commits_total", nil, 1},
		{"syncctl_token_requests_total", map[string]string{"outcome": "issued"}, 1},
		{"syncctl_token_requests_total", map[string]string{"outcome": "invalid"}, 1},
		{"syncctl_http_requests_in_flight", nil, 0},
		{"syncctl_info", map[string]string{"version": server.Version}, 1},
	} {
		if got := value(m, check.name, check.labels); got != check.want {
			t.Errorf("%s%v = %v, want %v", check.name, check.labels, got, check.want)
		}
	}
	for name, atLeast := range map[string]float64{"syncctl_hawk_nonces": 8, "syncctl_database_bytes": 4096,
		"syncctl_database_write_busy_seconds_total": 1e-9} {
		if got := value(m, name, nil); got < atLeast {
			t.Errorf("%s = %v, want at least %v", name, got, atLeast)
		}
	}
	if got := value(m, "syncctl_http_request_bytes_total", map[string]string{"route": "collection"}); got < 500 {
		t.Errorf("request bytes of the collection route: %v", got)
	}
	uid := "/" + strconv.FormatInt(c.uid, 10) + "/"
	for name, f := range m {
		for _, metric := range f.Metric {
			for _, l := range metric.Label {
				if v := l.GetValue(); strings.Contains(v, "alice") || strings.Contains(v, "secretengine") || strings.Contains(v, uid) || strings.Contains(v, c.id) {
					t.Errorf("%s has a label %s=%q that names a user, a collection or a token", name, l.GetName(), v)
				}
			}
		}
	}

	// The access log: one line per request, with the route's template and a keyed hash
	// of the user, never the path, the query, the account or the token.
	lines := logs.lines()
	var requests, withUser int
	for _, line := range lines {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("a log line that is not JSON: %q", line)
		}
		if e["message"] != "request" {
			continue
		}
		requests++
		if e["level"] != "info" || e["route"] == nil || e["status"] == nil || e["took"] == nil || e["bytes_out"] == nil {
			t.Errorf("an access log line without what it must say: %s", line)
		}
		if e["user"] != nil {
			withUser++
		}
		for _, secret := range []string{"alice", "secretengine", uid, c.id, c.key, "batch=", "full=1"} {
			if strings.Contains(line, secret) {
				t.Errorf("the access log shows %q: %s", secret, line)
			}
		}
	}
	if requests != 10 || withUser != 8 {
		t.Errorf("%d access log lines (%d with a user), want 10 (8)", requests, withUser)
	}
}
