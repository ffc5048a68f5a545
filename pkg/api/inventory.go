package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// The TMF639 Resource Inventory of the canvas (the reference canvas's
// UC016): a read-only catalogue of what it hosts, each Component a
// resource of category ODAComponent and each exposed API (per
// specification, named as its status entry) one of category API, ids as
// the reference canvas names the custom resources. Peer canvases read its
// API resources to resolve their dependent APIs (pkg/peer).
//
//	GET /canvas-info/tmf-api/resourceInventoryManagement/v5/resource[?category=API][&fields=][&offset=&limit=][&filter=]
//	GET /canvas-info/tmf-api/resourceInventoryManagement/v5/resource/{id}

func (s *Server) handleInventory(w http.ResponseWriter, r *http.Request) {
	all, p := s.inventory(r.Context())
	if p != nil {
		writeProblem(w, p)
		return
	}
	writeTMFList(w, r, all)
}

func (s *Server) handleInventoryItem(w http.ResponseWriter, r *http.Request) {
	all, p := s.inventory(r.Context())
	if p != nil {
		writeProblem(w, p)
		return
	}
	id := r.PathValue("id")
	for _, res := range all {
		if res.ID == id {
			writeTMFItem(w, r, res)
			return
		}
	}
	writeProblem(w, problem(http.StatusNotFound, wire.ProblemNotFound,
		fmt.Sprintf("no resource %q in the inventory: list %s for the ids", id, wire.PathResourceInventory)))
}

func (s *Server) inventory(ctx context.Context) ([]wire.Resource, *wire.Problem) {
	cs, p := s.list(ctx, "")
	if p != nil {
		return nil, p
	}
	out := []wire.Resource{}
	for _, c := range cs {
		out = append(out, Resources(c)...)
	}
	return out, nil
}

// Resources is c as TMF639 resources: the Component, then its exposed
// APIs in spec order (functions core, management, security), with the
// readiness and urls of its status (standby without one).
func Resources(c *oda.Component) []wire.Resource {
	st := c.Status
	if st == nil {
		st = &oda.ComponentStatus{}
	}
	comp := wire.Resource{
		ID: resourceID(c.Metadata.Namespace, c.Metadata.Name), Name: c.Metadata.Name, Category: wire.CategoryODAComponent,
		ResourceStatus:        wire.ResourceStandby,
		ResourceSpecification: &wire.ResourceRef{ID: wire.CategoryODAComponent, Name: "ODA Component", Type: "ResourceSpecificationRef"},
		Type:                  "LogicalResource", BaseType: "Resource",
	}
	comp.Href = wire.PathResourceInventory + "/" + comp.ID
	state := ""
	if st.Summary != nil {
		state = st.Summary.DeploymentStatus
	}
	switch state {
	case oda.DeploymentComplete:
		comp.ResourceStatus = wire.ResourceAvailable
	case oda.DeploymentFailed:
		comp.ResourceStatus = wire.ResourceAlarm
	}
	chars := []wire.Characteristic{wire.StringCharacteristic(wire.CharNamespace, c.Metadata.Namespace), wire.StringCharacteristic("deploymentStatus", state)}
	if m := c.Spec.ComponentMetadata; m != nil {
		comp.Description = m.Description
		for _, kv := range [][2]string{{"id", m.ID}, {"version", m.Version}, {"functionalBlock", m.FunctionalBlock}} {
			if kv[1] != "" {
				chars = append(chars, wire.StringCharacteristic(kv[0], kv[1]))
			}
		}
	}
	comp.ResourceCharacteristic = chars
	out := []wire.Resource{comp}
	segments := [3]string{"core", "management", "security"}
	statuses := [3][]oda.APIStatus{st.CoreAPIs, st.ManagementAPIs, st.SecurityAPIs}
	owner := wire.ResourceRef{ID: comp.ID, Href: comp.Href, Name: comp.Name, Type: "ResourceRef"}
	for f, apis := range c.Spec.ExposedAPIsByFunction() {
		i := 0 // reconcile writes one status entry per API and specification, in spec order
		for _, a := range apis {
			specs := a.Specification
			if len(specs) == 0 {
				specs = []oda.APISpecification{{}}
			}
			for _, sp := range specs {
				e := oda.APIStatus{Name: c.Metadata.Name + "-" + strings.ToLower(a.Name)}
				if i < len(statuses[f]) {
					e = statuses[f][i]
				}
				i++
				api := wire.Resource{
					ID: resourceID(c.Metadata.Namespace, e.Name), Name: e.Name, Category: wire.CategoryAPI,
					Description:           "API " + a.Name + " of ODA Component " + c.Metadata.Name,
					ResourceStatus:        wire.ResourceStandby,
					ResourceSpecification: &wire.ResourceRef{ID: wire.CategoryAPI, Name: "API", Type: "ResourceSpecificationRef"},
					ResourceRelationship:  []wire.ResourceRelationship{{RelationshipType: "exposedBy", Resource: owner}},
					Type:                  "LogicalResource", BaseType: "Resource",
				}
				api.Href = wire.PathResourceInventory + "/" + api.ID
				if e.Ready {
					api.ResourceStatus = wire.ResourceAvailable
				}
				api.ResourceCharacteristic = []wire.Characteristic{
					wire.StringCharacteristic("apiName", a.Name),
					wire.StringCharacteristic(wire.CharComponentName, c.Metadata.Name),
					wire.StringCharacteristic(wire.CharNamespace, c.Metadata.Namespace),
					wire.StringCharacteristic(wire.CharSegment, segments[f]),
					wire.StringCharacteristic(wire.CharSpecification, strings.TrimSpace(sp.URL)),
					wire.StringCharacteristic(wire.CharURL, e.URL),
					wire.StringCharacteristic("developerUI", e.DeveloperUI),
					wire.StringCharacteristic("implementation", e.Implementation),
					wire.StringCharacteristic("port", portString(e.Port)),
				}
				out[0].ResourceRelationship = append(out[0].ResourceRelationship,
					wire.ResourceRelationship{RelationshipType: "exposes", Resource: wire.ResourceRef{ID: api.ID, Href: api.Href, Name: api.Name, Type: "ResourceRef"}})
				out = append(out, api)
			}
		}
	}
	return out
}

// resourceID is the inventory id of a custom resource named name: the
// name, as the reference canvas's inventory has it, prefixed by the
// namespace outside the default one.
func resourceID(namespace, name string) string {
	if namespace == oda.DefaultNamespace || namespace == "" {
		return name
	}
	return namespace + "." + name
}

func portString(p int) string {
	if p == 0 {
		return ""
	}
	return strconv.Itoa(p)
}

// Inventory is every resource of the TMF639 inventory (peers register
// its API resources with each other).
func (s *Server) Inventory(ctx context.Context) ([]wire.Resource, error) {
	all, p := s.inventory(ctx)
	if p != nil {
		return nil, p
	}
	return all, nil
}
