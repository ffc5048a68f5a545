package testkit

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Scrape GETs a Prometheus metrics handler as a scraper would and parses
// the text exposition (the test fails when it does not parse).
func Scrape(t testing.TB, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: status %d: %s", rec.Code, rec.Body)
	}
	return ParseExposition(t, rec.Body)
}

// ParseExposition parses a Prometheus text exposition (the test fails when
// it does not parse).
func ParseExposition(t testing.TB, r io.Reader) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("the exposition does not parse: %v", err)
	}
	return fams
}

// Sample is the value of family name's series whose labels are exactly
// labels ("name=value", in the exposition's order): a counter's or gauge's
// value, a histogram's sample count and sum.
func Sample(fams map[string]*dto.MetricFamily, name string, labels ...string) (value, sum float64, ok bool) {
	want := strings.Join(labels, ",")
	for _, m := range fams[name].GetMetric() {
		var got []string
		for _, l := range m.GetLabel() {
			got = append(got, l.GetName()+"="+l.GetValue())
		}
		if strings.Join(got, ",") != want {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), 0, true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), 0, true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), m.GetHistogram().GetSampleSum(), true
		}
	}
	return 0, 0, false
}
