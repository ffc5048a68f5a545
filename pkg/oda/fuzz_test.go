package oda

import (
	"bytes"
	"reflect"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func addSeeds(f *testing.F, add func(data []byte)) {
	for _, ex := range upstreamExamples(f) {
		add(ex.data)
	}
	add([]byte(base))
	add([]byte(edit(14, "      port: eighty")))
	add([]byte(base + "  managementFunction: []\n"))
	add([]byte(base + "---\n" + base))
	add([]byte("a: &a [1]\nb: [*a, *a]\nc: {<<: {x: 1}}\n"))
}

// FuzzDecode: Parse never panics, and what it accepts survives Marshal and
// a second Parse unchanged, in both formats.
func FuzzDecode(f *testing.F) {
	addSeeds(f, func(b []byte) { f.Add(b) })
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err != nil {
			if c != nil {
				t.Fatal("Parse returned a Component and an error")
			}
			if _, ok := err.(ErrorList); !ok {
				t.Fatalf("Parse error %T is not an ErrorList", err)
			}
			return
		}
		for _, format := range []string{"yaml", "json"} {
			out, err := Marshal(c, format)
			if err != nil {
				t.Fatalf("Marshal(%s) of a parsed Component: %v", format, err)
			}
			again, err := Parse("again."+format, out)
			if err != nil {
				t.Fatalf("Parse of Marshal(%s) output: %v\n%s", format, err, out)
			}
			if !reflect.DeepEqual(again, c) {
				t.Fatalf("Marshal(%s) -> Parse changed the Component:\n%s", format, out)
			}
		}
		// Written as an older version, read back and written again, the
		// bytes do not change: conversion has a fixed point.
		for _, v := range []string{APIVersionV1beta4, APIVersionV1beta3} {
			old, err := Convert(c, v)
			if err != nil {
				continue // the Component uses fields v cannot hold
			}
			first, err := Marshal(old, "yaml")
			if err != nil {
				t.Fatalf("Marshal as %s after Convert succeeded: %v", v, err)
			}
			back, err := Parse("old.yaml", first)
			if err != nil {
				t.Fatalf("Parse of the %s rendering: %v\n%s", v, err, first)
			}
			again, err := Convert(back, v)
			if err != nil {
				t.Fatalf("Convert to %s of its own rendering: %v", v, err)
			}
			second, err := Marshal(again, "yaml")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first, second) {
				t.Fatalf("%s rendering is not stable:\n%s\n---\n%s", v, first, second)
			}
		}
	})
}

// FuzzValidate: Validate, Convert and Marshal never panic on decoded
// Components whatever a field is set to. The Components are the upstream
// examples (and base), decoded once; the fuzzer picks one and a mutation.
func FuzzValidate(f *testing.F) {
	var docs [][]byte
	addSeeds(f, func(b []byte) {
		if _, err := Parse("seed.yaml", b); err == nil {
			docs = append(docs, b)
		}
	})
	for i := range docs {
		for op := range uint8(16) {
			f.Add(uint8(i), op, "x", 0)
		}
	}
	f.Add(uint8(0), uint8(7), `{"a": ""}`, -1)
	f.Fuzz(func(t *testing.T, doc, op uint8, s string, n int) {
		c, err := Parse("seed.yaml", docs[int(doc)%len(docs)])
		if err != nil {
			t.Fatal(err)
		}
		mutate(c, op, s, n)
		for _, e := range Validate(c) {
			if e.Msg == "" || e.Line != 0 || e.File != "" {
				t.Fatalf("Validate error without message or with a position: %+v", e)
			}
		}
		for _, v := range APIVersions {
			if conv, err := Convert(c, v); err == nil {
				if _, err := Marshal(conv, "yaml"); err != nil {
					t.Fatalf("Convert(%s) succeeded but Marshal failed: %v", v, err)
				}
			}
		}
	})
}

func mutate(c *Component, op uint8, s string, n int) {
	ensure := func() *ExposedAPI {
		if c.Spec.CoreFunction == nil {
			c.Spec.CoreFunction = &CoreFunction{}
		}
		if len(c.Spec.CoreFunction.ExposedAPIs) == 0 {
			c.Spec.CoreFunction.ExposedAPIs = []ExposedAPI{{Name: s}}
		}
		return &c.Spec.CoreFunction.ExposedAPIs[0]
	}
	switch op % 16 {
	case 0:
		c.Metadata.Name = s
	case 1:
		ensure().Path = s
	case 2:
		ensure().Port = &n
	case 3:
		ensure().Name = s
	case 4:
		a := ensure()
		c.Spec.CoreFunction.ExposedAPIs = append(c.Spec.CoreFunction.ExposedAPIs, *a)
	case 5:
		ensure().Specification = append(ensure().Specification, APISpecification{URL: s, Path: s, Port: &n, APIType: s})
	case 6:
		c.Spec.SecurityFunction = &SecurityFunction{CanvasSystemRole: s, ExposedAPIs: []ExposedAPI{*ensure()},
			ComponentRole: []ComponentRole{{Name: s}, {Name: s}}}
	case 7:
		c.Metadata.Annotations = map[string]string{AnnotationImplementations: s}
	case 8:
		ensure().APIType = s
	case 9:
		c.Spec = ComponentSpec{}
	case 10:
		c.Spec.EventNotification = &EventNotification{PublishedEvents: []PublishedEvent{{Name: s,
			Specification: []PublishedEventSpecification{{URL: s, Port: &n}, {Hub: s}}}}}
	case 11:
		c.Spec.ComponentMetadata = &ComponentMetadata{Name: s, ETOM: []string{s}}
	case 12:
		c.Spec.ManagementFunction = &ManagementFunction{DependentAPIs: []DependentAPI{{Name: s}, {Name: s, Specification: []DependentAPISpecification{{URL: s, APIType: s}}}}}
	case 13:
		c.Spec.SecurityFunction = &SecurityFunction{SecretsManagement: &SecretsManagement{Type: s, SideCar: &SecretsSideCar{Port: &n},
			Extra: map[string]any{s: n}}}
	case 14:
		ensure().Resources = []Resource{{s: n}}
	case 15:
		c.Metadata.Namespace = s
		c.APIVersion = s
	}
}

// TestMutationsValidate runs each mutation once with values that must be
// reported, so the fuzz helpers are known to reach Validate's checks.
func TestMutationsValidate(t *testing.T) {
	t.Parallel()
	for op := range uint8(16) {
		c := mustParse(t, "base.yaml", []byte(base))
		mutate(c, op, "Bad Value/", 0)
		errs := Validate(c)
		if op == 9 || op == 11 {
			continue // an empty spec and any componentMetadata text are valid
		}
		if len(errs) == 0 {
			t.Errorf("op %d: Validate found nothing wrong with %s", op, mustJSON(t, c))
		}
	}
}

// baseline is the ns/op of a bare yaml.Unmarshal of the same bytes,
// measured once per run (the benchmark function runs several times).
var (
	baselineOnce sync.Once
	baseline     float64
)

// BenchmarkParse measures the whole pipeline on the upstream v1 example and
// reports it as a multiple of a bare yaml.Unmarshal of the same bytes,
// measured in the same run.
func BenchmarkParse(b *testing.B) {
	var data []byte
	for _, ex := range upstreamExamples(b) {
		if ex.name == "productcatalog-v1.component.yaml" {
			data = ex.data
		}
	}
	if data == nil {
		b.Fatal("productcatalog-v1.component.yaml not among the upstream examples")
	}
	if _, err := Parse("bench.yaml", data); err != nil {
		b.Fatal(err)
	}
	baselineOnce.Do(func() {
		// testing.Benchmark cannot run inside a benchmark; time a fixed
		// number of rounds instead.
		const rounds = 2000
		start := time.Now()
		for range rounds {
			var m map[string]any
			if err := yaml.Unmarshal(data, &m); err != nil {
				b.Fatal(err)
			}
		}
		baseline = float64(time.Since(start).Nanoseconds()) / rounds
	})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Parse("bench.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/baseline, "x-yaml.Unmarshal")
}
