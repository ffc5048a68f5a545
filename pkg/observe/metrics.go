package observe

import (
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// Limits bound what one component can make the canvas hold. A call past a
// series limit records nothing, returns TooManySeries and counts one in
// wasmcanvas_observe_dropped_series_total.
type Limits struct {
	SeriesPerMetric     int // label combinations of one metric (default 1,000)
	SeriesPerComponent  int // label combinations of all its metrics (default 10,000)
	MetricsPerComponent int // metric names (default 200)
}

func (l Limits) withDefaults() Limits {
	if l.SeriesPerMetric <= 0 {
		l.SeriesPerMetric = 1000
	}
	if l.SeriesPerComponent <= 0 {
		l.SeriesPerComponent = 10000
	}
	if l.MetricsPerComponent <= 0 {
		l.MetricsPerComponent = 200
	}
	return l
}

const (
	maxNameLen       = 200
	maxLabels        = 16
	maxLabelValueLen = 1024
	// reservedPrefix names the canvas's own series in a component's registry.
	reservedPrefix = "wasmcanvas_"
	// tooManyMetrics is the dropped-series metric label for a new metric
	// name refused by MetricsPerComponent (the names themselves are unbounded).
	tooManyMetrics = "(too many metrics)"
)

type kind int

const (
	counterKind kind = iota
	gaugeKind
	histogramKind
)

func (k kind) String() string { return [...]string{"counter", "gauge", "histogram"}[k] }

// Metrics is one component's Prometheus registry: what it recorded through
// wasmcanvas:observe, the gateway's request series for it and the dropped
// series counter. Handler serves it at the component's metrics API.
type Metrics struct {
	component string // namespace/name, the dropped counter's label
	limits    Limits
	created   time.Time // the start of its cumulative series
	reg       *prometheus.Registry
	handler   http.Handler

	dropped       *prometheus.CounterVec
	requests      *prometheus.CounterVec
	requestErrors *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	inFlight      prometheus.Gauge
	instantiation prometheus.Histogram

	mu      sync.Mutex
	metrics map[string]*metric
	series  int // over all metrics
}

type metric struct {
	kind   kind
	labels []string // sorted
	vec    *prometheus.MetricVec
	series map[string]prometheus.Metric // by label values joined by seriesSep
}

// NewMetrics makes the registry of the Component key.
func NewMetrics(key oda.Key, limits Limits) *Metrics {
	m := &Metrics{
		component: key.Display(),
		limits:    limits.withDefaults(),
		created:   time.Now(),
		reg:       prometheus.NewRegistry(),
		metrics:   map[string]*metric{},
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wasmcanvas_observe_dropped_series_total",
			Help: "Observations refused because a metric or the component reached its series limit.",
		}, []string{"component", "metric"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wasmcanvas_requests_total",
			Help: "Requests the gateway routed to this component, by API and HTTP status.",
		}, []string{"api", "code"}),
		requestErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wasmcanvas_request_errors_total",
			Help: "Requests answered with a 5xx status, by API and HTTP status.",
		}, []string{"api", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wasmcanvas_request_duration_seconds",
			Help:    "Time from the gateway receiving a request to the component's response, by API.",
			Buckets: prometheus.DefBuckets,
		}, []string{"api"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wasmcanvas_instances_in_flight",
			Help: "Component instances serving a request now.",
		}),
		instantiation: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "wasmcanvas_instantiation_seconds",
			Help:    "Time to instantiate the component for a request.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}),
	}
	m.reg.MustRegister(m.dropped, m.requests, m.requestErrors, m.duration, m.inFlight, m.instantiation)
	// ContinueOnError: one bad collector must not hide the rest of a scrape.
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return m
}

// Handler serves the series in Prometheus text format: the component's
// managementFunction metrics API.
func (m *Metrics) Handler() http.Handler { return m.handler }

// Gatherer is the registry, for exporting it elsewhere (OTLP).
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// ObserveRequest records one request the gateway routed to api.
func (m *Metrics) ObserveRequest(api string, status int, d time.Duration) {
	code := strconv.Itoa(status)
	m.requests.WithLabelValues(api, code).Inc()
	if status >= 500 {
		m.requestErrors.WithLabelValues(api, code).Inc()
	}
	m.duration.WithLabelValues(api).Observe(d.Seconds())
}

// AddInFlight moves the in-flight instance gauge (+1 when an instance
// starts serving, -1 when it ends).
func (m *Metrics) AddInFlight(delta float64) { m.inFlight.Add(delta) }

// ObserveInstantiation records how long instantiating the component took.
func (m *Metrics) ObserveInstantiation(d time.Duration) { m.instantiation.Observe(d.Seconds()) }

// CounterAdd, GaugeSet, GaugeAdd and HistogramRecord are the WIT metrics
// functions for this component.
func (m *Metrics) CounterAdd(name string, delta uint64, labels []KeyValue) error {
	return m.record(counterKind, name, labels, func(o prometheus.Metric) { o.(prometheus.Counter).Add(float64(delta)) })
}

func (m *Metrics) GaugeSet(name string, value float64, labels []KeyValue) error {
	if err := finite(value); err != nil {
		return err
	}
	return m.record(gaugeKind, name, labels, func(o prometheus.Metric) { o.(prometheus.Gauge).Set(value) })
}

func (m *Metrics) GaugeAdd(name string, delta float64, labels []KeyValue) error {
	if err := finite(delta); err != nil {
		return err
	}
	return m.record(gaugeKind, name, labels, func(o prometheus.Metric) { o.(prometheus.Gauge).Add(delta) })
}

func (m *Metrics) HistogramRecord(name string, value float64, labels []KeyValue) error {
	if err := finite(value); err != nil {
		return err
	}
	return m.record(histogramKind, name, labels, func(o prometheus.Metric) { o.(prometheus.Histogram).Observe(value) })
}

func finite(v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return errorf(InvalidArgument, "value %v is not a finite number", v)
	}
	return nil
}

func (m *Metrics) record(k kind, name string, labels []KeyValue, observe func(prometheus.Metric)) error {
	// Sorted in a copy on the stack (the common case: at most maxLabels
	// labels), and the series found by its values joined in a stack buffer:
	// recording into a series that exists allocates nothing.
	var sortBuf [maxLabels]KeyValue
	sorted := labels
	if !slices.IsSortedFunc(labels, compareKeys) {
		if len(labels) <= maxLabels {
			sorted = append(sortBuf[:0], labels...)
			slices.SortFunc(sorted, compareKeys)
		} else {
			sorted = slices.SortedFunc(slices.Values(labels), compareKeys)
		}
	}
	var keyBuf [256]byte
	key := keyBuf[:0]
	for i, l := range sorted {
		if len(l.Value) > maxLabelValueLen || !utf8.ValidString(l.Value) {
			return errorf(InvalidArgument, "metric %.80q: the value of label %.80q must be valid UTF-8 of at most %d bytes", name, l.Key, maxLabelValueLen)
		}
		if i > 0 {
			key = append(key, seriesSep)
		}
		key = append(key, l.Value...)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	mt, err := m.metricLocked(k, name, sorted)
	if err != nil {
		return err
	}
	if o, ok := mt.series[string(key)]; ok { // no allocation: the compiler looks up without converting
		observe(o)
		return nil
	}
	switch {
	case len(mt.series) >= m.limits.SeriesPerMetric:
		m.dropped.WithLabelValues(m.component, name).Inc()
		return errorf(TooManySeries, "metric %.80q has %d label combinations, the most one metric may have; this one was dropped (use fewer distinct label values)", name, m.limits.SeriesPerMetric)
	case m.series >= m.limits.SeriesPerComponent:
		m.dropped.WithLabelValues(m.component, name).Inc()
		return errorf(TooManySeries, "the component has %d series, the most it may have; this one of %.80q was dropped", m.limits.SeriesPerComponent, name)
	}
	values := make([]string, len(sorted))
	for i, l := range sorted {
		values[i] = l.Value
	}
	o, err := mt.vec.GetMetricWithLabelValues(values...)
	if err != nil { // the checks above make this unreachable; keep the error honest
		return errorf(InvalidArgument, "metric %.80q: %v", name, err)
	}
	mt.series[string(key)] = o
	m.series++
	observe(o)
	return nil
}

// seriesSep joins label values into a series key; it is not valid UTF-8,
// so no label value holds it.
const seriesSep = '\xff'

func compareKeys(a, b KeyValue) int { return strings.Compare(a.Key, b.Key) }

// metricLocked finds or makes metric name, checking it is of kind k with the
// label names of labels (sorted by key).
func (m *Metrics) metricLocked(k kind, name string, labels []KeyValue) (*metric, error) {
	if mt, ok := m.metrics[name]; ok {
		if mt.kind != k {
			return nil, errorf(InvalidArgument, "metric %.80q is a %s, not a %s", name, mt.kind, k)
		}
		if !sameKeys(mt.labels, labels) {
			return nil, errorf(InvalidArgument, "metric %.80q has the labels %v; every call must give exactly those", name, mt.labels)
		}
		return mt, nil
	}
	names := make([]string, len(labels))
	for i, l := range labels {
		names[i] = l.Key
	}
	if err := checkMetric(k, name, names); err != nil {
		return nil, err
	}
	if err := m.collidesLocked(k, name); err != nil {
		return nil, err
	}
	if len(m.metrics) >= m.limits.MetricsPerComponent {
		m.dropped.WithLabelValues(m.component, tooManyMetrics).Inc()
		return nil, errorf(TooManySeries, "the component has %d metrics, the most it may have; %.80q was not created", m.limits.MetricsPerComponent, name)
	}
	help := "Recorded by the component through wasmcanvas:observe."
	var c prometheus.Collector
	var vec *prometheus.MetricVec
	switch k {
	case counterKind:
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, names)
		c, vec = v, v.MetricVec
	case gaugeKind:
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, names)
		c, vec = v, v.MetricVec
	case histogramKind:
		v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: prometheus.DefBuckets}, names)
		c, vec = v, v.MetricVec
	}
	if err := m.reg.Register(c); err != nil {
		return nil, errorf(InvalidArgument, "metric %.80q: %v", name, err)
	}
	mt := &metric{kind: k, labels: names, vec: vec, series: map[string]prometheus.Metric{}}
	m.metrics[name] = mt
	return mt, nil
}

// collidesLocked refuses names whose exposition would clash with a
// histogram's _bucket, _sum and _count series, which would break the scrape.
func (m *Metrics) collidesLocked(k kind, name string) error {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if k == histogramKind {
			if _, ok := m.metrics[name+suffix]; ok {
				return errorf(InvalidName, "histogram %.80q would expose %s%s, which is already a metric", name, name, suffix)
			}
		}
		if stem, ok := strings.CutSuffix(name, suffix); ok {
			if h, ok := m.metrics[stem]; ok && h.kind == histogramKind {
				return errorf(InvalidName, "metric %.80q is a series of the histogram %.80q; choose another name", name, stem)
			}
		}
	}
	return nil
}

func sameKeys(names []string, labels []KeyValue) bool {
	return slices.EqualFunc(names, labels, func(n string, l KeyValue) bool { return n == l.Key })
}

// checkMetric is the one rule for the names a component may use: what every
// Prometheus accepts (no colons: those are for recording rules), minus the
// reserved __ and wasmcanvas_ prefixes and the labels a histogram owns.
func checkMetric(k kind, name string, labels []string) error {
	if !promName(name) {
		return errorf(InvalidName, "metric name %.80q: use letters, digits and _ (not starting with a digit), at most %d bytes", name, maxNameLen)
	}
	if strings.HasPrefix(name, "__") || strings.HasPrefix(name, reservedPrefix) {
		return errorf(InvalidName, "metric name %.80q: the prefixes __ and %s are reserved for the canvas", name, reservedPrefix)
	}
	if len(labels) > maxLabels {
		return errorf(InvalidArgument, "metric %.80q: %d labels, at most %d", name, len(labels), maxLabels)
	}
	for i, l := range labels {
		switch {
		case !promName(l):
			return errorf(InvalidName, "metric %.80q: label name %.80q: use letters, digits and _ (not starting with a digit)", name, l)
		case strings.HasPrefix(l, "__"):
			return errorf(InvalidName, "metric %.80q: label name %.80q: the prefix __ is reserved by Prometheus", name, l)
		case k == histogramKind && l == "le":
			return errorf(InvalidName, "histogram %.80q: the label name le is the histogram's own", name)
		case i > 0 && labels[i-1] == l:
			return errorf(InvalidName, "metric %.80q: label %.80q given twice", name, l)
		}
	}
	return nil
}

func promName(s string) bool {
	if s == "" || len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9'
		if !ok {
			return false
		}
	}
	return true
}
