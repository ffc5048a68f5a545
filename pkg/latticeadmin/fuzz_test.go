package latticeadmin_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/pkg/latticeadmin"
	"github.com/wasmcanvas/wasmcanvas/pkg/latticeadmin/hosttest"
)

// decoders are the payloads that arrive from the lattice: host replies
// and events (the client decodes them) and the commands pkg/node decodes.
var decoders = map[string]func() any{
	"ping":           func() any { return new(latticeadmin.CtlResponse[latticeadmin.Host]) },
	"inventory":      func() any { return new(latticeadmin.CtlResponse[latticeadmin.HostInventory]) },
	"links":          func() any { return new(latticeadmin.CtlResponse[[]latticeadmin.Link]) },
	"config":         func() any { return new(latticeadmin.CtlResponse[map[string]string]) },
	"event":          func() any { return new(latticeadmin.CloudEvent) },
	"scale":          func() any { return new(latticeadmin.ScaleComponentCommand) },
	"update":         func() any { return new(latticeadmin.UpdateComponentCommand) },
	"auction":        func() any { return new(latticeadmin.ComponentAuctionRequest) },
	"provider start": func() any { return new(latticeadmin.StartProviderCommand) },
	"provider stop":  func() any { return new(latticeadmin.StopProviderCommand) },
	"host stop":      func() any { return new(latticeadmin.StopHostCommand) },
	"link del":       func() any { return new(latticeadmin.DeleteLinkRequest) },
	"label put":      func() any { return new(latticeadmin.HostLabel) },
}

// FuzzDecode: whatever a host or a sender puts on the wire, each payload
// type either refuses it or decodes it to a value that Marshal writes as
// bytes which decode to the same bytes again (upstream's aliases and
// defaults, such as "actors" and a missing link name, settle in one
// round).
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"ping-floral-forest.json", "inventory-holy-wildflower.json", "links.json"} {
		f.Add(hosttest.Fixture(name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for name, mk := range decoders {
			v := mk()
			if json.Unmarshal(data, v) != nil {
				continue
			}
			once, err := latticeadmin.Marshal(v)
			if err != nil {
				t.Fatalf("%s: Marshal of a decoded payload: %v", name, err)
			}
			back := mk()
			if err := json.Unmarshal(once, back); err != nil {
				t.Fatalf("%s: Marshal wrote %s, which does not decode: %v", name, once, err)
			}
			twice, err := latticeadmin.Marshal(back)
			if err != nil {
				t.Fatalf("%s: Marshal: %v", name, err)
			}
			if !bytes.Equal(once, twice) {
				t.Fatalf("%s: %q decodes and encodes to\n%s\nthen to\n%s", name, data, once, twice)
			}
		}
	})
}
