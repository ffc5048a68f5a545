package migrate_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/migrate"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// FuzzRead: whatever a bundle's implementations.yaml and Component file
// hold, Read either refuses them or returns a bundle the rest of import
// takes as read: its report builds, and written out and read back it has
// the same specs.
func FuzzRead(f *testing.F) {
	for _, name := range []string{"productcatalog-v1.component.yaml", "productcatalog-v1beta3.component.yaml"} {
		data, err := os.ReadFile(testref.Path(f, "oda", "examples", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add("productcatalogmanagement: ghcr.io/x/y:1\nother: \"\"\n", string(data))
	}
	f.Add("{}", "apiVersion: oda.tmforum.org/v1\nkind: Component\nmetadata:\n  name: x\nspec: {}\n")
	f.Fuzz(func(t *testing.T, impls, component string) {
		dir := t.TempDir()
		file := filepath.Join(dir, migrate.ComponentFile(oda.Key{Namespace: oda.DefaultNamespace, Name: "x"}))
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, migrate.ImplementationsFile), []byte(impls), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(component), 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := migrate.Read(dir)
		if err != nil {
			return
		}
		if _, err := b.Report("fuzz"); err != nil {
			t.Fatalf("Read took %q, its report refuses it: %v", component, err)
		}
		out := t.TempDir()
		if _, err := b.Write(out, "fuzz"); err != nil {
			t.Fatalf("Read took %q, Write refuses it: %v", component, err)
		}
		back, err := migrate.Read(out)
		if err != nil {
			t.Fatalf("Read took %q, written out it is refused: %v", component, err)
		}
		want, err := migrate.NormalizedSpec(b.Components[0])
		if err != nil {
			t.Fatal(err)
		}
		got, err := migrate.NormalizedSpec(back.Components[0])
		if err != nil || string(got) != string(want) {
			t.Fatalf("spec of %q changed on the way through a bundle:\n got %s\nwant %s (%v)", component, got, want, err)
		}
	})
}
