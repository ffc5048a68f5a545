package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"go.yaml.in/yaml/v3"

	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

// validOCI is ociRef.MatchString, remembered: canvasd translates the same
// few references (every --implementations entry) on every reconcile, and
// the match was a tenth of a translation. The memory is bounded in entries
// and entry size, so hostile input cannot grow it.
func validOCI(ref string) bool {
	if v, ok := ociSeen.Load(ref); ok {
		return v.(bool)
	}
	ok := ociRef.MatchString(ref)
	if len(ref) <= ociSeenMaxLen && ociSeenCount.Add(1) <= ociSeenMax {
		ociSeen.Store(ref, ok)
	}
	return ok
}

const (
	ociSeenMax    = 4096
	ociSeenMaxLen = 512
)

var (
	ociSeen      sync.Map // string -> bool
	ociSeenCount atomic.Int32
)

// ociRef is a loose OCI reference: registry/repository[:tag][@digest].
var ociRef = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$`)

// Artefact checks and normalises one Wasm artefact reference: an OCI
// reference (an "oci://" prefix is dropped, as wadm takes bare references)
// or a file:// URL. A relative file:// path is made absolute against
// baseDir; pure string work, the file is not looked at.
func Artefact(ref, baseDir string) (string, error) {
	switch {
	case ref == "":
		return "", fmt.Errorf("empty artefact reference")
	case strings.HasPrefix(ref, "file://"):
		p := strings.TrimPrefix(ref, "file://")
		if p == "" {
			return "", fmt.Errorf("%q: file:// needs a path", ref)
		}
		if !path.IsAbs(p) {
			if baseDir == "" {
				return "", fmt.Errorf("%q: relative file:// path with no base directory; use an absolute path", ref)
			}
			p = path.Join(baseDir, p)
		}
		return "file://" + path.Clean(p), nil
	case strings.HasPrefix(ref, "oci://"):
		ref = strings.TrimPrefix(ref, "oci://")
	case strings.Contains(ref, "://"):
		return "", fmt.Errorf("%q: unsupported scheme; use an OCI reference (registry/repo:tag) or file:///path/to.wasm", ref)
	}
	if !validOCI(ref) {
		return "", fmt.Errorf("%q: not an OCI reference (registry/repository:tag or @sha256:digest) or file:// URL", ref)
	}
	return ref, nil
}

// ParseImplementations reads an --implementations file: a YAML (or JSON)
// map of implementation name to artefact. Relative file:// paths resolve
// against baseDir (the file's directory). Errors name the file and line.
func ParseImplementations(file string, data []byte, baseDir string) (map[string]string, error) {
	if len(data) > oda.MaxFileSize {
		return nil, oda.ErrorList{{File: file, Msg: fmt.Sprintf("file is larger than %d bytes", oda.MaxFileSize), Fix: "an implementations file maps names to artefact references; keep it small"}}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, oda.ErrorList{{File: file, Msg: "not valid YAML: " + err.Error(), Fix: `write a map such as {"my-impl": "file:///abs/path.wasm"}`}}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, oda.ErrorList{{File: file, Line: extra.Line, Msg: "more than one YAML document", Fix: "put every implementation in one map"}}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, oda.ErrorList{{File: file, Line: root.Line, Msg: "must be a map of implementation name to artefact", Fix: `write e.g. my-impl: file:///abs/path.wasm`}}
	}
	out := map[string]string{}
	var errs oda.ErrorList
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if _, dup := out[k.Value]; dup {
			errs = append(errs, oda.FieldError{File: file, Line: k.Line, Path: k.Value, Msg: "duplicate implementation", Fix: "keep one entry per implementation"})
			continue
		}
		if v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
			errs = append(errs, oda.FieldError{File: file, Line: v.Line, Path: k.Value, Msg: "artefact must be a string", Fix: "quote the reference"})
			continue
		}
		ref, err := Artefact(v.Value, baseDir)
		if err != nil {
			errs = append(errs, oda.FieldError{File: file, Line: v.Line, Path: k.Value, Msg: err.Error(), Fix: "use registry/repo:tag or file:///abs/path.wasm"})
			continue
		}
		out[k.Value] = ref
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// AnnotationImplementations returns the artefacts named by c's
// wasmcanvas.io/implementations annotation, relative file:// paths made
// absolute against baseDir (the Component file's directory).
func AnnotationImplementations(c *oda.Component, baseDir string) (map[string]string, error) {
	raw, ok := c.Metadata.Annotations[oda.AnnotationImplementations]
	if !ok {
		return map[string]string{}, nil
	}
	p := fmt.Sprintf("metadata.annotations[%q]", oda.AnnotationImplementations)
	var m map[string]string
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, oda.ErrorList{{Path: p, Msg: "must be a JSON object of implementation name to artefact: " + err.Error(), Fix: `write e.g. '{"my-impl":"file:///abs/path.wasm"}'`}}
	}
	var errs oda.ErrorList
	out := make(map[string]string, len(m))
	for _, k := range sortedKeys(m) {
		ref, err := Artefact(m[k], baseDir)
		if err != nil {
			errs = append(errs, oda.FieldError{Path: p + "." + k, Msg: err.Error(), Fix: "use registry/repo:tag or file:///abs/path.wasm"})
			continue
		}
		out[k] = ref
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// implementations merges the annotation with Options.Implementations (the
// latter wins per key; callers put the annotation's entries there already
// resolved, see AnnotationImplementations). An annotation entry that
// Options do not override must be absolute: translate has no base
// directory to resolve a relative file:// path against.
func (t *translator) implementations() map[string]string {
	out := map[string]string{}
	for k, v := range t.opts.Implementations {
		ref, err := Artefact(v, "")
		if err != nil {
			t.fail("implementations."+k, err.Error(), "use registry/repo:tag or file:///abs/path.wasm")
			continue
		}
		out[k] = ref
	}
	raw, ok := t.c.Metadata.Annotations[oda.AnnotationImplementations]
	if !ok {
		return out
	}
	p := fmt.Sprintf("metadata.annotations[%q]", oda.AnnotationImplementations)
	var ann map[string]string
	if err := json.Unmarshal([]byte(raw), &ann); err != nil {
		t.fail(p, "must be a JSON object of implementation name to artefact: "+err.Error(), `write e.g. '{"my-impl":"file:///abs/path.wasm"}'`)
		return out
	}
	for _, k := range sortedKeys(ann) {
		if _, overridden := out[k]; overridden {
			continue
		}
		ref, err := Artefact(ann[k], "")
		if err != nil {
			t.fail(p+"."+k, err.Error(), "use an absolute file:// path or registry/repo:tag (the canvas CLI resolves relative paths against the Component file)")
			continue
		}
		out[k] = ref
	}
	return out
}

// placement reads the placement annotations into spreadscaler properties.
func (t *translator) placement() wadm.ScalerProperties {
	ann := t.c.Metadata.Annotations
	sp := wadm.ScalerProperties{Instances: 1}
	annPath := func(k string) string { return fmt.Sprintf("metadata.annotations[%q]", k) }
	if _, ok := ann[oda.AnnotationPlacement]; ok {
		for _, k := range []string{AnnotationInstances, AnnotationSites, AnnotationSpread} {
			if _, both := ann[k]; both {
				t.fail(annPath(k), "set together with "+oda.AnnotationPlacement, "keep "+oda.AnnotationPlacement+" and drop "+k)
				return sp
			}
		}
		entries, _, err := oda.ParsePlacement(t.c)
		if err != nil {
			var list oda.ErrorList
			errors.As(err, &list)
			t.errs = append(t.errs, list...)
			return sp
		}
		return placementScaler(entries)
	}
	if v, ok := ann[AnnotationInstances]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100000 {
			t.fail(annPath(AnnotationInstances), fmt.Sprintf("must be an integer from 1 to 100000, got %q", v), `write e.g. "3"`)
		} else {
			sp.Instances = n
		}
	}
	_, hasSites := ann[AnnotationSites]
	_, hasSpread := ann[AnnotationSpread]
	if hasSites && hasSpread {
		t.fail(annPath(AnnotationSites), "set together with "+AnnotationSpread, "use one of the two")
		return sp
	}
	if v, ok := ann[AnnotationSites]; ok {
		sites := strings.Split(v, ",")
		weight := 100 / len(sites)
		for _, s := range sites {
			s = strings.TrimSpace(s)
			if s == "" {
				t.fail(annPath(AnnotationSites), fmt.Sprintf("empty site name in %q", v), `write e.g. "edge-1,edge-2"`)
				return sp
			}
			w := weight
			sp.Spread = append(sp.Spread, wadm.Spread{Name: s, Requirements: map[string]string{SiteLabel: s}, Weight: &w})
		}
	}
	if v, ok := ann[AnnotationSpread]; ok {
		dec := json.NewDecoder(strings.NewReader(v))
		dec.DisallowUnknownFields()
		var spread []wadm.Spread
		if err := dec.Decode(&spread); err != nil {
			t.fail(annPath(AnnotationSpread), "must be a JSON list of spread entries: "+err.Error(), `write e.g. '[{"name":"edge-1","requirements":{"site":"edge-1"},"weight":50}]'`)
			return sp
		}
		for i, s := range spread {
			if s.Name == "" || len(s.Requirements) == 0 {
				t.fail(fmt.Sprintf("%s[%d]", annPath(AnnotationSpread), i), "needs a name and at least one requirement", `write e.g. {"name":"edge-1","requirements":{"site":"edge-1"}}`)
				return sp
			}
		}
		sp.Spread = spread
	}
	return sp
}

// placementScaler is the spreadscaler of a placement: one spread per
// entry, weighted by its replicas, and their sum as instances, so that
// wadm's split of instances by weight gives each entry exactly its
// replicas.
func placementScaler(entries []oda.PlacementEntry) wadm.ScalerProperties {
	sp := wadm.ScalerProperties{Spread: make([]wadm.Spread, 0, len(entries))}
	for _, e := range entries {
		w := e.Replicas
		sp.Instances += w
		sp.Spread = append(sp.Spread, wadm.Spread{Name: e.Name, Requirements: e.Labels, Weight: &w})
	}
	return sp
}
