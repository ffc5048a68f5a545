package reconcile

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	reconciles, errors, terminal, requeues, resyncs atomic.Int64
	statusWrites, statusDeletes                     atomic.Int64
	puts, deploys, deletes                          atomic.Int64
	durationNanos                                   atomic.Int64
}

func (m *metrics) observe(d time.Duration) { m.durationNanos.Add(int64(d)) }

// Stats is a snapshot of the controller's counters.
type Stats struct {
	// Reconciles counts passes, Errors those that failed and will be
	// retried, Terminal those that failed for good, Requeues the passes
	// that asked to run again later, Resyncs the periodic full resyncs.
	Reconciles, Errors, Terminal, Requeues, Resyncs int64
	// StatusWrites and StatusDeletes count writes to the status store.
	StatusWrites, StatusDeletes int64
	// Puts, Deploys and Deletes count Deployer calls that changed
	// something (a new version stored, a version deployed, an app removed).
	Puts, Deploys, Deletes int64
	// QueueDepth is the number of keys waiting for a worker.
	QueueDepth int
	// ReconcileSeconds is the total time spent in passes.
	ReconcileSeconds float64
}

// Stats returns the current counters.
func (c *Controller) Stats() Stats {
	m := &c.metrics
	return Stats{
		Reconciles: m.reconciles.Load(), Errors: m.errors.Load(), Terminal: m.terminal.Load(),
		Requeues: m.requeues.Load(), Resyncs: m.resyncs.Load(),
		StatusWrites: m.statusWrites.Load(), StatusDeletes: m.statusDeletes.Load(),
		Puts: m.puts.Load(), Deploys: m.deploys.Load(), Deletes: m.deletes.Load(),
		QueueDepth:       c.q.Len(),
		ReconcileSeconds: time.Duration(m.durationNanos.Load()).Seconds(),
	}
}

var (
	descReconciles = prometheus.NewDesc("wasmcanvas_reconcile_total", "Reconcile passes, by result (ok, error = retried, terminal = not retried).", []string{"result"}, nil)
	descSeconds    = prometheus.NewDesc("wasmcanvas_reconcile_seconds_total", "Time spent reconciling.", nil, nil)
	descQueue      = prometheus.NewDesc("wasmcanvas_reconcile_queue_depth", "Component keys waiting for a reconcile worker.", nil, nil)
	descWrites     = prometheus.NewDesc("wasmcanvas_reconcile_status_writes_total", "Writes of Component status.", nil, nil)
	descDeployer   = prometheus.NewDesc("wasmcanvas_reconcile_deployer_changes_total", "Deployer calls that changed the lattice, by operation.", []string{"op"}, nil)
	descResyncs    = prometheus.NewDesc("wasmcanvas_reconcile_resyncs_total", "Periodic full resyncs.", nil, nil)
)

// Collector exposes the controller's counters to Prometheus; register it
// with the daemon's registry.
func (c *Controller) Collector() prometheus.Collector { return collector{c} }

type collector struct{ c *Controller }

func (k collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descReconciles, descSeconds, descQueue, descWrites, descDeployer, descResyncs} {
		ch <- d
	}
}

func (k collector) Collect(ch chan<- prometheus.Metric) {
	s := k.c.Stats()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(descReconciles, s.Reconciles-s.Errors-s.Terminal, "ok")
	counter(descReconciles, s.Errors, "error")
	counter(descReconciles, s.Terminal, "terminal")
	ch <- prometheus.MustNewConstMetric(descSeconds, prometheus.CounterValue, s.ReconcileSeconds)
	ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(s.QueueDepth))
	counter(descWrites, s.StatusWrites+s.StatusDeletes)
	counter(descDeployer, s.Puts, "put")
	counter(descDeployer, s.Deploys, "deploy")
	counter(descDeployer, s.Deletes, "delete")
	counter(descResyncs, s.Resyncs)
}

var _ prometheus.Collector = collector{}
