package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/pkg/api"
	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/peer"
)

// The TMF639 inventory answers the reference canvas's UC016 scenarios
// (list all: one ODAComponent and its three APIs; get by id; JSONPath
// filter by category) under TMF630's conventions (attribute filters,
// fields, offset/limit with X-Total-Count and X-Result-Count).
func TestResourceInventoryUC016(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if code, resp := e.do(http.MethodPost, wire.PathComponents, component(t, nil)); code != http.StatusCreated {
		t.Fatalf("apply: %d %s", code, resp)
	}
	const name = "ctk-productcatalogmanagement"
	const apiName = name + "-productcatalogmanagement-v4"
	const apiURL = "http://127.0.0.1:8080/ctk-productcatalogmanagement/tmf-api/productCatalogManagement/v4"
	st := oda.ComponentStatus{
		CoreAPIs:       []oda.APIStatus{{Name: apiName, Ready: true, URL: apiURL}},
		ManagementAPIs: []oda.APIStatus{{Name: name + "-metrics", Ready: true}},
		SecurityAPIs:   []oda.APIStatus{{Name: name + "-partyrole-v4", Ready: false}},
		Summary:        &oda.StatusSummary{DeploymentStatus: oda.DeploymentInProgressCompCon},
	}
	if _, err := e.status.Put(e.ctx, "components", name, st); err != nil {
		t.Fatal(err)
	}
	get := func(query string, want int) ([]map[string]any, http.Header) {
		t.Helper()
		resp, err := http.Get(e.url + wire.PathResourceInventory + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("GET resource%s: %d %s, want %d", query, resp.StatusCode, body, want)
		}
		var out []map[string]any
		if want < 300 {
			if err := json.Unmarshal(body, &out); err != nil {
				var one map[string]any
				if err := json.Unmarshal(body, &one); err != nil {
					t.Fatalf("%v: %s", err, body)
				}
				out = []map[string]any{one}
			}
		}
		return out, resp.Header
	}
	count := func(l []map[string]any, category string) int {
		n := 0
		for _, r := range l {
			if r["category"] == category {
				n++
			}
		}
		return n
	}

	all, h := get("", http.StatusOK)
	if count(all, wire.CategoryODAComponent) != 1 || count(all, wire.CategoryAPI) != 3 || h.Get(wire.HeaderTotalCount) != "4" || h.Get(wire.HeaderResultCount) != "4" {
		t.Fatalf("list all: %v (headers %v)", all, h)
	}
	one, _ := get("/"+apiName, http.StatusOK)
	var r wire.Resource
	b, _ := json.Marshal(one[0])
	_ = json.Unmarshal(b, &r)
	if r.ID != apiName || r.Category != wire.CategoryAPI || r.ResourceStatus != wire.ResourceAvailable ||
		wire.CharacteristicValue(r.ResourceCharacteristic, wire.CharURL) != apiURL || wire.CharacteristicValue(r.ResourceCharacteristic, wire.CharSegment) != "core" ||
		wire.CharacteristicValue(r.ResourceCharacteristic, wire.CharSpecification) == "" || len(r.ResourceRelationship) != 1 || r.ResourceRelationship[0].Resource.ID != name {
		t.Fatalf("get by id: %+v", r)
	}
	comp, _ := get("/"+name, http.StatusOK)
	if comp[0]["resourceStatus"] != wire.ResourceStandby || comp[0]["category"] != wire.CategoryODAComponent {
		t.Errorf("component in progress: %v", comp[0])
	}
	if l, h := get("?filter="+url.QueryEscape("$[?(@.category=='ODAComponent')]"), http.StatusOK); len(l) != 1 || h.Get(wire.HeaderTotalCount) != "1" {
		t.Errorf("JSONPath filter ODAComponent: %v", l)
	}
	if l, _ := get("?filter="+url.QueryEscape("$[?(@.category=='API' && @.resourceStatus!='available')]"), http.StatusOK); len(l) != 1 || l[0]["id"] != name+"-partyrole-v4" {
		t.Errorf("JSONPath filter API not available: %v", l)
	}
	if l, _ := get("?category=API", http.StatusOK); len(l) != 3 {
		t.Errorf("attribute filter category=API: %d resources", len(l))
	}
	if l, _ := get("?category=API,ODAComponent&resourceStatus=available", http.StatusOK); len(l) != 2 {
		t.Errorf("attribute filter with or and and: %v", l)
	}
	page, h := get("?category=API&offset=1&limit=1&fields=name", http.StatusPartialContent)
	if len(page) != 1 || h.Get(wire.HeaderTotalCount) != "3" || h.Get(wire.HeaderResultCount) != "1" || page[0]["name"] != name+"-metrics" ||
		page[0]["category"] != nil || page[0]["id"] == nil || page[0]["href"] == nil {
		t.Errorf("page with fields: %v %v", page, h)
	}
	if l, h := get("?offset=10", http.StatusPartialContent); len(l) != 0 || h.Get(wire.HeaderTotalCount) != "4" {
		t.Errorf("past the end: %v %v", l, h)
	}
	if l, h := get("?offset=9223372036854775807&limit=9223372036854775807", http.StatusPartialContent); len(l) != 0 || h.Get(wire.HeaderTotalCount) != "4" {
		t.Errorf("offset and limit at the largest int: %v %v", l, h)
	}
	if l, _ := get("?offset=1&limit=9223372036854775807", http.StatusPartialContent); len(l) != 3 {
		t.Errorf("limit at the largest int: %d resources, want the 3 after the offset", len(l))
	}
	get("?offset=-1", http.StatusBadRequest)
	get("?limit=x", http.StatusBadRequest)
	get("?filter=category", http.StatusBadRequest)
	get("/nobody", http.StatusNotFound)
}

// Peer registrations: POST a TMF638 Service, list it, withdraw it; a
// service without its specification URL is refused naming the field.
func TestPeerRegistration(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, api.Options{Registry: peer.NewRegistry(0, nil)})
	svc := `{"id":"canvas-x-api","name":"api","serviceType":"API","state":"active","serviceCharacteristic":[` +
		`{"name":"OAS Specification","value":"https://example.org/TMF620.json"},{"name":"url","value":"http://x/api"}]}`
	if code, resp := e.do(http.MethodPost, wire.PathCanvasInfo, []byte(svc)); code != http.StatusCreated {
		t.Fatalf("register: %d %s", code, resp)
	}
	if code, resp := e.do(http.MethodPost, wire.PathCanvasInfo, []byte(svc)); code != http.StatusOK {
		t.Fatalf("renew: %d %s", code, resp)
	}
	code, resp := e.do(http.MethodGet, wire.PathCanvasInfo, nil)
	if l := decode[[]wire.Service](t, resp); code != http.StatusOK || len(l) != 1 || l[0].ID != "canvas-x-api" {
		t.Fatalf("list registrations: %d %s", code, resp)
	}
	if code, resp := e.do(http.MethodPost, wire.PathCanvasInfo, []byte(`{"id":"y","state":"active"}`)); code != http.StatusUnprocessableEntity || !strings.Contains(string(resp), "OAS Specification") {
		t.Errorf("invalid registration: %d %s", code, resp)
	}
	if code, _ := e.do(http.MethodDelete, wire.PathCanvasInfo+"/canvas-x-api", nil); code != http.StatusNoContent {
		t.Errorf("withdraw: %d", code)
	}
	if code, _ := e.do(http.MethodDelete, wire.PathCanvasInfo+"/canvas-x-api", nil); code != http.StatusNotFound {
		t.Errorf("second withdraw: %d", code)
	}
	big := `{"id":"big","name":"` + strings.Repeat("x", peer.MaxServiceBytes) + `"}`
	if code, resp := e.do(http.MethodPost, wire.PathCanvasInfo, []byte(big)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("a Service over %d bytes: %d %s", peer.MaxServiceBytes, code, resp)
	}
}

// A full registry answers a new registration 429 with Retry-After.
func TestPeerRegistrationFull(t *testing.T) {
	t.Parallel()
	reg := peer.NewRegistry(0, nil)
	e := newEnvWith(t, api.Options{Registry: reg})
	for i := range peer.MaxRegistrations {
		s := wire.Service{ID: fmt.Sprintf("s-%d", i), ServiceCharacteristic: []wire.Characteristic{wire.StringCharacteristic(wire.CharOASSpecification, "https://example.org/x.json")}}
		if _, err := reg.Put(s); err != nil {
			t.Fatal(err)
		}
	}
	svc := `{"id":"late","serviceCharacteristic":[{"name":"OAS Specification","value":"https://example.org/TMF620.json"}]}`
	req, err := http.NewRequest(http.MethodPost, e.url+wire.PathCanvasInfo, strings.NewReader(svc))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "90" {
		t.Errorf("registration when full: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
