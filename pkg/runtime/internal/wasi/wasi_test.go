package wasi

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/cm"
)

// harness instantiates testdata/passthrough.wat with a Ctx and calls its
// exports, which are the host functions themselves.
type harness struct {
	t    *testing.T
	comp *cm.Component
	inst *cm.Instance
	ctx  *Ctx
	logs *observer.ObservedLogs
}

func newHarness(t *testing.T, ctx context.Context) *harness {
	t.Helper()
	wat, err := os.ReadFile("testdata/passthrough.wat")
	if err != nil {
		t.Fatal(err)
	}
	eng, err := cm.NewEngine(cm.EngineConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	comp, err := cm.Compile(eng, wat)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { comp.Close() })
	lnk := cm.NewLinker(eng)
	t.Cleanup(func() { lnk.Close() })
	if err := Link(lnk, comp, Interfaces()); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.DebugLevel)
	wctx := NewCtx(ctx, &Config{
		Name:   "probe",
		Env:    map[string]string{"B": "2", "A": "1"},
		Config: map[string]string{"greeting": "hello"},
		Log:    zap.New(core),
	})
	s := cm.NewStore(eng, cm.StoreLimits{}, wctx)
	t.Cleanup(func() { s.Close() })
	inst, err := lnk.Instantiate(s, comp)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, comp: comp, inst: inst, ctx: wctx, logs: logs}
}

func (h *harness) call(name string, args ...cm.Value) (cm.Value, error) {
	h.t.Helper()
	x, err := h.comp.Export(name)
	if err != nil {
		h.t.Fatal(err)
	}
	defer x.Close()
	fn, err := h.inst.Func(x)
	if err != nil {
		h.t.Fatal(err)
	}
	out, err := fn.Call(args...)
	if err != nil || len(out) == 0 {
		return nil, err
	}
	return out[0], nil
}

func (h *harness) must(name string, args ...cm.Value) cm.Value {
	h.t.Helper()
	v, err := h.call(name, args...)
	if err != nil {
		h.t.Fatalf("%s: %v", name, err)
	}
	return v
}

func TestEnvironmentConfigAndRandom(t *testing.T) {
	t.Parallel()
	h := newHarness(t, context.Background())
	if got := h.must("get-environment"); !reflect.DeepEqual(got, cm.List{cm.Tuple{"A", "1"}, cm.Tuple{"B", "2"}}) {
		t.Errorf("environment = %#v", got)
	}
	if got := h.must("config-get", "greeting"); !reflect.DeepEqual(got, cm.Result{Value: cm.Option{Value: "hello"}}) {
		t.Errorf("config get = %#v", got)
	}
	if got := h.must("config-get", "missing"); !reflect.DeepEqual(got, cm.Result{Value: cm.Option{}}) {
		t.Errorf("config get missing = %#v", got)
	}
	if got := h.must("config-get-all"); !reflect.DeepEqual(got, cm.Result{Value: cm.List{cm.Tuple{"greeting", "hello"}}}) {
		t.Errorf("config get-all = %#v", got)
	}
	b, _ := cm.Bytes(h.must("get-random-bytes", uint64(32)))
	if len(b) != 32 {
		t.Errorf("random bytes: %d, want 32", len(b))
	}
	if _, err := h.call("get-random-bytes", uint64(1<<30)); err == nil {
		t.Error("a 1 GiB random request succeeded, want a trap")
	}
}

func TestStdoutAndLoggingReachZap(t *testing.T) {
	t.Parallel()
	h := newHarness(t, context.Background())
	out := h.must("get-stdout").(cm.Resource)
	// An owned handle is lent for a borrow<T> parameter.
	borrow := out
	if got := h.must("write", borrow, []byte("line one\nline tw")); !reflect.DeepEqual(got, cm.Result{}) {
		t.Fatalf("write = %#v", got)
	}
	h.must("write", borrow, []byte("o\n"))
	h.must("log", cm.Enum("warn"), "ctx", "from wasi:logging")
	var got []string
	for _, e := range h.logs.All() {
		if e.ContextMap()["component"] != "probe" {
			t.Errorf("log entry %q lacks the component name", e.Message)
		}
		got = append(got, e.Message)
	}
	if strings.Join(got, "|") != "line one|line two|from wasi:logging" {
		t.Errorf("log lines = %q", got)
	}
	if _, err := h.call("write", borrow, make([]byte, 5000)); err == nil {
		t.Error("blocking-write-and-flush of 5000 bytes succeeded, want a trap (limit 4096)")
	}
}

func TestStdinIsClosed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, context.Background())
	in := h.must("get-stdin").(cm.Resource)
	got := h.must("blocking-read", in, uint64(10))
	if !reflect.DeepEqual(got, cm.Result{Err: true, Value: cm.Variant{Case: "closed"}}) {
		t.Fatalf("stdin read = %#v, want closed", got)
	}
}

func TestClocksAndPoll(t *testing.T) {
	t.Parallel()
	h := newHarness(t, context.Background())
	t0 := h.must("now").(uint64)
	p := h.must("subscribe-duration", uint64(30*time.Millisecond)).(cm.Resource)
	borrow := p
	if h.must("ready", borrow).(bool) {
		t.Fatal("a 30ms timer is ready at once")
	}
	if got := h.must("poll", cm.List{borrow}); !reflect.DeepEqual(got, cm.List{uint32(0)}) {
		t.Fatalf("poll = %#v", got)
	}
	if el := time.Duration(h.must("now").(uint64) - t0); el < 30*time.Millisecond {
		t.Fatalf("poll returned after %v, before the timer", el)
	}
}

func TestBlockingPollGivesUpWithTheContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	h := newHarness(t, ctx)
	p := h.must("subscribe-duration", uint64(time.Hour)).(cm.Resource)
	start := time.Now()
	_, err := h.call("poll", cm.List{p})
	if err == nil || !strings.Contains(err.Error(), "abandoned") {
		t.Fatalf("poll error = %v, want abandoned", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("poll outlived its context by far")
	}
}

func TestClosedCapabilities(t *testing.T) {
	t.Parallel()
	h := newHarness(t, context.Background())
	if got := h.must("create-tcp-socket", cm.Enum("ipv4")); !reflect.DeepEqual(got, cm.Result{Err: true, Value: cm.Enum("access-denied")}) {
		t.Errorf("create-tcp-socket = %#v, want access-denied", got)
	}
	_, err := h.call("unknown")
	if err == nil || !strings.Contains(err.Error(), "example:unknown/thing@1.0.0#f is not provided by this host") {
		t.Errorf("unknown import error = %v", err)
	}
}
