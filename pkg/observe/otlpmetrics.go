package observe

import (
	"context"
	"errors"
	"math"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// componentProducer exports every Component registry over OTLP, the same
// series Prometheus scrapes, with the Component's identity as attributes:
// one set of numbers, two ways out.
type componentProducer struct{ o *Observer }

func (p componentProducer) Produce(context.Context) ([]metricdata.ScopeMetrics, error) {
	now := time.Now()
	var errs []error
	var out []metricdata.ScopeMetrics
	for k, m := range p.o.registries() {
		families, err := m.reg.Gather()
		if err != nil {
			errs = append(errs, err)
		}
		ident := []attribute.KeyValue{attribute.String("oda.component.name", k.Name), attribute.String("oda.component.namespace", k.Namespace)}
		sm := metricdata.ScopeMetrics{Scope: instrumentation.Scope{Name: scope}}
		for _, f := range families {
			if md, ok := convert(f, ident, m.created, now); ok {
				sm.Metrics = append(sm.Metrics, md)
			}
		}
		out = append(out, sm)
	}
	return out, errors.Join(errs...)
}

func convert(f *dto.MetricFamily, ident []attribute.KeyValue, start, now time.Time) (metricdata.Metrics, bool) {
	md := metricdata.Metrics{Name: f.GetName(), Description: f.GetHelp()}
	attrs := func(m *dto.Metric) attribute.Set {
		kv := append([]attribute.KeyValue(nil), ident...)
		for _, l := range m.GetLabel() {
			kv = append(kv, attribute.String(l.GetName(), l.GetValue()))
		}
		return attribute.NewSet(kv...)
	}
	switch f.GetType() {
	case dto.MetricType_COUNTER:
		s := metricdata.Sum[float64]{Temporality: metricdata.CumulativeTemporality, IsMonotonic: true}
		for _, m := range f.GetMetric() {
			s.DataPoints = append(s.DataPoints, metricdata.DataPoint[float64]{Attributes: attrs(m), StartTime: start, Time: now, Value: m.GetCounter().GetValue()})
		}
		md.Data = s
	case dto.MetricType_GAUGE:
		g := metricdata.Gauge[float64]{}
		for _, m := range f.GetMetric() {
			g.DataPoints = append(g.DataPoints, metricdata.DataPoint[float64]{Attributes: attrs(m), Time: now, Value: m.GetGauge().GetValue()})
		}
		md.Data = g
	case dto.MetricType_HISTOGRAM:
		h := metricdata.Histogram[float64]{Temporality: metricdata.CumulativeTemporality}
		for _, m := range f.GetMetric() {
			ph := m.GetHistogram()
			dp := metricdata.HistogramDataPoint[float64]{Attributes: attrs(m), StartTime: start, Time: now, Count: ph.GetSampleCount(), Sum: ph.GetSampleSum()}
			var below uint64 // Prometheus buckets are cumulative, OTLP's are not
			for _, b := range ph.GetBucket() {
				if math.IsInf(b.GetUpperBound(), 1) {
					continue
				}
				dp.Bounds = append(dp.Bounds, b.GetUpperBound())
				dp.BucketCounts = append(dp.BucketCounts, b.GetCumulativeCount()-below)
				below = b.GetCumulativeCount()
			}
			dp.BucketCounts = append(dp.BucketCounts, ph.GetSampleCount()-below)
			h.DataPoints = append(h.DataPoints, dp)
		}
		md.Data = h
	default:
		return md, false
	}
	return md, true
}
