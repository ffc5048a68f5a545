package cm

import (
	"runtime"
	"testing"
)

// TestWinchBaseline: on x86-64 a baseline engine compiles with Winch (the
// probe confirms it: Winch refuses a tail call that Cranelift compiles),
// NoWinch gives the Cranelift baseline, and the two name different code
// in the compile cache. The fixture's tests run on the Winch engine too
// (engines in cm_test.go).
func TestWinchBaseline(t *testing.T) {
	t.Parallel()
	newEngine := func(cfg EngineConfig) *Engine {
		e, err := NewEngine(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	}
	winch, cranelift, optimized := newEngine(EngineConfig{Baseline: true}), newEngine(EngineConfig{Baseline: true, NoWinch: true}), newEngine(EngineConfig{})
	if runtime.GOARCH == "amd64" && winch.Compiler() != CompilerWinch {
		t.Fatalf("baseline engine compiles with %s, want winch on amd64", winch.Compiler())
	}
	if cranelift.Compiler() != CompilerCranelift || optimized.Compiler() != CompilerCranelift {
		t.Fatalf("NoWinch baseline %s, optimised %s: want cranelift", cranelift.Compiler(), optimized.Compiler())
	}
	if winch.Compiler() == CompilerWinch && !winch.isWinch() {
		t.Error("the Winch engine compiles a tail call")
	}
	for _, e := range []*Engine{cranelift, optimized} {
		if e.isWinch() {
			t.Errorf("a Cranelift engine (%+v) refuses the tail-call probe", e.cfg)
		}
	}
	src := []byte(tailCallProbe)
	if winch.Compiler() == CompilerWinch && CacheKey(winch, src) == CacheKey(cranelift, src) {
		t.Error("Winch and Cranelift baseline code share a cache key")
	}
}
