package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/problem"
	wruntime "github.com/wasmcanvas/wasmcanvas/pkg/runtime"
)

func echoWAT(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/echo-http.wat")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newHost(t testing.TB, cfg wruntime.Config) *wruntime.Host {
	t.Helper()
	h, err := wruntime.NewHost(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func serve(t testing.TB, c http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return srv.URL
}

var client = &http.Client{Timeout: 30 * time.Second}

// problemOf reads resp as the gateway's problem JSON for status, failing t
// when it is not.
func problemOf(t *testing.T, resp *http.Response, status int) problem.Details {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var p problem.Details
	if ct := resp.Header.Get("Content-Type"); ct != problem.ContentType || json.Unmarshal(body, &p) != nil ||
		resp.StatusCode != status || p.Status != status || p.Title != http.StatusText(status) || p.Instance != resp.Request.URL.Path {
		t.Fatalf("%d %s %q, want %d as problem JSON for %s", resp.StatusCode, ct, body, status, resp.Request.URL.Path)
	}
	return p
}

func TestLoadAndServeConcurrently(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]wruntime.Config{
		"default":   {},
		"on-demand": {OnDemand: true},
		"pooling":   {PoolInstances: 8, Limits: wruntime.Limits{MaxMemoryBytes: 32 << 20}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			loadAndServeConcurrently(t, cfg)
		})
	}
}

func loadAndServeConcurrently(t *testing.T, cfg wruntime.Config) {
	h := newHost(t, cfg)
	c, err := h.Load(context.Background(), "echo", echoWAT(t), wruntime.ComponentConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if info := c.Info(); info.Export != "wasi:http/incoming-handler@0.2.6" || info.Limits.RequestTimeout != wruntime.DefaultRequestTimeout {
		t.Fatalf("info = %+v", info)
	}
	if !cfg.OnDemand {
		_, err := h.Load(context.Background(), "greedy", echoWAT(t), wruntime.ComponentConfig{Limits: wruntime.Limits{MaxMemoryBytes: 1 << 30}})
		if err == nil || !strings.Contains(err.Error(), "exceeds the pooled host's cap") {
			t.Fatalf("load above the pool's memory cap: %v", err)
		}
	}
	url := serve(t, c)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf("request %d %s", i, strings.Repeat("x", i*100))
			resp, err := client.Post(fmt.Sprintf("%s/r/%d", url, i), "text/plain", strings.NewReader(body))
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(got) != body || resp.Header.Get("X-Path") != fmt.Sprintf("/r/%d", i) {
				errs <- fmt.Errorf("request %d: status %d, body %d bytes, x-path %q", i, resp.StatusCode, len(got), resp.Header.Get("X-Path"))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCompileCacheAcrossHosts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for i, wantHit := range []bool{false, true} {
		h, err := wruntime.NewHost(wruntime.Config{CacheDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		c, err := h.Load(context.Background(), "echo", echoWAT(t), wruntime.ComponentConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if c.Info().CacheHit != wantHit {
			t.Errorf("host %d: cache hit = %v, want %v", i, c.Info().CacheHit, wantHit)
		}
		resp, err := client.Get(serve(t, c) + "/")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("host %d: %v %v", i, resp, err)
		}
		resp.Body.Close()
		h.Close()
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	h := newHost(t, wruntime.Config{})
	tests := []struct {
		name, comp string
		wasm       []byte
		want       string
		compile    bool // errors.Is(err, ErrCompile)
	}{
		{"no name", "", echoWAT(t), "empty component name", false},
		{"garbage", "g", []byte("not wasm"), "compile component", true},
		{"not http", "plain", []byte("(component)"), "exports no wasi:http/incoming-handler", false},
	}
	for _, tc := range tests {
		_, err := h.Load(context.Background(), tc.comp, tc.wasm, wruntime.ComponentConfig{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want it to mention %q", tc.name, err, tc.want)
		}
		if got := errors.Is(err, wruntime.ErrCompile); got != tc.compile {
			t.Errorf("%s: errors.Is(%v, ErrCompile) = %v, want %v", tc.name, err, got, tc.compile)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Load(ctx, "late", echoWAT(t), wruntime.ComponentConfig{}); err == nil {
		t.Error("Load with a cancelled context succeeded")
	}
}

// Not parallel: it counts goroutines.
func TestCloseWaitsForInflightThenRefuses(t *testing.T) {
	before := runtime.NumGoroutine()
	h, err := wruntime.NewHost(wruntime.Config{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := h.Load(context.Background(), "echo", echoWAT(t), wruntime.ComponentConfig{Limits: wruntime.Limits{RequestTimeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	defer srv.Close()

	pr, pw := io.Pipe()
	respc := make(chan *http.Response, 1)
	go func() {
		resp, err := client.Post(srv.URL+"/slow", "text/plain", pr)
		if err != nil {
			t.Error(err)
			respc <- nil
			return
		}
		respc <- resp
	}()
	pw.Write([]byte("hold"))
	var resp *http.Response
	select {
	case resp = <-respc:
	case <-time.After(10 * time.Second):
		t.Fatal("no response headers")
	}
	if resp == nil {
		t.FailNow()
	}
	closed := make(chan struct{})
	go func() {
		c.Close()
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("Close returned while a request was in flight")
	case <-time.After(100 * time.Millisecond):
	}
	pw.Close()
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != "hold" {
		t.Fatalf("in-flight request body = %q", got)
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return after the in-flight request ended")
	}
	after, err := client.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer after.Body.Close()
	if p := problemOf(t, after, http.StatusServiceUnavailable); !strings.Contains(p.Detail, "unloaded") {
		t.Errorf("after Close: detail %q, want it to say the component is unloaded", p.Detail)
	}
	srv.Close()
	h.Close()
	if _, err := h.Load(context.Background(), "again", echoWAT(t), wruntime.ComponentConfig{}); err == nil {
		t.Fatal("Load after Host.Close succeeded")
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines: %d before, %d after Close", before, runtime.NumGoroutine())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCompiledCodeIsShared: components loaded from the same bytes share
// one compiled copy (the second load is a hit without any disk cache), and
// closing one leaves the other serving. Optimised code from the start: an
// optimising compile in the background holds the code while it hands it
// over, so a load at that moment would share it too.
func TestCompiledCodeIsShared(t *testing.T) {
	t.Parallel()
	h, err := wruntime.NewHost(wruntime.Config{NoBaseline: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	wat, err := os.ReadFile("testdata/echo-http.wat")
	if err != nil {
		t.Fatal(err)
	}
	a, err := h.Load(context.Background(), "a", wat, wruntime.ComponentConfig{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Load(context.Background(), "b", wat, wruntime.ComponentConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Info().CacheHit || !b.Info().CacheHit {
		t.Errorf("cache hits: a %v, b %v; want false, true", a.Info().CacheHit, b.Info().CacheHit)
	}
	a.Close()
	rec := httptest.NewRecorder()
	b.ServeHTTP(rec, httptest.NewRequest("GET", "/after", nil))
	if rec.Code != 200 {
		t.Fatalf("b after a closed: %d", rec.Code)
	}
	b.Close()
	c, err := h.Load(context.Background(), "c", wat, wruntime.ComponentConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Info().CacheHit {
		t.Error("code was kept after its last component closed")
	}
	rec = httptest.NewRecorder()
	c.ServeHTTP(rec, httptest.NewRequest("GET", "/again", nil))
	if rec.Code != 200 {
		t.Fatalf("c: %d", rec.Code)
	}
}

// Each component sees its own wasi:cli environment, even when two are
// loaded from the same artefact (and share its compiled code).
func TestEnvironmentIsPerComponent(t *testing.T) {
	t.Parallel()
	h := newHost(t, wruntime.Config{})
	envs := map[string]map[string]string{
		"first":  {"REGION": "edge-1", "A": "1"},
		"second": {"REGION": "core"},
		"none":   nil,
	}
	for name, env := range envs {
		c, err := h.Load(context.Background(), name, echoWAT(t), wruntime.ComponentConfig{Env: env})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Get(serve(t, c) + "/env")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var want strings.Builder
		for _, k := range slices.Sorted(maps.Keys(env)) {
			fmt.Fprintf(&want, "%s=%s\n", k, env[k])
		}
		if resp.StatusCode != 200 || string(body) != want.String() {
			t.Errorf("%s: %d %q, want %q", name, resp.StatusCode, body, want.String())
		}
	}
}
