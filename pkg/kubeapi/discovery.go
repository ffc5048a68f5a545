package kubeapi

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/wasmcanvas/wasmcanvas/manifests"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// serverVersion is what /version answers: the Kubernetes API level whose
// client libraries this front end is built with, so kubectl's version
// skew check passes.
var serverVersion = version.Info{Major: "1", Minor: "37", GitVersion: "v1.37.2+wasmcanvas", Platform: "wasmcanvas"}

func served(v string) bool { return slices.Contains(versions, v) }

func apiGroup() metav1.APIGroup {
	g := metav1.APIGroup{Name: oda.Group}
	for _, v := range versions {
		g.Versions = append(g.Versions, metav1.GroupVersionForDiscovery{GroupVersion: oda.Group + "/" + v, Version: v})
	}
	g.PreferredVersion = g.Versions[0]
	return g
}

var readVerbs = metav1.Verbs{"get", "list", "watch"}

func resourceList(v string) metav1.APIResourceList {
	l := metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: oda.Group + "/" + v}
	for _, r := range resources {
		if !r.servedAt(v) {
			continue
		}
		verbs := readVerbs
		if r.writable {
			verbs = metav1.Verbs{"create", "delete", "get", "list", "patch", "update", "watch"}
		}
		l.APIResources = append(l.APIResources, metav1.APIResource{
			Name: r.plural, SingularName: r.singular, Namespaced: true, Kind: r.kind, Verbs: verbs, ShortNames: r.shortNames,
			Categories: []string{"oda"},
		})
		if r == components {
			l.APIResources = append(l.APIResources, metav1.APIResource{Name: r.plural + "/status", Namespaced: true, Kind: r.kind, Verbs: metav1.Verbs{"get"}})
		}
	}
	return l
}

// aggregatedType is the media type of aggregated discovery (one answer
// for every group, version and resource), which kubectl asks for first.
const aggregatedType = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

// aggregatedDiscovery reports whether the client accepts aggregated
// discovery (v2); otherwise it gets the legacy documents.
func aggregatedDiscovery(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && mt == "application/json" && params["g"] == "apidiscovery.k8s.io" && params["v"] == "v2" && params["as"] == "APIGroupDiscoveryList" {
			return true
		}
	}
	return false
}

func writeAggregated(w http.ResponseWriter, groups []any) {
	b, _ := json.Marshal(map[string]any{"apiVersion": "apidiscovery.k8s.io/v2", "kind": "APIGroupDiscoveryList", "metadata": map[string]any{}, "items": groups})
	w.Header().Set("Content-Type", aggregatedType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// discoveredResource is one resource as aggregated discovery lists it.
func discoveredResource(r metav1.APIResource, group, version string, subresources ...any) map[string]any {
	scope := "Cluster"
	if r.Namespaced {
		scope = "Namespaced"
	}
	d := map[string]any{"resource": r.Name, "responseKind": map[string]any{"group": group, "version": version, "kind": r.Kind},
		"scope": scope, "singularResource": r.SingularName, "verbs": r.Verbs}
	if len(r.ShortNames) > 0 {
		d["shortNames"] = r.ShortNames
	}
	if len(r.Categories) > 0 {
		d["categories"] = r.Categories
	}
	if len(subresources) > 0 {
		d["subresources"] = subresources
	}
	return d
}

// coreDiscovery is core v1 (events, namespaces) as aggregated discovery.
func coreDiscovery() []any {
	return []any{map[string]any{"metadata": map[string]any{}, "versions": []any{map[string]any{"version": "v1", "freshness": "Current",
		"resources": []any{discoveredResource(eventResource, "", "v1"), discoveredResource(namespaceResource, "", "v1")}}}}}
}

// groupDiscovery is oda.tmforum.org, every version, as aggregated discovery.
func groupDiscovery() []any {
	var vs []any
	for _, v := range versions {
		var rs []any
		for _, r := range resourceList(v).APIResources {
			if strings.Contains(r.Name, "/") {
				continue // a subresource, listed with its resource
			}
			var subs []any
			if r.Name == components.plural {
				subs = append(subs, map[string]any{"subresource": "status", "verbs": []string{"get"},
					"responseKind": map[string]any{"group": oda.Group, "version": v, "kind": r.Kind}})
			}
			rs = append(rs, discoveredResource(r, oda.Group, v, subs...))
		}
		vs = append(vs, map[string]any{"version": v, "resources": rs, "freshness": "Current"})
	}
	return []any{map[string]any{"metadata": map[string]any{"name": oda.Group}, "versions": vs}}
}

// openAPIDocs are the OpenAPI v3 documents per group version, built once
// from the embedded upstream CRD schemas.
var openAPIDocs = sync.OnceValues(func() (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, v := range versions {
		doc, err := openAPIDoc(v)
		if err != nil {
			return nil, err
		}
		out[v] = doc
	}
	return out, nil
})

// schemaName is the component name of kind in the OpenAPI document.
func schemaName(v, kind string) string { return "org.tmforum.oda." + v + "." + kind }

func openAPIDoc(v string) ([]byte, error) {
	raw, err := manifests.ComponentSchema(oda.Group + "/" + v)
	if err != nil {
		return nil, err
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		return nil, fmt.Errorf("embedded schema of %s: %w", v, err)
	}
	for _, k := range []string{"$schema", "$id", "$comment"} {
		delete(schema, k)
	}
	gvk := func(kind string) []any {
		return []any{map[string]any{"group": oda.Group, "version": v, "kind": kind}}
	}
	schema["x-kubernetes-group-version-kind"] = gvk(oda.Kind)
	schemas := map[string]any{schemaName(v, oda.Kind): schema}
	paths := map[string]any{}
	for _, r := range resources {
		if !r.servedAt(v) {
			continue
		}
		name := schemaName(v, r.kind)
		if r != components {
			cs, err := childSchema(r, v)
			if err != nil {
				return nil, err
			}
			cs["x-kubernetes-group-version-kind"] = gvk(r.kind)
			schemas[name] = cs
		}
		ref := map[string]any{"$ref": "#/components/schemas/" + name}
		content := map[string]any{"application/json": map[string]any{"schema": ref}}
		op := func(id string, params ...map[string]any) map[string]any {
			o := map[string]any{"operationId": id, "responses": map[string]any{"200": map[string]any{"description": "OK", "content": content}},
				"x-kubernetes-group-version-kind": gvk(r.kind)[0]}
			if len(params) > 0 {
				ps := make([]any, len(params))
				for i, p := range params {
					ps[i] = p
				}
				o["parameters"] = ps
			}
			return o
		}
		fieldValidation := map[string]any{"name": "fieldValidation", "in": "query", "schema": map[string]any{"type": "string", "uniqueItems": true}}
		item := map[string]any{"get": op("read" + r.kind)}
		collection := map[string]any{"get": op("list" + r.kind)}
		if r.writable {
			item["put"] = op("replace"+r.kind, fieldValidation)
			item["patch"] = op("patch"+r.kind, fieldValidation)
			item["delete"] = op("delete" + r.kind)
			collection["post"] = op("create"+r.kind, fieldValidation)
		}
		base := "/apis/" + oda.Group + "/" + v + "/namespaces/{namespace}/" + r.plural
		paths[base] = collection
		paths[base+"/{name}"] = item
	}
	return json.Marshal(map[string]any{
		"openapi":    "3.0.0",
		"info":       map[string]any{"title": "wasmcanvas kube API", "version": v},
		"paths":      paths,
		"components": map[string]any{"schemas": schemas},
	})
}

// childCRDs are the reference canvas's ExposedAPI and DependentAPI CRDs,
// verbatim from upstream (a test keeps them equal to the reference data):
// the children's OpenAPI schemas are theirs, so kubectl explain
// describes the fields the reference canvas defines.
//
//go:embed crds/*.yaml
var childCRDs embed.FS

// childSchema is the openAPIV3Schema of r's upstream CRD at version v.
func childSchema(r *resource, v string) (map[string]any, error) {
	file := "crds/oda-" + r.singular + "-crd.yaml"
	raw, err := childCRDs.ReadFile(file)
	if err != nil {
		return nil, err
	}
	j, err := sigsyaml.YAMLToJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var crd struct {
		Spec struct {
			Versions []struct {
				Name   string `json:"name"`
				Schema struct {
					OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(j, &crd); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	for _, cv := range crd.Spec.Versions {
		if cv.Name == v && cv.Schema.OpenAPIV3Schema != nil {
			return cv.Schema.OpenAPIV3Schema, nil
		}
	}
	return nil, fmt.Errorf("%s: no openAPIV3Schema for version %s", file, v)
}

// serveOpenAPI answers /openapi/v3 (the index of group versions) and
// /openapi/v3/apis/oda.tmforum.org/VERSION.
func (s *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request, parts []string) *statusError {
	docs, err := openAPIDocs()
	if err != nil {
		return failure(http.StatusInternalServerError, nil, "", "OpenAPI documents: "+err.Error())
	}
	switch {
	case len(parts) == 1 && parts[0] == "v3":
		paths := map[string]any{}
		for _, v := range versions {
			sum := sha256.Sum256(docs[v])
			gv := "apis/" + oda.Group + "/" + v
			paths[gv] = map[string]any{"serverRelativeURL": "/openapi/v3/" + gv + "?hash=" + strings.ToUpper(hex.EncodeToString(sum[:]))}
		}
		writeJSON(w, http.StatusOK, map[string]any{"paths": paths})
		return nil
	case len(parts) == 4 && parts[0] == "v3" && parts[1] == "apis" && parts[2] == oda.Group && served(parts[3]):
		writeRaw(w, http.StatusOK, docs[parts[3]])
		return nil
	}
	return failure(http.StatusNotFound, nil, "", errNoRoute+": OpenAPI v3 is served at /openapi/v3 (no v2)")
}
