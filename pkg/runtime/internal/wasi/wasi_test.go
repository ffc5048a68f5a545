package wasi

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
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

// newHarness's opts change the Ctx's Config before the instance is made.
func newHarness(t *testing.T, ctx context.Context, opts ...func(*Config)) *harness {
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
	cfg := &Config{
		Name:   "probe",
		Env:    map[string]string{"B": "2", "A": "1"},
		Config: map[string]string{"greeting": "hello"},
		Log:    zap.New(core),
	}
	for _, o := range opts {
		o(cfg)
	}
	wctx := NewCtx(ctx, cfg)
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
	// A guest's 4 MiB record is one log line of what the Observer keeps.
	h.must("log", cm.Enum("info"), strings.Repeat("c", 1<<20), strings.Repeat("m", 4<<20))
	all := h.logs.All()
	last := all[len(all)-1]
	if len(last.Message) != 8192 || len(last.ContextMap()["context"].(string)) != 4096 {
		t.Errorf("a 4 MiB record logged as a %d-byte message with a %d-byte context, want 8192 and 4096", len(last.Message), len(last.ContextMap()["context"].(string)))
	}
	if _, err := h.call("write", borrow, make([]byte, 5000)); err == nil {
		t.Error("blocking-write-and-flush of 5000 bytes succeeded, want a trap (limit 4096)")
	}
}

// TestLoggingOfALinkedComponent: a linked component's wasi:logging
// records go to its Recorder (here the Observer's zap logger) as its
// Source, with the API of the request's route when that route is the
// component's own; a record the Recorder refuses goes to the runtime's
// logger with the reason.
func TestLoggingOfALinkedComponent(t *testing.T) {
	t.Parallel()
	probe := observe.Source{Namespace: "probes", Component: "probe"}
	routed := func(src observe.Source) context.Context { return observe.WithSource(context.Background(), &src) }
	for name, c := range map[string]struct {
		ctx      context.Context
		src      observe.Source
		level    string
		want     zapcore.Level
		api      string // the record's oda.api; "-" when the runtime's logger got it
		logCtx   string
		fieldCtx any // the record's fields.context
	}{
		"the route's API":        {routed(observe.Source{Namespace: "probes", Component: "probe", API: "catalog"}), probe, "warn", zapcore.WarnLevel, "catalog", "db", "db"},
		"no route":               {context.Background(), probe, "critical", zapcore.ErrorLevel, "", "db", "db"},
		"another's route":        {routed(observe.Source{Namespace: "probes", Component: "other", API: "catalog"}), probe, "trace", zapcore.DebugLevel, "", "db", "db"},
		"no context":             {context.Background(), probe, "info", zapcore.InfoLevel, "", "", nil},
		"refused: not Component": {context.Background(), observe.Source{}, "error", zapcore.ErrorLevel, "-", "db", nil},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			core, recorded := observer.New(zap.DebugLevel)
			o := observe.New(observe.Options{Logger: zap.New(core), Getenv: func(string) string { return "" }})
			h := newHarness(t, c.ctx, func(cfg *Config) { cfg.Observe, cfg.Source = o, c.src })
			h.must("log", cm.Enum(c.level), c.logCtx, "from wasi:logging")
			if c.api == "-" {
				if recorded.Len() != 0 {
					t.Errorf("the Recorder logged %v, want nothing", recorded.All())
				}
				all := h.logs.All()
				if len(all) != 1 || all[0].Message != "from wasi:logging" || all[0].Level != c.want || all[0].ContextMap()["observe_error"] == nil {
					t.Errorf("the runtime's logger got %v, want the record at %s with the Recorder's reason", all, c.want)
				}
				return
			}
			if n := h.logs.Len(); n != 0 {
				t.Errorf("the runtime's logger got %d entries, want none: the record is the Recorder's", n)
			}
			all := recorded.All()
			if len(all) != 1 {
				t.Fatalf("the Recorder logged %d entries, want 1", len(all))
			}
			e := all[0].ContextMap()
			var fieldCtx any
			if f, ok := e["fields"].(map[string]any); ok {
				fieldCtx = f["context"]
			}
			api, _ := e["oda.api"].(string)
			if all[0].Message != "from wasi:logging" || all[0].Level != c.want || e["oda.component.name"] != "probe" ||
				e["oda.component.namespace"] != "probes" || api != c.api || fieldCtx != c.fieldCtx {
				t.Errorf("the Recorder logged %q at %s with %v; want %s, oda.api %q, fields.context %v", all[0].Message, all[0].Level, e, c.want, c.api, c.fieldCtx)
			}
		})
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
