package kubeapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// Versions of oda.tmforum.org served, preferred first.
var versions = []string{"v1", "v1beta4", "v1beta3"}

// resource describes one served kind.
type resource struct {
	plural, singular, kind string
	shortNames             []string
	// versions the resource is served at (the children only at v1).
	versions []string
	// columns are the reference CRD's printer columns after Name; Age
	// ends them unless the CRD places it (ageColumn).
	columns []metav1.TableColumnDefinition
	// writable: the children are derived, never written.
	writable bool
}

var (
	components = &resource{
		plural: "components", singular: "component", kind: oda.Kind, shortNames: []string{"comp"},
		versions: versions, writable: true,
		columns: []metav1.TableColumnDefinition{{Name: "deployment_status", Type: "string", Description: "Deployment status [in progress, complete, failed]"}},
	}
	exposedAPIs = &resource{
		plural: "exposedapis", singular: "exposedapi", kind: "ExposedAPI", versions: versions[:1],
		columns: []metav1.TableColumnDefinition{
			{Name: "API_endpoint", Type: "string", Description: "API endpoint Url"},
			{Name: "Implementation_ready", Type: "string", Description: "API implementation is ready - has passed startup probe checks"},
		},
	}
	dependentAPIs = &resource{
		plural: "dependentapis", singular: "dependentapi", kind: "DependentAPI", versions: versions[:1],
		columns: []metav1.TableColumnDefinition{
			{Name: "ready", Type: "string", Description: "Dependent API configuration is ready - e.g. gateway configuration"},
			ageColumn,
			{Name: "svcInvID", Type: "string", Description: "ID published in the Canvas Info Service"},
		},
	}
	resources = []*resource{components, exposedAPIs, dependentAPIs}
)

var ageColumn = metav1.TableColumnDefinition{Name: "Age", Type: "date", Description: "CreationTimestamp is the time the object was created."}

func resourceNamed(plural string) *resource {
	for _, r := range resources {
		if r.plural == plural {
			return r
		}
	}
	return nil
}

func (r *resource) servedAt(version string) bool {
	for _, v := range r.versions {
		if v == version {
			return true
		}
	}
	return false
}

// object is one served object, immutable once built but for the memo of
// its renderings.
type object struct {
	res             *resource
	namespace, name string
	uid             string
	labels          map[string]string
	// rv is the combined revision served as resourceVersion (desired state
	// and status, wire.WatchEvent.Revision); desired is the desired-state
	// revision it stands for, which writes are checked against; createdRV
	// is the combined revision the index saw the object appear at (0:
	// before its snapshot).
	rv, desired, createdRV uint64
	created                string
	cells                  []any // the printer columns' values
	comp                   *oda.Component
	doc                    map[string]any // a child, as served at v1

	mu       sync.Mutex
	rendered map[string][]byte
}

// render is the object's JSON as served at version.
func (o *object) render(version string) ([]byte, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if b, ok := o.rendered[version]; ok {
		return b, nil
	}
	var b []byte
	var err error
	if o.comp != nil {
		b, err = renderComponent(o.comp, version)
	} else {
		b, err = json.Marshal(o.doc)
	}
	if err != nil {
		return nil, err
	}
	if o.rendered == nil {
		o.rendered = map[string][]byte{}
	}
	o.rendered[version] = b
	return b, nil
}

// renderComponent writes c as apiVersion oda.tmforum.org/version; a field
// the older version cannot hold is an error naming it (as the reference
// canvas's conversion webhook refuses it).
func renderComponent(c *oda.Component, version string) ([]byte, error) {
	cv, err := oda.Convert(c, oda.Group+"/"+version)
	if err != nil {
		return nil, err
	}
	b, err := oda.Marshal(cv, "json")
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	// The stored managedFields annotation is served as metadata.managedFields.
	if meta, ok := doc["metadata"].(map[string]any); ok {
		if anns, ok := meta["annotations"].(map[string]any); ok {
			if raw, ok := anns[managedAnnotation].(string); ok {
				delete(anns, managedAnnotation)
				if len(anns) == 0 {
					delete(meta, "annotations")
				}
				var mf []any
				if json.Unmarshal([]byte(raw), &mf) == nil {
					meta["managedFields"] = mf
				}
			}
		}
	}
	return json.Marshal(doc)
}

func deploymentStatus(c *oda.Component) string {
	if c.Status == nil || c.Status.Summary == nil {
		return ""
	}
	return c.Status.Summary.DeploymentStatus
}

// componentObject is the served view of c (with status).
func componentObject(c *oda.Component) *object {
	return &object{
		res: components, namespace: c.Metadata.Namespace, name: c.Metadata.Name, uid: c.Metadata.UID,
		labels: c.Metadata.Labels, rv: revision(c.Metadata.ResourceVersion), created: c.Metadata.CreationTimestamp,
		cells: []any{deploymentStatus(c)}, comp: c,
	}
}

// segments are the functions in the order the status lists them.
var segments = [3]string{"core", "management", "security"}

// children derives the ExposedAPIs and DependentAPIs of c from its status
// entries (named by the reconciler as the reference canvas names its child
// resources) and the spec APIs they stand for. Before the reconciler has
// written status there are none, as on the reference canvas before its
// component operator ran.
func children(c *oda.Component) (exposed, dependent []*object) {
	if c.Status == nil {
		return nil, nil
	}
	owner := []any{map[string]any{
		"apiVersion": oda.APIVersionV1, "kind": oda.Kind, "name": c.Metadata.Name, "uid": c.Metadata.UID,
		"controller": true, "blockOwnerDeletion": true,
	}}
	meta := func(name, uid string) map[string]any {
		return map[string]any{
			"name": name, "namespace": c.Metadata.Namespace, "uid": uid,
			"resourceVersion": c.Metadata.ResourceVersion, "generation": 1,
			"creationTimestamp": c.Metadata.CreationTimestamp,
			"labels":            map[string]any{oda.LabelComponentName: c.Metadata.Name},
			"ownerReferences":   owner,
		}
	}
	child := func(res *resource, name, uid string, doc map[string]any, cells []any) *object {
		return &object{res: res, namespace: c.Metadata.Namespace, name: name, uid: uid,
			labels: map[string]string{oda.LabelComponentName: c.Metadata.Name}, rv: revision(c.Metadata.ResourceVersion),
			created: c.Metadata.CreationTimestamp, cells: cells, doc: doc}
	}
	st := c.Status
	apiLists := [3][]oda.APIStatus{st.CoreAPIs, st.ManagementAPIs, st.SecurityAPIs}
	depLists := [3][]oda.DependentAPIStatus{st.CoreDependentAPIs, st.ManagementDependentAPIs, st.SecurityDependentAPIs}
	specAPIs := c.Spec.ExposedAPIsByFunction()
	specDeps := c.Spec.DependentAPIsByFunction()
	for f, entries := range apiLists {
		seen := map[string]int{} // specifications of an API seen so far
		for _, e := range entries {
			spec := withoutEmpty(map[string]any{"segment": segments[f], "implementation": e.Implementation, "path": e.Path, "port": e.Port})
			if a, ok := exposedFor(c.Metadata.Name, specAPIs[f], e.Name); ok {
				i := seen[a.Name]
				seen[a.Name]++
				spec["name"] = a.Name
				if a.ID != "" {
					spec["id"] = a.ID
				}
				if t := a.EffectiveAPIType(); t != "" {
					spec["apiType"] = t
				}
				if i < len(a.Specification) {
					s := a.Specification[i]
					spec["specification"] = []any{withoutEmpty(map[string]any{"url": s.URL, "version": s.Version})}
				}
				if a.DeveloperUI != "" {
					spec["developerUI"] = a.DeveloperUI
				}
			}
			status := map[string]any{
				"implementation": map[string]any{"ready": e.Ready},
			}
			if e.URL != "" {
				status["apiStatus"] = withoutEmpty(map[string]any{"name": e.Name, "url": e.URL, "developerUI": e.DeveloperUI,
					"path": e.Path, "port": e.Port, "implementation": e.Implementation, "ip": e.IP})
			}
			doc := map[string]any{"apiVersion": oda.APIVersionV1, "kind": exposedAPIs.kind, "metadata": meta(e.Name, e.UID), "spec": spec, "status": status}
			exposed = append(exposed, child(exposedAPIs, e.Name, e.UID, doc, []any{e.URL, readyCell(e.Ready, e.URL != "" || e.Ready)}))
		}
	}
	for f, entries := range depLists {
		for i, e := range entries {
			spec := map[string]any{"segment": segments[f]}
			if i < len(specDeps[f]) {
				d := specDeps[f][i]
				spec["name"] = d.Name
				if d.ID != "" {
					spec["id"] = d.ID
				}
				if t := d.EffectiveAPIType(); t != "" {
					spec["apiType"] = t
				}
				var specs []any
				for _, s := range d.Specification {
					specs = append(specs, withoutEmpty(map[string]any{"url": s.URL, "version": s.Version}))
				}
				if specs != nil {
					spec["specification"] = specs
				}
			}
			status := map[string]any{"implementation": map[string]any{"ready": e.Ready}}
			if e.URL != "" {
				status["depapiStatus"] = map[string]any{"url": e.URL}
			}
			doc := map[string]any{"apiVersion": oda.APIVersionV1, "kind": dependentAPIs.kind, "metadata": meta(e.Name, e.UID), "spec": spec, "status": status}
			dependent = append(dependent, child(dependentAPIs, e.Name, e.UID, doc, []any{readyCell(e.Ready, true), ""}))
		}
	}
	return exposed, dependent
}

// withoutEmpty drops the keys whose value is "" or 0, as the reference
// operators leave unknown fields out.
func withoutEmpty(m map[string]any) map[string]any {
	for k, v := range m {
		if v == "" || v == 0 {
			delete(m, k)
		}
	}
	return m
}

func readyCell(ready, known bool) string {
	if !known {
		return ""
	}
	if ready {
		return "true"
	}
	return "false"
}

// exposedFor finds the spec API a status entry stands for: the entries
// are named {component}-{api}[-v{major}], one per specification in order.
func exposedFor(component string, apis []oda.ExposedAPI, entry string) (oda.ExposedAPI, bool) {
	for _, a := range apis {
		rest, ok := strings.CutPrefix(entry, component+"-"+strings.ToLower(a.Name))
		if ok && (rest == "" || strings.HasPrefix(rest, "-v")) {
			return a, true
		}
	}
	return oda.ExposedAPI{}, false
}

func revision(rv string) uint64 {
	var n uint64
	_, _ = fmt.Sscan(rv, &n)
	return n
}
