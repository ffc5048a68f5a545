// Command gen writes manifests/oda-component-<version>.schema.json from the
// upstream ODA Component CRD (read from the reference data, never fetched),
// one file per version wasmcanvas accepts. Run it through `go generate
// ./manifests`; the manifests tests fail when the files are stale.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/manifests"
	"github.com/wasmcanvas/wasmcanvas/manifests/internal/crdschema"
)

func main() {
	crdPath := flag.String("crd", "", "upstream oda-component-crd.yaml (default: the reference data)")
	out := flag.String("out", ".", "directory to write the schema files to")
	flag.Parse()
	if err := run(*crdPath, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(crdPath, out string) error {
	if crdPath == "" {
		ref, err := testref.Dir()
		if err != nil {
			return fmt.Errorf("locate the upstream CRD (or pass -crd): %w", err)
		}
		crdPath = filepath.Join(ref, "oda", "crds", "oda-component-crd.yaml")
	}
	crd, err := os.ReadFile(crdPath)
	if err != nil {
		return fmt.Errorf("read CRD: %w", err)
	}
	for _, v := range manifests.ComponentVersions {
		b, err := crdschema.Generate(crd, v)
		if err != nil {
			return fmt.Errorf("%s: %w", crdPath, err)
		}
		dst := filepath.Join(out, crdschema.FileName(v))
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return fmt.Errorf("write schema: %w", err)
		}
	}
	return nil
}
