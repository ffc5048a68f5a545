package cli_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/cmd/canvas/cli"
	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

func TestDescribePlacement(t *testing.T) {
	t.Parallel()
	placed := func(status *oda.ComponentStatus) *oda.Component {
		c := &oda.Component{APIVersion: oda.APIVersionV1, Kind: "Component", Status: status}
		c.Metadata.Name, c.Metadata.Namespace = "edge-catalog", "edge"
		c.Metadata.Annotations = map[string]string{oda.AnnotationPlacement: `{"sites": {"north-1": 2, "south-1": 1}}`}
		return c
	}
	site := func(name string, replicas int, state, msg string) oda.SiteStatus {
		return oda.SiteStatus{Implementation: "catalog-api", Site: name, Requirements: map[string]string{"site": name}, Replicas: replicas, State: state, Message: msg}
	}
	failed := "Could not satisfy spread south-1 for ghcr.io/x/catalog:1, 0/1 eligible hosts found."
	unplaced := placed(nil)
	unplaced.Metadata.Annotations = nil
	tests := []struct {
		name    string
		c       *oda.Component
		want    []string
		notWant []string
	}{
		{"as wadm reports it", placed(&oda.ComponentStatus{WasmCloud: &oda.WasmCloudStatus{App: "edge-edge-catalog", Sites: []oda.SiteStatus{
			site("north-1", 2, "deployed", ""), site("south-1", 1, "failed", failed)}}}),
			[]string{
				"\nPlacement:\n  IMPLEMENTATION  SITE     REQUIRES      REPLICAS  STATE     MESSAGE\n",
				"  catalog-api     north-1  site=north-1  2         deployed  \n",
				"  catalog-api     south-1  site=south-1  1         failed    " + failed + "\n",
			}, []string{"embedded"}},
		{"before the canvas reported", placed(nil),
			[]string{"  (each)          north-1  site=north-1  2         requested  \n", "  (each)          south-1  site=south-1  1         requested  \n"}, nil},
		{"on the embedded canvas", placed(&oda.ComponentStatus{WasmCloud: &oda.WasmCloudStatus{App: "edge-edge-catalog", Sites: []oda.SiteStatus{
			site("north-1", 2, oda.SiteIgnored, "x"), site("south-1", 1, oda.SiteIgnored, "x")}}}),
			[]string{"north-1  site=north-1  2         ignored", "  The embedded canvas (canvas up) runs every Component on its one node: the placement is accepted and ignored; canvasd with wadm places the replicas.\n"}, nil},
		{"without a placement", unplaced, nil, []string{"Placement:"}},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := cli.Describe(&b, tt.c, nil, time.Now()); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", tt.name, w, out)
			}
		}
		for _, w := range tt.notWant {
			if strings.Contains(out, w) {
				t.Errorf("%s: output has %q:\n%s", tt.name, w, out)
			}
		}
	}
}

// TestDescribeIdentity: describe shows what the canvas registered for a
// guarded Component (issuer, client id, roles) and each API's policy, the
// metrics API unguarded.
func TestDescribeIdentity(t *testing.T) {
	t.Parallel()
	c := &oda.Component{APIVersion: oda.APIVersionV1, Kind: "Component", Status: &oda.ComponentStatus{IdentityConfig: &oda.IdentityConfigStatus{
		IdentityProvider: "wasmcanvas-oidc", Issuer: "http://127.0.0.1:7443/oidc", ClientID: "productcatalog", Roles: []string{"pcadmin"}}}}
	c.Metadata.Name, c.Metadata.Namespace = "productcatalog", oda.DefaultNamespace
	c.Spec.SecurityFunction = &oda.SecurityFunction{CanvasSystemRole: "Admin", ComponentRole: []oda.ComponentRole{{Name: "pcadmin"}}}
	c.Spec.CoreFunction = &oda.CoreFunction{ExposedAPIs: []oda.ExposedAPI{{Name: "catalog", Path: "/productcatalog/api"}}}
	c.Spec.ManagementFunction = &oda.ManagementFunction{ExposedAPIs: []oda.ExposedAPI{{Name: "metrics", APIType: oda.APITypePrometheus, Path: "/productcatalog/metrics"}}}
	var b bytes.Buffer
	if err := cli.Describe(&b, c, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, w := range []string{
		"  Identity Provider:   wasmcanvas-oidc\n",
		"  Issuer:              http://127.0.0.1:7443/oidc\n",
		"  Client ID:           productcatalog (the audience of its APIs' tokens)\n",
		"  Registered Roles:    pcadmin\n",
		"  catalog  guard",
		"  metrics  none",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// TestValidatePlacementSites: with --lattice-dir, a placement site the
// lattice does not have is a warning (an error with --strict); a malformed
// placement is an error naming the annotation and the fix either way.
func TestValidatePlacementSites(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	lat := filepath.Join(tmp, "lattice")
	for _, args := range [][]string{
		{"lattice", "init", "--out", lat, "--listen", "127.0.0.1:1"},
		{"edge", "bootstrap", "--lattice-dir", lat, "--site", "north-1", "--hub", "nats://127.0.0.1:7422"},
	} {
		if code, out, errOut := run(t, "", args...); code != 0 {
			t.Fatalf("canvas %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
	placed := func(name, placement string) string {
		yaml := strings.Replace(string(testref.EchoComponent(name, "/"+name+"/api")), "  annotations:\n",
			"  annotations:\n    wasmcanvas.io/placement: '"+placement+"'\n", 1)
		return writeFile(t, tmp, name+".yaml", []byte(yaml))
	}
	twoSites := placed("two", `{"sites": {"north-1": 2, "south-1": 1}}`)
	unknown := twoSites + `: metadata.annotations["wasmcanvas.io/placement"]: site "south-1" is not a site of the lattice (sites: north-1); its replicas wait until a host labelled site=south-1 joins; fix: correct the site name, or bring the site in with ` + "`canvas edge bootstrap --site south-1`"
	malformed := placed("bad", `{"sites": {"north-1": -1}}`)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown site warned", []string{"-f", twoSites, "--lattice-dir", lat}, 0, "warning: " + unknown},
		{"unknown site an error with --strict", []string{"-f", twoSites, "--lattice-dir", lat, "--strict"}, 1, unknown + "\n1 error(s) in 1 file(s)"},
		{"sites unchecked without a lattice", []string{"-f", twoSites}, 0, "valid"},
		{"malformed", []string{"-f", malformed}, 1, malformed + `:6: metadata.annotations["wasmcanvas.io/placement"]: sites["north-1"]: replicas must be from 1 to 100000, got -1; fix:`},
		{"not a lattice directory", []string{"-f", twoSites, "--lattice-dir", tmp}, 2, "is not a lattice directory"},
	}
	for _, tt := range tests {
		code, out, errOut := run(t, "", append([]string{"validate"}, tt.args...)...)
		if code != tt.code || !strings.Contains(out+errOut, tt.want) {
			t.Errorf("%s: exit %d, want %d with %q:\n%s%s", tt.name, code, tt.code, tt.want, out, errOut)
		}
		if tt.name == "sites unchecked without a lattice" && strings.Contains(out, "warning") {
			t.Errorf("%s: warned:\n%s", tt.name, out)
		}
	}
}

func TestDescribeCodeLine(t *testing.T) {
	for _, tc := range []struct {
		in   oda.CodeStatus
		want string
	}{
		{oda.CodeStatus{Implementation: "api", Tier: "baseline", BaselineCompile: "2.1s"}, "api: baseline (baseline compiled in 2.1s, optimising)"},
		{oda.CodeStatus{Implementation: "api", Tier: "baseline", BaselineCompile: "0.7s", BaselineCompiler: "winch"}, "api: baseline (baseline compiled by winch in 0.7s, optimising)"},
		{oda.CodeStatus{Implementation: "api", Tier: "optimized", BaselineCompile: "2.1s", OptimizedCompile: "5s"}, "api: optimized (baseline compiled in 2.1s, optimised in 5s)"},
		{oda.CodeStatus{Implementation: "api", Tier: "optimized", OptimizedCompile: "5s", StreamAdapter: true, StreamsRetyped: true}, "api: optimized (optimised in 5s); bodies in bulk (stream adapter)"},
		{oda.CodeStatus{Implementation: "api", Tier: "optimized", StreamAdapter: true}, "api: optimized; bodies in bulk to the stream adapter, as lists within the component (its types are not retyped: the canvas log says why)"},
		{oda.CodeStatus{Implementation: "api", Tier: "optimized", OptimizedCompile: "80ms", Cached: true}, "api: optimized (optimised code loaded in 80ms)"},
		{oda.CodeStatus{Implementation: "api", Tier: "baseline", BaselineCompile: "2s", Error: "out of memory"}, "api: baseline (baseline compiled in 2s, optimised compile failed: out of memory)"},
		{oda.CodeStatus{Implementation: "api", Tier: "optimized"}, "api: optimized"},
	} {
		if got := cli.CodeLine(tc.in); got != tc.want {
			t.Errorf("CodeLine(%+v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
