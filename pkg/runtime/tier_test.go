package runtime_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	wruntime "github.com/wasmcanvas/wasmcanvas/pkg/runtime"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/cm"
)

// echoOK serves one POST to the WAT echo and fails unless it echoes.
func echoOK(t testing.TB, c http.Handler, body string) {
	t.Helper()
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, httptest.NewRequest("POST", "/e", strings.NewReader(body)))
	if rec.Code != http.StatusOK || rec.Body.String() != body {
		t.Errorf("echo %q: %d %q", body, rec.Code, rec.Body)
	}
}

// TestBaselineThenOptimized: a never-seen component serves at once from
// baseline code, keeps serving while the optimised code takes over, and
// says which tier serves in its Info; a second component of the same bytes
// shares the baseline code and the one optimising compile.
func TestBaselineThenOptimized(t *testing.T) {
	t.Parallel()
	cache := t.TempDir()
	h := newHost(t, wruntime.Config{CacheDir: cache})
	release := make(chan struct{})
	var compiles atomic.Int32
	wruntime.SetOptimizeHook(h, func(string) { compiles.Add(1); <-release })
	tiers := make(chan wruntime.Info, 2)
	cc := wruntime.ComponentConfig{OnTier: func(i wruntime.Info) { tiers <- i }}
	a, err := h.Load(context.Background(), "a", echoWAT(t), cc)
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Load(context.Background(), "b", echoWAT(t), cc)
	if err != nil {
		t.Fatal(err)
	}
	ia, ib := a.Info(), b.Info()
	if ia.Tier != wruntime.TierBaseline || ia.CacheHit || ia.BaselineCompileTime <= 0 || ia.CompileTime != 0 {
		t.Fatalf("a: %+v, want baseline code it compiled, no optimised code yet", ia)
	}
	if want := baselineCompiler(); ia.BaselineCompiler != want || ib.BaselineCompiler != want {
		t.Fatalf("baseline compiled by %q and %q, want %q", ia.BaselineCompiler, ib.BaselineCompiler, want)
	}
	if ib.Tier != wruntime.TierBaseline || !ib.CacheHit || ib.BaselineCompileTime != 0 {
		t.Fatalf("b: %+v, want a's baseline code, shared", ib)
	}
	echoOK(t, a, "from baseline")

	// Requests go on while the code is swapped under them.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var served atomic.Int64
	for _, c := range []*wruntime.Component{a, b} {
		wg.Go(func() {
			for i := 0; i < 5000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				echoOK(t, c, "during the swap")
				served.Add(1)
			}
		})
	}
	close(release)
	for range 2 {
		select {
		case i := <-tiers:
			if i.Tier != wruntime.TierOptimized || i.CompileTime <= 0 || i.OptimizeError != "" || i.CacheHit {
				t.Errorf("OnTier(%+v): want the optimised tier, compiled (no cache hit), with its compile time", i)
			}
		case <-time.After(time.Minute):
			t.Fatal("no optimised code within a minute")
		}
	}
	close(stop)
	wg.Wait()
	if n := compiles.Load(); n != 1 {
		t.Errorf("%d optimising compiles for one artefact, want 1", n)
	}
	if a.Info().Tier != wruntime.TierOptimized || b.Info().Tier != wruntime.TierOptimized {
		t.Fatalf("tiers after the swap: %s, %s", a.Info().Tier, b.Info().Tier)
	}
	echoOK(t, a, "from optimised code")
	t.Logf("%d requests served during the swap", served.Load())

	// The optimised code is in memory and in the cache now: a later load
	// of the same bytes, here or on a new host, starts optimised.
	c, err := h.Load(context.Background(), "c", echoWAT(t), wruntime.ComponentConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if i := c.Info(); i.Tier != wruntime.TierOptimized || !i.CacheHit {
		t.Errorf("c: %+v, want the shared optimised code", i)
	}
	h2 := newHost(t, wruntime.Config{CacheDir: cache})
	d, err := h2.Load(context.Background(), "d", echoWAT(t), wruntime.ComponentConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if i := d.Info(); i.Tier != wruntime.TierOptimized || !i.CacheHit {
		t.Errorf("d on a new host: %+v, want the optimised code from the cache", i)
	}
	echoOK(t, d, "from the cache")
}

// baselineCompiler is what compiles baseline code by default here: Winch
// on x86-64, where this build of wasmtime lets it be selected.
func baselineCompiler() string {
	if runtime.GOARCH == "amd64" {
		return "winch"
	}
	return "cranelift"
}

// TestWinchFallsBackToCranelift: a component Winch refuses (one of its
// core modules makes a tail call, which Winch does not implement) gets
// Cranelift baseline code, with a warning; NoWinch (and
// WASMCANVAS_WINCH=off) has Cranelift compile every baseline.
func TestWinchFallsBackToCranelift(t *testing.T) {
	if baselineCompiler() != "winch" {
		t.Skip("no Winch on", runtime.GOARCH)
	}
	t.Parallel()
	start := []byte("(component $C\n")
	wat := echoWAT(t)
	if !bytes.Contains(wat, start) {
		t.Fatalf("testdata/echo-http.wat no longer opens with %q", start)
	}
	tail := bytes.Replace(wat, start, append(start, "  (core module $tail (func $f (return_call $f)))\n"...), 1)
	core, logs := observer.New(zap.WarnLevel)
	h := newHost(t, wruntime.Config{Log: zap.New(core)})
	c, err := h.Load(context.Background(), "tail", tail, wruntime.ComponentConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if i := c.Info(); i.Tier != wruntime.TierBaseline || i.BaselineCompiler != "cranelift" {
		t.Fatalf("%+v, want baseline code by cranelift", i)
	}
	if w := logs.FilterMessage("winch refused the component: its baseline code is compiled by cranelift").All(); len(w) != 1 || !strings.Contains(fmt.Sprint(w[0].ContextMap()["error"]), "tail call") {
		t.Fatalf("want one warning naming the tail call, got %v", logs.All())
	}
	echoOK(t, c, "served by cranelift's baseline")

	nw := newHost(t, wruntime.Config{NoWinch: true})
	d, err := nw.Load(context.Background(), "d", echoWAT(t), wruntime.ComponentConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if i := d.Info(); i.BaselineCompiler != "cranelift" {
		t.Fatalf("NoWinch: baseline compiled by %q, want cranelift", i.BaselineCompiler)
	}
	echoOK(t, d, "no winch")
}

func TestWinchEnv(t *testing.T) {
	envRefused(t, wruntime.WinchEnv, "maybe")
	if i := echoWithEnvOff(t, wruntime.WinchEnv).Info(); i.BaselineCompiler != "cranelift" {
		t.Fatalf("WASMCANVAS_WINCH=off: baseline compiled by %q, want cranelift", i.BaselineCompiler)
	}
}

// TestNoBaseline: with the baseline tier off, a never-seen component is
// compiled optimised before Load returns, as before the tier existed.
func TestNoBaseline(t *testing.T) {
	t.Parallel()
	h := newHost(t, wruntime.Config{NoBaseline: true})
	wruntime.SetOptimizeHook(h, func(string) { t.Error("an optimising compile ran in the background") })
	c, err := h.Load(context.Background(), "a", echoWAT(t), wruntime.ComponentConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if i := c.Info(); i.Tier != wruntime.TierOptimized || i.CacheHit || i.CompileTime <= 0 || i.BaselineCompileTime != 0 {
		t.Fatalf("%+v, want optimised code compiled by Load", i)
	}
	echoOK(t, c, "optimised")
}

// TestCloseWhileOptimizing: closing the host while an optimising compile
// runs waits for it, and the component it was for gets nothing.
func TestCloseWhileOptimizing(t *testing.T) {
	t.Parallel()
	h, err := wruntime.NewHost(wruntime.Config{})
	if err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	wruntime.SetOptimizeHook(h, func(string) { close(started); <-release })
	swapped := make(chan wruntime.Info, 1)
	c, err := h.Load(context.Background(), "a", echoWAT(t), wruntime.ComponentConfig{OnTier: func(i wruntime.Info) { swapped <- i }})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	closed := make(chan error, 1)
	go func() { closed <- h.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a compile was running", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Close did not return after the compile")
	}
	select {
	case i := <-swapped:
		t.Fatalf("a closed component took optimised code: %+v", i)
	default:
	}
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("after Close: %d, want 503", rec.Code)
	}
}

func TestPagemapScanEnv(t *testing.T) {
	envRefused(t, wruntime.PagemapScanEnv, "auto")
	t.Setenv(wruntime.PagemapScanEnv, "")
	if h := newHost(t, wruntime.Config{}); h.PagemapScan() {
		t.Fatal("PAGEMAP_SCAN in use by default")
	}
	t.Setenv(wruntime.PagemapScanEnv, "on")
	h := newHost(t, wruntime.Config{})
	if !h.PagemapScan() && cm.KernelScansPagemap() {
		t.Fatalf("%s=on, and the kernel answers PAGEMAP_SCAN: not in use", wruntime.PagemapScanEnv)
	}
	c, err := h.Load(context.Background(), "echo", echoWAT(t), wruntime.ComponentConfig{})
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, c)
	for i := range 5 {
		echoBytes(t, url, []byte(fmt.Sprintf("request %d", i)))
	}
}

// TestBaselineKeptWhileOptimizing: a component unloaded before its
// optimised code is ready and loaded again (scaled to 0 and back) gets
// the baseline code already compiled, not a second compile beside the
// optimising one; once the optimised code has taken over, the baseline
// code is released.
func TestBaselineKeptWhileOptimizing(t *testing.T) {
	t.Parallel()
	h := newHost(t, wruntime.Config{CacheDir: t.TempDir()})
	release := make(chan struct{})
	done := sync.OnceFunc(func() { close(release) })
	t.Cleanup(done) // before the host's Close, which waits for the compile
	wruntime.SetOptimizeHook(h, func(string) { <-release })
	a, err := h.Load(context.Background(), "a", echoWAT(t), wruntime.ComponentConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if i := a.Info(); i.Tier != wruntime.TierBaseline || i.CacheHit {
		t.Fatalf("a: %+v, want baseline code it compiled", i)
	}
	a.Close()
	b, err := h.Load(context.Background(), "b", echoWAT(t), wruntime.ComponentConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if i := b.Info(); i.Tier != wruntime.TierBaseline || !i.CacheHit || i.BaselineCompileTime != 0 {
		t.Fatalf("b, loaded after a was unloaded: %+v, want a's baseline code, kept", i)
	}
	echoOK(t, b, "from kept baseline code")
	tiers := make(chan struct{})
	go func() {
		defer close(tiers)
		for b.Info().Tier != wruntime.TierOptimized {
			time.Sleep(time.Millisecond)
		}
	}()
	done()
	select {
	case <-tiers:
	case <-time.After(time.Minute):
		t.Fatal("no optimised code within a minute")
	}
	b.Close()
	// The job lets go of its holds after it swapped the code into b, so
	// a moment after b's tier says optimized.
	for i := 0; wruntime.CompiledCode(h) != 0; i++ {
		if i == 1000 {
			t.Fatalf("%d compiled codes held 10 s after the last component closed, want none (the job's hold on the baseline code ends with it)", wruntime.CompiledCode(h))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
