package node

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/wasmcanvas/wasmcanvas/pkg/artefact"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
)

// Artefacts fetches component bytes: file:// references from the
// artefact roots only (pkg/artefact's rules, as `canvas up`), OCI
// references through OCI (nil refuses them).
type Artefacts struct {
	roots *artefact.Roots
	oci   *OCI
}

// NewArtefacts reads file:// artefacts from roots and pulls OCI
// references with oci.
func NewArtefacts(roots []string, oci *OCI) (*Artefacts, error) {
	r, err := artefact.NewRoots(roots...)
	if err != nil {
		return nil, err
	}
	return &Artefacts{roots: r, oci: oci}, nil
}

// Fetch returns ref's component bytes.
func (a *Artefacts) Fetch(ctx context.Context, ref string) (*artefact.Wasm, error) {
	if path, ok := strings.CutPrefix(ref, "file://"); ok {
		w, err := a.roots.ReadFile(path)
		if errors.Is(err, artefact.ErrNotExist) {
			return nil, fmt.Errorf("%w; %s", err, translate.MissingArtefactFix(path))
		}
		return w, err
	}
	if a.oci == nil {
		return nil, fmt.Errorf("component reference %q: this node pulls no OCI images (start canvas node with a cache directory) and reads file:// artefacts only", ref)
	}
	return a.oci.Fetch(ctx, ref)
}
