//go:build e2e

package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/client"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon/daemontest"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	daemontest.Cleanup()
	os.Exit(code)
}

const (
	namespace  = "crash"
	total      = 200
	updated    = 50 // c-000 … c-049 get a second generation
	deleted    = 20 // the last 20 are deleted again
	minKills   = 5
	opDeadline = 2 * time.Minute // one apply or delete, retried through crashes
	converge   = 4 * time.Minute
)

// implementations is the artefact annotation every Component carries;
// translate names artefacts and never reads them.
const implementations = `{"ctk-permissionspecapi":"ghcr.io/wasmcanvas/examples/permissionspec:0.1.0","ctk-prodcatapi":"ghcr.io/wasmcanvas/examples/productcatalog:0.1.0","ctk-productcatalogmanagement-sm":"ghcr.io/wasmcanvas/examples/metrics:0.1.0"}`

// TestCanvasdKilled applies, updates and deletes Components while canvasd
// is killed with SIGKILL and restarted at random moments.
func TestCanvasdKilled(t *testing.T) {
	run(t, func(s *scenario) error {
		s.canvasd.Kill()
		return s.canvasd.Restart()
	})
}

// TestNATSKilled does the same while nats-server (a separate process) is
// killed with SIGKILL and restarted on the same port and store.
func TestNATSKilled(t *testing.T) {
	run(t, func(s *scenario) error {
		s.nats.Kill()
		return s.nats.Start()
	})
}

type scenario struct {
	nats    *daemontest.NATSProcess
	wadm    *wadmtest.Server
	canvasd *daemontest.Canvasd
}

func name(i int) string { return fmt.Sprintf("c-%03d", i) }

// body is the reference productcatalog-v1 example as crash/c-NNN, served
// under /c-NNN; the second generation moves the metrics API.
func body(t *testing.T, i, generation int) []byte {
	t.Helper()
	data, err := os.ReadFile(testref.Path(t, "oda", "examples", "productcatalog-v1.component.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ann, _ := json.Marshal(implementations)
	s := strings.Replace(string(data), "metadata:\n  name: ctk-productcatalogmanagement\n",
		"metadata:\n  name: "+name(i)+"\n  namespace: "+namespace+"\n  annotations:\n    "+oda.AnnotationImplementations+": "+string(ann)+"\n", 1)
	if generation == 2 {
		s = strings.Replace(s, "/ctk-productcatalogmanagement/metrics", "/ctk-productcatalogmanagement/metrics-v2", 1)
	}
	// Two Components may not serve one path: each gets its own prefix.
	s = strings.ReplaceAll(s, "path: /ctk-productcatalogmanagement/", "path: /"+name(i)+"/")
	return []byte(s)
}

// expectedVersion is the wadm version canvasd must deploy for data.
func expectedVersion(t *testing.T, data []byte) string {
	t.Helper()
	c, err := oda.Parse("expected", data)
	if err != nil {
		t.Fatal(err)
	}
	m, err := translate.Component(c, translate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m.Version()
}

func run(t *testing.T, chaos func(*scenario) error) {
	s := &scenario{nats: daemontest.StartNATSProcess(t)}
	nc, err := nats.Connect(s.nats.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	s.wadm = wadmtest.Run(t, nc, "default")
	s.canvasd = daemontest.Start(t, daemontest.Options{NATS: s.nats.URL(), Args: []string{
		"--resync", "2s", "--workers", "16", "--nats-reconnect-wait", "50ms", "--nats-max-reconnect-wait", "500ms", "--log-level", "info"}})

	// The API moves to a new port on every restart: read it afresh from
	// the runtime file for each attempt.
	stateDir := s.canvasd.StateDir
	retry := func(what string, op func(ctx context.Context, cl client.Client) error) error {
		ctx, cancel := context.WithTimeout(context.Background(), opDeadline)
		defer cancel()
		var last error
		for ctx.Err() == nil {
			ri, err := daemon.ReadRuntimeInfo(stateDir)
			if err == nil {
				var cl *client.HTTP
				if cl, err = client.NewHTTP(ri.API, e2eAdmin(stateDir)); err == nil {
					octx, ocancel := context.WithTimeout(ctx, 10*time.Second)
					err = op(octx, cl)
					ocancel()
					cl.Close()
					if err == nil {
						return nil
					}
					if code := client.StatusCode(err); code >= 400 && code < 500 {
						return err // the request itself is wrong: retrying will not help
					}
				}
			}
			last = err
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
		return fmt.Errorf("%s: gave up after %s: %w", what, opDeadline, last)
	}

	stop := make(chan struct{})
	var kills atomic.Int64
	chaosDone := make(chan error, 1)
	go func() { // the chaos monkey; stopped through stop, reports on chaosDone
		for {
			select {
			case <-stop:
				chaosDone <- nil
				return
			case <-time.After(time.Duration(200+rand.IntN(1000)) * time.Millisecond):
			}
			if err := chaos(s); err != nil {
				chaosDone <- err
				return
			}
			kills.Add(1)
		}
	}()

	work := func(n int, op func(i int) error) error {
		jobs := make(chan int)
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range jobs {
					errs <- op(i)
				}
			}()
		}
		for i := range n {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		close(errs)
		var all []error
		for err := range errs {
			all = append(all, err)
		}
		return errors.Join(all...)
	}
	apply := func(data []byte, i int) error {
		return retry("apply "+name(i), func(ctx context.Context, cl client.Client) error {
			_, _, err := cl.Apply(ctx, name(i)+".yaml", data)
			return err
		})
	}
	start := time.Now()
	err = work(total, func(i int) error { return apply(body(t, i, 1), i) })
	if err == nil {
		err = work(updated, func(i int) error { return apply(body(t, i, 2), i) })
	}
	if err == nil {
		err = work(deleted, func(i int) error {
			return retry("delete "+name(total-1-i), func(ctx context.Context, cl client.Client) error {
				_, err := cl.Delete(ctx, namespace, name(total-1-i), "")
				if client.IsNotFound(err) {
					return nil // deleted by an attempt whose reply was lost in a crash
				}
				return err
			})
		})
	}
	// Keep the chaos going until it has struck a few times.
	for err == nil && kills.Load() < minKills {
		select {
		case err = <-chaosDone:
			chaosDone <- err
		case <-time.After(100 * time.Millisecond):
		}
	}
	close(stop)
	if cerr := <-chaosDone; cerr != nil {
		t.Fatalf("chaos: %v", cerr)
	}
	if err != nil {
		t.Fatalf("after %d kills: %v", kills.Load(), err)
	}
	t.Logf("%d applies, %d updates, %d deletes in %s with %d kills", total, updated, deleted, time.Since(start).Round(time.Millisecond), kills.Load())
	calm := time.Now()

	want := map[string]string{} // wadm app -> version
	wantGen := map[string]int64{}
	for i := range total - deleted {
		gen := 1
		if i < updated {
			gen = 2
		}
		want[namespace+"-"+name(i)] = expectedVersion(t, body(t, i, gen))
		wantGen[name(i)] = int64(gen)
	}
	// canvasd keeps the shared system application deployed beside them,
	// naming its embedded issuer (at the API of the last start) to
	// canvas-bridge.
	sys, serr := translate.SystemApplication(translate.SystemOptions{Issuer: s.canvasd.API + daemon.IssuerPath})
	if serr != nil {
		t.Fatal(serr)
	}
	want[sys.Metadata.Name] = sys.Version()
	err = daemontest.WaitFor(converge, func() error {
		var items []*oda.Component
		if err := retry("list", func(ctx context.Context, cl client.Client) error {
			var err error
			items, err = cl.List(ctx, namespace)
			return err
		}); err != nil {
			return err
		}
		var problems []string
		if len(items) != len(wantGen) {
			problems = append(problems, fmt.Sprintf("%d Components stored, want %d", len(items), len(wantGen)))
		}
		for _, c := range items {
			g, ok := wantGen[c.Metadata.Name]
			switch {
			case !ok:
				problems = append(problems, c.Metadata.Name+" should be deleted")
			case c.Metadata.Generation != g:
				problems = append(problems, fmt.Sprintf("%s at generation %d, want %d", c.Metadata.Name, c.Metadata.Generation, g))
			case c.Status == nil || c.Status.Summary == nil || c.Status.WasmCloud == nil:
				problems = append(problems, c.Metadata.Name+" has no status")
			case c.Status.Summary.DeploymentStatus != oda.DeploymentComplete || c.Status.WasmCloud.ObservedGeneration != g:
				problems = append(problems, fmt.Sprintf("%s %s at observed generation %d", c.Metadata.Name, c.Status.Summary.DeploymentStatus, c.Status.WasmCloud.ObservedGeneration))
			case c.Status.WasmCloud.Version != want[c.Status.WasmCloud.App]:
				problems = append(problems, fmt.Sprintf("%s status version %s, want %s", c.Metadata.Name, c.Status.WasmCloud.Version, want[c.Status.WasmCloud.App]))
			}
		}
		models := s.wadm.Models()
		wantModels := make([]string, 0, len(want))
		for app := range want {
			wantModels = append(wantModels, app)
		}
		slices.Sort(wantModels)
		if !slices.Equal(models, wantModels) {
			problems = append(problems, fmt.Sprintf("wadm has %d apps, want exactly %d (extra: %v, missing: %v)", len(models), len(wantModels), diff(models, wantModels), diff(wantModels, models)))
		}
		for app, v := range want {
			if got, ok := s.wadm.Deployed(app); !ok || got != v {
				problems = append(problems, fmt.Sprintf("wadm deployed %s at %q, want %s", app, got, v))
			}
		}
		if len(problems) > 0 {
			if len(problems) > 10 {
				problems = append(problems[:10], fmt.Sprintf("… and %d more", len(problems)-10))
			}
			return errors.New(strings.Join(problems, "\n"))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("not converged: %v", err)
	}
	// Deleted Components left no status behind.
	for i := range deleted {
		n := name(total - 1 - i)
		err := retry("status of "+n, func(ctx context.Context, cl client.Client) error {
			_, err := cl.Status(ctx, namespace, n)
			return err
		})
		if !client.IsNotFound(err) {
			t.Errorf("status of deleted %s: %v", n, err)
		}
	}
	t.Logf("converged %s after the chaos stopped", time.Since(calm).Round(time.Millisecond))
}

// diff is what a has and b lacks.
func diff(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	if len(out) > 5 {
		out = append(out[:5], "…")
	}
	return out
}
