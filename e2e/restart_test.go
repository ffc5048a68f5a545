//go:build e2e

package e2e_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/up"
)

// restarts is how many times in a row the restarted canvas must serve at
// the instant canvas up returns.
const restarts = 50

// TestRestartServesAtOnce applies one Component to a canvas on a fresh
// state directory, then restarts it with canvas down and canvas up
// --detach 50 times, and GETs the Component's API in the instant each up
// returns: 200 every time (ready means serving, not "listening").
func TestRestartServesAtOnce(t *testing.T) {
	root, err := testref.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := buildCanvas(t, root)
	canvas := func(args ...string) string { return runCanvas(t, root, bin, args...) }
	state := t.TempDir()
	upArgs := []string{"up", "--detach", "--state-dir", state, "--listen", "127.0.0.1:0", "--ingress", "127.0.0.1:0", "--nats-port", "-1", "--timeout", "1m"}
	canvas(upArgs...)
	t.Cleanup(func() {
		if _, ok := up.Running(state); ok {
			runCanvas(t, root, bin, "down", "--state-dir", state)
		}
	})
	info, err := up.ReadInfo(state)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "echo.yaml")
	if err := os.WriteFile(file, testref.EchoComponent("echo", "/echo/api"), 0o644); err != nil {
		t.Fatal(err)
	}
	canvas("apply", "-f", file, "--wait", "--timeout", "1m", "--server", info.API)
	if r := do(t, "GET", info.Ingress+"/echo/api/first", ""); r.code != 200 {
		t.Fatalf("before any restart: %d %s", r.code, r.body)
	}
	for i := range restarts {
		canvas("down", "--state-dir", state)
		canvas(upArgs...)
		info, err := up.ReadInfo(state)
		if err != nil {
			t.Fatal(err)
		}
		if r := do(t, "GET", info.Ingress+"/echo/api/restart", ""); r.code != 200 {
			t.Fatalf("restart %d of %d: GET as up returned: %d %s", i+1, restarts, r.code, r.body)
		}
	}
}
