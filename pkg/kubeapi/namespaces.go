package kubeapi

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// Namespaces exist implicitly on the canvas, as the namespace of a
// Component: core v1 serves them read-only (get, list) so kubectl get
// namespaces works, derived from the Components the index holds, plus
// the reference canvas's default namespace for Components.

// namespaceResource is core v1's Namespace as discovery lists it.
var namespaceResource = metav1.APIResource{Name: "namespaces", SingularName: "namespace", Namespaced: false, Kind: "Namespace",
	Verbs: metav1.Verbs{"get", "list"}, ShortNames: []string{"ns"}}

// namespaceInfo is what the index knows of one namespace in use.
type namespaceInfo struct {
	name    string
	created string // the earliest creationTimestamp of its Components
}

// namespaces lists the namespaces in use, sorted, with the combined revision.
func (x *index) namespaces() ([]namespaceInfo, uint64, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.synced {
		return nil, 0, errNotSynced
	}
	created := map[string]string{oda.DefaultNamespace: ""}
	for k, e := range x.entries {
		if c, ok := created[k.Namespace]; !ok || c == "" || (e.comp.created != "" && e.comp.created < c) {
			created[k.Namespace] = e.comp.created
		}
	}
	out := make([]namespaceInfo, 0, len(created))
	for n, c := range created {
		out = append(out, namespaceInfo{n, c})
	}
	slices.SortFunc(out, func(a, b namespaceInfo) int { return strings.Compare(a.name, b.name) })
	return out, x.maxRV, nil
}

func (n namespaceInfo) object(rv uint64) map[string]any {
	sum := sha256.Sum256([]byte("namespace/" + n.name))
	uid := fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
	meta := map[string]any{"name": n.name, "uid": uid, "resourceVersion": strconv.FormatUint(rv, 10),
		"labels": map[string]any{"kubernetes.io/metadata.name": n.name}}
	if n.created != "" {
		meta["creationTimestamp"] = n.created
	}
	return map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": meta,
		"spec": map[string]any{"finalizers": []any{"kubernetes"}}, "status": map[string]any{"phase": "Active"}}
}

// serveNamespaces answers /api/v1/namespaces[/NAME] (parts after v1).
func (s *Server) serveNamespaces(w http.ResponseWriter, r *http.Request, parts []string) *statusError {
	if r.Method != http.MethodGet {
		return failure(http.StatusMethodNotAllowed, nil, "", "namespaces exist as the namespaces of Components and are read-only: create a Component in a namespace to use it")
	}
	if len(parts) > 2 {
		return failure(http.StatusNotFound, nil, "", errNoRoute+": namespaces have no subresources here")
	}
	nss, rv, err := s.idx.namespaces()
	if err != nil {
		return failure(http.StatusServiceUnavailable, nil, "", err.Error())
	}
	if len(parts) == 2 {
		i := slices.IndexFunc(nss, func(n namespaceInfo) bool { return n.name == parts[1] })
		if i < 0 {
			e := failure(http.StatusNotFound, nil, parts[1], fmt.Sprintf("namespaces %q not found", parts[1]))
			e.st.Details.Kind, e.st.Details.Group = "namespaces", ""
			return e
		}
		nss = nss[i : i+1]
	}
	var objs []map[string]any
	for _, n := range nss {
		objs = append(objs, n.object(rv))
	}
	switch {
	case asTable(r):
		t := metav1.Table{TypeMeta: metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"}, ListMeta: metav1.ListMeta{ResourceVersion: strconv.FormatUint(rv, 10)},
			ColumnDefinitions: []metav1.TableColumnDefinition{
				{Name: "Name", Type: "string", Format: "name", Description: "Name of the namespace"},
				{Name: "Status", Type: "string", Description: "The status of the namespace"},
				ageColumn,
			}}
		now := s.opts.Now()
		for i, n := range nss {
			pm, _ := json.Marshal(map[string]any{"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": objs[i]["metadata"]})
			t.Rows = append(t.Rows, metav1.TableRow{Cells: []any{n.name, "Active", age(n.created, now)}, Object: runtime.RawExtension{Raw: pm}})
		}
		writeJSON(w, http.StatusOK, t)
	case len(parts) == 2:
		writeJSON(w, http.StatusOK, objs[0])
	default:
		items := make([]any, len(objs))
		for i, o := range objs {
			items[i] = o
		}
		writeJSON(w, http.StatusOK, map[string]any{"apiVersion": "v1", "kind": "NamespaceList", "metadata": map[string]any{"resourceVersion": strconv.FormatUint(rv, 10)}, "items": items})
	}
	return nil
}
