package server

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's figures in Prometheus's model, on a registry of the server's
// own (several servers in one process, as in tests, do not share counters). Labels are
// routes, methods, statuses, conditions and node URLs: never a uid, a token or a record.
type metrics struct {
	reg *prometheus.Registry

	requests     *prometheus.CounterVec   // route, method, status
	latency      *prometheus.HistogramVec // route
	bytesIn      *prometheus.CounterVec   // route
	bytesOut     *prometheus.CounterVec   // route
	recordsIn    prometheus.Counter
	recordsOut   prometheus.Counter
	batchCommits prometheus.Counter
	writeWait    prometheus.Counter     // seconds writes waited for the write lock
	writeHeld    prometheus.Counter     // seconds write transactions held it
	transient    *prometheus.CounterVec // condition
	tokens       *prometheus.CounterVec // outcome
	nodeUsers    *prometheus.GaugeVec   // node
	inFlight     prometheus.Gauge
}

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "syncctl_http_requests_total",
		Help: "Requests answered, by route template, method and status."}, []string{"route", "method", "status"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "syncctl_http_request_duration_seconds",
		Help:    "Time from a request's arrival to the end of its answer, by route template.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"route"})
	m.bytesIn = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "syncctl_http_request_bytes_total",
		Help: "Request body bytes read, by route template."}, []string{"route"})
	m.bytesOut = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "syncctl_http_response_bytes_total",
		Help: "Response body bytes written, by route template."}, []string{"route"})
	m.recordsIn = prometheus.NewCounter(prometheus.CounterOpts{Name: "syncctl_records_written_total",
		Help: "Records stored (PUT, POST, and batch commits), counted when they are committed."})
	m.recordsOut = prometheus.NewCounter(prometheus.CounterOpts{Name: "syncctl_records_read_total",
		Help: "Records sent in answers to GETs."})
	m.batchCommits = prometheus.NewCounter(prometheus.CounterOpts{Name: "syncctl_batch_commits_total",
		Help: "Batches committed."})
	m.writeWait = prometheus.NewCounter(prometheus.CounterOpts{Name: "syncctl_database_write_wait_seconds_total",
		Help: "Time writes waited to begin (SQLite's one writer, or the user's row lock on PostgreSQL)."})
	m.writeHeld = prometheus.NewCounter(prometheus.CounterOpts{Name: "syncctl_database_write_busy_seconds_total",
		Help: "Time write transactions ran, from begin to commit or rollback."})
	m.transient = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "syncctl_database_unavailable_total",
		Help: "Requests answered 503 because the database could not serve them, by condition."}, []string{"condition"})
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "syncctl_token_requests_total",
		Help: "Token endpoint answers: issued, refused (keys or generation rules), invalid (unknown credentials), throttled (429), error."},
		[]string{"outcome"})
	m.nodeUsers = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "syncctl_node_users",
		Help: "Users the token endpoint has assigned to each storage node (with --node)."}, []string{"node", "retired"})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "syncctl_http_requests_in_flight",
		Help: "Requests being answered now."})
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.bytesIn, m.bytesOut, m.recordsIn, m.recordsOut,
		m.batchCommits, m.writeWait, m.writeHeld, m.transient, m.tokens, m.nodeUsers, m.inFlight} {
		f(c)
	}
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "syncctl_connections_open",
		Help: "Client connections open (when the server runs with Serve)."}, func() float64 {
		if g := s.guard.Load(); g != nil {
			return float64(g.stats().Open)
		}
		return 0
	}))
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "syncctl_hawk_nonces",
		Help: "Nonces in this node's Hawk replay cache."}, func() float64 { return float64(s.verifier.Stats().Size) }))
	f(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "syncctl_hawk_nonces_evicted_total",
		Help: "Nonces forgotten early, at the replay cache's bound."}, func() float64 { return float64(s.verifier.Stats().Evicted) }))
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "syncctl_database_bytes",
		Help: "Size of the database: the SQLite file and its WAL, or the PostgreSQL database."}, s.databaseBytes))
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "syncctl_info", Help: "Always 1; the labels say what runs.",
		ConstLabels: prometheus.Labels{"version": Version, "database": s.st.d.name}}, func() float64 { return 1 }))
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// MetricsHandler serves the server's metrics in the Prometheus text format. It is not
// on the storage port: Serve it on an address of its own (syncctl serve --metrics-listen).
func (s *Server) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.refreshNodeUsers()
		promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	})
}

// refreshNodeUsers reads the node table into its gauge at each scrape.
func (s *Server) refreshNodeUsers() {
	nodes, err := s.Nodes()
	if err != nil {
		return
	}
	s.metrics.nodeUsers.Reset()
	for _, n := range nodes {
		s.metrics.nodeUsers.WithLabelValues(n.URL, strconv.FormatBool(n.Retired)).Set(float64(n.Users))
	}
}

// databaseBytes is what the database takes: the files on SQLite, pg_database_size on
// PostgreSQL (asked with a short timeout, so a slow database never stalls a scrape).
func (s *Server) databaseBytes() float64 {
	if s.st.d == sqliteDialect {
		var total int64
		base := filepath.Join(s.opts.DataDir, "syncstorage.db")
		for _, p := range []string{base, base + "-wal"} {
			if fi, err := os.Stat(p); err == nil {
				total += fi.Size()
			}
		}
		return float64(total)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var n int64
	if err := s.st.r.QueryRowContext(ctx, `SELECT pg_database_size(current_database())`).Scan(&n); err != nil {
		return 0
	}
	return float64(n)
}

// observe counts one answered request.
func (m *metrics) observe(route, method string, status int, took time.Duration, in, out int64) {
	if route == "" {
		route = "other"
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(took.Seconds())
	m.bytesIn.WithLabelValues(route).Add(float64(in))
	m.bytesOut.WithLabelValues(route).Add(float64(out))
}
