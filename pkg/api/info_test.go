package api_test

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/api"
	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// The info service answers a Component's own dependent APIs as TMF638
// Services: inactive until reconcile resolved them, then active with the
// url from the status; bad and unknown names are problems.
func TestCanvasInfoService(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	data, err := os.ReadFile(testref.Path(t, "oda", "examples", "productcatalog-dependent-api-v1.component.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Replace(string(data), "metadata:\n", "metadata:\n  annotations:\n    "+oda.AnnotationImplementations+": '"+annotation+"'\n", 1)
	if code, resp := e.do(http.MethodPost, wire.PathComponents, []byte(body)); code != http.StatusCreated {
		t.Fatalf("apply: %d %s", code, resp)
	}
	const name = "ctk-productcatalogmanagement"
	const spec = "https://raw.githubusercontent.com/tmforum-apis/TMF620_ProductCatalog/master/TMF620-ProductCatalog-v4.0.0.swagger.json"
	info := func(query string) []api.InfoService {
		t.Helper()
		code, resp := e.do(http.MethodGet, wire.PathCanvasInfo+query, nil)
		if code != http.StatusOK {
			t.Fatalf("GET info%s: %d %s", query, code, resp)
		}
		return decode[[]api.InfoService](t, resp)
	}
	char := func(s api.InfoService, n string) string {
		for _, c := range s.ServiceCharacteristic {
			if c.Name == n {
				return c.Value
			}
		}
		return ""
	}

	got := info("?componentName=" + name)
	if len(got) != 1 || got[0].State != api.InfoStateInactive || got[0].Name != "downstreamproductcatalog" ||
		char(got[0], "componentName") != name || char(got[0], "OAS Specification") != spec || char(got[0], "url") != "" {
		t.Fatalf("before reconcile: %+v", got)
	}

	const url = "http://127.0.0.1:8080/r1-productcatalogmanagement/tmf-api/productCatalogManagement/v4"
	st := oda.ComponentStatus{CoreDependentAPIs: []oda.DependentAPIStatus{{Name: name + "-downstreamproductcatalog-v4", Ready: true, URL: url}}}
	if _, err := e.status.Put(e.ctx, "components", name, st); err != nil {
		t.Fatal(err)
	}
	got = info("?componentName=" + name + "&namespace=components&dependencyName=downstreamproductcatalog")
	if len(got) != 1 || got[0].State != api.InfoStateActive || char(got[0], "url") != url || got[0].Type != "Service" || got[0].ServiceType != "API" {
		t.Fatalf("resolved: %+v", got)
	}
	if got := info("?componentName=" + name + "&fields=name&state=active"); len(got) != 1 || got[0].Name != "downstreamproductcatalog" || got[0].ID == "" || got[0].ServiceCharacteristic != nil {
		t.Errorf("TMF630 fields and attribute filter: %+v", got)
	}
	if got := info("?componentName=" + name + "&state=inactive"); len(got) != 0 {
		t.Errorf("filtered by another state: %+v", got)
	}
	if got := info("?componentName=" + name + "&dependencyName=other"); len(got) != 0 {
		t.Errorf("filtered by another dependency name: %+v", got)
	}

	for query, want := range map[string]int{
		"":                        http.StatusBadRequest,
		"?componentName=Bad_Name": http.StatusBadRequest,
		"?componentName=nobody":   http.StatusNotFound,
		"?componentName=" + name + "&namespace=-x": http.StatusBadRequest,
	} {
		if code, resp := e.do(http.MethodGet, wire.PathCanvasInfo+query, nil); code != want {
			t.Errorf("GET info%s: %d %s, want %d", query, code, resp, want)
		}
	}
	if code, _ := e.do(http.MethodGet, wire.PathCanvasInfoRoot+"/elsewhere", nil); code != http.StatusNotFound {
		t.Errorf("unknown info path: %d", code)
	}
}
