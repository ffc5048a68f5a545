package policy_test

import (
	"reflect"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/policy"
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
