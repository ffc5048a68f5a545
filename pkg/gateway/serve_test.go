package gateway

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
)

func TestServeBindsLoopbackAndShutsDownGracefully(t *testing.T) {
	t.Parallel()
	g := New(Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := g.Serve(ctx, ":0")
	if err != nil {
		t.Fatal(err)
	}
	host, _, _ := net.SplitHostPort(addr)
	if host != "127.0.0.1" {
		t.Fatalf("bound %s, want 127.0.0.1 when no host is given", addr)
	}
	if g.BaseURL() != "http://"+addr {
		t.Fatalf("BaseURL %q, want http://%s", g.BaseURL(), addr)
	}
	if _, err := g.Serve(ctx, ":0"); err == nil {
		t.Fatal("a second Serve succeeded")
	}

	entered, release := make(chan struct{}), make(chan struct{})
	mustSet(t, g, "slow", []Route{{API: "s", Path: "/slow", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		_, _ = w.Write([]byte("done"))
	})}})
	got := make(chan response, 1)
	go func() { got <- do(t, http.MethodGet, g.BaseURL()+"/slow") }()
	<-entered
	cancel()
	// Shutdown closes the listener first; new connections are refused
	// while the in-flight request still runs.
	testkit.WaitFor(t, 10*time.Second, "the listener to refuse connections", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	close(release)
	if res := <-got; res.status != http.StatusOK || res.body != "done" {
		t.Fatalf("in-flight request during shutdown: %d %q", res.status, res.body)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := g.Wait(wctx); err != nil {
		t.Fatalf("Wait: %v", err)
	}
}

func TestServeErrors(t *testing.T) {
	t.Parallel()
	busy := New(Options{})
	base := serve(t, busy)
	addr := strings.TrimPrefix(base, "http://")
	tests := []struct{ addr, want string }{
		{addr, "choose a free port"},
		{"127.0.0.1", "write host:port"},
	}
	for _, tc := range tests {
		_, err := New(Options{}).Serve(context.Background(), tc.addr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Serve(%q) error %v, want it to contain %q", tc.addr, err, tc.want)
		}
	}
}

func TestBaseURLOption(t *testing.T) {
	t.Parallel()
	g := New(Options{BaseURL: "https://canvas.example.org/"})
	serve(t, g)
	if got := g.BaseURL(); got != "https://canvas.example.org" {
		t.Fatalf("BaseURL %q", got)
	}
}

func TestReachable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ip   net.IP
		want string
	}{
		{net.IPv4zero, "127.0.0.1:80"},
		{net.IPv6unspecified, "[::1]:80"},
		{net.ParseIP("10.1.2.3"), "10.1.2.3:80"},
	}
	for _, tc := range tests {
		if got := reachable(&net.TCPAddr{IP: tc.ip, Port: 80}); got != tc.want {
			t.Errorf("reachable(%v) = %q, want %q", tc.ip, got, tc.want)
		}
	}
}

// waitFor polls cond until it holds or 10s pass.
