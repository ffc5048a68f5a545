package reconcile

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/deploy"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmtest"
)

const (
	benchComponents = 1000
	benchShards     = 10
)

// BenchmarkReconcile1000 applies 1,000 Components at once and measures how
// fast the controller brings them all to Complete against the wadm double,
// and each Component's apply→Complete latency. The baseline is the same
// wadm traffic without the loop (translate, put, deploy and status for each
// Component from as many goroutines as the controller has workers), so
// loop/baseline is the share of the floor the controller reaches.
func BenchmarkReconcile1000(b *testing.B) {
	// The double checks id collisions on each deploy by decoding every
	// stored application (wadm keeps that state in memory), so one double
	// holding 1,000 applications measures mostly itself: spread them over
	// benchShards doubles, in memory.
	e := newEnvWith(b, true, benchShards, []wadmtest.Option{wadmtest.WithMemoryStore()}, func(o *Options) {
		o.Resync, o.PollInterval = time.Hour, time.Minute
	})
	e.run()
	// The baseline gets doubles of its own, so both start empty.
	baseline := e.shards("base", benchShards, wadmtest.WithMemoryStore())
	var rates, base []float64
	var lat []time.Duration
	for i := range b.N {
		ns := fmt.Sprintf("bench-%d", i)
		r, l := benchLoop(b, e, ns)
		rates = append(rates, r)
		lat = append(lat, l...)
		base = append(base, benchBaseline(b, e, baseline, fmt.Sprintf("base-%d", i)))
	}
	slices.Sort(lat)
	loop, floor := mean(rates), mean(base)
	b.ReportMetric(loop, "components/s")
	b.ReportMetric(floor, "baseline-components/s")
	b.ReportMetric(loop/floor, "loop/baseline")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

func benchLoop(b *testing.B, e *env, ns string) (float64, []time.Duration) {
	comps := make([]*oda.Component, benchComponents)
	for i := range comps {
		comps[i] = example(b, productCatalog, fmt.Sprintf("pc-%04d", i))
		comps[i].Metadata.Namespace = ns
	}
	return benchApply(b, e, ns, comps)
}

// benchApply applies comps (all in namespace ns) from 8 goroutines and
// waits until each is Complete; it returns Components per second and each
// one's apply→Complete latency.
func benchApply(b *testing.B, e *env, ns string, comps []*oda.Component) (float64, []time.Duration) {
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Minute)
	defer cancel()
	total := len(comps)
	watch, err := e.status.Watch(ctx, ns)
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	applied := make(map[string]time.Time, total)
	done := make(chan []time.Duration, 1)
	go func() {
		lat := make([]time.Duration, 0, total)
		complete := map[string]bool{}
		for ev := range watch {
			if ev.Err != nil || ev.Value.Summary == nil || ev.Value.Summary.DeploymentStatus != oda.DeploymentComplete {
				continue
			}
			key := ev.Key().String()
			if complete[key] {
				continue
			}
			complete[key] = true
			mu.Lock()
			lat = append(lat, time.Since(applied[key]))
			mu.Unlock()
			if len(complete) == total {
				done <- lat
				return
			}
		}
		done <- lat
	}()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(comps); i += 8 {
				c := comps[i]
				mu.Lock()
				applied[c.Key().String()] = time.Now()
				mu.Unlock()
				if _, err := e.desired.Put(ctx, ns, c.Metadata.Name, *c); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	lat := <-done
	elapsed := time.Since(start)
	if len(lat) != total {
		b.Fatalf("%d of %d Components Complete before the watch ended", len(lat), total)
	}
	return float64(total) / elapsed.Seconds(), lat
}

// benchBaseline drives the same wadm calls the controller makes for a new
// Component (status, put, deploy) and waits for every application's
// deployed status on the watch, as the controller does, but without queue,
// stores, ODA status or events.
func benchBaseline(b *testing.B, e *env, d deploy.Deployer, ns string) float64 {
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Minute)
	defer cancel()
	comps := make([]*oda.Component, benchComponents)
	for i := range comps {
		comps[i] = example(b, productCatalog, fmt.Sprintf("pc-%04d", i))
		comps[i].Metadata.Namespace = ns
	}
	events, err := d.Watch(ctx)
	if err != nil {
		b.Fatal(err)
	}
	deployed := make(chan struct{})
	go func() {
		seen := map[string]bool{}
		for ev := range events {
			if ev.Status.Type == wadm.StatusDeployed && !seen[ev.App] && strings.HasPrefix(ev.App, ns+"-") {
				seen[ev.App] = true
				if len(seen) == benchComponents {
					close(deployed)
					return
				}
			}
		}
	}()
	start := time.Now()
	var wg sync.WaitGroup
	workers := e.ctrl.opts.Workers
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(comps); i += workers {
				m, err := translate.Component(comps[i], translate.Options{Implementations: testImplementations})
				if err != nil {
					b.Error(err)
					return
				}
				if _, err := d.Status(ctx, m.Metadata.Name); err != nil {
					b.Error(err)
					return
				}
				if _, err := d.Put(ctx, m); err != nil {
					b.Error(err)
					return
				}
				if err := d.Deploy(ctx, m.Metadata.Name, m.Version()); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case <-deployed:
	case <-ctx.Done():
		b.Fatal("baseline: not every application deployed within 10 minutes")
	}
	return float64(benchComponents) / time.Since(start).Seconds()
}

// BenchmarkApplyToComplete applies one Component at a time to an idle
// controller and reports the apply→Complete latency, against the time the
// wadm double alone takes from deploy to deployed status (baseline).
func BenchmarkApplyToComplete(b *testing.B) {
	e := newEnvWith(b, true, 0, []wadmtest.Option{wadmtest.WithMemoryStore()}, func(o *Options) {
		o.Resync, o.PollInterval = time.Hour, time.Minute
	})
	e.run()
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Minute)
	defer cancel()
	var lat, base []time.Duration
	for i := range b.N {
		c := example(b, productCatalog, fmt.Sprintf("pc-%06d", i))
		start := time.Now()
		e.apply(c)
		waitComplete(b, e, c.Key().String())
		lat = append(lat, time.Since(start))

		m, err := translate.Component(example(b, productCatalog, fmt.Sprintf("base-%06d", i)), translate.Options{Implementations: testImplementations})
		if err != nil {
			b.Fatal(err)
		}
		base = append(base, deployAlone(b, ctx, e.deployer, m))
	}
	slices.Sort(lat)
	slices.Sort(base)
	p := func(l []time.Duration, q int) float64 { return float64(l[(len(l)-1)*q/100].Microseconds()) / 1000 }
	b.ReportMetric(p(lat, 50), "p50-ms")
	b.ReportMetric(p(lat, 99), "p99-ms")
	b.ReportMetric(p(base, 50), "baseline-p50-ms")
	b.ReportMetric(p(lat, 50)/p(base, 50), "p50/baseline")
}

// deployAlone is the baseline of one apply: put, deploy and the deployed
// status event, straight to the backend.
func deployAlone(b *testing.B, ctx context.Context, d deploy.Deployer, m *wadm.Manifest) time.Duration {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events, err := d.Watch(wctx)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if _, err := d.Put(ctx, m); err != nil {
		b.Fatal(err)
	}
	if err := d.Deploy(ctx, m.Metadata.Name, m.Version()); err != nil {
		b.Fatal(err)
	}
	for ev := range events {
		if ev.App == m.Metadata.Name && ev.Status.Type == wadm.StatusDeployed {
			return time.Since(start)
		}
	}
	b.Fatalf("%s: no deployed status before the watch ended", m.Metadata.Name)
	return 0
}

// waitComplete waits on the status store's watch, not by polling, so the
// latency is not rounded up to a poll interval.
func waitComplete(b *testing.B, e *env, key string) {
	ctx, cancel := context.WithTimeout(e.ctx, waitTimeout)
	defer cancel()
	ns, name, _ := strings.Cut(key, ".")
	w, err := e.status.Watch(ctx, ns)
	if err != nil {
		b.Fatal(err)
	}
	for ev := range w {
		if ev.Name == name && ev.Value.Summary != nil && ev.Value.Summary.DeploymentStatus == oda.DeploymentComplete {
			return
		}
	}
	b.Fatalf("%s not Complete within %s", key, waitTimeout)
}

// shardedDeployer spreads applications over several backends by name, so
// a benchmark can hold more applications than one double serves well.
type shardedDeployer []deploy.Deployer

func (s shardedDeployer) pick(name string) deploy.Deployer {
	h := fnv.New32a()
	h.Write([]byte(name))
	return s[int(h.Sum32())%len(s)]
}

func (s shardedDeployer) Put(ctx context.Context, m *wadm.Manifest) (deploy.PutResult, error) {
	return s.pick(m.Metadata.Name).Put(ctx, m)
}

func (s shardedDeployer) Deploy(ctx context.Context, name, version string) error {
	return s.pick(name).Deploy(ctx, name, version)
}

func (s shardedDeployer) Undeploy(ctx context.Context, name string) error {
	return s.pick(name).Undeploy(ctx, name)
}

func (s shardedDeployer) Delete(ctx context.Context, name string) error {
	return s.pick(name).Delete(ctx, name)
}

func (s shardedDeployer) Status(ctx context.Context, name string) (deploy.AppStatus, error) {
	return s.pick(name).Status(ctx, name)
}

func (s shardedDeployer) Watch(ctx context.Context) (<-chan deploy.StatusEvent, error) {
	out := make(chan deploy.StatusEvent, 64)
	var wg sync.WaitGroup
	for _, d := range s {
		ch, err := d.Watch(ctx)
		if err != nil {
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ev := range ch {
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(out)
	}()
	return out, nil
}

// BenchmarkDependentsScale applies n Components in a ring, each exposing an
// API and depending on the next one's (every Component has a dependency
// and provides one), for n = 100, 500 and 1000 in one run, and reports the
// time per Component from the first apply until all are Complete. Flat
// per-Component time is total time linear in n: a pass over a Component
// with dependencies reads the index and its providers' status, not the
// whole store. Each size gets its own canvas, with one wadm double per
// ten applications so that the double's cost stays flat too.
func BenchmarkDependentsScale(b *testing.B) {
	sizes := []int{100, 500, 1000}
	per := map[int][]float64{}
	for i := range b.N {
		for _, n := range sizes {
			e := newEnvWith(b, true, n/10, []wadmtest.Option{wadmtest.WithMemoryStore()}, func(o *Options) {
				o.Resync, o.PollInterval = time.Hour, time.Minute
			})
			e.run()
			ns := fmt.Sprintf("ring-%d", i)
			comps := make([]*oda.Component, n)
			for j := range comps {
				comps[j] = ringComponent(ns, j, n)
			}
			rate, _ := benchApply(b, e, ns, comps)
			per[n] = append(per[n], 1000/rate)
		}
	}
	for _, n := range sizes {
		b.ReportMetric(mean(per[n]), fmt.Sprintf("ms/component@%d", n))
	}
	b.ReportMetric(mean(per[sizes[len(sizes)-1]])/mean(per[sizes[0]]), "growth@1000/@100")
}

// ringComponent is Component i of a ring of n: it serves its own path and
// specification URL and depends on Component (i+1)%n's.
func ringComponent(ns string, i, n int) *oda.Component {
	spec := func(j int) string { return fmt.Sprintf("https://example.org/ring/api-%04d.json", j) }
	c := claimant(fmt.Sprintf("ring-%04d", i), fmt.Sprintf("/ring-%04d/api", i))
	c.Metadata.Namespace = ns
	c.Spec.CoreFunction.ExposedAPIs[0].Specification[0].URL = spec(i)
	c.Spec.CoreFunction.DependentAPIs = []oda.DependentAPI{{Name: "next", APIType: "openapi",
		Specification: []oda.DependentAPISpecification{{URL: spec((i + 1) % n)}}}}
	return c
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}
