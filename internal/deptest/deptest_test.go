package deptest

import (
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/wasmcanvas/wasmcanvas/"

// pure may not touch NATS, wasmtime or cgo: data in, data out.
var pure = Rule{
	Forbidden: []string{"github.com/nats-io/", "github.com/bytecodealliance/wasmtime-go/"},
	NoCgo:     true,
}

// client is what a program that only talks to a lattice links: NATS's
// client is fine, a NATS server or cgo is not.
var client = Rule{
	Forbidden: []string{"github.com/nats-io/nats-server/", "github.com/bytecodealliance/wasmtime-go/"},
	NoCgo:     true,
}

// keys may sign with nkeys and jwt but links no NATS client or server:
// generating and rendering a lattice's credentials touches no network.
var keys = Rule{
	Forbidden: []string{"github.com/nats-io/nats.go", "github.com/nats-io/nats-server/", "github.com/bytecodealliance/wasmtime-go/"},
	NoCgo:     true,
}

var rules = map[string]Rule{
	"pkg/oda":                      pure,
	"pkg/translate":                pure,
	"pkg/wadm":                     pure,
	"pkg/lattice/subject":          pure,
	"pkg/api/wire":                 pure,
	"pkg/client":                   pure,
	"pkg/version":                  pure,
	"pkg/wrpc/wire":                pure,
	"pkg/auth":                     pure, // who a caller is; identity, the API, the kube API and the gateway share it
	"pkg/migrate":                  pure, // HTTP to canvasd and to a Kubernetes API only: the CLI links it
	"pkg/peer":                     pure, // HTTP to peer canvases only
	"pkg/gateway/policy":           pure, // what an exposed API's ODA policies mean; translate writes it, the gateway reads it
	"pkg/gateway/enforce":          pure, // the policy chain (reads OpenAPI documents, links no NATS): counters and keys behind interfaces, JetStream KV in policykv
	"pkg/gateway/policykv":         client,
	"pkg/observe":                  pure, // served over wRPC by the bridge, in-process by the runtime: it knows no transport
	"pkg/runtime/internal/compose": pure, // reads and writes component binaries; the runtime encodes its WAT with wasmtime
	"pkg/lattice":                  client,
	"pkg/wadm/wadmclient":          client,
	"pkg/client/natsclient":        client,
	"pkg/wrpc":                     client,
	"pkg/bridge":                   client,
	"pkg/bridge/par":               client,
	"pkg/latticeadmin":             client,
	"pkg/edge":                     keys,
	"pkg/edge/hubclient":           client,
}

func TestPureCoreStaysPure(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	for pkg, r := range rules {
		t.Run(pkg, func(t *testing.T) {
			t.Parallel()
			bad, err := Violations(root, module+pkg, r)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range bad {
				t.Errorf("%s: keep NATS, cgo and servers out of this package (move the I/O into a subpackage or the caller)", b)
			}
		})
	}
}

// The check must see what it is there to catch: a package that imports
// nats.go, and one that uses cgo.
func TestViolationsCatchesNATSAndCgo(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ pkg, want string }{
		{"./testdata/usesnats", "depends on github.com/nats-io/nats.go"},
		{"./testdata/usescgo", "which uses cgo"},
	} {
		bad, err := Violations(".", tt.pkg, pure)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(bad, "\n"), tt.want) {
			t.Errorf("Violations(%s) = %q, want a line saying %q", tt.pkg, bad, tt.want)
		}
	}
}
