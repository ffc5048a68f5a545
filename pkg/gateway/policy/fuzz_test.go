package policy_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/policy"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// FuzzDecode: whatever a manifest's route config holds, Decode either
// refuses it or returns a Spec that Encode writes back to the same Spec.
func FuzzDecode(f *testing.F) {
	f.Add(`{"guard":{"roles":["Admin"]}}`)
	f.Add(`{"apiKey":{"name":"apikey","in":"header"},"rateLimit":{"by":{"kind":"ip"},"limit":10,"interval":1000000000}}`)
	f.Add(`{"cors":{"allowOrigins":["*"],"preflight":{"allowHeaders":["Origin"],"allowMethods":["GET"],"maxAge":1800}}}`)
	f.Add(`{"oas":{"document":"file:///x.json","request":true}}`)
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := policy.Decode(s)
		if err != nil {
			return
		}
		back, err := policy.Decode(spec.Encode())
		if err != nil || !reflect.DeepEqual(back, spec) {
			t.Fatalf("Decode(Encode(%+v)) = %+v, %v", spec, back, err)
		}
	})
}

// FuzzForAPI: whatever gatewayConfiguration a Component spec holds, ForAPI
// either refuses it or makes a Spec the gateway accepts: one that
// Validate passes and that a route config carries unchanged (Decode of
// its Encode).
func FuzzForAPI(f *testing.F) {
	f.Add(`{"rateLimit":{"enabled":true,"identifier":"header:X-Tenant","limit":"10","interval":"pm"}}`)
	f.Add(`{"rateLimit":{"enabled":true,"limit":"999999999999","interval":"ms"},"quota":{"identifier":"consumer","limit":"100"}}`)
	f.Add(`{"apiKeyVerification":{"enabled":true,"location":"query:key"},"quota":{"limit":"99999999999999999999"}}`)
	f.Add(`{"CORS":{"enabled":true,"allowOrigins":"https://a.example, https://b.example","allowCredentials":true,"handlePreflightRequests":{"enabled":true,"allowMethods":"GET","maxAge":-1}}}`)
	f.Add(`{"OASValidation":{"requestEnabled":true}}`)
	f.Fuzz(func(t *testing.T, gc string) {
		var e oda.ExposedAPI
		if json.Unmarshal([]byte(`{"name":"api","specification":[{"url":"file:///oas.json"}],"gatewayConfiguration":`+gc+`}`), &e) != nil {
			return
		}
		c := &oda.Component{}
		spec, err := policy.ForAPI(c, &e, "spec.coreFunction.exposedAPIs[0]")
		if err != nil {
			if !strings.Contains(err.Error(), "spec.coreFunction.exposedAPIs[0].gatewayConfiguration.") {
				t.Fatalf("%s: error names no field: %v", gc, err)
			}
			return
		}
		if err := spec.Validate(); err != nil {
			t.Fatalf("%s: ForAPI made %+v, which Validate refuses: %v", gc, spec, err)
		}
		back, err := policy.Decode(spec.Encode())
		if err != nil || !reflect.DeepEqual(back, spec) {
			t.Fatalf("%s: Decode(Encode(%+v)) = %+v, %v", gc, spec, back, err)
		}
	})
}
