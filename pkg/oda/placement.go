package oda

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
)

// Placement is the value of the wasmcanvas.io/placement annotation, JSON:
//
//	{"sites": {"north-1": 2, "south-1": 1}}
//	{"spread": [{"labels": {"region": "north"}, "replicas": 2}]}
//
// Both keys may be given together. Every implementation of the Component
// runs the sum of the replicas, that many on hosts matching each entry.
type Placement struct {
	// Sites maps an edge site to its replicas: hosts labelled site=NAME, as
	// `canvas edge bootstrap --site NAME` labels them.
	Sites map[string]int `json:"sites,omitempty"`
	// Spread places replicas on the hosts carrying every label of an entry.
	Spread []PlacementSpread `json:"spread,omitempty"`
}

// PlacementSpread is one label selector of a Placement.
type PlacementSpread struct {
	// Name names the entry in wadm and in the status; it defaults to the
	// labels, k=v joined by ',' in key order.
	Name     string            `json:"name,omitempty"`
	Labels   map[string]string `json:"labels"`
	Replicas int               `json:"replicas"`
}

// PlacementEntry is one resolved entry of a Placement: a name, the host
// labels it requires and its replicas. Sites come first, in name order,
// then the spread entries in the order given.
type PlacementEntry struct {
	Name     string
	Labels   map[string]string
	Replicas int
	// Site is the site name when the entry came from Sites.
	Site string
}

// MaxReplicas bounds the replicas of a placement (their sum, too).
const MaxReplicas = 100000

// placementExample is the fix every malformed placement gets.
const placementExample = `write JSON such as {"sites": {"north-1": 2, "south-1": 1}} or {"spread": [{"labels": {"region": "north"}, "replicas": 2}]}`

// PlacementPath is the field path of the placement annotation in errors.
var PlacementPath = fmt.Sprintf("metadata.annotations[%q]", AnnotationPlacement)

// ParsePlacement decodes and checks the placement annotation of c. ok is
// false when c has none. Every problem is reported at once, located at
// PlacementPath with the place inside the JSON in the message.
func ParsePlacement(c *Component) (entries []PlacementEntry, ok bool, err error) {
	raw, ok := c.Metadata.Annotations[AnnotationPlacement]
	if !ok {
		return nil, false, nil
	}
	entries, issues := checkPlacement(raw)
	var list ErrorList
	for _, is := range issues {
		list = append(list, FieldError{Path: PlacementPath, Msg: is.msg, Fix: is.fix})
	}
	return entries, true, list.Err()
}

// Entries resolves p: sites become entries requiring site=NAME.
func (p Placement) Entries() []PlacementEntry {
	out := make([]PlacementEntry, 0, len(p.Sites)+len(p.Spread))
	for _, site := range slices.Sorted(maps.Keys(p.Sites)) {
		out = append(out, PlacementEntry{Name: site, Labels: map[string]string{SiteLabel: site}, Replicas: p.Sites[site], Site: site})
	}
	for _, s := range p.Spread {
		name := s.Name
		if name == "" {
			name = labelString(s.Labels)
		}
		e := PlacementEntry{Name: name, Labels: s.Labels, Replicas: s.Replicas}
		if len(s.Labels) == 1 && s.Labels[SiteLabel] != "" {
			e.Site = s.Labels[SiteLabel]
		}
		out = append(out, e)
	}
	return out
}

// labelString is labels as k=v pairs joined by ',' in key order.
func labelString(labels map[string]string) string {
	parts := make([]string, 0, len(labels))
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, ",")
}

// checkPlacement is the one validation of a placement annotation value.
func checkPlacement(raw string) ([]PlacementEntry, []issue) {
	var p Placement
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, []issue{{msg: "is not a placement: " + jsonProblem(err), fix: placementExample}}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, []issue{{msg: "has more than one JSON value", fix: placementExample}}
	}
	if bytes.Equal(bytes.TrimSpace([]byte(raw)), []byte("null")) || len(p.Sites) == 0 && len(p.Spread) == 0 {
		return nil, []issue{{msg: "names no site and no spread", fix: placementExample + ", or remove the annotation to run one replica anywhere"}}
	}
	var out []issue
	bad := func(msg, fix string) { out = append(out, issue{msg: msg, fix: fix}) }
	replicas := func(at string, n int) {
		if n < 1 || n > MaxReplicas {
			bad(fmt.Sprintf("%s: replicas must be from 1 to %d, got %d", at, MaxReplicas, n), "give the number of replicas to run there; to run none, leave the entry out")
		}
	}
	for _, site := range slices.Sorted(maps.Keys(p.Sites)) {
		at := fmt.Sprintf("sites[%q]", site)
		switch {
		case site == "":
			bad("sites: empty site name", `name the site as `+"`canvas edge bootstrap --site NAME`"+` did, e.g. {"sites": {"north-1": 2}}`)
		case subject.ValidateAppName(site) != nil:
			bad(at+": not a site name", "site names are ASCII letters, digits, '-' and '_', as `canvas edge bootstrap --site` takes them")
		}
		replicas(at, p.Sites[site])
	}
	for i, s := range p.Spread {
		at := fmt.Sprintf("spread[%d]", i)
		if len(s.Labels) == 0 {
			bad(at+": no labels", `give the host labels to match, e.g. {"labels": {"region": "north"}, "replicas": 2}`)
		}
		for _, k := range slices.Sorted(maps.Keys(s.Labels)) {
			if k == "" {
				bad(at+".labels: empty label name", "name the host label, e.g. region")
			}
		}
		replicas(at, s.Replicas)
	}
	entries := p.Entries()
	total, names := 0, map[string]bool{}
	for i, e := range entries {
		total += e.Replicas
		if names[e.Name] {
			at := fmt.Sprintf("spread[%d]", i-len(p.Sites))
			bad(fmt.Sprintf("%s: name %q is used twice", at, e.Name), "give each spread entry its own name (a site's entry is named after the site)")
		}
		names[e.Name] = true
	}
	if total > MaxReplicas {
		bad(fmt.Sprintf("asks for %d replicas in all, more than %d", total, MaxReplicas), "ask for fewer replicas")
	}
	if len(out) > 0 {
		return nil, out
	}
	return entries, nil
}

// jsonProblem words a decoding error without Go type names.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		where := te.Field
		if where == "" {
			where = "the annotation"
		}
		want := "an object"
		switch te.Type.Kind() {
		case reflect.Int:
			want = "a whole number of replicas"
		case reflect.String:
			want = "a string"
		case reflect.Slice:
			want = "a list"
		}
		return fmt.Sprintf("%s must be %s, got JSON %s", where, want, te.Value)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// UnknownSites warns about the sites a Component's placement names that
// known (the sites of the lattice) does not have: wadm would wait for
// hosts that never come. Nil when c has no valid placement.
func UnknownSites(c *Component, known []string) ErrorList {
	entries, _, err := ParsePlacement(c)
	if err != nil {
		return nil
	}
	var out ErrorList
	for _, e := range entries {
		if e.Site == "" || slices.Contains(known, e.Site) {
			continue
		}
		have := "none"
		if len(known) > 0 {
			have = strings.Join(known, ", ")
		}
		out = append(out, FieldError{Path: PlacementPath,
			Msg: fmt.Sprintf("site %q is not a site of the lattice (sites: %s); its replicas wait until a host labelled %s=%s joins", e.Site, have, SiteLabel, e.Site),
			Fix: fmt.Sprintf("correct the site name, or bring the site in with `canvas edge bootstrap --site %s`", e.Site)})
	}
	return out
}
