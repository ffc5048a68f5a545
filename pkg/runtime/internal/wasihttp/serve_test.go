package wasihttp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/problem"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/cm"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/wasi"
)

type testServer struct {
	url      string
	logs     *observer.ObservedLogs
	inflight *atomic.Int64
	// chunked counts requests that arrived with chunked transfer coding.
	chunked *atomic.Int64
}

// echoEpochTick is the epoch tick of echoHandler's engine.
const echoEpochTick = 5 * time.Millisecond

// echoHandler makes the Handler of testdata/echo-http.wat with a fresh
// engine, and the logs it writes.
func echoHandler(t testing.TB, timeout time.Duration, memCap int64, outbound *Outbound) (*Handler, *observer.ObservedLogs) {
	t.Helper()
	wat, err := os.ReadFile("../../testdata/echo-http.wat")
	if err != nil {
		t.Fatal(err)
	}
	eng, err := cm.NewEngine(cm.EngineConfig{EpochTick: echoEpochTick})
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
	if err := wasi.Link(lnk, comp, wasi.Interfaces(), Interfaces()); err != nil {
		t.Fatal(err)
	}
	handle, name, err := FindHandler(comp)
	if err != nil {
		t.Fatal(err)
	}
	if name != "wasi:http/incoming-handler@0.2.6" {
		t.Fatalf("handler export = %q", name)
	}
	t.Cleanup(func() { handle.Close() })
	core, logs := observer.New(zap.DebugLevel)
	log := zap.New(core)
	h := &Handler{
		Engine: eng, Linker: lnk, Component: comp, Handle: handle,
		WASI:     &wasi.Config{Name: "echo", Log: log},
		Limits:   cm.StoreLimits{MaxMemoryBytes: memCap},
		Timeout:  timeout,
		Outbound: outbound,
		Log:      log,
	}
	return h, logs
}

// startEcho serves testdata/echo-http.wat on 127.0.0.1 with a fresh engine.
func startEcho(t *testing.T, timeout time.Duration, memCap int64) *testServer {
	return startEchoOutbound(t, timeout, memCap, nil)
}

func startEchoOutbound(t *testing.T, timeout time.Duration, memCap int64, outbound *Outbound) *testServer {
	t.Helper()
	h, logs := echoHandler(t, timeout, memCap, outbound)
	var inflight, chunked atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TransferEncoding) > 0 && r.TransferEncoding[0] == "chunked" {
			chunked.Add(1)
		}
		inflight.Add(1)
		defer inflight.Add(-1)
		h.ServeHTTP(w, r)
	}))
	srv.Start()
	t.Cleanup(srv.Close)
	return &testServer{url: srv.URL, logs: logs, inflight: &inflight, chunked: &chunked}
}

func client() *http.Client { return &http.Client{Timeout: 30 * time.Second} }

// waitFor polls cond until it holds or d passes.

func TestEchoMethodsPathsAndHeaders(t *testing.T) {
	t.Parallel()
	s := startEcho(t, 5*time.Second, 64<<20)
	tests := []struct {
		method, path string
		echo         []string
	}{
		{"GET", "/", nil},
		{"POST", "/a/b?c=d&e=f", []string{"one"}},
		{"PUT", "/x", []string{"one", "two"}},
		{"DELETE", "/x/y", nil},
		{"PATCH", "/p", []string{"a, b", "c"}},
		{"OPTIONS", "/o", nil},
		{"PURGE", "/cache", nil},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, s.url+tc.path, strings.NewReader("body of "+tc.method))
		for _, v := range tc.echo {
			req.Header.Add("X-Echo", v)
		}
		resp, err := client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s %s: status %d", tc.method, tc.path, resp.StatusCode)
		}
		if got := resp.Header.Get("X-Method"); got != tc.method {
			t.Errorf("%s: x-method = %q", tc.method, got)
		}
		if got := resp.Header.Get("X-Path"); got != tc.path {
			t.Errorf("%s: x-path = %q, want %q", tc.method, got, tc.path)
		}
		if got := resp.Header.Values("X-Echo"); strings.Join(got, "|") != strings.Join(tc.echo, "|") {
			t.Errorf("%s: x-echo = %q, want %q", tc.method, got, tc.echo)
		}
		if string(body) != "body of "+tc.method {
			t.Errorf("%s: body = %q", tc.method, body)
		}
	}
}

func TestEchoLargeChunkedBody(t *testing.T) {
	t.Parallel()
	s := startEcho(t, 30*time.Second, 64<<20)
	const size = 10 << 20
	src := make([]byte, size)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range src {
		src[i] = byte(r.Uint32())
	}
	req, _ := http.NewRequest("POST", s.url+"/big", io.MultiReader(bytes.NewReader(src)))
	req.TransferEncoding = []string{"chunked"}
	start := time.Now()
	resp, err := client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if s.chunked.Load() != 1 {
		t.Fatal("the request did not arrive chunked")
	}
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(src) || len(got) != size {
		t.Fatalf("echoed %d bytes that differ from the %d sent", len(got), size)
	}
	t.Logf("10 MiB echoed in %v", time.Since(start))
}

func TestEchoStreamsWhileReading(t *testing.T) {
	t.Parallel()
	s := startEcho(t, 10*time.Second, 64<<20)
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", s.url+"/stream", pr)
	done := make(chan *http.Response, 1)
	errs := make(chan error, 1)
	go func() {
		resp, err := client().Do(req)
		if err != nil {
			errs <- err
			return
		}
		done <- resp
	}()
	if _, err := pw.Write([]byte("first chunk;")); err != nil {
		t.Fatal(err)
	}
	var resp *http.Response
	select {
	case resp = <-done:
	case err := <-errs:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("no response headers while the request body is still open")
	}
	defer resp.Body.Close()
	buf := make([]byte, len("first chunk;"))
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "first chunk;" {
		t.Fatalf("first echoed chunk = %q, %v (the body must stream before the request ends)", buf, err)
	}
	pw.Write([]byte("second"))
	pw.Close()
	rest, _ := io.ReadAll(resp.Body)
	if string(rest) != "second" {
		t.Fatalf("rest = %q", rest)
	}
}

func TestClientDisconnectMidBody(t *testing.T) {
	t.Parallel()
	s := startEcho(t, 10*time.Second, 64<<20)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	req, _ := http.NewRequestWithContext(ctx, "POST", s.url+"/gone", pr)
	go func() {
		pw.Write([]byte("partial"))
	}()
	respc := make(chan error, 1)
	go func() {
		resp, err := client().Do(req)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		respc <- err
	}()
	testkit.WaitFor(t, 5*time.Second, "the request to reach the component", func() bool { return s.inflight.Load() == 1 })
	cancel()
	pw.CloseWithError(context.Canceled)
	<-respc
	testkit.WaitFor(t, 5*time.Second, "the handler to finish after the client left", func() bool { return s.inflight.Load() == 0 })
	resp, err := client().Get(s.url + "/after")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("request after a disconnect: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestFailuresBecomeStatusesAndTheNextRequestWorks(t *testing.T) {
	t.Parallel()
	s := startEcho(t, 300*time.Millisecond, 16<<20)
	tests := []struct {
		path   string
		status int
		log    string
	}{
		{"/noresponse", 500, "without setting a response"},
		{"/trap", 500, "unreachable"},
		{"/loop", 504, "interrupt"},
		{"/bomb", 500, "unreachable"},
	}
	for _, tc := range tests {
		start := time.Now()
		// A body the guest never reads must not break the kept-alive
		// connection the next request reuses.
		resp, err := client().Post(s.url+tc.path, "text/plain", strings.NewReader(strings.Repeat("unread ", 100)))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.path, resp.StatusCode, tc.status)
		}
		if strings.Contains(string(body), "wasm") || strings.Contains(string(body), "unreachable") {
			t.Errorf("%s: trap details leaked to the client: %q", tc.path, body)
		}
		var p problem.Details
		if ct := resp.Header.Get("Content-Type"); ct != problem.ContentType || json.Unmarshal(body, &p) != nil || p.Status != tc.status || p.Instance != tc.path || p.Detail == "" {
			t.Errorf("%s: %s %q, want problem JSON with status %d, this path and a detail", tc.path, ct, body, tc.status)
		}
		if tc.status == 504 && time.Since(start) > 5*time.Second {
			t.Errorf("%s took %v to time out", tc.path, time.Since(start))
		}
		found := false
		for _, e := range s.logs.All() {
			if strings.Contains(e.Message+" "+fmt.Sprint(e.ContextMap()["error"]), tc.log) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no log entry mentions %q", tc.path, tc.log)
		}
		next, err := client().Get(s.url + "/ok")
		if err != nil || next.StatusCode != 200 {
			t.Fatalf("request after %s: %v %v", tc.path, next, err)
		}
		next.Body.Close()
	}
}

func TestOutgoingHandlerWithAllowList(t *testing.T) {
	t.Parallel()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/upstream" || r.Method != "GET" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, strings.Repeat("from upstream ", 1000))
	}))
	t.Cleanup(upstream.Close)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a denied authority was called")
	}))
	t.Cleanup(other.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedAddr := closed.Listener.Addr().String()
	closed.Close()

	up := upstream.Listener.Addr().String()
	s := startEchoOutbound(t, 10*time.Second, 64<<20, &Outbound{
		Client:  &http.Client{Timeout: 5 * time.Second},
		Allowed: []string{up, closedAddr},
	})
	tests := []struct {
		name, target string
		status       int
		body         string
	}{
		{"allowed", up, http.StatusCreated, strings.Repeat("from upstream ", 1000)},
		{"not in the allow-list", other.Listener.Addr().String(), http.StatusBadGateway, ""},
		{"connection refused", closedAddr, http.StatusBadGateway, ""},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest("GET", s.url+"/fetch", nil)
		req.Header.Set("X-Upstream", tc.target)
		resp, err := client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || string(body) != tc.body {
			t.Errorf("%s: status %d body %d bytes, want %d and %d bytes", tc.name, resp.StatusCode, len(body), tc.status, len(tc.body))
		}
	}
	denied := false
	for _, e := range s.logs.All() {
		if strings.Contains(e.Message, "outgoing request denied") {
			denied = true
		}
	}
	if !denied {
		t.Error("no log entry for the denied outgoing request")
	}
}

func TestOutboundAllowList(t *testing.T) {
	t.Parallel()
	o := &Outbound{Allowed: []string{"api.example.com", "127.0.0.1:8080", "*.svc.local"}}
	tests := map[string]bool{
		"api.example.com":      true,
		"api.example.com:443":  true,
		"127.0.0.1:8080":       true,
		"127.0.0.1:8081":       false,
		"a.svc.local:80":       true,
		"svc.local":            false,
		"evil.com":             false,
		"api.example.com.evil": false,
	}
	for authority, want := range tests {
		if got := o.allows(authority); got != want {
			t.Errorf("allows(%q) = %v, want %v", authority, got, want)
		}
	}
	if (&Outbound{}).allows("api.example.com") {
		t.Error("an empty allow-list allowed a call")
	}
}

// TestOutgoingObserve: the Observe hook sees each allowed request with the
// serving request's context before it is sent, its headers reach the
// dependency, and it hears the outcome.
func TestOutgoingObserve(t *testing.T) {
	t.Parallel()
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Traceparent"); got != traceparent {
			t.Errorf("upstream got traceparent %q, want the one Observe set", got)
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(upstream.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedAddr := closed.Listener.Addr().String()
	closed.Close()

	type outcome struct {
		status int
		err    error
	}
	outcomes := make(chan outcome, 4)
	s := startEchoOutbound(t, 10*time.Second, 64<<20, &Outbound{
		Client:  &http.Client{Timeout: 5 * time.Second},
		Allowed: []string{upstream.Listener.Addr().String(), closedAddr},
		Observe: func(ctx context.Context, req *http.Request) func(*http.Response, error) {
			if ctx.Value(http.LocalAddrContextKey) == nil {
				t.Error("Observe's context is not the served request's")
			}
			req.Header.Set("Traceparent", traceparent)
			return func(resp *http.Response, err error) {
				o := outcome{err: err}
				if resp != nil {
					o.status = resp.StatusCode
				}
				outcomes <- o
			}
		},
	})
	for _, tc := range []struct {
		target string
		status int
		err    bool
	}{
		{upstream.Listener.Addr().String(), http.StatusAccepted, false},
		{closedAddr, 0, true},
	} {
		req, _ := http.NewRequest("GET", s.url+"/fetch", nil)
		req.Header.Set("X-Upstream", tc.target)
		resp, err := client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		select {
		case o := <-outcomes:
			if o.status != tc.status || (o.err != nil) != tc.err {
				t.Errorf("%s: Observe heard status %d error %v, want %d error %v", tc.target, o.status, o.err, tc.status, tc.err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: Observe never heard the outcome", tc.target)
		}
	}
}
