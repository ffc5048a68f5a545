package migrate

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/wasmcanvas/wasmcanvas/pkg/client"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// FromKubernetes reads Components from a Kubernetes canvas into a bundle.
func FromKubernetes(ctx context.Context, k *Kube, namespace, name string) (*Bundle, error) {
	objs, _, err := k.Components(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return bundleOf(objs)
}

// FromCanvas reads Components from canvasd into a bundle; their
// wasmcanvas.io/implementations annotations fill implementations.yaml.
func FromCanvas(ctx context.Context, cl client.Client, namespace, name string) (*Bundle, error) {
	var cs []*oda.Component
	if name != "" {
		c, err := cl.Get(ctx, namespace, name)
		if err != nil {
			return nil, fmt.Errorf("component %s/%s: %w", namespace, name, err)
		}
		cs = []*oda.Component{c}
	} else {
		var err error
		if cs, err = cl.List(ctx, namespace); err != nil {
			return nil, fmt.Errorf("listing Components: %w", err)
		}
	}
	objs := make([]map[string]any, 0, len(cs))
	for _, c := range cs {
		data, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		var obj map[string]any
		if err := json.Unmarshal(data, &obj); err != nil {
			return nil, err
		}
		objs = append(objs, obj)
	}
	return bundleOf(objs)
}

func bundleOf(objs []map[string]any) (*Bundle, error) {
	b := &Bundle{Implementations: map[string]string{}}
	for _, obj := range objs {
		clean, impls, err := Clean(obj)
		if err != nil {
			return nil, fmt.Errorf("component %s: %w", keyOf(obj).Display(), err)
		}
		if err := b.Add(clean, impls); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// Plan is what import would do, Component by Component.
type Plan struct {
	Steps []Step `json:"steps"`
	// Missing are the implementations without an artefact: import refuses
	// to apply until implementations.yaml names them.
	Missing []string `json:"missing,omitzero"`
}

// Step is one Component of a Plan.
type Step struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	File      string `json:"file"`
	// Action is create, update or unchanged (its spec is already there).
	Action          string            `json:"action"`
	Implementations map[string]string `json:"implementations"`
}

// Plan actions.
const (
	ActionCreate    = "create"
	ActionUpdate    = "update"
	ActionUnchanged = "unchanged"
)

// Plan compares b with what canvasd holds, and names each Component's
// implementations with the artefacts implementations.yaml gives them.
func (b *Bundle) Plan(ctx context.Context, cl client.Client) (Plan, error) {
	var p Plan
	missing := map[string]bool{}
	for _, obj := range b.Components {
		k := keyOf(obj)
		c, err := parse(obj)
		if err != nil {
			return Plan{}, err
		}
		st := Step{Namespace: k.Namespace, Name: k.Name, File: ComponentFile(k), Implementations: map[string]string{}}
		for _, impl := range Implementations(c) {
			art := b.Implementations[impl]
			if art == "" {
				missing[impl] = true
			}
			st.Implementations[impl] = art
		}
		cur, err := cl.Get(ctx, k.Namespace, k.Name)
		switch {
		case client.IsNotFound(err):
			st.Action = ActionCreate
		case err != nil:
			return Plan{}, fmt.Errorf("component %s: %w", k.Display(), err)
		default:
			st.Action = ActionUpdate
			if same, err := sameSpec(obj, cur); err == nil && same {
				st.Action = ActionUnchanged
			}
		}
		p.Steps = append(p.Steps, st)
	}
	p.Missing = slices.Sorted(maps.Keys(missing))
	return p, nil
}

func sameSpec(obj map[string]any, cur *oda.Component) (bool, error) {
	data, err := json.Marshal(cur)
	if err != nil {
		return false, err
	}
	var curObj map[string]any
	if err := json.Unmarshal(data, &curObj); err != nil {
		return false, err
	}
	if obj["apiVersion"] != curObj["apiVersion"] {
		return false, nil
	}
	a, err := NormalizedSpec(obj)
	if err != nil {
		return false, err
	}
	b, err := NormalizedSpec(curObj)
	return string(a) == string(b), err
}

// Text is the plan for people.
func (p Plan) Text() string {
	var b strings.Builder
	for _, s := range p.Steps {
		fmt.Fprintf(&b, "%-9s component %s/%s (%s)\n", s.Action, s.Namespace, s.Name, s.File)
		for _, impl := range slices.Sorted(maps.Keys(s.Implementations)) {
			art := s.Implementations[impl]
			if art == "" {
				art = "MISSING"
			}
			fmt.Fprintf(&b, "          implementation %s: %s\n", impl, art)
		}
	}
	if len(p.Missing) > 0 {
		fmt.Fprintf(&b, "missing artefacts for %s: fill them in %s\n", strings.Join(p.Missing, ", "), ImplementationsFile)
	}
	return b.String()
}
