package up_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/client"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/up"
)

// echoWasm is the runtime's echo component binary.
var echoWasm, _ = filepath.Abs("../runtime/testdata/echo-http.wasm")

// testRoots are the artefact roots of the tests' canvases: the echo
// component and the examples lie outside this package's directory, which
// the default roots would allow.
var testRoots = []string{"../runtime/testdata", "../../examples"}

func start(t *testing.T, stateDir string) *up.Canvas {
	t.Helper()
	return startWith(t, up.Options{StateDir: stateDir, ArtefactRoots: testRoots})
}

// startWith starts a canvas on free ports.
func startWith(t *testing.T, opts up.Options) *up.Canvas {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts.Listen, opts.Ingress, opts.NATSPort = "127.0.0.1:0", "127.0.0.1:0", -1
	c, err := up.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(t, c) })
	return c
}

func stop(t *testing.T, c *up.Canvas) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Shutdown(ctx); err != nil {
		t.Error(err)
	}
	if err := c.Wait(); err != nil {
		t.Error(err)
	}
}

func component(name, path string) []byte { return componentDependingOn(name, path, "") }

// componentFrom is component served by the artefact at wasm.
func componentFrom(name, path, wasm string) []byte {
	return bytes.Replace(component(name, path), []byte("file://"+echoWasm), []byte("file://"+wasm), 1)
}

// componentDependingOn is component with a dependent API named catalog on
// the specification URL dep (none when empty).
func componentDependingOn(name, path, dep string) []byte {
	c := testref.EchoComponent(name, path)
	if dep == "" {
		return c
	}
	return fmt.Appendf(c, `    dependentAPIs:
    - name: catalog
      apiType: openapi
      specification:
      - url: %s
`, dep)
}

// waitComplete polls the Component's status until Complete with its API
// served under ingress (bounded): after a restart the stored status is the
// last run's until reconcile has redeployed.
func waitComplete(t *testing.T, cl *client.HTTP, name, ingress string) *oda.ComponentStatus {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := cl.Status(context.Background(), oda.DefaultNamespace, name)
		if err == nil && st.Summary != nil && st.Summary.DeploymentStatus == oda.DeploymentComplete &&
			len(st.CoreAPIs) == 1 && strings.HasPrefix(st.CoreAPIs[0].URL, ingress+"/") {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not Complete: %+v %v", name, st, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	return getWith(t, url, "")
}

// getWith GETs url with the Authorization header authz (none when "").
func getWith(t *testing.T, url, authz string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// roleTokens stands in for an identity provider: the bearer token
// "role:NAME" is a caller holding the role NAME.
var roleTokens = auth.AuthenticatorFunc(func(r *http.Request) (auth.Principal, error) {
	tok, err := auth.BearerToken(r)
	if err != nil {
		return auth.Principal{}, err
	}
	role, ok := strings.CutPrefix(tok, "role:")
	if !ok {
		return auth.Principal{}, auth.Invalid("not a test token")
	}
	return auth.Principal{Subject: "tester", Roles: []string{role}}, nil
})

// TestUpServesRestartsAndLocks drives the embedded canvas as a user would:
// apply, serve through the gateway at the status url, refuse a second
// canvas on the same state directory, restart and serve again.
func TestUpServesRestartsAndLocks(t *testing.T) {
	dir := t.TempDir()
	c := start(t, dir)
	info := c.Info()
	if info.API == "" || info.Ingress == "" || info.NATS == "" {
		t.Fatalf("info %+v", info)
	}
	if _, err := up.Start(context.Background(), up.Options{StateDir: dir, Listen: "127.0.0.1:0", Ingress: "127.0.0.1:0", NATSPort: -1}); err == nil || !strings.Contains(err.Error(), "is in use by canvas up") {
		t.Fatalf("second canvas on the same state dir: %v", err)
	}
	if got, ok := up.Running(dir); !ok || got.PID != info.PID {
		t.Fatalf("Running = %+v, %v", got, ok)
	}

	cl, err := client.NewHTTP(info.API, admin(t, info.StateDir))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := cl.Apply(context.Background(), "c.yaml", component("shop", "/shop/api")); err != nil {
		t.Fatal(err)
	}
	st := waitComplete(t, cl, "shop", info.Ingress)
	url := st.CoreAPIs[0].URL
	if url != info.Ingress+"/shop/api" {
		t.Errorf("status url %q, want the gateway's base + path %q", url, info.Ingress+"/shop/api")
	}
	if code, _ := get(t, url+"/x"); code != 200 {
		t.Fatalf("GET %s: %d", url, code)
	}

	if code, metrics := get(t, info.API+"/metrics"); code != 200 || !strings.Contains(metrics, "canvas_gateway_requests_total") {
		t.Errorf("canvasd /metrics lacks the gateway's metrics (%d)", code)
	}

	stop(t, c)
	if _, ok := up.Running(dir); ok {
		t.Fatal("still running after Shutdown")
	}
	c2 := start(t, dir)
	// Ready means serving again: no wait for the status.
	if code, body := get(t, c2.Info().Ingress+"/shop/api/at-once"); code != 200 {
		t.Fatalf("GET as soon as Start returned after a restart: %d %s", code, body)
	}
	if code, body := get(t, c2.Info().API+"/readyz"); code != 200 || !strings.Contains(body, `"components": "ok"`) {
		t.Errorf("/readyz after the restore: %d %s", code, body)
	}
	cl2, err := client.NewHTTP(c2.Info().API, admin(t, c2.Info().StateDir))
	if err != nil {
		t.Fatal(err)
	}
	st = waitComplete(t, cl2, "shop", c2.Info().Ingress)
	if code, _ := get(t, st.CoreAPIs[0].URL+"/after-restart"); code != 200 {
		t.Fatalf("not served after restart: %d", code)
	}
	if _, err := cl2.Delete(context.Background(), oda.DefaultNamespace, "shop", ""); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := get(t, c2.Info().Ingress+"/shop/api")
		if code == 404 && strings.Contains(body, `"status":404`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("route still answers %d after delete", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
