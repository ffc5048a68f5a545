package migrate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/wasmcanvas/wasmcanvas/pkg/artefact"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
)

// Names in a bundle directory.
const (
	ComponentsDir       = "components"
	ImplementationsFile = "implementations.yaml"
	ReportFile          = "report.md"
)

// Cluster-only metadata: set by a Kubernetes API server, kopf or canvasd,
// never part of what a user applies.
var (
	clusterMetadata = []string{"uid", "resourceVersion", "managedFields", "generation", "creationTimestamp", "selfLink",
		"deletionTimestamp", "deletionGracePeriodSeconds", "finalizers", "ownerReferences", "generateName"}
	clusterAnnotations = []string{"kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision", oda.AnnotationManagedFields}
	// clusterAnnotationPrefixes: kopf's bookkeeping on the reference canvas.
	clusterAnnotationPrefixes = []string{"kopf.zalando.org/"}
)

// Clean returns a copy of a Component object (as a Kubernetes API or
// canvasd serves it) without status and cluster-only metadata, and the
// wasmcanvas.io/implementations mapping it carried (nil if none), which
// a bundle keeps in implementations.yaml instead.
func Clean(obj map[string]any) (map[string]any, map[string]string, error) {
	out := deepCopy(obj)
	delete(out, "status")
	md, _ := out["metadata"].(map[string]any)
	if md == nil {
		return nil, nil, errors.New("metadata: missing; a Component needs metadata.name")
	}
	for _, k := range clusterMetadata {
		delete(md, k)
	}
	var impls map[string]string
	if ann, ok := md["annotations"].(map[string]any); ok {
		for k := range ann {
			if slices.Contains(clusterAnnotations, k) || slices.ContainsFunc(clusterAnnotationPrefixes, func(p string) bool { return strings.HasPrefix(k, p) }) {
				delete(ann, k)
			}
		}
		if raw, ok := ann[oda.AnnotationImplementations].(string); ok {
			if err := json.Unmarshal([]byte(raw), &impls); err != nil {
				return nil, nil, fmt.Errorf("metadata.annotations[%s]: not a JSON object of implementation name to artefact: %w", oda.AnnotationImplementations, err)
			}
			delete(ann, oda.AnnotationImplementations)
		}
		if len(ann) == 0 {
			delete(md, "annotations")
		}
	}
	return out, impls, nil
}

func deepCopy(obj map[string]any) map[string]any {
	b, _ := json.Marshal(obj) // a decoded JSON/YAML object always encodes
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// NormalizedSpec is obj's spec in the form the round trip compares:
// canonical JSON (keys sorted, no insignificant space), null values dropped.
func NormalizedSpec(obj map[string]any) ([]byte, error) {
	spec, ok := obj["spec"]
	if !ok {
		return nil, errors.New("spec: missing")
	}
	return json.Marshal(dropNulls(spec))
}

func dropNulls(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			if e != nil {
				out[k] = dropNulls(e)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = dropNulls(e)
		}
		return out
	default:
		return v
	}
}

// Bundle is a migration bundle in memory.
type Bundle struct {
	// Components are the cleaned objects, by namespace then name; Add
	// keeps them so.
	Components []map[string]any
	// Implementations maps implementation names to Wasm artefacts ("" for
	// one still to fill in).
	Implementations map[string]string
}

// Add puts a cleaned Component in b, and its implementation names (with
// artefacts when known) in b.Implementations.
func (b *Bundle) Add(obj map[string]any, known map[string]string) error {
	c, err := parse(obj)
	if err != nil {
		return err
	}
	if b.Implementations == nil {
		b.Implementations = map[string]string{}
	}
	for _, impl := range Implementations(c) {
		if cur := b.Implementations[impl]; cur == "" {
			b.Implementations[impl] = known[impl]
		}
	}
	// Inserted in its place, not appended and sorted again: an export of
	// n Components would compare O(n²) keys.
	key := keyOf(obj).String()
	i, _ := slices.BinarySearchFunc(b.Components, key, func(x map[string]any, key string) int {
		return strings.Compare(keyOf(x).String(), key)
	})
	b.Components = slices.Insert(b.Components, i, obj)
	return nil
}

func parse(obj map[string]any) (*oda.Component, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	k := keyOf(obj)
	return oda.Parse(k.Namespace+"/"+k.Name, data)
}

func keyOf(obj map[string]any) oda.Key {
	md, _ := obj["metadata"].(map[string]any)
	ns, _ := md["namespace"].(string)
	name, _ := md["name"].(string)
	if ns == "" {
		ns = oda.DefaultNamespace
	}
	return oda.Key{Namespace: ns, Name: name}
}

// Implementations lists the implementation names c's exposed APIs and
// events are served by, sorted.
func Implementations(c *oda.Component) []string {
	set := map[string]bool{}
	for _, apis := range c.Spec.ExposedAPIsByFunction() {
		for i := range apis {
			a := &apis[i]
			set[a.EffectiveImplementation()] = true
			for _, s := range a.Specification {
				set[s.Implementation] = true
			}
		}
	}
	if en := c.Spec.EventNotification; en != nil {
		for _, e := range en.PublishedEvents {
			for _, s := range e.Specification {
				set[s.Implementation] = true
			}
		}
		for _, e := range en.SubscribedEvents {
			for _, s := range e.Specification {
				set[s.Implementation] = true
			}
		}
	}
	delete(set, "")
	return slices.Sorted(maps.Keys(set))
}

// ComponentFile is where a Component lives in a bundle.
func ComponentFile(k oda.Key) string {
	return filepath.Join(ComponentsDir, k.Namespace, k.Name+".yaml")
}

// Write writes b to dir (created if missing) with a report; source names
// where the Components came from, for the report.
func (b *Bundle) Write(dir, source string) (Report, error) {
	rep, err := b.Report(source)
	if err != nil {
		return Report{}, err
	}
	for _, obj := range b.Components {
		data, err := yaml.Marshal(obj)
		if err != nil {
			return Report{}, err
		}
		if err := writeFile(filepath.Join(dir, ComponentFile(keyOf(obj))), data); err != nil {
			return Report{}, err
		}
	}
	if err := writeFile(filepath.Join(dir, ImplementationsFile), implementationsYAML(b.Implementations)); err != nil {
		return Report{}, err
	}
	if err := writeFile(filepath.Join(dir, ReportFile), []byte(rep.Markdown())); err != nil {
		return Report{}, err
	}
	return rep, nil
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// implementationsYAML writes the mapping with a header saying what to do.
func implementationsYAML(impls map[string]string) []byte {
	var buf bytes.Buffer
	buf.WriteString("# wasmcanvas.io/implementations: the Wasm artefact serving each implementation\n" +
		"# (an OCI reference such as ghcr.io/org/name:tag, or a file:// path relative to this file).\n" +
		"# On the Kubernetes canvas each name is a Service of the Component's Helm chart.\n" +
		"# Fill in every empty value before `canvas migrate import`.\n")
	for _, name := range slices.Sorted(maps.Keys(impls)) {
		v, _ := json.Marshal(impls[name]) // a JSON string is a YAML string
		fmt.Fprintf(&buf, "%s: %s\n", name, v)
	}
	return buf.Bytes()
}

// Read reads a bundle from dir. Errors name the file and field path.
// Only dir's own regular files are read, each at most oda.MaxFileSize
// bytes: a bundle may come from elsewhere, and a symbolic link or a
// special file in it (a FIFO, /dev/zero) would read what is not the
// bundle's or never end.
func Read(dir string) (*Bundle, error) {
	b := &Bundle{Implementations: map[string]string{}}
	rt, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (a bundle written by `canvas migrate export` is a directory)", dir, err)
	}
	defer rt.Close()
	implsPath := filepath.Join(dir, ImplementationsFile)
	data, err := readBundleFile(rt, implsPath, ImplementationsFile)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w (a bundle written by `canvas migrate export` has one)", err)
		}
		return nil, err
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", implsPath, err)
	}
	// Checked here as import checks them before it applies, so that
	// --dry-run shows a bad reference too; "" is one still to fill in.
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	var implErrs []error
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		s, ok := raw[k].(string)
		if raw[k] != nil && !ok {
			implErrs = append(implErrs, fmt.Errorf("%s: %s: want an artefact reference (a string), got %v: quote it", implsPath, k, raw[k]))
			continue
		}
		if s != "" {
			if _, err := translate.Artefact(s, absDir); err != nil {
				implErrs = append(implErrs, fmt.Errorf("%s: %s: %w: give an OCI reference (registry/repo:tag), a file:// path relative to the bundle, or \"\" to fill in later", implsPath, k, err))
				continue
			}
		}
		b.Implementations[k] = s
	}
	if err := errors.Join(implErrs...); err != nil {
		return nil, err
	}
	root := filepath.Join(dir, ComponentsDir)
	if _, err := rt.Lstat(ComponentsDir); err != nil {
		return nil, fmt.Errorf("%s: no Component files (*.yaml): is %s a migration bundle? (%w)", root, dir, err)
	}
	var errs []error
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !d.Type().IsRegular() {
			errs = append(errs, notRegular(path, artefact.FileKind(d.Type())))
			return nil
		}
		if !strings.HasSuffix(path, ".yaml") {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		data, err := readBundleFile(rt, path, rel)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		if _, err := oda.Parse(path, data); err != nil {
			errs = append(errs, err)
			return nil
		}
		var obj map[string]any
		if err := yaml.Unmarshal(data, &obj); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
			return nil
		}
		if want := filepath.Join(root, ComponentFile(keyOf(obj))[len(ComponentsDir)+1:]); want != path {
			errs = append(errs, fmt.Errorf("%s: metadata.namespace/name say %s: move the file to %s", path, keyOf(obj).Display(), want))
			return nil
		}
		b.Components = append(b.Components, obj)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", root, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(b.Components) == 0 {
		return nil, fmt.Errorf("%s: no Component files (*.yaml): is %s a migration bundle?", root, dir)
	}
	return b, nil
}

// readBundleFile reads rel, a file of the bundle rt is opened on, named
// path in errors: a regular file of at most oda.MaxFileSize bytes.
func readBundleFile(rt *os.Root, path, rel string) ([]byte, error) {
	f, fi, err := artefact.OpenRegular(rt, rel)
	var nr *artefact.NotRegularError
	switch {
	case errors.As(err, &nr):
		return nil, notRegular(path, nr.Kind)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	tooBig := func(size int64) error {
		return fmt.Errorf("%s: file is %d bytes or more, over the %d (4 MiB) a bundle file may have: a bundle holds Component manifests and implementations.yaml only", path, size, oda.MaxFileSize)
	}
	if fi.Size() > oda.MaxFileSize {
		return nil, tooBig(fi.Size())
	}
	data, err := io.ReadAll(io.LimitReader(f, oda.MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > oda.MaxFileSize {
		return nil, tooBig(int64(len(data)))
	}
	return data, nil
}

// notRegular refuses what is not a regular file in a bundle, saying what
// it is.
func notRegular(path, kind string) error {
	return fmt.Errorf("%s: is %s, not a regular file: a bundle holds its files themselves; put the file there in its place, or remove it", path, kind)
}

// checkTranslation is what translate says about c beyond missing
// artefacts: the parts of the spec wasmcanvas cannot serve.
func checkTranslation(c *oda.Component) error {
	_, err := translate.Component(c, translate.Options{})
	return translate.InputErrors(err)
}
