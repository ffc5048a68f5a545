package oda

import (
	"reflect"
	"strings"
	"testing"
)

// withPlacement is base with the placement annotation set to value (a
// YAML single-quoted scalar).
func withPlacement(value string) string {
	return edit(4, "  name: demo\n  annotations:\n    wasmcanvas.io/placement: '"+value+"'")
}

func TestPlacementErrors(t *testing.T) {
	t.Parallel()
	const at = `f.yaml:6: metadata.annotations["wasmcanvas.io/placement"]: `
	const example = `; fix: write JSON such as {"sites": {"north-1": 2, "south-1": 1}} or {"spread": [{"labels": {"region": "north"}, "replicas": 2}]}`
	tests := []struct {
		name, value string
		want        []string
	}{
		{"malformed JSON", `{"sites": {"north-1": 2`, []string{at + "is not a placement: unexpected EOF" + example}},
		{"not an object", `["north-1"]`, []string{at + "is not a placement: the annotation must be an object, got JSON array" + example}},
		{"replicas not a number", `{"sites": {"north-1": "two"}}`, []string{at + "is not a placement: sites must be a whole number of replicas, got JSON string" + example}},
		{"fractional replicas", `{"sites": {"north-1": 1.5}}`, []string{at + "is not a placement: sites must be a whole number of replicas, got JSON number 1.5" + example}},
		{"unknown field", `{"sites": {"north-1": 2}, "zone": "eu"}`, []string{at + `is not a placement: unknown field "zone"` + example}},
		{"unknown field in a spread entry", `{"spread": [{"labels": {"region": "north"}, "replicas": 1, "weight": 5}]}`,
			[]string{at + `is not a placement: unknown field "weight"` + example}},
		{"two values", `{"sites": {"a": 1}} {}`, []string{at + "has more than one JSON value" + example}},
		{"empty", `{}`, []string{at + "names no site and no spread" + example + ", or remove the annotation to run one replica anywhere"}},
		{"null", `null`, []string{at + "names no site and no spread" + example + ", or remove the annotation to run one replica anywhere"}},
		{"negative replicas", `{"sites": {"north-1": -1, "south-1": 0}}`, []string{
			at + `sites["north-1"]: replicas must be from 1 to 100000, got -1; fix: give the number of replicas to run there; to run none, leave the entry out`,
			at + `sites["south-1"]: replicas must be from 1 to 100000, got 0`,
		}},
		{"empty site", `{"sites": {"": 1}}`, []string{at + "sites: empty site name; fix: name the site as `canvas edge bootstrap --site NAME` did"}},
		{"site name with a dot", `{"sites": {"north.1": 1}}`, []string{at + `sites["north.1"]: not a site name; fix: site names are ASCII letters, digits, '-' and '_'`}},
		{"spread without labels", `{"spread": [{"replicas": 1}]}`, []string{at + "spread[0]: no labels; fix: give the host labels to match"}},
		{"spread with an empty label name", `{"spread": [{"labels": {"": "x"}, "replicas": 1}]}`, []string{at + "spread[0].labels: empty label name"}},
		{"spread named as a site", `{"sites": {"a": 1}, "spread": [{"name": "a", "labels": {"region": "n"}, "replicas": 1}]}`,
			[]string{at + `spread[0]: name "a" is used twice`}},
		{"too many replicas in all", `{"sites": {"a": 60000, "b": 60000}}`, []string{at + "asks for 120000 replicas in all, more than 100000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("f.yaml", []byte(withPlacement(tt.value)))
			if err == nil {
				t.Fatal("no error")
			}
			got := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("error lacks\n  %s\ngot\n  %s", w, got)
				}
			}
			if n := strings.Count(got, "\n") + 1; n != len(tt.want) {
				t.Errorf("%d errors, want %d:\n%s", n, len(tt.want), got)
			}
		})
	}
}

func TestPlacementEntries(t *testing.T) {
	t.Parallel()
	c := mustParse(t, "f.yaml", []byte(withPlacement(
		`{"sites": {"south-1": 1, "north-1": 2}, "spread": [{"labels": {"region": "east", "tier": "gold"}, "replicas": 3}, {"name": "lab", "labels": {"site": "lab-1"}, "replicas": 1}]}`)))
	entries, ok, err := ParsePlacement(c)
	if err != nil || !ok {
		t.Fatalf("ParsePlacement: %v, %v", ok, err)
	}
	want := []PlacementEntry{
		{Name: "north-1", Labels: map[string]string{"site": "north-1"}, Replicas: 2, Site: "north-1"},
		{Name: "south-1", Labels: map[string]string{"site": "south-1"}, Replicas: 1, Site: "south-1"},
		{Name: "region=east,tier=gold", Labels: map[string]string{"region": "east", "tier": "gold"}, Replicas: 3},
		{Name: "lab", Labels: map[string]string{"site": "lab-1"}, Replicas: 1, Site: "lab-1"},
	}
	if !reflect.DeepEqual(entries, want) {
		t.Errorf("entries\n%+v\nwant\n%+v", entries, want)
	}

	warnings := UnknownSites(c, []string{"north-1", "south-1"})
	if len(warnings) != 1 || !strings.Contains(warnings[0].Error(),
		`metadata.annotations["wasmcanvas.io/placement"]: site "lab-1" is not a site of the lattice (sites: north-1, south-1); its replicas wait until a host labelled site=lab-1 joins; fix: correct the site name, or bring the site in with `+"`canvas edge bootstrap --site lab-1`") {
		t.Errorf("unknown sites: %v", warnings)
	}
	if w := UnknownSites(c, []string{"north-1", "south-1", "lab-1"}); w != nil {
		t.Errorf("every site known, still warned: %v", w)
	}

	none := mustParse(t, "f.yaml", []byte(base))
	if entries, ok, err := ParsePlacement(none); entries != nil || ok || err != nil {
		t.Errorf("no annotation: %v %v %v", entries, ok, err)
	}
}

// FuzzPlacement: any annotation value is either refused with issues or
// gives entries that keep every rule: replicas in range and in sum, one
// name each, labels on every entry.
func FuzzPlacement(f *testing.F) {
	for _, s := range []string{
		`{"sites": {"north-1": 2, "south-1": 1}}`,
		`{"spread": [{"labels": {"region": "north"}, "replicas": 2}]}`,
		`{"sites": {"a": 1}, "spread": [{"name": "a", "labels": {"x": "y"}, "replicas": 1}]}`,
		`{"sites": {"a": 99999, "b": 2}}`, `{"sites": {"": -1}}`, `null`, `{}`, `[`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		entries, issues := checkPlacement(raw)
		if len(issues) > 0 {
			if entries != nil {
				t.Fatalf("%q: entries %+v with issues %+v", raw, entries, issues)
			}
			return
		}
		total, names := 0, map[string]bool{}
		for _, e := range entries {
			if e.Replicas < 1 || e.Replicas > MaxReplicas || len(e.Labels) == 0 || names[e.Name] {
				t.Fatalf("%q: accepted entry %+v", raw, e)
			}
			names[e.Name] = true
			total += e.Replicas
		}
		if len(entries) == 0 || total > MaxReplicas {
			t.Fatalf("%q: accepted %d entries, %d replicas", raw, len(entries), total)
		}
	})
}
