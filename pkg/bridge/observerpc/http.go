package observerpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/service"
)

// MetricsPath is the aggregate scrape path; MetricsPath/{source-id} is one
// linked component's.
const MetricsPath = "/metrics"

// Labels the aggregate scrape adds to a Component's series, so the series
// of two Components stay apart.
const (
	labelNamespace = "wasmcanvas_namespace"
	labelComponent = "wasmcanvas_component"
)

// metricsListener serves Handler on addr.
func (s *server) metricsListener(addr string) service.Service {
	var (
		ln  net.Listener
		srv *http.Server
	)
	return service.New("metrics listener", service.Funcs{
		Start: func(context.Context) error {
			var err error
			if ln, err = net.Listen("tcp", addr); err != nil {
				return fmt.Errorf("provider config %s=%q: %w; pick a free address, or port 0 for any", ConfigMetricsListen, addr, err)
			}
			srv = &http.Server{Handler: s.metricsHandler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: zap.NewStdLog(s.log.Named("http"))}
			s.log.Info("serving Prometheus metrics", zap.String("address", ln.Addr().String()),
				zap.String("aggregate", MetricsPath), zap.String("per_component", MetricsPath+"/{source-id}"))
			return nil
		},
		Run: func(context.Context) error {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
		Stop: func(ctx context.Context) error { return srv.Shutdown(ctx) },
	})
}

// metricsHandler serves MetricsPath, every linked Component's series
// (labelled with its namespace and name) and the bridge's own, and
// MetricsPath/{source-id}, one linked component's: its Component's series
// and its calls.
func (s *server) metricsHandler() http.Handler {
	opts := promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+MetricsPath, func(w http.ResponseWriter, r *http.Request) {
		gs := prometheus.Gatherers{s.reg}
		seen := map[oda.Key]bool{}
		for _, id := range s.links.Sources() {
			src, err := s.source(id)
			if err != nil {
				continue
			}
			k, _ := src.Key()
			if seen[k] {
				continue
			}
			seen[k] = true
			if m, err := s.obs.Metrics(src); err == nil {
				gs = append(gs, labelled{m.Gatherer(), []*dto.LabelPair{label(labelNamespace, k.Namespace), label(labelComponent, k.Name)}})
			}
		}
		promhttp.HandlerFor(gs, opts).ServeHTTP(w, r)
	})
	mux.HandleFunc("GET "+MetricsPath+"/{source}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("source")
		src, err := s.source(id)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		m, err := s.obs.Metrics(src)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		promhttp.HandlerFor(prometheus.Gatherers{m.Gatherer(), ofSource{s.reg, id}}, opts).ServeHTTP(w, r)
	})
	return mux
}

func label(name, value string) *dto.LabelPair { return &dto.LabelPair{Name: &name, Value: &value} }

// labelled adds labels to every series g gathers.
type labelled struct {
	g      prometheus.Gatherer
	labels []*dto.LabelPair
}

func (l labelled) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := l.g.Gather()
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			m.Label = append(m.Label, l.labels...)
			slices.SortFunc(m.Label, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
		}
	}
	return mfs, err
}

// ofSource keeps the series of g whose source_id is id.
type ofSource struct {
	g  prometheus.Gatherer
	id string
}

func (o ofSource) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := o.g.Gather()
	out := mfs[:0]
	for _, mf := range mfs {
		mf.Metric = slices.DeleteFunc(mf.Metric, func(m *dto.Metric) bool {
			return !slices.ContainsFunc(m.Label, func(l *dto.LabelPair) bool { return l.GetName() == "source_id" && l.GetValue() == o.id })
		})
		if len(mf.Metric) > 0 {
			out = append(out, mf)
		}
	}
	return out, err
}
