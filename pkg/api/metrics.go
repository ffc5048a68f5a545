package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	watchers     prometheus.Gauge
	watchDropped prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "canvasd", Subsystem: "api", Name: "requests_total",
			Help: "API requests by route, method and status code (HTTP and NATS micro).",
		}, []string{"transport", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "canvasd", Subsystem: "api", Name: "request_duration_seconds",
			Help:    "API request latency by route (watch streams excluded).",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}, []string{"transport", "route"}),
		watchers: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "canvasd", Subsystem: "api", Name: "watchers",
			Help: "Open watch streams.",
		}),
		watchDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "canvasd", Subsystem: "api", Name: "watchers_dropped_total",
			Help: "Watch streams cut off because the client read too slowly.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.watchers, m.watchDropped} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) observe(transport, route string, code int, start time.Time) {
	m.requests.WithLabelValues(transport, route, strconv.Itoa(code)).Inc()
	m.duration.WithLabelValues(transport, route).Observe(time.Since(start).Seconds())
}

// instrument counts requests of route by status code.
func (m *metrics) instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		m.observe("http", route, sw.code, start)
	})
}

type statusWriter struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
