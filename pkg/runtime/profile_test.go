package runtime_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	wruntime "github.com/wasmcanvas/wasmcanvas/pkg/runtime"
)

// TestProfile profiles the WAT echo and checks the counts a request makes:
// one instantiation, call and teardown each, and its 17 host calls and 5
// resource drops by name (TestEchoCrossings pins the same numbers).
func TestProfile(t *testing.T) {
	h := newHost(t, wruntime.Config{})
	c, err := h.Load(context.Background(), "echo", echoWAT(t), wruntime.ComponentConfig{})
	if err != nil {
		t.Fatal(err)
	}
	serveEcho := func() {
		rec := httptest.NewRecorder()
		c.ServeHTTP(rec, httptest.NewRequest("POST", "/p", strings.NewReader("hello")))
		if rec.Code != http.StatusOK || rec.Body.String() != "hello" {
			t.Fatalf("echo: %d %q", rec.Code, rec.Body)
		}
	}
	serveEcho() // before the profile: not counted
	const n = 20
	p := wruntime.StartProfile()
	for range n {
		serveEcho()
	}
	r := p.Stop()
	serveEcho() // after it: not counted
	if r.Instances != n {
		t.Fatalf("instances = %d, want %d", r.Instances, n)
	}
	for _, phase := range []string{wruntime.PhaseInstantiate, wruntime.PhaseCall, wruntime.PhaseTeardown} {
		if s := r.Phase(phase); s.Count != n || s.Total <= 0 {
			t.Errorf("%s: %d in %v, want %d with a duration", phase, s.Count, s.Total, n)
		}
	}
	var calls, drops int64
	byName := map[string]int64{}
	for _, s := range r.HostCalls {
		byName[s.Name] = s.Count
		if strings.Contains(s.Name, "#[resource-drop]") {
			drops += s.Count
		} else {
			calls += s.Count
		}
	}
	if calls != 17*n || drops != 5*n {
		t.Errorf("host calls %d and drops %d, want %d and %d: %v", calls, drops, 17*n, 5*n, byName)
	}
	if got := byName["wasi:http/types@0.2.6#[method]incoming-request.consume"]; got != n {
		t.Errorf("incoming-request.consume called %d times, want %d: %v", got, n, byName)
	}
	host, _ := r.HostTotal()
	if call := r.Phase(wruntime.PhaseCall).Total; host <= 0 || host >= call {
		t.Errorf("host calls took %v of a call's %v: want a part of it", host, call)
	}
	var sb strings.Builder
	if err := r.WriteTable(&sb, 3); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"per request instance (20)", "instantiate", "guest code", "host calls", "teardown"} {
		if !strings.Contains(sb.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, sb.String())
		}
	}
}

// TestProfilerSetting: a profiler other than perfmap or jitdump is refused,
// naming where it came from; a known one starts a host (jitdump, whose
// jit-<pid>.dump lands in the working directory, here a temporary one).
func TestProfilerSetting(t *testing.T) {
	t.Setenv(wruntime.ProfilerEnv, "vtune")
	if _, err := wruntime.NewHost(wruntime.Config{OnDemand: true}); err == nil || !strings.Contains(err.Error(), `WASMCANVAS_WASM_PROFILER="vtune"`) {
		t.Fatalf("NewHost with %s=vtune: %v, want an error naming the variable", wruntime.ProfilerEnv, err)
	}
	if _, err := wruntime.NewHost(wruntime.Config{OnDemand: true, Profiler: "perf"}); err == nil || !strings.Contains(err.Error(), `Config.Profiler="perf"`) {
		t.Fatalf("NewHost with Profiler perf: %v, want an error naming Config.Profiler", err)
	}
	t.Chdir(t.TempDir())
	h, err := wruntime.NewHost(wruntime.Config{OnDemand: true, Profiler: "jitdump"})
	if err != nil {
		t.Fatalf("profiler jitdump: %v", err)
	}
	h.Close()
}
