package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// passResult is what one watch pass did, for the metrics and health endpoints.
type passResult struct {
	duration    time.Duration
	err         error
	pending     int // changes the pass's plan found before applying (topics and configs)
	certPending int // certificate changes waiting for `certs generate`
	applied     int
	inSync      bool // the cluster matched the spec at the end of the pass
}

// watchMetrics are the daemon's Prometheus metrics and health state. They live in cmd because
// only the daemon has them; libraries return values and never count themselves.
type watchMetrics struct {
	reg         *prometheus.Registry
	passes      *prometheus.CounterVec
	duration    prometheus.Histogram
	pending     prometheus.Gauge
	certPending prometheus.Gauge
	applied     prometheus.Counter
	inSync      prometheus.Gauge
	lastSuccess prometheus.Gauge

	// page, when set, is served on "/" (the status page, issue 13).
	page http.Handler

	mu      sync.Mutex
	passed  bool   // at least one pass finished
	lastErr string // "" when the last pass succeeded
}

func newWatchMetrics() *watchMetrics {
	m := &watchMetrics{
		reg: prometheus.NewRegistry(),
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "avatar_sync_reconcile_passes_total", Help: "Reconcile passes by result (ok, error).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "avatar_sync_reconcile_duration_seconds", Help: "Duration of one reconcile pass (load, plan, apply).",
			Buckets: prometheus.ExponentialBuckets(0.01, 3, 10),
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "avatar_sync_pending_changes", Help: "Changes the last pass's plan found before applying.",
		}),
		certPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "avatar_sync_certificate_changes_pending", Help: "Certificates missing, expiring or mismatched (run certs generate).",
		}),
		applied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "avatar_sync_applied_changes_total", Help: "Changes applied to the cluster by watch.",
		}),
		inSync: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "avatar_sync_in_sync", Help: "1 when the cluster matched the spec at the end of the last pass.",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "avatar_sync_last_success_timestamp_seconds", Help: "Unix time of the last successful pass.",
		}),
	}
	m.passes.WithLabelValues("ok")
	m.passes.WithLabelValues("error")
	m.reg.MustRegister(m.passes, m.duration, m.pending, m.certPending, m.applied, m.inSync, m.lastSuccess,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe records one finished pass.
func (m *watchMetrics) observe(r passResult, now time.Time) {
	m.duration.Observe(r.duration.Seconds())
	m.pending.Set(float64(r.pending))
	m.certPending.Set(float64(r.certPending))
	m.applied.Add(float64(r.applied))
	result := "ok"
	if r.err != nil {
		result = "error"
	}
	m.passes.WithLabelValues(result).Inc()
	if r.inSync && r.err == nil {
		m.inSync.Set(1)
	} else {
		m.inSync.Set(0)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.passed = true
	m.lastErr = ""
	if r.err != nil {
		m.lastErr = r.err.Error()
	} else {
		m.lastSuccess.Set(float64(now.Unix()))
	}
}

// handler serves /metrics, /healthz (the process runs) and /readyz (the last pass succeeded: 503
// with its error otherwise, and before the first pass).
func (m *watchMetrics) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	if m.page != nil {
		mux.Handle("/{$}", m.page)
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		m.mu.Lock()
		passed, lastErr := m.passed, m.lastErr
		m.mu.Unlock()
		switch {
		case !passed:
			http.Error(w, "no reconcile pass has finished yet", http.StatusServiceUnavailable)
		case lastErr != "":
			http.Error(w, "last pass failed: "+lastErr, http.StatusServiceUnavailable)
		default:
			fmt.Fprintln(w, "ok")
		}
	})
	return mux
}

// serve listens on addr and serves the handler until ctx ends; it returns the bound address so
// ":0" works (tests) and the log can say where to scrape.
func (m *watchMetrics) serve(ctx context.Context, addr string, log *slog.Logger) (net.Addr, error) {
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
