package translate_test

import (
	"fmt"
	"iter"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

// unversioned lists the mutations that must leave the version as it is,
// with the reason; the test fails if one changes it or is never reached.
var unversioned = map[string]string{
	`Metadata.Annotations["version"] changed`: "the version annotation carries the digest itself",
	`Metadata.Annotations["version"] deleted`: "the version annotation carries the digest itself",
}

// TestVersionCoversEveryField mutates every reachable field of a manifest
// that populates every field of the wadm types, one mutation at a time, and
// checks the version changes: a field the digest leaves out fails here,
// and so does a new wadm field the base manifest does not populate.
func TestVersionCoversEveryField(t *testing.T) {
	base := versionBase(t)
	want := translate.Version(base)

	var paths []string
	populated := map[string]bool{}
	for mu := range mutations(t, reflect.ValueOf(base).Elem(), populated) {
		paths = append(paths, mu.path)
	}
	for _, field := range manifestFields(reflect.TypeFor[wadm.Manifest]()) {
		if !populated[field] {
			t.Errorf("%s is never set in versionBase: populate it so its mutations are checked", field)
		}
	}

	reached := map[string]bool{}
	for i, path := range paths {
		m := versionBase(t)
		for mu := range mutations(t, reflect.ValueOf(m).Elem(), map[string]bool{}) {
			if i--; i >= 0 {
				continue
			}
			if mu.path != path {
				t.Fatalf("the walk is not deterministic: %s, then %s", path, mu.path)
			}
			mu.apply()
			break
		}
		got := translate.Version(m)
		if reason, ok := unversioned[path]; ok {
			reached[path] = true
			if got != want {
				t.Errorf("%s changed the version, but must not: %s", path, reason)
			}
			continue
		}
		if got == want {
			t.Errorf("%s: version unchanged (%s): translate.Version leaves this field out", path, got)
		}
	}
	for path := range unversioned {
		if !reached[path] {
			t.Errorf("unversioned lists %s, which the walk never reaches", path)
		}
	}
	if len(paths) < 100 {
		t.Errorf("only %d mutations: the walk stops early", len(paths))
	}
}

// versionBase is the translated test case plus a component, links, a
// custom trait, labels and a policy built by hand, so every field of the
// wadm types is set somewhere (secrets, ids, spread requirements,
// source/target config and the legacy link fields included); configs come
// both managed (properties set) and external (properties nil).
func versionBase(t *testing.T) *wadm.Manifest {
	t.Helper()
	c := parseFile(t, filepath.Join("testdata", "cases", "events-placement.component.yaml"))
	m, err := translate.Component(c, translate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m.Metadata.Annotations[wadm.AnnotationDescription] = "orders"
	m.Metadata.Labels = map[string]string{"team": "orders"}
	m.Spec.Policies = append(m.Spec.Policies, wadm.Policy{
		Name: "vault", Type: "policy.secret.wasmcloud.dev/v1alpha1", Properties: map[string]string{"backend": "nats-kv"},
	})
	configs := func(prefix string) []wadm.ConfigProperty {
		return []wadm.ConfigProperty{
			{Name: prefix + "-managed", Properties: map[string]string{"k": "v", "empty": ""}},
			{Name: prefix + "-external"},
		}
	}
	secrets := func(prefix string) []wadm.SecretProperty {
		return []wadm.SecretProperty{{Name: prefix + "-token", Properties: wadm.SecretProperties{
			Policy: "vault", Key: prefix + "/token", Field: "value", Version: "3",
		}}}
	}
	weight := 40
	m.Spec.Components = append(m.Spec.Components, wadm.Component{
		Name: "everything",
		Type: wadm.ComponentTypeCapability,
		Properties: wadm.Properties{
			Image:       "ghcr.io/example/everything:1.0.0",
			Application: &wadm.SharedApplication{Name: "shared-app", Component: "shared-component"},
			ID:          "everything-id",
			Config:      configs("component"),
			Secrets:     secrets("component"),
		},
		Traits: []wadm.Trait{
			{Type: wadm.TraitSpreadScaler, Scaler: &wadm.ScalerProperties{Instances: 3, Spread: []wadm.Spread{
				{Name: "eu", Requirements: map[string]string{"zone": "eu", "tier": "edge"}, Weight: &weight},
				{Name: "any", Requirements: map[string]string{}},
			}}},
			{Type: wadm.TraitLink, Link: &wadm.LinkProperties{
				Namespace:  "wasi",
				Package:    "keyvalue",
				Interfaces: []string{"store", "atomics"},
				Source:     &wadm.ConfigDefinition{Config: configs("source"), Secrets: secrets("source")},
				Target:     wadm.LinkTarget{Name: "kv", Config: configs("target"), Secrets: secrets("target")},
				Name:       "kv-link",
			}},
			{Type: wadm.TraitLink, Link: &wadm.LinkProperties{
				Namespace:    "wasi",
				Package:      "blobstore",
				Interfaces:   []string{"blobstore"},
				Target:       wadm.LinkTarget{Name: "blobs", BareName: true},
				SourceConfig: configs("legacy-source"),
				TargetConfig: configs("legacy-target"),
			}},
			{Type: "example.dev/custom", Custom: map[string]any{
				"port": 8080.0, "tags": []any{"a", true}, "nested": map[string]any{"k": "v"},
			}},
		},
	})
	return m
}

// mutation is one change to one field of a manifest.
type mutation struct {
	path  string
	apply func()
}

// slot is a value and how to replace it in its container (map values and
// values inside interfaces are not settable in place).
type slot struct {
	path string
	v    reflect.Value
	set  func(reflect.Value)
}

// mutations yields, depth first in a fixed order (map keys sorted), every
// mutation of root: strings, numbers and bools change; pointers,
// interfaces and maps become nil (nil maps become empty); slices lose
// their last element or gain a copy of their first; maps gain and lose a
// key. It records in populated every struct field ("Type.Field") it finds
// non-zero.
func mutations(t *testing.T, root reflect.Value, populated map[string]bool) iter.Seq[mutation] {
	return func(yield func(mutation) bool) {
		walk(t, slot{v: root, set: root.Set}, populated, yield)
	}
}

func walk(t *testing.T, s slot, populated map[string]bool, yield func(mutation) bool) bool {
	v := s.v
	change := func(what string, to reflect.Value) bool {
		return yield(mutation{path: strings.TrimPrefix(s.path+" "+what, " "), apply: func() { s.set(to) }})
	}
	switch v.Kind() {
	case reflect.String:
		return change("changed", reflect.ValueOf(v.String()+"x").Convert(v.Type()))
	case reflect.Int:
		return change("changed", reflect.ValueOf(int(v.Int())+1).Convert(v.Type()))
	case reflect.Float64:
		return change("changed", reflect.ValueOf(v.Float()+1).Convert(v.Type()))
	case reflect.Bool:
		return change("changed", reflect.ValueOf(!v.Bool()).Convert(v.Type()))
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return true
		}
		if !change("= nil", reflect.Zero(v.Type())) {
			return false
		}
		if v.Kind() == reflect.Pointer {
			return walk(t, slot{path: s.path, v: v.Elem(), set: v.Elem().Set}, populated, yield)
		}
		return walk(t, slot{path: s.path, v: v.Elem(), set: s.set}, populated, yield)
	case reflect.Struct:
		if !v.CanAddr() {
			t.Fatalf("%s: a %s the walk cannot set: extend walk", s.path, v.Type())
		}
		for i := range v.NumField() {
			f, field := v.Field(i), v.Type().Field(i)
			if !field.IsExported() {
				t.Fatalf("%s.%s is unexported: extend walk", v.Type(), field.Name)
			}
			if !f.IsZero() {
				populated[v.Type().Name()+"."+field.Name] = true
			}
			path := strings.TrimPrefix(s.path+"."+field.Name, ".")
			if !walk(t, slot{path: path, v: f, set: f.Set}, populated, yield) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if v.Len() == 0 {
			return true
		}
		if !change("last element dropped", v.Slice(0, v.Len()-1)) ||
			!change("first element appended again", reflect.Append(v.Slice3(0, v.Len(), v.Len()), v.Index(0))) {
			return false
		}
		for i := range v.Len() {
			e := v.Index(i)
			if !walk(t, slot{path: fmt.Sprintf("%s[%d]", s.path, i), v: e, set: e.Set}, populated, yield) {
				return false
			}
		}
		return true
	case reflect.Map:
		if v.IsNil() {
			return change("= {}", reflect.MakeMap(v.Type()))
		}
		if !change("= nil map", reflect.Zero(v.Type())) {
			return false
		}
		added := reflect.ValueOf("added").Convert(v.Type().Elem())
		if !yield(mutation{path: s.path + " key added", apply: func() {
			v.SetMapIndex(reflect.ValueOf("zz-added").Convert(v.Type().Key()), added)
		}}) {
			return false
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			path := fmt.Sprintf("%s[%q]", s.path, k.String())
			if !yield(mutation{path: path + " deleted", apply: func() { v.SetMapIndex(k, reflect.Value{}) }}) {
				return false
			}
			set := func(n reflect.Value) { v.SetMapIndex(k, n) }
			if !walk(t, slot{path: path, v: v.MapIndex(k), set: set}, populated, yield) {
				return false
			}
		}
		return true
	default:
		t.Fatalf("%s: kind %s the walk does not mutate: extend walk", s.path, v.Kind())
		return false
	}
}

// manifestFields lists "Type.Field" for every field of every struct type
// reachable from t.
func manifestFields(t reflect.Type) []string {
	var out []string
	seen := map[reflect.Type]bool{}
	var visit func(reflect.Type)
	visit = func(t reflect.Type) {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map:
			visit(t.Elem())
		case reflect.Struct:
			if seen[t] {
				return
			}
			seen[t] = true
			for i := range t.NumField() {
				out = append(out, t.Name()+"."+t.Field(i).Name)
				visit(t.Field(i).Type)
			}
		}
	}
	visit(t)
	return out
}
