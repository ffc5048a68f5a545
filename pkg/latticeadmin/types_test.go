package latticeadmin_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/pkg/latticeadmin"
	"github.com/wasmcanvas/wasmcanvas/pkg/latticeadmin/hosttest"
)

// roundTrip decodes an upstream reply into T and encodes it again.
func roundTrip[T any](t *testing.T, data []byte) []byte {
	t.Helper()
	var v latticeadmin.CtlResponse[T]
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	out, err := latticeadmin.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPayloadsByteForByte: every upstream reply decodes into the types and
// encodes back to the very bytes the host sent: field names, field order,
// left-out options, [] and {} and null all as upstream writes them.
func TestPayloadsByteForByte(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		rt   func(*testing.T, []byte) []byte
	}{
		{"ping-floral-forest.json", roundTrip[latticeadmin.Host]},
		{"ping-holy-wildflower.json", roundTrip[latticeadmin.Host]},
		{"inventory-floral-forest.json", roundTrip[latticeadmin.HostInventory]},
		{"inventory-holy-wildflower.json", roundTrip[latticeadmin.HostInventory]},
		{"links.json", roundTrip[[]latticeadmin.Link]},
	}
	for _, tt := range tests {
		want := hosttest.Fixture(tt.file)
		if got := tt.rt(t, want); !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", tt.file, got, want)
		}
	}
	for _, s := range []string{
		`{"success":true,"message":"successfully put label"}`,
		`{"success":false,"message":"unsupported subject"}`,
		`{"success":true,"message":"Configuration not found"}`,
	} {
		if got := roundTrip[struct{}](t, []byte(s)); string(got) != s {
			t.Errorf("got %s, want %s", got, s)
		}
	}
}

// The requests the client builds are upstream's bodies, with no HTML
// escaping (serde writes <, > and & as they are).
func TestRequestBodies(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		v    any
		want string
	}{
		{latticeadmin.HostLabel{Key: "zone", Value: "eu"}, `{"key":"zone","value":"eu"}`},
		{latticeadmin.HostLabelIdentifier{Key: "zone"}, `{"key":"zone"}`},
		{map[string]string{"b": "x<y&z", "a": "1"}, `{"a":"1","b":"x<y&z"}`},
	} {
		got, err := latticeadmin.Marshal(tt.v)
		if err != nil || string(got) != tt.want {
			t.Errorf("Marshal(%#v) = %s, %v; want %s", tt.v, got, err, tt.want)
		}
	}
}

// Upstream's input aliases and defaults: "actors" for components, a link
// without a name is named "default".
func TestDecodeAliases(t *testing.T) {
	t.Parallel()
	var inv latticeadmin.HostInventory
	if err := json.Unmarshal([]byte(`{"actors":[{"id":"a","image_ref":"r","revision":1,"max_instances":2}],"providers":[],"host_id":"N"}`), &inv); err != nil {
		t.Fatal(err)
	}
	if len(inv.Components) != 1 || inv.Components[0].ID != "a" || inv.Components[0].MaxInstances != 2 {
		t.Errorf("actors not read as components: %+v", inv)
	}
	var l latticeadmin.Link
	if err := json.Unmarshal([]byte(`{"source_id":"s","target":"t","wit_namespace":"wasi","wit_package":"http","interfaces":["x"]}`), &l); err != nil {
		t.Fatal(err)
	}
	if l.Name != latticeadmin.DefaultLinkName {
		t.Errorf("link name %q, want %q", l.Name, latticeadmin.DefaultLinkName)
	}
}
