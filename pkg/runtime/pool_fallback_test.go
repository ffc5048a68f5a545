package runtime_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"

	wruntime "github.com/wasmcanvas/wasmcanvas/pkg/runtime"
)

// poolChildEnv makes this test binary the child of
// TestDefaultPoolFallsBackUnderAddressSpaceLimit.
const poolChildEnv = "WASMCANVAS_POOL_CHILD"

// Under a ulimit -v too small for the default pool, a host made with the
// zero Config runs on-demand (and serves) instead of aborting in wasmtime;
// one that asked for a pool explicitly gets an error saying what to do.
func TestDefaultPoolFallsBackUnderAddressSpaceLimit(t *testing.T) {
	if os.Getenv(poolChildEnv) != "" {
		poolChild(t)
		return
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to set ulimit -v with")
	}
	// 24 GiB: plenty for Go and an on-demand engine, far from the pool's TiB.
	cmd := exec.Command(sh, "-c", `ulimit -v 25165824 && exec "$0" -test.run '^TestDefaultPoolFallsBackUnderAddressSpaceLimit$' -test.v`, os.Args[0])
	cmd.Env = append(os.Environ(), poolChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "child: default host on-demand, served 200; explicit pool refused") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func poolChild(t *testing.T) {
	h, err := wruntime.NewHost(wruntime.Config{})
	if err != nil {
		t.Fatalf("default host under ulimit -v: %v", err)
	}
	defer h.Close()
	if h.PoolInstances() != 0 {
		t.Fatalf("default host kept a pool of %d under ulimit -v", h.PoolInstances())
	}
	c, err := h.Load(context.Background(), "echo", echoWAT(t), wruntime.ComponentConfig{})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("served %d", rec.Code)
	}
	if _, err := wruntime.NewHost(wruntime.Config{PoolInstances: 64}); err == nil || !strings.Contains(err.Error(), "virtual address space") {
		t.Fatalf("explicit pool under ulimit -v: %v", err)
	}
	t.Log("child: default host on-demand, served 200; explicit pool refused")
}
