package runtime

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Stats is a Host's occupancy now.
type Stats struct {
	// PoolInstances is the pool's size (0: on-demand, no pool).
	PoolInstances int
	// InUse is the instances in use now (a request's, until its instance
	// is torn down, which may follow its response); PeakInUse the
	// most at once since the host started.
	InUse, PeakInUse int
	// Waiting is the requests waiting for a slot (the pool's, or their
	// component's MaxConcurrent).
	Waiting int
	// Components counts the loaded components by code tier (TierBaseline,
	// TierOptimized).
	Components map[string]int
	// Artefacts is the compiled code in memory (baseline and optimised
	// code of one artefact count twice), Optimizing the optimising
	// compiles under way.
	Artefacts, Optimizing int
}

// Stats returns the host's occupancy.
func (h *Host) Stats() Stats {
	st := Stats{PoolInstances: int(h.cfg.PoolInstances), InUse: int(h.inUse.Load()), PeakInUse: int(h.peak.Load()),
		Waiting: int(h.waiting.Load()), Components: map[string]int{TierBaseline: 0, TierOptimized: 0}}
	h.mu.Lock()
	loaded := make([]*Component, 0, len(h.loaded))
	for c := range h.loaded {
		loaded = append(loaded, c)
	}
	st.Artefacts, st.Optimizing = len(h.compiled), len(h.jobs)
	h.mu.Unlock()
	for _, c := range loaded {
		st.Components[c.Info().Tier]++
	}
	return st
}

// notePeak raises the peak to the current in-use count.
func (h *Host) notePeak() {
	n := h.inUse.Load()
	for {
		p := h.peak.Load()
		if n <= p || h.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

// Collector returns a Prometheus collector of the host's Stats, read at
// each scrape: wasmcanvas_runtime_pool_instances,
// wasmcanvas_runtime_instances_in_use (and _peak),
// wasmcanvas_runtime_requests_waiting, wasmcanvas_runtime_components{tier},
// wasmcanvas_runtime_compiled_artefacts and
// wasmcanvas_runtime_optimizing_compiles.
func (h *Host) Collector() prometheus.Collector { return statsCollector{h} }

type statsCollector struct{ h *Host }

var (
	descPool       = prometheus.NewDesc("wasmcanvas_runtime_pool_instances", "Instances the pooling allocator reserves (0: memory is mapped per request).", nil, nil)
	descInUse      = prometheus.NewDesc("wasmcanvas_runtime_instances_in_use", "Component instances in use now: a request's, from its start until its instance is torn down (which may follow its response).", nil, nil)
	descPeak       = prometheus.NewDesc("wasmcanvas_runtime_instances_in_use_peak", "The most requests that ran in component instances at once since the runtime started.", nil, nil)
	descWaiting    = prometheus.NewDesc("wasmcanvas_runtime_requests_waiting", "Requests waiting for an instance slot.", nil, nil)
	descComponents = prometheus.NewDesc("wasmcanvas_runtime_components", "Loaded components by the tier of the code serving them.", []string{"tier"}, nil)
	descArtefacts  = prometheus.NewDesc("wasmcanvas_runtime_compiled_artefacts", "Compiled code held in memory (an artefact's baseline and optimised code count apart).", nil, nil)
	descOptimizing = prometheus.NewDesc("wasmcanvas_runtime_optimizing_compiles", "Optimising compiles under way.", nil, nil)
)

func (s statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPool, descInUse, descPeak, descWaiting, descComponents, descArtefacts, descOptimizing} {
		ch <- d
	}
}

func (s statsCollector) Collect(ch chan<- prometheus.Metric) {
	st := s.h.Stats()
	gauge := func(d *prometheus.Desc, v int, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	gauge(descPool, st.PoolInstances)
	gauge(descInUse, st.InUse)
	gauge(descPeak, st.PeakInUse)
	gauge(descWaiting, st.Waiting)
	for _, tier := range []string{TierBaseline, TierOptimized} {
		gauge(descComponents, st.Components[tier], tier)
	}
	gauge(descArtefacts, st.Artefacts)
	gauge(descOptimizing, st.Optimizing)
}
