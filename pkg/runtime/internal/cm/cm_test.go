package cm

import (
	_ "embed"
	"errors"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

//go:embed testdata/values.wat
var valuesWAT []byte

const counterType = 7

// counters is the host state behind the test's counter resource.
type counters struct {
	next    uint32
	values  map[uint32]uint32
	dropped *atomic.Int64
}

type fixture struct {
	eng  *Engine
	lnk  *Linker
	comp *Component
}

// compileFixture compiles wat on a fresh engine with an empty linker.
func compileFixture(t testing.TB, wat []byte) *fixture {
	return compileFixtureOn(t, EngineConfig{}, wat)
}

// compileFixtureOn is compileFixture on an engine configured as cfg (its
// epoch ticking every 5ms).
func compileFixtureOn(t testing.TB, cfg EngineConfig, wat []byte) *fixture {
	t.Helper()
	cfg.EpochTick = 5 * time.Millisecond
	eng, err := NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	comp, err := Compile(eng, wat)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { comp.Close() })
	lnk := NewLinker(eng)
	t.Cleanup(func() { lnk.Close() })
	return &fixture{eng: eng, lnk: lnk, comp: comp}
}

func newFixture(t testing.TB, dropped *atomic.Int64) *fixture {
	return newFixtureOn(t, EngineConfig{}, dropped)
}

// engines are the compilers the fixture's tests run on: Cranelift
// optimising, and the baseline (Winch where it can be selected).
var engines = map[string]EngineConfig{"optimized": {}, "baseline": {Baseline: true}}

func newFixtureOn(t testing.TB, cfg EngineConfig, dropped *atomic.Int64) *fixture {
	t.Helper()
	f := compileFixtureOn(t, cfg, valuesWAT)
	lnk := f.lnk
	identity := func(_ *Store, args, results []Value) error { results[0] = args[0]; return nil }
	err := lnk.Define("test:host/values", func(li *LinkerInstance) error {
		if err := li.Func("str", func(_ *Store, args, results []Value) error {
			results[0] = "host:" + args[0].(string)
			return nil
		}); err != nil {
			return err
		}
		for _, name := range []string{"rec", "var", "res", "flg", "col", "tup", "lst"} {
			if err := li.Func(name, identity); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = lnk.Define("test:host/counters", func(li *LinkerInstance) error {
		if err := li.Resource("counter", counterType, func(s *Store, rep uint32) error {
			c := s.Data().(*counters)
			if _, ok := c.values[rep]; !ok {
				return errors.New("drop of unknown counter")
			}
			delete(c.values, rep)
			c.dropped.Add(1)
			return nil
		}); err != nil {
			return err
		}
		if err := li.Func("[constructor]counter", func(s *Store, args, results []Value) error {
			c := s.Data().(*counters)
			c.next++
			c.values[c.next] = args[0].(uint32)
			results[0] = Resource{Type: counterType, Rep: c.next, Own: true}
			return nil
		}); err != nil {
			return err
		}
		return li.Func("[method]counter.inc", func(s *Store, args, results []Value) error {
			c := s.Data().(*counters)
			r := args[0].(Resource)
			if r.Type != counterType || r.Own {
				return errors.New("inc wants a borrowed counter")
			}
			c.values[r.Rep]++
			results[0] = c.values[r.Rep]
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// call instantiates the component in a fresh store and calls one export.
func (f *fixture) call(t testing.TB, limits StoreLimits, deadline time.Duration, dropped *atomic.Int64, name string, args ...Value) ([]Value, error) {
	t.Helper()
	s := NewStore(f.eng, limits, &counters{values: map[uint32]uint32{}, dropped: dropped})
	defer s.Close()
	inst, err := f.lnk.Instantiate(s, f.comp)
	if err != nil {
		t.Fatal(err)
	}
	x, err := f.comp.Export(name)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	fn, err := inst.Func(x)
	if err != nil {
		t.Fatal(err)
	}
	if deadline > 0 {
		s.SetDeadline(deadline)
	}
	return fn.Call(args...)
}

// everyByte holds each byte value 0..255, four times.
var everyByte = func() []byte {
	b := make([]byte, 1024)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

func TestValuesRoundTrip(t *testing.T) {
	for name, cfg := range engines {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testValuesRoundTrip(t, cfg)
		})
	}
}

func testValuesRoundTrip(t *testing.T, cfg EngineConfig) {
	var dropped atomic.Int64
	f := newFixtureOn(t, cfg, &dropped)
	tests := []struct {
		name string
		in   Value
		want Value
	}{
		{"echo", "héllo, wörld", "héllo, wörld"},
		{"echo", "", ""},
		{"str", "ping", "host:ping"},
		{"rec", Record{{"a", uint8(7)}, {"b", "bee"}, {"c", List{uint32(1), uint32(2), uint32(3)}}, {"d", Option{int64(-9)}}}, nil},
		{"rec", Record{{"a", uint8(0)}, {"b", ""}, {"c", List(nil)}, {"d", Option{}}}, nil},
		{"var", Variant{Case: "none"}, nil},
		{"var", Variant{Case: "num", Value: uint32(42)}, nil},
		{"var", Variant{Case: "text", Value: "forty-two"}, nil},
		{"res", Result{Value: "fine"}, nil},
		{"res", Result{Err: true, Value: uint8(3)}, nil},
		{"flg", Flags{"r", "x"}, nil},
		{"flg", Flags(nil), nil},
		{"col", Enum("green"), nil},
		{"tup", Tuple{true, Char('λ'), float32(1.5), float64(-2.25), int16(-300)}, nil},
		{"lst", List{Tuple{"a", []byte{1, 2}}, Tuple{"b", List(nil)}}, nil},
		{"lst", List{Tuple{"c", List{uint8(3)}}}, List{Tuple{"c", []byte{3}}}},
		{"lst", List{Tuple{"every byte", everyByte}, Tuple{"and a 0", []byte{0}}}, nil},
		// Strings past maxSharedText together are read one by one.
		{"echo", strings.Repeat("é", maxSharedText), strings.Repeat("é", maxSharedText)},
		{"lst", List{Tuple{strings.Repeat("a", maxSharedText/2), []byte{1}}, Tuple{strings.Repeat("b", maxSharedText), List(nil)}}, nil},
	}
	for _, tc := range tests {
		want := tc.want
		if want == nil {
			want = tc.in
		}
		got, err := f.call(t, StoreLimits{}, 0, &dropped, tc.name, tc.in)
		if err != nil {
			t.Fatalf("%s(%#v): %v", tc.name, tc.in, err)
		}
		if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
			t.Errorf("%s(%#v) = %#v, want %#v", tc.name, tc.in, got, want)
		}
	}
}

func TestWrongValueTypeIsAnError(t *testing.T) {
	t.Parallel()
	var dropped atomic.Int64
	f := newFixture(t, &dropped)
	if _, err := f.call(t, StoreLimits{}, 0, &dropped, "echo", uint32(3)); err == nil {
		t.Fatal("echo(u32) succeeded, want a type error")
	}
	if _, err := f.call(t, StoreLimits{}, 0, &dropped, "echo", struct{}{}); err == nil || !strings.Contains(err.Error(), "cannot pass Go value") {
		t.Fatalf("echo(struct{}) error = %v, want a conversion error", err)
	}
	// An owned resource argument waits as a marker for cm_func_call: when a
	// later argument fails to convert, the marker must be discarded, never
	// handed to wasmtime to delete.
	if _, err := f.call(t, StoreLimits{}, 0, &dropped, "echo", Resource{Type: counterType, Rep: 1, Own: true}, struct{}{}); err == nil || !strings.Contains(err.Error(), "argument 1: cannot pass Go value") {
		t.Fatalf("echo(own, struct{}) error = %v, want a conversion error", err)
	}
	// wasmtime would abort the process on a host-made borrow: it must stop here.
	if _, err := f.call(t, StoreLimits{}, 0, &dropped, "echo", Resource{Type: counterType, Rep: 1}); err == nil || !strings.Contains(err.Error(), "cannot pass a borrow") {
		t.Fatalf("echo(borrow) error = %v, want a refusal", err)
	}
}

func TestHostResourceDestructor(t *testing.T) {
	t.Parallel()
	var dropped atomic.Int64
	f := newFixture(t, &dropped)
	for i := 0; i < 3; i++ {
		got, err := f.call(t, StoreLimits{}, 0, &dropped, "count", uint32(40))
		if err != nil {
			t.Fatal(err)
		}
		if got[0] != uint32(42) {
			t.Fatalf("count(40) = %v, want 42", got[0])
		}
	}
	if n := dropped.Load(); n != 3 {
		t.Fatalf("destructor ran %d times, want 3", n)
	}
}

func TestTrapAndDeadlineAndMemoryCap(t *testing.T) {
	for name, cfg := range engines {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testTrapAndDeadlineAndMemoryCap(t, cfg)
		})
	}
}

func testTrapAndDeadlineAndMemoryCap(t *testing.T, cfg EngineConfig) {
	var dropped atomic.Int64
	f := newFixtureOn(t, cfg, &dropped)

	traps := []struct {
		export string
		args   []Value
		want   string
	}{
		{"boom", nil, "unreachable"},
		{"oob", nil, "out of bounds memory access"},
		{"recurse", []Value{int32(0)}, "call stack exhausted"},
	}
	for _, tc := range traps {
		_, err := f.call(t, StoreLimits{}, 0, &dropped, tc.export, tc.args...)
		var trap *Trap
		if !errors.As(err, &trap) || !strings.Contains(trap.Message, tc.want) {
			t.Fatalf("%s error = %v, want a trap naming %q", tc.export, err, tc.want)
		}
	}

	start := time.Now()
	_, err := f.call(t, StoreLimits{}, 50*time.Millisecond, &dropped, "spin")
	if !errors.Is(err, ErrDeadline) {
		t.Fatalf("spin error = %v, want ErrDeadline", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("spin took %v to interrupt", el)
	}

	got, err := f.call(t, StoreLimits{MaxMemoryBytes: 4 << 20}, 0, &dropped, "grow", uint32(1000))
	if err != nil || got[0] != int32(-1) {
		t.Fatalf("grow(1000 pages) under a 4 MiB cap = %v, %v; want -1", got, err)
	}
	got, err = f.call(t, StoreLimits{MaxMemoryBytes: 4 << 20}, 0, &dropped, "grow", uint32(10))
	if err != nil || got[0] != int32(1) {
		t.Fatalf("grow(10 pages) under a 4 MiB cap = %v, %v; want old size 1", got, err)
	}
}

func TestHostFunctionErrorTraps(t *testing.T) {
	t.Parallel()
	eng, err := NewEngine(EngineConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	comp, err := Compile(eng, valuesWAT)
	if err != nil {
		t.Fatal(err)
	}
	defer comp.Close()
	lnk := NewLinker(eng)
	defer lnk.Close()
	if err := lnk.DefineUnknownImportsAsTraps(comp); err != nil {
		t.Fatal(err)
	}
	s := NewStore(eng, StoreLimits{}, nil)
	defer s.Close()
	inst, err := lnk.Instantiate(s, comp)
	if err != nil {
		t.Fatal(err)
	}
	x, err := comp.Export("str")
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	fn, err := inst.Func(x)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fn.Call("x"); err == nil {
		t.Fatal("call of an undefined import succeeded, want a trap")
	}
}

func TestCompileCache(t *testing.T) {
	t.Parallel()
	eng, err := NewEngine(EngineConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	dir := t.TempDir()
	key, src := CacheKey(eng, valuesWAT), func() ([]byte, error) { return valuesWAT, nil }
	c1, hit, err := CompileCached(eng, key, src, dir)
	if err != nil || hit {
		t.Fatalf("first compile: hit=%v err=%v, want a miss", hit, err)
	}
	c1.Close()
	c2, hit, err := CompileCached(eng, key, func() ([]byte, error) {
		t.Error("a cache hit asked for the bytes")
		return valuesWAT, nil
	}, dir)
	if err != nil || !hit {
		t.Fatalf("second compile: hit=%v err=%v, want a hit", hit, err)
	}
	defer c2.Close()
	if got := c2.Imports(); !reflect.DeepEqual(got, []string{"test:host/values", "test:host/counters"}) {
		t.Fatalf("imports = %q", got)
	}
	// One flipped bit in the code: recompiled, not trusted.
	path := dir + "/" + key + ".cwasm"
	entry, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	entry[len(entry)/2] ^= 0x10
	if err := os.WriteFile(path, entry, 0o600); err != nil {
		t.Fatal(err)
	}
	if c, hit, err := CompileCached(eng, key, src, dir); err != nil || hit {
		t.Fatalf("compile over a flipped bit: hit=%v err=%v, want a miss", hit, err)
	} else {
		c.Close()
	}
	// A torn cache entry is recompiled, not trusted.
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	c3, hit, err := CompileCached(eng, key, src, dir)
	if err != nil || hit {
		t.Fatalf("compile over a torn entry: hit=%v err=%v, want a miss", hit, err)
	}
	c3.Close()
	if _, err := Compile(eng, []byte("(component (core module (func (export \"f\") (result i32))))")); err == nil {
		t.Fatal("invalid WAT compiled")
	}
}

// A pool whose address space cannot be reserved is an error, not the
// process abort wasmtime's C API would make of it.
func TestPoolTooLargeIsAnError(t *testing.T) {
	_, err := NewEngine(EngineConfig{Pooling: &PoolingConfig{TotalInstances: 1 << 22, MaxMemoryBytes: 64 << 20}})
	if !errors.Is(err, ErrPoolReservation) || !strings.Contains(err.Error(), "TiB of virtual address space") {
		t.Fatalf("err = %v, want ErrPoolReservation naming the size", err)
	}
	e, err := NewEngine(EngineConfig{Pooling: &PoolingConfig{TotalInstances: 4, MaxMemoryBytes: 64 << 20}})
	if err != nil {
		t.Fatalf("a small pool: %v", err)
	}
	e.Close()
}

// BenchmarkHostCalls calls the export count on one instance: each call is
// one export call from Go and four host calls back into Go (a resource
// constructor, two methods, a drop); the per-request cost of wasi:http
// is mostly this, times the guest's host calls.
func BenchmarkHostCalls(b *testing.B) {
	var dropped atomic.Int64
	f := newFixture(b, &dropped)
	s := NewStore(f.eng, StoreLimits{}, &counters{values: map[uint32]uint32{}, dropped: &dropped})
	defer s.Close()
	inst, err := f.lnk.Instantiate(s, f.comp)
	if err != nil {
		b.Fatal(err)
	}
	x, err := f.comp.Export("count")
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	fn, err := inst.Func(x)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := fn.Call(uint32(1)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/5, "ns/crossing")
}
