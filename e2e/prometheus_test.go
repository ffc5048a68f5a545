//go:build e2e

package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/edge/edgetest"
	"github.com/wasmcanvas/wasmcanvas/pkg/up"
)

// TestPrometheusScrapesComponentMetrics: a real Prometheus (Debian's
// package; make e2e installs it) scrapes the productcatalog Component's
// metrics API (its managementFunction, apiType prometheus) on the ingress
// of canvas up. After N creates and M reads its query API answers the
// gateway's request counter for the core API = N+M and the component's own
// business counter, recorded through wasmcanvas:observe, = N.
func TestPrometheusScrapesComponentMetrics(t *testing.T) {
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus: %v (make e2e installs Debian's prometheus package)", err)
	}
	root, err := testref.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "examples", "productcatalog", "build", "productcatalog.wasm")); err != nil {
		t.Fatalf("%v: run `make examples` first (make e2e does)", err)
	}
	bin := buildCanvas(t, root)
	state := t.TempDir()
	runCanvas(t, root, bin, "up", "--detach", "--state-dir", state, "--listen", "127.0.0.1:0", "--ingress", "127.0.0.1:0", "--nats-port", "-1", "--timeout", "3m")
	t.Cleanup(func() {
		if _, ok := up.Running(state); ok {
			exec.Command(bin, "down", "--state-dir", state).Run()
		}
	})
	info, err := up.ReadInfo(state)
	if err != nil {
		t.Fatal(err)
	}
	runCanvas(t, root, bin, "apply", "-f", "examples/productcatalog/component.yaml", "--wait", "--timeout", "3m", "--server", info.API)
	base := info.Ingress + "/productcatalog/tmf-api/productCatalogManagement/v4"
	// The API needs a token; the metrics API Prometheus scrapes does not.
	token, _ := productCatalogToken(t, root, bin, info.API, "prometheus")
	const creates, reads = 5, 7
	for i := range creates {
		if r := doWith(t, token, "POST", base+"/productOffering", fmt.Sprintf(`{"name":"offer %d","lifecycleStatus":"Active"}`, i)); r.code != 201 {
			t.Fatalf("create %d: %d %s", i, r.code, r.body)
		}
	}
	for i := range reads {
		if r := doWith(t, token, "GET", base+"/productOffering", ""); r.code != 200 {
			t.Fatalf("read %d: %d %s", i, r.code, r.body)
		}
	}

	ingress, err := url.Parse(info.Ingress)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
- job_name: productcatalog
  metrics_path: /productcatalog/metrics
  static_configs:
  - targets: [%q]
`, ingress.Host)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	web := edgetest.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, prom, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+web)
	logs, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Logf("prometheus log:\n%s", b)
		}
	})

	for q, want := range map[string]float64{
		`sum(wasmcanvas_requests_total{api="productcatalogmanagement"})`: creates + reads,
		`sum(productcatalog_offerings_created_total)`:                    creates,
	} {
		testkit.WaitForErr(t, 90*time.Second, "Prometheus to answer "+q, func() error {
			got, err := promQuery(web, q)
			if err != nil {
				return err
			}
			if got != want {
				return fmt.Errorf("%s = %v, want %v", q, got, want)
			}
			return nil
		})
	}
}

// promQuery asks Prometheus's HTTP query API for one instant value.
func promQuery(addr, q string) (float64, error) {
	resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, err
	}
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return 0, fmt.Errorf("query %s: %w: %s", q, err, b)
	}
	if r.Status != "success" || len(r.Data.Result) != 1 {
		return 0, fmt.Errorf("query %s: %s", q, strings.TrimSpace(string(b)))
	}
	s, _ := r.Data.Result[0].Value[1].(string)
	return strconv.ParseFloat(s, 64)
}
