package daemon_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/wasmcanvas/wasmcanvas/cmd/canvas/cli"
	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon/daemontest"
	"github.com/wasmcanvas/wasmcanvas/pkg/migrate"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// TestMigrateImportExport drives `canvas migrate` against canvasd: a
// bundle of the upstream v1 example is refused while an implementation
// has no artefact, planned with --dry-run once filled in, imported to
// Complete, planned again as unchanged, and exported back with the same
// normalised spec, without the wasmcanvas annotation (it applies
// unchanged to the Kubernetes canvas) and with the artefacts in
// implementations.yaml.
func TestMigrateImportExport(t *testing.T) {
	t.Parallel()
	ctx := daemontest.Context(t, 60*time.Second)
	d := startCanvas(ctx, t, "http://127.0.0.1:9003")
	tok, err := auth.ReadAdminToken(d.StateDir())
	if err != nil {
		t.Fatal(err)
	}
	run := func(want int, args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := cli.Main(append(args, "--server", d.APIURL(), "--token", tok), strings.NewReader(""), &out, &errb); code != want {
			t.Fatalf("canvas %v: exit %d, want %d\n%s%s", args, code, want, out.String(), errb.String())
		}
		return out.String() + errb.String()
	}

	data, err := os.ReadFile(testref.Path(t, "oda", "examples", "productcatalog-v1.component.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := yaml.Unmarshal(data, &obj); err != nil {
		t.Fatal(err)
	}
	want, _ := migrate.NormalizedSpec(obj)
	b := &migrate.Bundle{}
	if err := b.Add(obj, nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := b.Write(dir, "test"); err != nil {
		t.Fatal(err)
	}
	if out := run(1, "migrate", "import", dir); !strings.Contains(out, "MISSING") || !strings.Contains(out, "no artefact for implementation") {
		t.Fatalf("import with missing artefacts:\n%s", out)
	}
	impls := "ctk-prodcatapi: ghcr.io/a/b:1\nctk-productcatalogmanagement-sm: ghcr.io/a/c:1\nctk-permissionspecapi: ghcr.io/a/d:1\n"
	if err := os.WriteFile(filepath.Join(dir, migrate.ImplementationsFile), []byte(impls), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := run(0, "migrate", "import", dir, "--dry-run"); !strings.Contains(out, "create    component components/ctk-productcatalogmanagement") {
		t.Fatalf("dry run:\n%s", out)
	}
	if _, err := mustHTTP(t, d.APIURL(), d.StateDir()).Get(ctx, "components", "ctk-productcatalogmanagement"); err == nil {
		t.Fatal("--dry-run applied the Component")
	}
	if out := run(0, "migrate", "import", dir, "--timeout", "30s"); !strings.Contains(out, oda.DeploymentComplete) {
		t.Fatalf("import:\n%s", out)
	}
	if out := run(0, "migrate", "import", dir, "--dry-run", "-o", "json"); !strings.Contains(out, `"action": "unchanged"`) {
		t.Errorf("second plan:\n%s", out)
	}

	back := t.TempDir()
	run(0, "migrate", "export", "--from", "wasmcanvas", "--out", back)
	got, err := os.ReadFile(filepath.Join(back, migrate.ComponentFile(oda.Key{Namespace: "components", Name: "ctk-productcatalogmanagement"})))
	if err != nil {
		t.Fatal(err)
	}
	var gotObj map[string]any
	if err := yaml.Unmarshal(got, &gotObj); err != nil {
		t.Fatal(err)
	}
	if spec, _ := migrate.NormalizedSpec(gotObj); string(spec) != string(want) {
		t.Errorf("spec after the round trip:\n got %s\nwant %s", spec, want)
	}
	md, _ := gotObj["metadata"].(map[string]any)
	if _, hasStatus := gotObj["status"]; hasStatus || strings.Contains(string(got), oda.AnnotationImplementations) || md["resourceVersion"] != nil || md["uid"] != nil {
		t.Errorf("exported Component carries wasmcanvas fields:\n%s", got)
	}
	if gi, err := os.ReadFile(filepath.Join(back, migrate.ImplementationsFile)); err != nil || !strings.Contains(string(gi), `ctk-prodcatapi: "ghcr.io/a/b:1"`) {
		t.Errorf("exported implementations: %s %v", gi, err)
	}
}
