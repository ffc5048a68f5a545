package gateway

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "canvas", Subsystem: "gateway", Name: "requests_total",
			Help: "Requests through the gateway by app, exposed API and status code (app and api are empty when no route matched).",
		}, []string{"app", "api", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "canvas", Subsystem: "gateway", Name: "request_duration_seconds",
			Help:    "Time from request to the end of the response, by app and exposed API.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9),
		}, []string{"app", "api"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "canvas", Subsystem: "gateway", Name: "requests_in_flight",
			Help: "Requests the gateway is serving now.",
		}),
	}
	if reg == nil {
		return m
	}
	m.requests = register(reg, m.requests)
	m.duration = register(reg, m.duration)
	m.inFlight = register(reg, m.inFlight)
	return m
}

// register adds c to reg; when a gateway was already registered there
// (a restart inside one process), the existing collector is reused so the
// counters keep counting.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var already prometheus.AlreadyRegisteredError
	if errors.As(err, &already) {
		if existing, ok := already.ExistingCollector.(C); ok {
			return existing
		}
	}
	// The metric names and labels are constants of this package, so a
	// clash is a wiring bug in the program, not a runtime condition.
	panic(fmt.Sprintf("gateway: register metrics: %v", err))
}
