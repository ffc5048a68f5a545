//go:build e2e

package e2e_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/wasmcanvas/wasmcanvas/internal/obstest"
	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/client"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/up"
)

// TestOneTraceThroughAComponentSpan: a test OTLP receiver (real protobuf
// decoding) gets one trace from a client through canvas up in which the
// client's trace id carries through the gateway's span for the caller
// Component, the caller's own span (examples/components/traced-js opens
// it through wasmcanvas:observe and sends its traceparent on the call),
// the span of that outgoing dependent-API call, and the gateway's span for
// the provider Component (the echo) that serves it: each the parent of the
// next.
func TestOneTraceThroughAComponentSpan(t *testing.T) {
	root, err := testref.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	traced := filepath.Join(root, "examples", "components", "traced-js", "dist", "traced-js.wasm")
	if _, err := os.Stat(traced); err != nil {
		t.Fatalf("%v: run `make components` first (make e2e does)", err)
	}
	rc := obstest.NewReceiver(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := up.Start(ctx, up.Options{
		StateDir: t.TempDir(), Listen: "127.0.0.1:0", Ingress: "127.0.0.1:0", NATSPort: -1,
		ArtefactRoots: []string{filepath.Join(root, "pkg", "runtime", "testdata"), filepath.Join(root, "examples", "components")},
		Getenv:        func(k string) string { return rc.Env()[k] },
	})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
		defer scancel()
		if err := c.Shutdown(sctx); err != nil {
			t.Error(err)
		}
		if err := c.Wait(); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(stop)
	info := c.Info()
	cl, err := client.NewHTTP(info.API, e2eAdmin(info.StateDir))
	if err != nil {
		t.Fatal(err)
	}

	// The provider serves /provider; the caller, which has a dependent
	// API, may call the ingress, and its managementFunction links it to
	// wasmcanvas:observe.
	caller := fmt.Appendf(bytes.Replace(testref.EchoComponent("caller", "/traced/api"),
		[]byte("file://"+filepath.Join(root, "pkg", "runtime", "testdata", "echo-http.wasm")), []byte("file://"+traced), 1),
		`    dependentAPIs:
    - name: provider
      apiType: openapi
      specification:
      - url: https://example.org/api.json
  managementFunction:
    exposedAPIs:
    - name: metrics
      apiType: prometheus
      implementation: impl
      path: /traced/metrics
      port: 4000
`)
	for name, body := range map[string][]byte{"provider": testref.EchoComponent("provider", "/provider"), "caller": caller} {
		if _, _, err := cl.Apply(context.Background(), name+".yaml", body); err != nil {
			t.Fatalf("apply %s: %v", name, err)
		}
	}
	for _, name := range []string{"provider", "caller"} {
		testkit.WaitForErr(t, 2*time.Minute, name+" Complete", func() error {
			st, err := cl.Status(context.Background(), oda.DefaultNamespace, name)
			if err != nil {
				return err
			}
			if st.Summary == nil || st.Summary.DeploymentStatus != oda.DeploymentComplete {
				return fmt.Errorf("status %+v", st.Summary)
			}
			return nil
		})
	}

	const (
		clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
		clientSpan  = "00f067aa0ba902b7"
	)
	req, err := http.NewRequest(http.MethodGet, info.Ingress+"/traced/api/items?x=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Traceparent", "00-"+clientTrace+"-"+clientSpan+"-01")
	// The first request may wait for the 14 MB component to compile.
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Provider-Path") != "/provider/traced/api/items?x=1" {
		t.Fatalf("GET through the caller: %s, x-provider-path %q, body %q", resp.Status, resp.Header.Get("X-Provider-Path"), body)
	}
	stop() // flushes the spans

	var gateway, own, call, provider *tracepb.Span
	for _, s := range rc.Spans() {
		if hex.EncodeToString(s.GetTraceId()) != clientTrace {
			continue
		}
		switch name := obstest.Attr(s.GetAttributes(), "oda.component.name"); {
		case s.GetKind() == tracepb.Span_SPAN_KIND_SERVER && name == "caller":
			gateway = s
		case s.GetKind() == tracepb.Span_SPAN_KIND_INTERNAL && name == "caller" && s.GetName() == "call provider":
			own = s
		case s.GetKind() == tracepb.Span_SPAN_KIND_CLIENT && name == "caller":
			call = s
		case s.GetKind() == tracepb.Span_SPAN_KIND_SERVER && name == "provider":
			provider = s
		}
	}
	if gateway == nil || own == nil || call == nil || provider == nil {
		t.Fatalf("spans of the client's trace: gateway for caller %v, caller's own %v, its outgoing call %v, gateway for provider %v; received %v",
			gateway != nil, own != nil, call != nil, provider != nil, rc.Spans())
	}
	for _, link := range []struct {
		child  *tracepb.Span
		parent string
	}{
		{gateway, clientSpan},
		{own, hex.EncodeToString(gateway.GetSpanId())},
		{call, hex.EncodeToString(own.GetSpanId())},
		{provider, hex.EncodeToString(call.GetSpanId())},
	} {
		if got := hex.EncodeToString(link.child.GetParentSpanId()); got != link.parent {
			t.Errorf("span %q (%s): parent %s, want %s", link.child.GetName(), link.child.GetKind(), got, link.parent)
		}
	}
	if got := obstest.Attr(own.GetAttributes(), "http.response.status_code"); got != "200" {
		t.Errorf("the caller's span has http.response.status_code %s, want the provider's 200 as it set it", got)
	}
}
