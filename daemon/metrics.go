package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// passResult is what one target's pass did, for the metrics and health endpoints.
type passResult struct {
	duration    time.Duration
	err         error
	pending     int // changes the pass's plan found before applying (topics and configs)
	certPending int // certificate changes waiting for `certs generate`
	applied     int
	inSync      bool // the cluster matched the spec at the end of the pass
	interrupted bool // shutdown cut the pass short (issue 12)
}

// metrics are the daemon's Prometheus metrics and health state; libraries return values and never
// count themselves. In a fleet (watch --cluster a,b) every per-target series has a cluster label;
// with one target the series are as they always were.
type metrics struct {
	reg         *prometheus.Registry
	passes      *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	pending     *prometheus.GaugeVec
	certPending *prometheus.GaugeVec
	applied     *prometheus.CounterVec
	inSync      *prometheus.GaugeVec
	lastSuccess *prometheus.GaugeVec

	// pages, when set, are served on "/" and /clusters/<name> (the status page, issue 13).
	pages map[string]http.Handler
	first string // the target "/" shows

	mu      sync.Mutex
	passed  bool              // at least one pass finished
	lastErr map[string]string // per target: "" when its last pass succeeded
	order   []string          // targets in the order given, for /readyz
}

// targetLabels are the label names of per-target series: cluster in a fleet, none otherwise.
func targetLabels(fleet bool, names ...string) []string {
	if fleet {
		return append(names, "cluster")
	}
	return names
}

func newMetrics(fleet bool) *metrics {
	tl := func(names ...string) []string { return targetLabels(fleet, names...) }
	m := &metrics{
		reg: prometheus.NewRegistry(),
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "avatar_sync_reconcile_passes_total", Help: "Reconcile passes by result (ok, error, interrupted).",
		}, tl("result")),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "avatar_sync_reconcile_duration_seconds", Help: "Duration of one reconcile pass (load, plan, apply).",
			Buckets: prometheus.ExponentialBuckets(0.01, 3, 10),
		}, tl()),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "avatar_sync_pending_changes", Help: "Changes the last pass's plan found before applying.",
		}, tl()),
		certPending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "avatar_sync_certificate_changes_pending", Help: "Certificates missing, expiring or mismatched (run certs generate).",
		}, tl()),
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "avatar_sync_applied_changes_total", Help: "Changes applied to the cluster by watch.",
		}, tl()),
		inSync: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "avatar_sync_in_sync", Help: "1 when the cluster matched the spec at the end of the last pass.",
		}, tl()),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "avatar_sync_last_success_timestamp_seconds", Help: "Unix time of the last successful pass.",
		}, tl()),
		lastErr: map[string]string{},
	}
	m.reg.MustRegister(m.passes, m.duration, m.pending, m.certPending, m.applied, m.inSync, m.lastSuccess,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// addTarget creates a target's series before its first pass, so they are scraped from the start.
func (m *metrics) addTarget(labels []string) {
	for _, result := range []string{"ok", "error", "interrupted"} {
		m.passes.WithLabelValues(append([]string{result}, labels...)...)
	}
	if len(labels) == 0 {
		// The unlabelled gauges and counters of one target exist from the start, as they always did.
		m.duration.WithLabelValues()
		m.pending.WithLabelValues()
		m.certPending.WithLabelValues()
		m.applied.WithLabelValues()
		m.inSync.WithLabelValues()
		m.lastSuccess.WithLabelValues()
	}
}

// observe records one target's finished pass.
func (m *metrics) observe(labels []string, name string, r passResult, now time.Time) {
	m.duration.WithLabelValues(labels...).Observe(r.duration.Seconds())
	m.pending.WithLabelValues(labels...).Set(float64(r.pending))
	m.certPending.WithLabelValues(labels...).Set(float64(r.certPending))
	m.applied.WithLabelValues(labels...).Add(float64(r.applied))
	result := "ok"
	switch {
	case r.interrupted:
		result = "interrupted" // shutdown, not a failure (issue 12)
	case r.err != nil:
		result = "error"
	}
	m.passes.WithLabelValues(append([]string{result}, labels...)...).Inc()
	if r.inSync && r.err == nil {
		m.inSync.WithLabelValues(labels...).Set(1)
	} else {
		m.inSync.WithLabelValues(labels...).Set(0)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.passed = true
	m.lastErr[name] = ""
	if r.err != nil {
		m.lastErr[name] = r.err.Error()
	} else {
		m.lastSuccess.WithLabelValues(labels...).Set(float64(now.Unix()))
	}
}

// readiness is /readyz's verdict: "" when every target's last pass succeeded.
func (m *metrics) readiness() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.passed {
		return "no reconcile pass has finished yet"
	}
	var failed []string
	for _, name := range m.order {
		if e := m.lastErr[name]; e != "" {
			if len(m.order) == 1 {
				return "last pass failed: " + e
			}
			failed = append(failed, fmt.Sprintf("cluster %s: last pass failed: %s", name, e))
		}
	}
	return strings.Join(failed, "\n")
}

// handler serves /metrics, /healthz (the process runs) and /readyz (the last pass of every target
// succeeded: 503 with the errors otherwise, and before the first pass).
func (m *metrics) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	if len(m.pages) > 0 {
		mux.Handle("/{$}", m.pages[m.first])
		if len(m.pages) > 1 {
			mux.HandleFunc("/clusters/{name}", func(w http.ResponseWriter, r *http.Request) {
				page, ok := m.pages[r.PathValue("name")]
				if !ok {
					http.Error(w, fmt.Sprintf("no cluster target %q: this daemon follows %s", r.PathValue("name"), strings.Join(m.order, ", ")), http.StatusNotFound)
					return
				}
				root := r.Clone(r.Context()) // the page renders at its own root
				root.URL.Path = "/"
				page.ServeHTTP(w, root)
			})
		}
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if msg := m.readiness(); msg != "" {
			http.Error(w, msg, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// serve listens on addr and serves the handler until ctx ends; it returns the bound address so
// ":0" works (tests) and the log can say where to scrape.
func (m *metrics) serve(ctx context.Context, addr string, log *slog.Logger) (net.Addr, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr %s: %w", addr, err)
	}
	srv := &http.Server{Handler: m.handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	return ln.Addr(), nil
}
