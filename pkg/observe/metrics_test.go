package observe_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/wasmcanvas/wasmcanvas/internal/obstest"
	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
)

var catalog = observe.Source{Namespace: "components", Component: "productcatalog", API: "productcatalogmanagement"}

// scrape fetches h over HTTP on loopback, as Prometheus would, and parses
// the text exposition back.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return obstest.Scrape(t, http.DefaultClient, srv.URL)
}

// value is the sample of family name whose labels are exactly labels.
// value is testkit.Sample's value and whether there was one.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	v, _, ok := testkit.Sample(fams, name, labels...)
	return v, ok
}

func TestMetricsExposedPerComponent(t *testing.T) {
	t.Parallel()
	o := observe.New(observe.Options{})
	ctx := context.Background()
	other := observe.Source{Namespace: "components", Component: "billing"}
	labels := []observe.KeyValue{{Key: "channel", Value: "web"}, {Key: "category", Value: "mobile"}}
	for range 3 {
		if err := o.CounterAdd(ctx, catalog, "productcatalog_offerings_created_total", 2, labels); err != nil {
			t.Fatal(err)
		}
	}
	// Label order does not matter.
	if err := o.CounterAdd(ctx, catalog, "productcatalog_offerings_created_total", 1, []observe.KeyValue{labels[1], labels[0]}); err != nil {
		t.Fatal(err)
	}
	must(t, o.GaugeSet(ctx, catalog, "productcatalog_offerings", 10, nil))
	must(t, o.GaugeAdd(ctx, catalog, "productcatalog_offerings", -3, nil))
	must(t, o.HistogramRecord(ctx, catalog, "productcatalog_query_seconds", 0.02, nil))
	must(t, o.HistogramRecord(ctx, catalog, "productcatalog_query_seconds", 0.3, nil))
	must(t, o.CounterAdd(ctx, other, "billing_bills_total", 1, nil))

	m, err := o.Metrics(catalog)
	if err != nil {
		t.Fatal(err)
	}
	m.ObserveRequest("productcatalogmanagement", 201, 30*time.Millisecond)
	m.ObserveRequest("productcatalogmanagement", 201, 10*time.Millisecond)
	m.ObserveRequest("productcatalogmanagement", 503, time.Millisecond)
	m.AddInFlight(1)
	m.ObserveInstantiation(200 * time.Microsecond)

	fams := scrape(t, m.Handler())
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"productcatalog_offerings_created_total", []string{"category=mobile", "channel=web"}, 7},
		{"productcatalog_offerings", nil, 7},
		{"productcatalog_query_seconds", nil, 2},
		{"wasmcanvas_requests_total", []string{"api=productcatalogmanagement", "code=201"}, 2},
		{"wasmcanvas_requests_total", []string{"api=productcatalogmanagement", "code=503"}, 1},
		{"wasmcanvas_request_errors_total", []string{"api=productcatalogmanagement", "code=503"}, 1},
		{"wasmcanvas_request_duration_seconds", []string{"api=productcatalogmanagement"}, 3},
		{"wasmcanvas_instances_in_flight", nil, 1},
		{"wasmcanvas_instantiation_seconds", nil, 1},
	} {
		if got, ok := value(fams, c.name, c.labels...); !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if n := len(fams["wasmcanvas_request_errors_total"].GetMetric()); n != 1 {
		t.Errorf("%d error series, want one: only 5xx are errors", n)
	}
	if _, ok := fams["billing_bills_total"]; ok {
		t.Error("another component's series is in productcatalog's metrics")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestMetricsRefuseBadInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	kv := func(pairs ...string) []observe.KeyValue {
		var out []observe.KeyValue
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, observe.KeyValue{Key: pairs[i], Value: pairs[i+1]})
		}
		return out
	}
	manyLabels := make([]string, 0, 34)
	for i := range 17 {
		manyLabels = append(manyLabels, fmt.Sprintf("l%d", i), "v")
	}
	for _, c := range []struct {
		name   string
		call   func(o *observe.Observer) error
		kind   observe.ErrorKind
		reason string
	}{
		{"empty name", func(o *observe.Observer) error { return o.CounterAdd(ctx, catalog, "", 1, nil) }, observe.InvalidName, "letters, digits"},
		{"leading digit", func(o *observe.Observer) error { return o.CounterAdd(ctx, catalog, "1st_total", 1, nil) }, observe.InvalidName, "letters, digits"},
		{"dash", func(o *observe.Observer) error { return o.GaugeSet(ctx, catalog, "offerings-count", 1, nil) }, observe.InvalidName, "letters, digits"},
		{"dot", func(o *observe.Observer) error { return o.GaugeSet(ctx, catalog, "offerings.count", 1, nil) }, observe.InvalidName, "letters, digits"},
		{"colon", func(o *observe.Observer) error { return o.GaugeSet(ctx, catalog, "job:offerings:sum", 1, nil) }, observe.InvalidName, "letters, digits"},
		{"non-ASCII", func(o *observe.Observer) error { return o.GaugeSet(ctx, catalog, "café_total", 1, nil) }, observe.InvalidName, "letters, digits"},
		{"too long", func(o *observe.Observer) error { return o.GaugeSet(ctx, catalog, strings.Repeat("a", 201), 1, nil) }, observe.InvalidName, "at most 200"},
		{"reserved __", func(o *observe.Observer) error { return o.CounterAdd(ctx, catalog, "__name__", 1, nil) }, observe.InvalidName, "reserved"},
		{"canvas prefix", func(o *observe.Observer) error {
			return o.CounterAdd(ctx, catalog, "wasmcanvas_requests_total", 1, nil)
		}, observe.InvalidName, "reserved"},
		{"bad label name", func(o *observe.Observer) error {
			return o.CounterAdd(ctx, catalog, "a_total", 1, kv("http-method", "GET"))
		}, observe.InvalidName, "label name"},
		{"reserved label", func(o *observe.Observer) error { return o.CounterAdd(ctx, catalog, "a_total", 1, kv("__x", "1")) }, observe.InvalidName, "reserved"},
		{"le on a histogram", func(o *observe.Observer) error { return o.HistogramRecord(ctx, catalog, "h_seconds", 1, kv("le", "1")) }, observe.InvalidName, "le"},
		{"label twice", func(o *observe.Observer) error {
			return o.CounterAdd(ctx, catalog, "a_total", 1, kv("x", "1", "x", "2"))
		}, observe.InvalidName, "twice"},
		{"too many labels", func(o *observe.Observer) error { return o.CounterAdd(ctx, catalog, "a_total", 1, kv(manyLabels...)) }, observe.InvalidArgument, "at most 16"},
		{"label value not UTF-8", func(o *observe.Observer) error { return o.CounterAdd(ctx, catalog, "a_total", 1, kv("x", "\xff")) }, observe.InvalidArgument, "UTF-8"},
		{"NaN", func(o *observe.Observer) error { return o.HistogramRecord(ctx, catalog, "h_seconds", nan(), nil) }, observe.InvalidArgument, "finite"},
		{"no source", func(o *observe.Observer) error { return o.CounterAdd(ctx, observe.Source{}, "a_total", 1, nil) }, observe.NotLinked, "not a Component"},
		{"kind changes", func(o *observe.Observer) error {
			must(t, o.CounterAdd(ctx, catalog, "x_total", 1, nil))
			return o.GaugeSet(ctx, catalog, "x_total", 1, nil)
		}, observe.InvalidArgument, "is a counter, not a gauge"},
		{"labels change", func(o *observe.Observer) error {
			must(t, o.CounterAdd(ctx, catalog, "x_total", 1, kv("a", "1")))
			return o.CounterAdd(ctx, catalog, "x_total", 1, kv("b", "1"))
		}, observe.InvalidArgument, "[a]"},
		{"histogram series name", func(o *observe.Observer) error {
			must(t, o.HistogramRecord(ctx, catalog, "latency_seconds", 1, nil))
			return o.CounterAdd(ctx, catalog, "latency_seconds_count", 1, nil)
		}, observe.InvalidName, "histogram"},
		{"histogram over a metric", func(o *observe.Observer) error {
			must(t, o.CounterAdd(ctx, catalog, "latency_seconds_sum", 1, nil))
			return o.HistogramRecord(ctx, catalog, "latency_seconds", 1, nil)
		}, observe.InvalidName, "already a metric"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := observe.New(observe.Options{})
			err := c.call(o)
			var oe *observe.Error
			if !errors.As(err, &oe) || oe.Kind != c.kind || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("err = %v, want a %s error saying %q", err, c.kind, c.reason)
			}
			if c.kind == observe.NotLinked {
				return
			}
			// Nothing recorded: the scrape still parses and has no component series
			// beyond what the setup recorded.
			m, _ := o.Metrics(catalog)
			for name, f := range scrape(t, m.Handler()) {
				if strings.HasPrefix(name, "wasmcanvas_") || name == "x_total" || name == "latency_seconds" || name == "latency_seconds_sum" {
					continue
				}
				t.Errorf("refused call recorded %s: %v", name, f)
			}
		})
	}
}

func nan() float64 { var z float64; return z / z }

// A component recording 100,000 label combinations keeps at most the cap,
// counts the rest as dropped, and the canvas's memory stays bounded.
func TestCardinalityCapped(t *testing.T) {
	ctx := context.Background()
	o := observe.New(observe.Options{Limits: observe.Limits{SeriesPerMetric: 1000}})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var dropped int
	for i := range 100_000 {
		err := o.CounterAdd(ctx, catalog, "productcatalog_views_total", 1, []observe.KeyValue{{Key: "offering", Value: fmt.Sprintf("offering-%06d", i)}})
		var oe *observe.Error
		switch {
		case err == nil:
		case errors.As(err, &oe) && oe.Kind == observe.TooManySeries:
			dropped++
		default:
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap grew %d KiB for 100,000 label combinations", grew/1024)
	if grew > 8<<20 {
		t.Errorf("heap grew %d MiB; the cap should keep it near 1,000 series", grew>>20)
	}
	if dropped != 99_000 {
		t.Errorf("dropped %d calls, want 99,000", dropped)
	}
	m, _ := o.Metrics(catalog)
	fams := scrape(t, m.Handler())
	if n := len(fams["productcatalog_views_total"].GetMetric()); n != 1000 {
		t.Errorf("%d series exposed, want the cap 1,000", n)
	}
	if got, _ := value(fams, "wasmcanvas_observe_dropped_series_total", "component=components/productcatalog", "metric=productcatalog_views_total"); got != 99_000 {
		t.Errorf("dropped counter = %v, want 99,000", got)
	}
	// A series under the cap still counts.
	must(t, o.CounterAdd(ctx, catalog, "productcatalog_views_total", 1, []observe.KeyValue{{Key: "offering", Value: "offering-000001"}}))
}

func TestComponentLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o := observe.New(observe.Options{Limits: observe.Limits{SeriesPerMetric: 10, SeriesPerComponent: 15, MetricsPerComponent: 3}})
	for i := range 10 {
		must(t, o.GaugeSet(ctx, catalog, "a", 1, []observe.KeyValue{{Key: "i", Value: fmt.Sprint(i)}}))
	}
	for i := range 5 {
		must(t, o.GaugeSet(ctx, catalog, "b", 1, []observe.KeyValue{{Key: "i", Value: fmt.Sprint(i)}}))
	}
	if err := o.GaugeSet(ctx, catalog, "b", 1, []observe.KeyValue{{Key: "i", Value: "new"}}); !isKind(err, observe.TooManySeries) {
		t.Errorf("16th series of the component: err = %v, want too-many-series", err)
	}
	// The third metric is made, but its first series is past the component's cap.
	if err := o.GaugeSet(ctx, catalog, "c", 1, nil); !isKind(err, observe.TooManySeries) {
		t.Errorf("a new metric's series past the component's cap: err = %v, want too-many-series", err)
	}
	if err := o.GaugeSet(ctx, catalog, "d", 1, nil); !isKind(err, observe.TooManySeries) {
		t.Errorf("4th metric: err = %v, want too-many-series", err)
	}
	m, _ := o.Metrics(catalog)
	fams := scrape(t, m.Handler())
	if got, _ := value(fams, "wasmcanvas_observe_dropped_series_total", "component=components/productcatalog", "metric=(too many metrics)"); got != 1 {
		t.Errorf("dropped for too many metrics = %v, want 1", got)
	}
	if _, ok := fams["d"]; ok {
		t.Error("the refused metric d is exposed")
	}
}

func isKind(err error, k observe.ErrorKind) bool {
	var oe *observe.Error
	return errors.As(err, &oe) && oe.Kind == k
}

// Components record from many instances at once: the cap holds exactly.
func TestConcurrentRecordingKeepsTheCap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o := observe.New(observe.Options{Limits: observe.Limits{SeriesPerMetric: 100}})
	var wg sync.WaitGroup
	var refused atomic.Int64
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				err := o.CounterAdd(ctx, catalog, "hits_total", 1, []observe.KeyValue{{Key: "k", Value: fmt.Sprint(g*50 + i)}})
				if isKind(err, observe.TooManySeries) {
					refused.Add(1)
				} else if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	m, _ := o.Metrics(catalog)
	fams := scrape(t, m.Handler())
	if n := len(fams["hits_total"].GetMetric()); n != 100 || refused.Load() != 300 {
		t.Errorf("%d series kept, %d refused; want 100 and 300", n, refused.Load())
	}
}

// Forget drops a deleted Component's series.
func TestForget(t *testing.T) {
	t.Parallel()
	o := observe.New(observe.Options{})
	must(t, o.CounterAdd(context.Background(), catalog, "hits_total", 1, nil))
	k, _ := catalog.Key()
	o.Forget(k)
	m, _ := o.Metrics(catalog)
	if _, ok := scrape(t, m.Handler())["hits_total"]; ok {
		t.Error("a forgotten Component's series are still exposed")
	}
}

// Errors go back to the component (over wRPC too): they quote a bounded
// prefix of what it sent, never all of it.
func TestErrorsStayShort(t *testing.T) {
	t.Parallel()
	o := observe.New(observe.Options{})
	ctx := context.Background()
	huge := strings.Repeat("x-", 1<<19)
	for name, err := range map[string]error{
		"metric name": o.CounterAdd(ctx, catalog, huge, 1, nil),
		"label name":  o.CounterAdd(ctx, catalog, "a_total", 1, []observe.KeyValue{{Key: huge, Value: "v"}}),
		"source":      o.CounterAdd(ctx, observe.Source{Namespace: huge, Component: "c"}, "a_total", 1, nil),
		"traceparent": func() error {
			_, err := o.StartSpan(ctx, catalog, "s", observe.SpanInternal, &observe.TraceContext{Traceparent: huge})
			return err
		}(),
	} {
		if err == nil || len(err.Error()) > 1024 {
			t.Errorf("%s: error of %d bytes, want one of at most 1 KiB", name, len(fmt.Sprint(err)))
		}
	}
}
