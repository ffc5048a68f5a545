package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/bridge"
	"github.com/wasmcanvas/wasmcanvas/pkg/bridge/par"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
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

// syncBuffer collects a process's stderr while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// process is a canvas-bridge started as a wasmCloud host starts a
// provider: host data on stdin.
type process struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan struct{}
	err    error // set before exited closes
}

func start(t *testing.T, bin string, stdin []byte) *process {
	t.Helper()
	p := &process{stderr: &syncBuffer{}, exited: make(chan struct{})}
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
		"provider_key": self, "instance_id": "c0ffee", "link_definitions": []any{}, "config": map[string]string{},
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
		"target_config": map[string]string{"k": "v"}, "source_secrets": nil, "target_secrets": ints}
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
