package kubeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmcanvas/wasmcanvas/pkg/api"
	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// Patch media types.
const (
	mergePatch      = "application/merge-patch+json"
	jsonPatch       = "application/json-patch+json"
	strategicPatch  = "application/strategic-merge-patch+json"
	applyPatch      = "application/apply-patch+yaml"
	maxPatchRetries = 5
	// maxJSONPatchOps bounds the operations of one JSON patch, as the
	// Kubernetes apiserver does (413 past it).
	maxJSONPatchOps = 10000
	// maxJSONPatchCopyBytes bounds what one JSON patch's copy operations
	// may add in all: a copy of a value into itself doubles it, so a few
	// dozen of them in a body of a few hundred bytes would otherwise ask
	// for terabytes. No Component is larger than this (wire.MaxBodySize).
	maxJSONPatchCopyBytes = wire.MaxBodySize
)

// patch applies a patch to the Component as served at the request's
// version and stores the result through the same admission as create.
//
// Strategic merge patch is answered as JSON merge patch with its $
// directives dropped: the Component schema declares no merge keys, so a
// strategic patch of it replaces lists as a merge patch does. Server-side
// apply (application/apply-patch+yaml) keeps field ownership in
// managedFields (serverSideApply); the other patches record an Update
// (trackUpdate).
func (s *Server) patch(w http.ResponseWriter, r *http.Request, req request) *statusError {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case mergePatch, jsonPatch, strategicPatch, applyPatch:
	default:
		return failure(http.StatusUnsupportedMediaType, req.res, req.name,
			fmt.Sprintf("patch Content-Type %q is not supported: use %s, %s, %s or %s", ct, mergePatch, jsonPatch, strategicPatch, applyPatch))
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, wire.MaxBodySize))
	if err != nil {
		return failure(http.StatusBadRequest, req.res, req.name, "reading the patch: "+err.Error())
	}
	key, err := oda.NewKey(req.namespace, req.name)
	if err != nil {
		return failure(http.StatusNotFound, req.res, req.name, err.Error())
	}
	if ct == applyPatch {
		return s.serverSideApply(w, r, req, key, body)
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
	defer cancel()
	for range maxPatchRetries {
		cur, p := s.current(ctx, key)
		if p != nil {
			return s.problem(p, req)
		}
		curRaw, err := renderComponent(cur, req.version)
		if err != nil {
			return conversionFailure(req, componentObject(cur), err)
		}
		patched, e := applyPatchBody(ct, curRaw, body, req)
		if e != nil {
			return e
		}
		var doc map[string]any
		if err := json.Unmarshal(patched, &doc); err != nil {
			return failure(http.StatusUnprocessableEntity, req.res, req.name, "the patched object is not a JSON object: "+err.Error())
		}
		c, e := s.admit(doc, req)
		if e != nil {
			return e
		}
		if e := s.trackUpdate(r, req, c); e != nil {
			return e
		}
		rv := c.Metadata.ResourceVersion
		e = s.store(w, r, c, rv, api.WriteUpdate, req)
		// A conflict at the revision just read (not one the patch named)
		// means someone wrote meanwhile: patch the new value.
		if e != nil && e.st.Code == http.StatusConflict && rv == cur.Metadata.ResourceVersion {
			continue
		}
		return e
	}
	return failure(http.StatusConflict, req.res, req.name, fmt.Sprintf("the object changed %d times while being patched: retry", maxPatchRetries))
}

func applyPatchBody(ct string, cur, body []byte, req request) ([]byte, *statusError) {
	switch ct {
	case jsonPatch:
		p, err := jsonpatch.DecodePatch(body)
		if err != nil {
			return nil, failure(http.StatusBadRequest, req.res, req.name, "JSON patch: "+err.Error())
		}
		if len(p) > maxJSONPatchOps {
			return nil, failure(http.StatusRequestEntityTooLarge, req.res, req.name,
				fmt.Sprintf("JSON patch has %d operations: at most %d are allowed", len(p), maxJSONPatchOps))
		}
		opts := jsonpatch.NewApplyOptions()
		opts.AccumulatedCopySizeLimit = maxJSONPatchCopyBytes
		out, err := p.ApplyWithOptions(cur, opts)
		if err != nil {
			return nil, failure(http.StatusUnprocessableEntity, req.res, req.name, "JSON patch does not apply: "+err.Error())
		}
		return out, nil
	default:
		var patch any
		if err := json.Unmarshal(body, &patch); err != nil {
			return nil, failure(http.StatusBadRequest, req.res, req.name, "merge patch is not JSON: "+err.Error())
		}
		if ct == strategicPatch {
			patch = dropDirectives(patch)
		}
		var doc any
		if err := json.Unmarshal(cur, &doc); err != nil {
			return nil, failure(http.StatusInternalServerError, req.res, req.name, err.Error())
		}
		out, err := json.Marshal(mergeJSON(doc, patch))
		if err != nil {
			return nil, failure(http.StatusInternalServerError, req.res, req.name, err.Error())
		}
		return out, nil
	}
}

// mergeJSON is RFC 7386 JSON merge patch of patch onto doc.
func mergeJSON(doc, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	dm, ok := doc.(map[string]any)
	if !ok {
		dm = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(dm, k)
			continue
		}
		dm[k] = mergeJSON(dm[k], v)
	}
	return dm
}

// dropDirectives removes strategic merge patch directives ($patch,
// $retainKeys, $setElementOrder/..., $deleteFromPrimitiveList/...).
func dropDirectives(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if strings.HasPrefix(k, "$") {
				delete(t, k)
				continue
			}
			t[k] = dropDirectives(x)
		}
	case []any:
		for i, x := range t {
			t[i] = dropDirectives(x)
		}
	}
	return v
}

// serverSideApply applies the configuration body as fieldManager
// (applyFields): fields another manager owns with another value are a 409
// listing them unless force=true takes them over; fields the manager
// applied before and applies no longer are removed unless another
// manager owns them.
func (s *Server) serverSideApply(w http.ResponseWriter, r *http.Request, req request, key oda.Key, body []byte) *statusError {
	applied, e := decodeObject(body, req)
	if e != nil {
		return e
	}
	manager := r.URL.Query().Get("fieldManager")
	if manager == "" || len(manager) > 128 {
		return failure(http.StatusBadRequest, req.res, req.name, "server-side apply needs a fieldManager of at most 128 characters (kubectl sets one; client-go: PatchOptions.FieldManager)")
	}
	force := r.URL.Query().Get("force") == "true"
	meta, _ := applied["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		applied["metadata"] = meta
	}
	rv, _ := meta["resourceVersion"].(string)
	for _, k := range []string{"resourceVersion", "managedFields"} {
		delete(meta, k)
	}
	if anns, ok := meta["annotations"].(map[string]any); ok {
		delete(anns, managedAnnotation)
	}
	delete(applied, "status")
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
	defer cancel()
	cur, p := s.current(ctx, key)
	if p != nil && p.Status != http.StatusNotFound {
		return s.problem(p, req)
	}
	var curDoc map[string]any
	mode := api.WriteCreate
	if cur != nil {
		var e *statusError
		if curDoc, e = s.served(cur, req); e != nil {
			return e
		}
		mode = api.WriteUpdate
		if rv == "" {
			rv = cur.Metadata.ResourceVersion
		}
	}
	entries := managedEntries(cur)
	c, e := s.admit(mergeApply(curDoc, applied, entries, manager), req)
	if e != nil {
		return e
	}
	delete(c.Metadata.Annotations, managedAnnotation)
	next, e := s.served(c, req)
	if e != nil {
		return e
	}
	owned, conflicts := applyOwnership(curDoc, next, applied, entries, manager, oda.Group+"/"+req.version, force, time.Now())
	if len(conflicts) > 0 {
		return conflictStatus(req.res, req.name, conflicts)
	}
	setManaged(c, owned)
	return s.store(w, r, c, rv, mode, req)
}

// served is c as a document at the request's version, without status and
// managedFields: what field ownership compares.
func (s *Server) served(c *oda.Component, req request) (map[string]any, *statusError) {
	cv, err := oda.Convert(c, oda.Group+"/"+req.version)
	if err != nil {
		return nil, conversionFailure(req, componentObject(c), err)
	}
	b, err := oda.Marshal(cv, "json")
	if err != nil {
		return nil, failure(http.StatusInternalServerError, req.res, req.name, err.Error())
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, failure(http.StatusInternalServerError, req.res, req.name, err.Error())
	}
	delete(doc, "status")
	if meta, ok := doc["metadata"].(map[string]any); ok {
		if anns, ok := meta["annotations"].(map[string]any); ok {
			delete(anns, managedAnnotation)
			if len(anns) == 0 {
				delete(meta, "annotations")
			}
		}
	}
	return doc, nil
}

// trackUpdate records in c, the admitted object of a create, replace or
// patch, the fields its field manager (fieldManager, else the client's
// User-Agent program, as the apiserver names it) set or changed
// (updateOwnership); the object's managedFields are the server's,
// whatever the request said.
func (s *Server) trackUpdate(r *http.Request, req request, c *oda.Component) *statusError {
	delete(c.Metadata.Annotations, managedAnnotation)
	manager := r.URL.Query().Get("fieldManager")
	if manager == "" {
		manager, _, _ = strings.Cut(r.UserAgent(), "/")
	}
	if manager == "" {
		manager = "unknown"
	}
	next, e := s.served(c, req)
	if e != nil {
		return e
	}
	var curDoc map[string]any
	var entries []metav1.ManagedFieldsEntry
	if cur, _ := s.idx.component(c.Key(), 0); cur != nil {
		if curDoc, e = s.served(cur, req); e != nil {
			return e
		}
		entries = managedEntries(cur)
	}
	setManaged(c, updateOwnership(curDoc, next, entries, manager, oda.Group+"/"+req.version, time.Now()))
	return nil
}

func decodeObject(body []byte, req request) (map[string]any, *statusError) {
	var doc map[string]any
	if err := yamlUnmarshal(body, &doc); err != nil || doc == nil {
		return nil, failure(http.StatusBadRequest, req.res, req.name, "the applied configuration is not a YAML or JSON object")
	}
	return doc, nil
}
