package cm

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// rssBytes reads the resident set size from /proc/self/statm.
func rssBytes(t testing.TB) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("no /proc/self/statm on this system: %v", err)
	}
	f := strings.Fields(string(b))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		t.Fatalf("parse statm %q: %v", b, err)
	}
	return pages * int64(os.Getpagesize())
}

// TestNoLeakAcrossInstances runs leakCycles (leak_cycles*_test.go)
// instantiate+call+close cycles and checks that the second half grows RSS by
// less than a bound: a leak of even one small C object per cycle (a store, a
// string, a resource) would exceed it.
func TestNoLeakAcrossInstances(t *testing.T) {
	var dropped atomic.Int64
	f := newFixture(t, &dropped)
	x, err := f.comp.Export("count")
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	echo, err := f.comp.Export("lst")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	arg := List{Tuple{"some text to copy", List{uint8(1), uint8(2), uint8(3)}}}
	cycle := func() {
		s := NewStore(f.eng, StoreLimits{MaxMemoryBytes: 1 << 20}, &counters{values: map[uint32]uint32{}, dropped: &dropped})
		defer s.Close()
		inst, err := f.lnk.Instantiate(s, f.comp)
		if err != nil {
			t.Fatal(err)
		}
		for _, idx := range []*ExportIndex{x, echo} {
			fn, err := inst.Func(idx)
			if err != nil {
				t.Fatal(err)
			}
			a := Value(uint32(1))
			if idx == echo {
				a = arg
			}
			if _, err := fn.Call(a); err != nil {
				t.Fatal(err)
			}
		}
	}
	half := leakCycles / 2
	start := time.Now()
	for i := 0; i < half; i++ {
		cycle()
	}
	runtime.GC()
	before := rssBytes(t)
	for i := 0; i < half; i++ {
		cycle()
	}
	runtime.GC()
	after := rssBytes(t)
	el := time.Since(start)
	t.Logf("%d cycles in %v (%v/cycle); RSS %d KiB -> %d KiB over the second half",
		leakCycles, el, el/time.Duration(leakCycles), before>>10, after>>10)
	// 8 MiB is far below one leaked store (>10 KiB) per cycle.
	if growth := after - before; growth > 8<<20 {
		t.Fatalf("RSS grew by %d KiB over %d cycles: something leaks", growth>>10, half)
	}
	if got := dropped.Load(); got != int64(leakCycles) {
		t.Fatalf("destructor ran %d times, want %d", got, leakCycles)
	}
}
