package up_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/up"
)

// TestInfoServiceAnswers503DuringShutdown: while canvas up shuts down, a
// request to the canvas info service on the ingress gets a 503 problem at
// once instead of waiting for the shutdown. canvasd's API is kept busy
// reading a request body that has not ended, so its graceful shutdown
// lasts until the test lets it go.
func TestInfoServiceAnswers503DuringShutdown(t *testing.T) {
	c := start(t, t.TempDir())
	info := c.Info()
	tok, err := auth.ReadAdminToken(info.StateDir)
	if err != nil {
		t.Fatal(err)
	}

	body, hold := io.Pipe()
	applied := make(chan struct{})
	// The handler asks for the body (100 Continue) once canvasd's API is
	// serving the request: only then may Shutdown begin, or the request
	// could still be waiting to be accepted, and be refused by the
	// listener's close instead of holding the shutdown.
	reading := make(chan struct{})
	go func() {
		defer close(applied)
		trace := &httptrace.ClientTrace{Got100Continue: func() { close(reading) }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodPost, info.API+wire.PathComponents, body)
		req.Header.Set("Content-Type", "application/yaml")
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Expect", "100-continue")
		hc := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
		}
	}()
	t.Cleanup(func() { hold.Close(); <-applied })
	select {
	case <-reading:
	case <-time.After(30 * time.Second):
		t.Fatal("canvasd's API did not start reading the held request within 30 s")
	}
	if _, err := hold.Write([]byte("apiVersion: ")); err != nil { // the handler is reading it
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	shutdown := make(chan error, 1)
	go func() { shutdown <- c.Shutdown(ctx) }()

	client := &http.Client{Timeout: time.Second}
	url := info.Ingress + wire.PathCanvasInfo + "?componentName=shop"
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(url)
		if err != nil {
			// Say whether the canvas had stopped by itself (a part
			// failed) or Shutdown had got past canvasd, which the held
			// request should prevent: either closes the ingress.
			stopped := "the canvas was still stopping"
			select {
			case <-c.Done():
				stopped = fmt.Sprintf("the canvas had stopped: Wait = %v", c.Wait())
			default:
			}
			select {
			case serr := <-shutdown:
				stopped += fmt.Sprintf("; Shutdown had returned %v", serr)
			default:
			}
			t.Fatalf("info service during shutdown: %v; want an answer within 1 s (%s)", err, stopped)
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == http.StatusServiceUnavailable {
			var p wire.Problem
			if ct := resp.Header.Get("Content-Type"); ct != wire.ContentTypeProblem {
				t.Errorf("Content-Type %q, want %q", ct, wire.ContentTypeProblem)
			}
			if err := json.Unmarshal(data, &p); err != nil || p.Status != http.StatusServiceUnavailable || p.Title == "" || p.Detail == "" {
				t.Errorf("503 body %s (%v), want an RFC 9457 problem", data, err)
			}
			if resp.Header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			break
		}
		// Until Shutdown reaches the info route: no such Component.
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("info service during shutdown: %d %s", resp.StatusCode, data)
		}
		if time.Now().After(deadline) {
			t.Fatal("the info service never answered 503 during shutdown")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-shutdown:
		t.Fatalf("Shutdown returned (%v) while canvasd's API was still reading a request: the 503 was not during shutdown", err)
	default:
	}
	hold.Close()
	if err := <-shutdown; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// TestBadOptionsStartNothing: canvasd's options are checked before any
// part starts, so a bad --listen leaves no NATS store and no lock behind.
func TestBadOptionsStartNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	_, err := up.Start(context.Background(), up.Options{StateDir: dir, Listen: "7443", Ingress: "127.0.0.1:0", NATSPort: -1})
	if err == nil || !strings.Contains(err.Error(), `--listen "7443"`) {
		t.Fatalf("Start with --listen 7443: %v, want the flag named", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state directory after a failed provision: %v, want none", err)
	}
}
