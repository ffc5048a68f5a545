package migrate_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
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

// Read checks implementations.yaml's artefacts as import does before it
// applies, so --dry-run names a bad one; "" is one still to fill in.
func TestReadChecksArtefacts(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		impls string
		want  []string
	}{
		{"productcatalogmanagement: http://example.com/x.wasm\n", []string{"productcatalogmanagement", "unsupported scheme"}},
		{"productcatalogmanagement: \"not a reference\"\n", []string{"productcatalogmanagement", "not an OCI reference"}},
		{"productcatalogmanagement: [1]\n", []string{"productcatalogmanagement", "a string"}},
		{"productcatalogmanagement: \"\"\nother: ghcr.io/x/y:1\nthird: file://c.wasm\n", nil},
	} {
		dir, _ := writeBundle(t)
		p := filepath.Join(dir, migrate.ImplementationsFile)
		if err := os.WriteFile(p, []byte(tt.impls), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := migrate.Read(dir)
		if tt.want == nil {
			if err != nil {
				t.Errorf("%q: %v", tt.impls, err)
			}
			continue
		}
		for _, w := range append(tt.want, p) {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %v does not say %q", tt.impls, err, w)
			}
		}
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

// writeBundle writes a bundle of one upstream example and returns its
// directory and the Component's file.
func writeBundle(t *testing.T) (string, string) {
	t.Helper()
	clean, _, err := migrate.Clean(clusterCopy(t, "productcatalog-v1.component.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	b := &migrate.Bundle{}
	if err := b.Add(clean, nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := b.Write(dir, "test"); err != nil {
		t.Fatal(err)
	}
	return dir, filepath.Join(dir, migrate.ComponentFile(keyOf(t, clean)))
}

func keyOf(t *testing.T, obj map[string]any) oda.Key {
	t.Helper()
	md := obj["metadata"].(map[string]any)
	return oda.Key{Namespace: md["namespace"].(string), Name: md["name"].(string)}
}

// A bundle may come from elsewhere: Read takes its own regular files only,
// never what a symbolic link points to (a Component or mapping from
// outside the bundle, or a directory of them skipped without a word) nor
// a special file.
func TestReadRefusesLinksAndSpecialFiles(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		// odd puts the odd file in the bundle and returns its path.
		odd  func(t *testing.T, dir, component string) (string, error)
		want string
	}{
		{"linked Component file", func(t *testing.T, dir, component string) (string, error) {
			outside := filepath.Join(t.TempDir(), "other.yaml")
			data, _ := os.ReadFile(component)
			if err := os.WriteFile(outside, []byte(strings.Replace(string(data), "name: ctk-productcatalogmanagement", "name: other", 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			link := filepath.Join(filepath.Dir(component), "other.yaml")
			return link, os.Symlink(outside, link)
		}, "a symbolic link"},
		{"linked directory", func(t *testing.T, dir, component string) (string, error) {
			link := filepath.Join(dir, migrate.ComponentsDir, "elsewhere")
			return link, os.Symlink(t.TempDir(), link)
		}, "a symbolic link"},
		{"linked implementations.yaml", func(t *testing.T, dir, _ string) (string, error) {
			outside := filepath.Join(t.TempDir(), migrate.ImplementationsFile)
			if err := os.WriteFile(outside, []byte("productcatalog: ghcr.io/x/y:1\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, migrate.ImplementationsFile)
			_ = os.Remove(p)
			return p, os.Symlink(outside, p)
		}, "a symbolic link"},
		{"named pipe", func(t *testing.T, dir, component string) (string, error) {
			p := filepath.Join(filepath.Dir(component), "pipe")
			return p, syscall.Mkfifo(p, 0o644)
		}, "a named pipe"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir, component := writeBundle(t)
			if _, err := migrate.Read(dir); err != nil {
				t.Fatalf("the bundle before: %v", err)
			}
			odd, err := tt.odd(t, dir, component)
			if err != nil {
				t.Fatal(err)
			}
			_, err = migrate.Read(dir)
			if err == nil || !strings.Contains(err.Error(), odd+": is "+tt.want) || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("Read: %v, want an error saying %s is %s", err, odd, tt.want)
			}
		})
	}
}

// Read reads no more of a file than a bundle file may hold: a huge (here
// sparse) file is refused without being read into memory. Not parallel:
// it measures the bytes allocated.
func TestReadBoundsFileSize(t *testing.T) {
	const huge = 64 << 20
	for _, name := range []string{"components/components/big.yaml", migrate.ImplementationsFile} {
		t.Run(name, func(t *testing.T) {
			dir, _ := writeBundle(t)
			p := filepath.Join(dir, name)
			if err := os.Truncate(p, huge); errors.Is(err, os.ErrNotExist) {
				f, err := os.Create(p)
				if err != nil {
					t.Fatal(err)
				}
				_ = f.Close()
				if err := os.Truncate(p, huge); err != nil {
					t.Fatal(err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := migrate.Read(dir)
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "4 MiB") {
				t.Errorf("Read: %v, want an error naming %s and the 4 MiB limit", err, p)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > huge/8 {
				t.Errorf("Read allocated %d MiB for a %d MiB file", got>>20, huge>>20)
			}
		})
	}
}

// minimal is the smallest Component: what Add costs beyond parsing it is
// what TestAddGrowth measures.
func minimal(i int) map[string]any {
	return map[string]any{"apiVersion": "oda.tmforum.org/v1", "kind": "Component",
		"metadata": map[string]any{"name": fmt.Sprintf("c%06d", i), "namespace": "components"}, "spec": map[string]any{}}
}

// Adding a Component to a bundle of n costs about the same for every n
// (a place found in log n steps), not a sort of all n: the allocations of
// one Add grow by far less than the bundle does. Not parallel: it counts
// allocations.
func TestAddGrowth(t *testing.T) {
	addAllocs := func(n int) float64 {
		b := &migrate.Bundle{}
		for i := range n {
			if err := b.Add(minimal(n-i), nil); err != nil {
				t.Fatal(err)
			}
		}
		for i := 1; i < n; i++ {
			if migrate.ComponentFile(keyOf(t, b.Components[i-1])) > migrate.ComponentFile(keyOf(t, b.Components[i])) {
				t.Fatalf("bundle of %d not sorted at %d", n, i)
			}
		}
		return testing.AllocsPerRun(10, func() {
			x := &migrate.Bundle{Components: slices.Clone(b.Components)}
			if err := x.Add(minimal(n/2), nil); err != nil {
				t.Fatal(err)
			}
		})
	}
	small, large := addAllocs(256), addAllocs(2048)
	if ratio := large / small; ratio > 2 {
		t.Errorf("one Add allocates %.0f times in a bundle of 256 and %.0f in one of 2048 (x%.1f for x8 Components): it grows with the bundle", small, large, ratio)
	}
}
