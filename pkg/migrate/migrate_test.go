package migrate_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/migrate"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// clusterCopy is an upstream example as a Kubernetes API server and the
// reference canvas's operators serve it back.
func clusterCopy(t *testing.T, file string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(testref.Path(t, "oda", "examples", file))
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := yaml.Unmarshal(data, &obj); err != nil {
		t.Fatal(err)
	}
	md := obj["metadata"].(map[string]any)
	md["namespace"] = "components"
	md["uid"], md["resourceVersion"], md["generation"] = "6a0c2d4e-0000-4000-8000-000000000001", "4711", int64(3)
	md["creationTimestamp"] = "2026-12-01T10:00:00Z"
	md["managedFields"] = []any{map[string]any{"manager": "kubectl"}}
	md["finalizers"] = []any{"kopf.zalando.org/KopfFinalizerMarker"}
	md["annotations"] = map[string]any{
		"kubectl.kubernetes.io/last-applied-configuration": "{}",
		"kopf.zalando.org/last-handled-configuration":      "{}",
		oda.AnnotationManagedFields:                        "[]", // canvasd's kube API's bookkeeping
		"meta.helm.sh/release-name":                        "ctk",
	}
	obj["status"] = map[string]any{"summary/status": map[string]any{"deployment_status": "Complete"}}
	return obj
}

// Every upstream example survives export to a bundle and reading it back
// with the same normalised spec; cluster-only fields are gone, user
// annotations stay, and the report says what does not map.
func TestBundleRoundTrip(t *testing.T) {
	t.Parallel()
	files, err := os.ReadDir(testref.Path(t, "oda", "examples"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		t.Run(f.Name(), func(t *testing.T) {
			t.Parallel()
			obj := clusterCopy(t, f.Name())
			want, err := migrate.NormalizedSpec(obj)
			if err != nil {
				t.Fatal(err)
			}
			clean, impls, err := migrate.Clean(obj)
			if err != nil || impls != nil {
				t.Fatalf("Clean: %v %v", impls, err)
			}
			b := &migrate.Bundle{}
			if err := b.Add(clean, nil); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			rep, err := b.Write(dir, "test")
			if err != nil {
				t.Fatal(err)
			}
			back, err := migrate.Read(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(back.Components) != 1 {
				t.Fatalf("%d components read back", len(back.Components))
			}
			got, _ := migrate.NormalizedSpec(back.Components[0])
			if string(got) != string(want) {
				t.Errorf("spec changed:\n got %s\nwant %s", got, want)
			}
			md := back.Components[0]["metadata"].(map[string]any)
			for _, k := range []string{"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "finalizers"} {
				if _, ok := md[k]; ok {
					t.Errorf("metadata.%s kept", k)
				}
			}
			if ann := md["annotations"].(map[string]any); len(ann) != 1 || ann["meta.helm.sh/release-name"] != "ctk" {
				t.Errorf("annotations %v, want only the user's", ann)
			}
			if _, ok := back.Components[0]["status"]; ok {
				t.Error("status kept")
			}
			if len(rep.Missing) == 0 || len(back.Implementations) != len(rep.Missing) {
				t.Errorf("implementations to fill in: %v, missing %v", back.Implementations, rep.Missing)
			}
			sman := strings.Contains(f.Name(), "sman")
			if md := rep.Markdown(); strings.Contains(md, "spec.securityFunction.secretsManagement") != sman {
				t.Errorf("report, secretsManagement flagged: %v, want %v:\n%s", !sman, sman, md)
			}
		})
	}
}

// Read names the file and field of a bad Component, and a file in the
// wrong place.
func TestReadErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, migrate.ImplementationsFile), []byte("a: ghcr.io/x/a:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := migrate.Read(dir); err == nil || !strings.Contains(err.Error(), "no Component files") {
		t.Errorf("empty bundle: %v", err)
	}
	bad := filepath.Join(dir, migrate.ComponentFile(oda.Key{Namespace: "components", Name: "x"}))
	_ = os.MkdirAll(filepath.Dir(bad), 0o755)
	if err := os.WriteFile(bad, []byte("apiVersion: oda.tmforum.org/v1\nkind: Component\nmetadata:\n  name: x\nspec:\n  coreFunction:\n    exposedAPIs:\n    - name: a\n      port: high\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := migrate.Read(dir); err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "spec.coreFunction.exposedAPIs[0]") {
		t.Errorf("bad Component: %v", err)
	}
}

func TestDiffStatus(t *testing.T) {
	t.Parallel()
	k := map[string]any{"coreAPIs": []any{map[string]any{"name": "a", "ready": true, "ip": "1.2.3.4"}}, "summary/status": map[string]any{"deployment_status": "Complete"}}
	w := map[string]any{"coreAPIs": []any{map[string]any{"name": "a", "ready": false}}, "summary/status": map[string]any{"deployment_status": "Complete"}, "wasmCloud": map[string]any{"app": "x"}}
	got := map[string]string{}
	for _, r := range migrate.DiffStatus(k, w) {
		got[r.Field] = r.Match
	}
	want := map[string]string{"coreAPIs[0].name": "same", "coreAPIs[0].ready": "differs", "coreAPIs[0].ip": "kubernetes-only",
		"summary/status.deployment_status": "same", "wasmCloud.app": "wasmcanvas-only"}
	if len(got) != len(want) {
		t.Errorf("rows %v, want %v", got, want)
	}
	for f, m := range want {
		if got[f] != m {
			t.Errorf("%s: %s, want %s", f, got[f], m)
		}
	}
}
