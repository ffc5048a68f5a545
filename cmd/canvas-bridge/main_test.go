package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/bridge"
	"github.com/wasmcanvas/wasmcanvas/pkg/bridge/identityrpc"
	"github.com/wasmcanvas/wasmcanvas/pkg/bridge/observerpc"
	"github.com/wasmcanvas/wasmcanvas/pkg/bridge/par"
	"github.com/wasmcanvas/wasmcanvas/pkg/identity"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc"
)

func TestMain(m *testing.M) { testkit.VerifyNoLeaks(m) }

// binary builds canvas-bridge into the test's temp dir.
func binary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "canvas-bridge")
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process is a canvas-bridge started as a wasmCloud host starts a
// provider: host data on stdin.
type process struct {
	cmd    *exec.Cmd
	stderr *testkit.Buffer
	exited chan struct{}
	err    error // set before exited closes
}

func start(t *testing.T, bin string, stdin []byte) *process {
	t.Helper()
	p := &process{stderr: &testkit.Buffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin)
	p.cmd.Stdin = bytes.NewReader(stdin)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("canvas-bridge stderr:\n%s", p.stderr)
		}
	})
	return p
}

func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

func hostDataLine(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(base64.StdEncoding.EncodeToString(b) + "\n")
}

// The provider lifecycle as a wasmCloud 1.x host drives it, against the
// real binary and a real nats-server.
func TestProviderLifecycle(t *testing.T) {
	t.Parallel()
	bin := binary(t)
	srv := testkit.NATS(t, embedded.Config{})
	hostX, _ := nkeys.CreateCurveKeys()
	provX, _ := nkeys.CreateCurveKeys()
	hostPub, _ := hostX.PublicKey()
	provPub, _ := provX.PublicKey()
	provSeed, _ := provX.Seed()
	const (
		lat     = "lifecycle"
		self    = translate.BridgeID
		ownHost = "NOWNHOSTKEY"
	)
	p := start(t, bin, hostDataLine(t, map[string]any{
		"host_id": ownHost, "lattice_rpc_prefix": lat, "link_name": "default", "lattice_rpc_url": srv.ClientURL(),
		"provider_key": self, "instance_id": "c0ffee", "link_definitions": []any{}, "config": map[string]string{observerpc.ConfigMetricsListen: "127.0.0.1:0"},
		"host_xkey_public_key": hostPub, "provider_xkey_private_key": string(provSeed),
		"structured_logging": true, "log_level": "info",
		"otel_config": map[string]any{"enable_observability": false, "protocol": "Http"},
	}))
	nc := testkit.Connect(t, srv.ClientURL())

	health := func() (string, error) {
		m, err := nc.Request(subject.ProviderHealth(lat, self), []byte("{}"), 250*time.Millisecond)
		if err != nil {
			return "", err
		}
		var h struct {
			Healthy bool   `json:"healthy"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(m.Data, &h); err != nil || !h.Healthy {
			return "", errors.New("unhealthy reply: " + string(m.Data))
		}
		return h.Message, nil
	}
	testkit.WaitForErr(t, 20*time.Second, "the first health check answered", func() error {
		if !p.running() {
			return errors.New("canvas-bridge exited: " + p.stderr.String())
		}
		_, err := health()
		return err
	})

	t.Log("link definition put, with a secret sealed for the provider's xkey")
	secrets, _ := json.Marshal(map[string]any{"token": map[string]any{"kind": "String", "value": "s3cret"}})
	sealed, err := hostX.Seal(secrets, provPub)
	if err != nil {
		t.Fatal(err)
	}
	ints := make([]int, len(sealed))
	for i, b := range sealed {
		ints[i] = int(b)
	}
	ld := map[string]any{"source_id": "shop-api", "target": self, "name": "default", "wit_namespace": "wasmcanvas",
		"wit_package": "observe", "interfaces": []string{"metrics"}, "source_config": map[string]string{},
		"target_config": map[string]string{observerpc.ConfigNamespace: "shop", observerpc.ConfigComponent: "productcatalog"}, "source_secrets": nil, "target_secrets": ints}
	body, _ := json.Marshal(ld)
	if err := nc.Publish(subject.ProviderLinkPut(lat, provPub), body); err != nil {
		t.Fatal(err)
	}
	testkit.WaitForErr(t, 5*time.Second, "the link counted in health", func() error {
		msg, err := health()
		if err == nil && !strings.HasPrefix(msg, "1 links") {
			err = errors.New("health message " + msg)
		}
		return err
	})

	observeOverWRPC(t, nc, p, lat, self)
	identityOverWRPC(t, nc, lat, self)

	t.Log("link definition del")
	if err := nc.Publish(subject.ProviderLinkDel(lat, self), body); err != nil {
		t.Fatal(err)
	}
	testkit.WaitForErr(t, 5*time.Second, "the link gone from health", func() error {
		msg, err := health()
		if err == nil && !strings.HasPrefix(msg, "0 links") {
			err = errors.New("health message " + msg)
		}
		return err
	})
	rpc, err := wrpc.NewClient(nc, subject.WRPCPrefix(lat, self))
	if err != nil {
		t.Fatal(err)
	}
	defer rpc.Close()
	var oe *observe.Error
	if err := (&observerpc.Client{RPC: rpc, SourceID: "shop-api"}).CounterAdd(t.Context(), "after_del_total", 1, nil); !errors.As(err, &oe) || oe.Kind != observe.NotLinked {
		t.Errorf("a call after the link's deletion: %v, want the WIT error not-linked", err)
	}

	t.Log("a shutdown for another host is ignored")
	_, err = nc.Request(subject.ProviderShutdown(lat, self, ""), []byte(`{"host_id":"NANOTHERHOST"}`), 500*time.Millisecond)
	if !errors.Is(err, nats.ErrTimeout) {
		t.Fatalf("shutdown for another host: %v, want no answer", err)
	}
	if _, err := health(); err != nil || !p.running() {
		t.Fatalf("after another host's shutdown: health %v, running %v", err, p.running())
	}

	t.Log("its own host's shutdown: answered, exit 0 within 2 s")
	m, err := nc.Request(subject.ProviderShutdown(lat, self, ""), []byte(`{"host_id":"`+ownHost+`"}`), 2*time.Second)
	if err != nil || string(m.Data) != bridge.ShuttingDown {
		t.Fatalf("shutdown reply %v, %v: want %q", m, err, bridge.ShuttingDown)
	}
	asked := time.Now()
	select {
	case <-p.exited:
	case <-time.After(2 * time.Second):
		t.Fatal("canvas-bridge still running 2 s after its host's shutdown")
	}
	if p.err != nil {
		t.Fatalf("canvas-bridge exited with %v after its host's shutdown, want 0", p.err)
	}
	t.Logf("exited %s after the shutdown reply", time.Since(asked).Round(time.Millisecond))
	if strings.Contains(p.stderr.String(), "s3cret") || strings.Contains(p.stderr.String(), string(provSeed)) {
		t.Error("the provider logged a secret")
	}
}

// observeOverWRPC calls wasmcanvas:observe on the running bridge as the
// linked component shop-api and as one without a link, and scrapes what
// it recorded from the bridge's metrics listener.
func observeOverWRPC(t *testing.T, nc *nats.Conn, p *process, lat, self string) {
	t.Helper()
	addr := metricsAddress(t, p)
	rpc, err := wrpc.NewClient(nc, subject.WRPCPrefix(lat, self))
	if err != nil {
		t.Fatal(err)
	}
	defer rpc.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	shop := &observerpc.Client{RPC: rpc, SourceID: "shop-api", Trace: observe.TraceContext{Traceparent: "00-" + traceID + "-00f067aa0ba902b7-01"}}
	web := []observe.KeyValue{{Key: "channel", Value: "web"}}

	t.Log("wasmcanvas:observe over wRPC from the linked component")
	for _, err := range []error{
		shop.CounterAdd(ctx, "offerings_created_total", 3, web),
		shop.HistogramRecord(ctx, "query_seconds", 0.25, web),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	span, err := shop.StartSpan(ctx, "create offering", observe.SpanInternal, nil)
	if err != nil || !strings.Contains(span.Context.Traceparent, traceID) {
		t.Fatalf("start-span: %+v, %v; want a span in the caller's trace", span, err)
	}
	if err := shop.EndSpan(ctx, span, web, observe.SpanStatus{Code: observe.StatusOK}); err != nil {
		t.Fatal(err)
	}
	if err := shop.Log(ctx, observe.LevelInfo, "offering created", web); err != nil {
		t.Fatal(err)
	}
	own := scrape(t, "http://"+addr+"/metrics/shop-api", http.StatusOK)
	for _, w := range []struct {
		series string
		want   float64
	}{
		{`offerings_created_total{channel="web"}`, 3},
		{`query_seconds{channel="web"}`, 1},
		{`wasmcanvas_bridge_calls_total{function="counter-add",interface="metrics",result="ok",source_id="shop-api"}`, 1},
		{`wasmcanvas_bridge_calls_total{function="start-span",interface="tracing",result="ok",source_id="shop-api"}`, 1},
		{`wasmcanvas_bridge_calls_total{function="end-span",interface="tracing",result="ok",source_id="shop-api"}`, 1},
		{`wasmcanvas_bridge_calls_total{function="log",interface="logging",result="ok",source_id="shop-api"}`, 1},
	} {
		if got, ok := own[w.series]; !ok || got != w.want {
			t.Errorf("/metrics/shop-api: %s = %v (present %v), want %v", w.series, got, ok, w.want)
		}
	}

	t.Log("a component with no link: the WIT error not-linked, nothing recorded")
	var oe *observe.Error
	rogue := &observerpc.Client{RPC: rpc, SourceID: "rogue-api"}
	if err := rogue.CounterAdd(ctx, "rogue_total", 1, nil); !errors.As(err, &oe) || oe.Kind != observe.NotLinked {
		t.Errorf("counter-add without a link: %v, want the WIT error not-linked", err)
	}
	scrape(t, "http://"+addr+"/metrics/rogue-api", http.StatusNotFound)

	t.Log("an unknown function, garbage params: errors, and the bridge keeps serving")
	if _, err := rpc.Invoke(ctx, observerpc.Instance("metrics"), "counter-sub", nil, nats.Header{wrpc.HeaderSourceID: {"shop-api"}}); !errors.Is(err, wrpc.ErrNoResponders) {
		t.Errorf("unknown function: %v, want no responders", err)
	}
	if _, err := rpc.Invoke(ctx, observerpc.Instance("metrics"), "counter-add", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, nats.Header{wrpc.HeaderSourceID: {"shop-api"}}); !errors.As(err, new(*wrpc.RemoteError)) {
		t.Errorf("garbage params: %v, want the call failed by the server", err)
	}
	all := scrape(t, "http://"+addr+"/metrics", http.StatusOK)
	for series := range all {
		if strings.HasPrefix(series, "rogue") {
			t.Errorf("the call without a link recorded %s", series)
		}
	}
	if got := all[`offerings_created_total{channel="web",wasmcanvas_component="productcatalog",wasmcanvas_namespace="shop"}`]; got != 3 {
		t.Errorf("/metrics: shop's counter %v, want 3", got)
	}
	if !p.running() {
		t.Fatal("canvas-bridge exited after the bad calls")
	}
}

// metricsAddress is the address the bridge logged for its metrics listener.
func metricsAddress(t *testing.T, p *process) string {
	t.Helper()
	var addr string
	testkit.WaitFor(t, 5*time.Second, "the metrics listener's address in the log", func() bool {
		for _, line := range strings.Split(p.stderr.String(), "\n") {
			var l struct {
				Msg     string `json:"msg"`
				Address string `json:"address"`
			}
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "serving Prometheus metrics" {
				addr = l.Address
				return true
			}
		}
		return false
	})
	return addr
}

// scrape GETs url, wants status, and parses the exposition with expfmt
// into series (name{labels sorted}) and values (a histogram's count).
func scrape(t *testing.T, url string, status int) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != status {
		t.Fatalf("GET %s: %s, want %d", url, resp.Status, status)
	}
	if status != http.StatusOK {
		return nil
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: the exposition does not parse: %v", url, err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+strconv.Quote(l.GetValue()))
			}
			slices.Sort(ls)
			out[name+"{"+strings.Join(ls, ",")+"}"] = m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
	}
	return out
}

// Malformed host data: exit 1, one clear line, nothing started.
func TestMalformedHostData(t *testing.T) {
	t.Parallel()
	bin := binary(t)
	for _, tt := range []struct {
		name  string
		stdin []byte
		want  string
	}{
		{"empty stdin", nil, "stdin is empty"},
		{"not base64", []byte("{\"host_id\":\"N\"}\n"), "not standard base64"},
		{"not JSON", []byte(base64.StdEncoding.EncodeToString([]byte("host_id: N")) + "\n"), "not the host data JSON"},
		{"missing fields", hostDataLine(t, map[string]any{"host_id": "N"}), "lattice_rpc_prefix"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := start(t, bin, tt.stdin)
			select {
			case <-p.exited:
			case <-time.After(10 * time.Second):
				t.Fatal("canvas-bridge kept running on malformed host data")
			}
			var ee *exec.ExitError
			if !errors.As(p.err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("exit %v, want exit code 1", p.err)
			}
			out := p.stderr.String()
			if lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); len(lines) != 1 ||
				!strings.HasPrefix(out, "canvas-bridge: host data: ") || !strings.Contains(out, tt.want) {
				t.Fatalf("stderr %q: want one line `canvas-bridge: host data: ...` saying %q", out, tt.want)
			}
		})
	}
}

// pack writes an archive of the binary that verifies, under keys it
// creates 0600 and never prints.
func TestPack(t *testing.T) {
	t.Parallel()
	bin := binary(t)
	dir := t.TempDir()
	out, keys := filepath.Join(dir, "canvas-bridge.par.gz"), filepath.Join(dir, "keys", "bridge.nk")
	cmd := exec.Command(bin, "pack", "--out", out, "--keys", keys)
	stderr, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pack: %v\n%s", err, stderr)
	}
	seeds, err := os.ReadFile(keys)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(keys); fi.Mode().Perm() != 0o600 {
		t.Errorf("keys file mode %v, want 0600", fi.Mode().Perm())
	}
	for _, l := range strings.Split(string(seeds), "\n") {
		if _, seed, ok := strings.Cut(l, " "); ok && strings.HasPrefix(seed, "S") && bytes.Contains(stderr, []byte(seed)) {
			t.Error("pack printed a seed")
		}
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, c, err := par.Read(f, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	self, _ := os.ReadFile(bin)
	target, _ := par.Target(runtime.GOOS, runtime.GOARCH)
	if a.Name != translate.BridgeName || !bytes.Equal(a.Targets[target], self) || c.Provider.TargetHashes[target] != par.Hash(self) {
		t.Errorf("archive %s by %s: targets %d, want canvas-bridge with this binary as %s", a.Name, a.Vendor, len(a.Targets), target)
	}
}

func TestHelpTeaches(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if code := run([]string{"--help"}, nil, &out); code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	for _, want := range []string{"host data", "base64", "make bridge-par", "shutdown", "Exit codes"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help does not mention %q", want)
		}
	}
	out.Reset()
	if code := run([]string{"pack", "--help"}, nil, &out); code != 0 || !strings.Contains(out.String(), "claims.jwt") {
		t.Errorf("pack --help exit %d:\n%s", code, out.String())
	}
}

// identityOverWRPC: the binary serves wasmcanvas:identity to a linked
// component too; with no issuer configured verify says so as the WIT
// error unavailable, and access-token, with no canvasd answering its
// token service, is unavailable too.
func identityOverWRPC(t *testing.T, nc *nats.Conn, lat, self string) {
	t.Helper()
	rpc, err := wrpc.NewClient(nc, subject.WRPCPrefix(lat, self))
	if err != nil {
		t.Fatal(err)
	}
	defer rpc.Close()
	var we *identityrpc.Error
	if _, err := (&identityrpc.Client{RPC: rpc, SourceID: "shop-api"}).Verify(t.Context(), "x.y.z"); !errors.As(err, &we) ||
		we.Kind != auth.TokensUnavailable || !strings.Contains(we.Message, "no issuer configured") {
		t.Errorf("verify from a linked component: %v, want the WIT error unavailable (no issuer configured)", err)
	}
	if _, err := (&identityrpc.Client{RPC: rpc, SourceID: "shop-api"}).AccessToken(t.Context(), "orders"); !errors.As(err, &we) ||
		we.Kind != auth.TokensUnavailable {
		t.Errorf("access-token with no canvasd on the lattice: %v, want the WIT error unavailable", err)
	}
}

// TestIdentityFromProviderConfig: with translate.BridgeConfigIssuer in its
// provider config the bridge verifies that issuer's tokens (discovery and
// JWKS over HTTP, as from a host) for each Component's own audience:
// accepted with their roles for the Component they were issued for,
// refused for another. Without it nothing is configured.
func TestIdentityFromProviderConfig(t *testing.T) {
	t.Parallel()
	if o, err := identityOptions(bridge.HostData{}); err != nil || o.Tokens != nil || !o.TokenService {
		t.Fatalf("no issuer in the config: %+v, %v; want no Tokens, access-token through canvasd's token service", o, err)
	}
	srv := testkit.NATS(t, embedded.Config{})
	js, err := jetstream.New(testkit.Connect(t, srv.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	web := httptest.NewServer(mux)
	t.Cleanup(web.Close)
	is, err := identity.NewIssuer(t.Context(), js, identity.IssuerOptions{URL: web.URL + "/oidc"})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/oidc/", is.Handler())
	aud := identity.ClientID("shop", "productcatalog")
	if _, err := is.RegisterClient(t.Context(), identity.ClientSpec{ID: aud, Roles: []string{"pcadmin"}}); err != nil {
		t.Fatal(err)
	}
	if err := is.Grant(t.Context(), "caller", aud, "pcadmin"); err != nil {
		t.Fatal(err)
	}
	tok, err := is.TokenSource("caller").AccessToken(t.Context(), aud)
	if err != nil {
		t.Fatal(err)
	}
	o, err := identityOptions(bridge.HostData{Config: map[string]string{translate.BridgeConfigIssuer: is.URL()}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := o.Tokens(identityrpc.Component{Namespace: "shop", Name: "productcatalog"}).Verify(t.Context(), tok)
	if err != nil || c.Subject != "caller" || !slices.Equal(c.Roles, []string{"pcadmin"}) {
		t.Fatalf("verify for its Component: %+v, %v", c, err)
	}
	if _, err := o.Tokens(identityrpc.Component{Namespace: "shop", Name: "orders"}).Verify(t.Context(), tok); err == nil {
		t.Fatal("a token for shop.productcatalog accepted for shop.orders")
	}
}
