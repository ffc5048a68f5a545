package up_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/api"
	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/client"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// TestComponentsDiscoverDependentAPIs follows the reference canvas's
// UC007 under canvas up: a component gets COMPONENT_NAME and
// CANVAS_INFO_URL in its environment, and the info service there answers
// its dependency with the provider's url, which the component may call.
func TestComponentsDiscoverDependentAPIs(t *testing.T) {
	c := start(t, t.TempDir())
	info := c.Info()
	cl, err := client.NewHTTP(info.API, admin(t, info.StateDir))
	if err != nil {
		t.Fatal(err)
	}
	// The provider's API has the specification URL the consumer depends on.
	if _, _, err := cl.Apply(context.Background(), "provider.yaml", component("catalog", "/catalog/api")); err != nil {
		t.Fatal(err)
	}
	waitComplete(t, cl, "catalog", info.Ingress)
	// The status follows the echo's code to its optimised tier (the
	// runtime serves a new artefact from baseline code first).
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		st, err := cl.Status(context.Background(), oda.DefaultNamespace, "catalog")
		if err == nil && st.WasmCloud != nil && len(st.WasmCloud.Code) == 1 && st.WasmCloud.Code[0].Tier == "optimized" && st.WasmCloud.Code[0].OptimizedCompile != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status.wasmCloud.code never reached the optimised tier: %+v (%v)", st, err)
		}
	}
	// The consumer's API sits at /env, where the echo component answers
	// with its environment.
	if _, _, err := cl.Apply(context.Background(), "consumer.yaml", componentDependingOn("shop", "/env", "https://example.org/api.json")); err != nil {
		t.Fatal(err)
	}
	st := waitComplete(t, cl, "shop", info.Ingress)
	if len(st.CoreDependentAPIs) != 1 || !st.CoreDependentAPIs[0].Ready || st.CoreDependentAPIs[0].URL != info.Ingress+"/catalog/api" {
		t.Fatalf("dependent API status %+v", st.CoreDependentAPIs)
	}

	code, envText := get(t, info.Ingress+"/env")
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(envText), "\n") {
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}
	wantInfo := info.Ingress + wire.PathCanvasInfo
	if code != 200 || env["COMPONENT_NAME"] != "shop" || env["COMPONENT_NAMESPACE"] != oda.DefaultNamespace || env["CANVAS_INFO_URL"] != wantInfo {
		t.Fatalf("the component's environment (%d): %q, want COMPONENT_NAME=shop, COMPONENT_NAMESPACE=%s, CANVAS_INFO_URL=%s", code, envText, oda.DefaultNamespace, wantInfo)
	}

	code, body := get(t, env["CANVAS_INFO_URL"]+"?componentName="+url.QueryEscape(env["COMPONENT_NAME"])+"&namespace="+env["COMPONENT_NAMESPACE"])
	var services []api.InfoService
	if err := json.Unmarshal([]byte(body), &services); code != 200 || err != nil {
		t.Fatalf("info service: %d %v %s", code, err, body)
	}
	if len(services) != 1 || services[0].State != api.InfoStateActive || services[0].Name != "catalog" {
		t.Fatalf("info service answered %+v", services)
	}
	var got string
	for _, ch := range services[0].ServiceCharacteristic {
		if ch.Name == "url" {
			got = ch.Value
		}
	}
	if got != info.Ingress+"/catalog/api" {
		t.Errorf("dependency url %q, want the provider's %q", got, info.Ingress+"/catalog/api")
	}
}
