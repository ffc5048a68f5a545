package migrate

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// Report says, per Component of a bundle, what maps onto wasmcanvas and
// what does not.
type Report struct {
	Source     string            `json:"source"`
	Components []ComponentReport `json:"components"`
	// Missing are the implementations still without an artefact.
	Missing []string `json:"missing,omitzero"`
}

// ComponentReport is one Component's part of a Report.
type ComponentReport struct {
	Namespace       string    `json:"namespace"`
	Name            string    `json:"name"`
	File            string    `json:"file"`
	APIVersion      string    `json:"apiVersion"`
	Implementations []string  `json:"implementations"`
	Maps            []Finding `json:"maps"`
	DoesNotMap      []Finding `json:"doesNotMap,omitzero"`
}

// Finding is one part of a spec (by field path) and how it fares.
type Finding struct {
	Field string `json:"field"`
	Note  string `json:"note"`
}

// Report builds b's report.
func (b *Bundle) Report(source string) (Report, error) {
	rep := Report{Source: source}
	var errs []error
	for _, obj := range b.Components {
		c, err := parse(obj)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rep.Components = append(rep.Components, componentReport(c))
	}
	for name, art := range b.Implementations {
		if art == "" {
			rep.Missing = append(rep.Missing, name)
		}
	}
	slices.Sort(rep.Missing)
	return rep, errors.Join(errs...)
}

func componentReport(c *oda.Component) ComponentReport {
	k := c.Key()
	r := ComponentReport{Namespace: k.Namespace, Name: k.Name, File: ComponentFile(k), APIVersion: c.APIVersion, Implementations: Implementations(c)}
	yes := func(field, note string) { r.Maps = append(r.Maps, Finding{field, note}) }
	no := func(field, note string) { r.DoesNotMap = append(r.DoesNotMap, Finding{field, note}) }
	functions := [3]string{"coreFunction", "managementFunction", "securityFunction"}
	for f, apis := range c.Spec.ExposedAPIsByFunction() {
		for i, a := range apis {
			field := fmt.Sprintf("spec.%s.exposedAPIs[%d]", functions[f], i)
			yes(field, fmt.Sprintf("API %s: routed on the canvas ingress at %s, served by the Wasm component of implementation %q", a.Name, a.EffectivePath(), a.EffectiveImplementation()))
			if a.GatewayConfiguration != nil {
				no(field+".gatewayConfiguration", "kept in the spec; wasmcanvas's gateway does not apply it (rate limit, quota, API keys, CORS, OAS validation)")
			}
		}
	}
	for f, deps := range c.Spec.DependentAPIsByFunction() {
		for i, d := range deps {
			yes(fmt.Sprintf("spec.%s.dependentAPIs[%d]", functions[f], i),
				fmt.Sprintf("dependency %s: resolved by specification URL to a Component on this canvas or on a --peer-canvas (the Kubernetes canvas's Canvas-Info included)", d.Name))
		}
	}
	if sec := c.Spec.SecurityFunction; sec != nil {
		if sec.CanvasSystemRole != "" || len(sec.ComponentRole) > 0 {
			yes("spec.securityFunction", "roles: passed to canvas-bridge's identity link; status.identityConfig names wasmcanvas's identity provider, not Keycloak")
		}
		if sec.SecretsManagement != nil {
			no("spec.securityFunction.secretsManagement", "wasmcanvas has no Vault side-car: the Component reports Failed; remove it, or keep the Component on the Kubernetes canvas")
		}
	}
	if en := c.Spec.EventNotification; en != nil && (len(en.PublishedEvents) > 0 || len(en.SubscribedEvents) > 0) {
		yes("spec.eventNotification", "events: listed in status (publishedEvents, subscribedEvents); like the reference canvas, no event hub is provisioned")
	}
	no("(Helm chart)", "the chart's Kubernetes workloads (Deployments, Services, Jobs, PVCs, ConfigMaps, Secrets) do not move: each implementation must be rebuilt as a Wasm component and named in "+ImplementationsFile)
	if err := checkTranslation(c); err != nil {
		var list oda.ErrorList
		if errors.As(err, &list) {
			for _, fe := range list {
				no(fe.Path, fe.Msg+"; fix: "+fe.Fix)
			}
		} else {
			no("spec", err.Error())
		}
	}
	return r
}

// Markdown is the report as report.md has it.
func (r Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Migration report\n\nSource: %s\n\n", r.Source)
	if len(r.Missing) > 0 {
		fmt.Fprintf(&b, "Implementations without a Wasm artefact (fill them in %s): %s\n\n", ImplementationsFile, strings.Join(r.Missing, ", "))
	}
	for _, c := range r.Components {
		fmt.Fprintf(&b, "## %s/%s (%s, %s)\n\nImplementations: %s\n\nMaps:\n", c.Namespace, c.Name, c.APIVersion, c.File, strings.Join(c.Implementations, ", "))
		for _, f := range c.Maps {
			fmt.Fprintf(&b, "- `%s`: %s\n", f.Field, f.Note)
		}
		if len(c.DoesNotMap) > 0 {
			b.WriteString("\nDoes not map:\n")
			for _, f := range c.DoesNotMap {
				fmt.Fprintf(&b, "- `%s`: %s\n", f.Field, f.Note)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
