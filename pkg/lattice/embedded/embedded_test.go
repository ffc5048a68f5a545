package embedded_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
)

func TestConnectEmbeddedJetStream(t *testing.T) {
	t.Parallel()
	e := testkit.NATS(t, embedded.Config{HTTPPort: -1})
	if !strings.HasPrefix(e.ClientURL(), "nats://127.0.0.1:") {
		t.Fatalf("ClientURL = %q, want nats://127.0.0.1:<port>", e.ClientURL())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := lattice.Connect(ctx, lattice.Config{URLs: e.ClientURL()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "T", Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.MonitorURL()+"/varz", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("monitoring endpoint: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"server_name": "wasmcanvas"`) {
		t.Fatalf("GET /varz = %d %.200s", resp.StatusCode, body)
	}
}

func TestMonitorURLEmptyWhenOff(t *testing.T) {
	t.Parallel()
	e := testkit.NATS(t, embedded.Config{})
	if got := e.MonitorURL(); got != "" {
		t.Fatalf("MonitorURL = %q with HTTPPort 0, want empty", got)
	}
}

func TestStartEmbeddedPortInUse(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	_, err = embedded.Start(embedded.Config{StoreDir: t.TempDir(), Port: port, ReadyTimeout: 2 * time.Second})
	if err == nil {
		t.Fatal("Start on a port in use succeeded")
	}
	for _, want := range []string{"127.0.0.1:" + strconv.Itoa(port), "address already in use", "check that the port is free"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestEmbeddedConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  embedded.Config
		want string
	}{
		{"no store", embedded.Config{}, "StoreDir is empty"},
		{"port range", embedded.Config{StoreDir: "x", Port: 70000}, "Port 70000 out of range"},
		{"http port range", embedded.Config{StoreDir: "x", HTTPPort: -2}, "HTTPPort -2 out of range"},
		{"token and user", embedded.Config{StoreDir: "x", Auth: embedded.Auth{Token: "t", User: "u", Password: "p"}}, "both Token and User"},
		{"user without password", embedded.Config{StoreDir: "x", Auth: embedded.Auth{User: "u"}}, "User and Auth.Password go together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := embedded.Start(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Start error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestReconnectAfterRestart stops the server under a connected client and
// starts it again on the same port and store: the client reconnects by
// itself, logs it, and finds its JetStream data.
func TestReconnectAfterRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := embedded.Start(embedded.Config{StoreDir: dir, Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	url := first.ClientURL()
	port, err := strconv.Atoi(url[strings.LastIndex(url, ":")+1:])
	if err != nil {
		t.Fatal(err)
	}

	core, logs := observer.New(zapcore.DebugLevel)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, err := lattice.Connect(ctx, lattice.Config{URLs: url, ReconnectWait: 10 * time.Millisecond, MaxReconnectWait: 100 * time.Millisecond}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "RESTART", Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	rev, err := kv.Put(ctx, "before", []byte("restart"))
	if err != nil {
		t.Fatal(err)
	}

	first.Shutdown()
	first.WaitForShutdown()
	testkit.WaitForErr(t, 10*time.Second, "the server", func() error {
		if nc.IsConnected() {
			return errors.New("not yet")
		}
		return nil
	})

	second := testkit.NATS(t, embedded.Config{StoreDir: dir, Port: port})
	if second.ClientURL() != url {
		t.Fatalf("restarted server URL %s, want %s", second.ClientURL(), url)
	}
	testkit.WaitForErr(t, 15*time.Second, "the server", func() error {
		if !nc.IsConnected() {
			return errors.New("not yet")
		}
		return nil
	})
	testkit.WaitForErr(t, 5*time.Second, "the server", func() error {
		if logs.FilterMessage("nats reconnected").Len() == 0 {
			return errors.New("not yet")
		}
		return nil
	})
	if logs.FilterMessage("nats disconnected").Len() == 0 {
		t.Error("no disconnect was logged")
	}

	e, err := kv.Get(ctx, "before")
	if err != nil {
		t.Fatalf("value written before the restart: %v", err)
	}
	if string(e.Value()) != "restart" || e.Revision() != rev {
		t.Fatalf("after restart got %q rev %d, want %q rev %d", e.Value(), e.Revision(), "restart", rev)
	}
	if _, err := kv.Put(ctx, "after", []byte("ok")); err != nil {
		t.Fatalf("write after reconnect: %v", err)
	}
	if nc.Status() != nats.CONNECTED {
		t.Fatalf("status %v", nc.Status())
	}
}
