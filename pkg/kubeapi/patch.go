package kubeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"

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
)

// patch applies a patch to the Component as served at the request's
// version and stores the result through the same admission as create.
//
// Strategic merge patch is answered as JSON merge patch with its $
// directives dropped: the Component schema declares no merge keys, so a
// strategic patch of it replaces lists as a merge patch does. Server-side
// apply (application/apply-patch+yaml) is simplified (serverSideApply):
// one applied configuration per field manager, no managedFields, no
// conflicts between managers.
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
		if dryRun(r) {
			return s.answer(w, http.StatusOK, c, req)
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
		out, err := p.Apply(cur)
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

// AppliedAnnotationPrefix keys the configuration each field manager last
// applied with server-side apply, in an annotation of the Component
// (AppliedAnnotationPrefix + manager): the simplified field ownership that
// lets a manager remove a field by no longer applying it.
const AppliedAnnotationPrefix = "apply.wasmcanvas.io/"

func (s *Server) serverSideApply(w http.ResponseWriter, r *http.Request, req request, key oda.Key, body []byte) *statusError {
	applied, e := decodeObject(body, req)
	if e != nil {
		return e
	}
	annotation, e := appliedAnnotation(r.URL.Query().Get("fieldManager"), req)
	if e != nil {
		return e
	}
	meta, _ := applied["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		applied["metadata"] = meta
	}
	rv, _ := meta["resourceVersion"].(string)
	for _, k := range []string{"resourceVersion", "managedFields"} {
		delete(meta, k)
	}
	delete(applied, "status")
	config, err := json.Marshal(applied)
	if err != nil {
		return failure(http.StatusBadRequest, req.res, req.name, err.Error())
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
	defer cancel()
	cur, p := s.current(ctx, key)
	if p != nil && p.Status != http.StatusNotFound {
		return s.problem(p, req)
	}
	doc := applied
	mode := api.WriteCreate
	if cur != nil {
		curRaw, err := renderComponent(cur, req.version)
		if err != nil {
			return conversionFailure(req, componentObject(cur), err)
		}
		var curDoc map[string]any
		if err := json.Unmarshal(curRaw, &curDoc); err != nil {
			return failure(http.StatusInternalServerError, req.res, req.name, err.Error())
		}
		// What this manager applied before and applies no longer goes.
		var last map[string]any
		if prev := cur.Metadata.Annotations[annotation]; prev != "" && json.Unmarshal([]byte(prev), &last) == nil {
			dropUnapplied(curDoc, last, applied)
		}
		var fresh map[string]any
		_ = json.Unmarshal(config, &fresh) // config was marshalled above
		doc, _ = mergeJSON(curDoc, fresh).(map[string]any)
		mode = api.WriteUpdate
		if rv == "" {
			rv = cur.Metadata.ResourceVersion
		}
	}
	docMeta, _ := doc["metadata"].(map[string]any)
	annotations, _ := docMeta["annotations"].(map[string]any)
	if annotations == nil {
		annotations = map[string]any{}
		docMeta["annotations"] = annotations
	}
	annotations[annotation] = string(config)
	c, e := s.admit(doc, req)
	if e != nil {
		return e
	}
	if dryRun(r) {
		return s.answer(w, http.StatusOK, c, req)
	}
	return s.store(w, r, c, rv, mode, req)
}

// appliedAnnotation is the annotation of manager's applied configuration.
func appliedAnnotation(manager string, req request) (string, *statusError) {
	if manager == "" {
		return "", failure(http.StatusBadRequest, req.res, req.name, "server-side apply needs a fieldManager (kubectl sets one; client-go: PatchOptions.FieldManager)")
	}
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, manager)
	name = strings.Trim(name, "-_.")
	if name == "" || len(name) > 63 {
		return "", failure(http.StatusBadRequest, req.res, req.name, fmt.Sprintf("fieldManager %q: use at most 63 letters, digits, '-', '_' or '.'", manager))
	}
	return AppliedAnnotationPrefix + name, nil
}

// dropUnapplied deletes from cur what last held and applied no longer
// holds: keys of objects one by one (a label, an annotation), any other
// value whole (lists are replaced whole, as a merge patch does).
func dropUnapplied(cur, last, applied map[string]any) {
	for k, lv := range last {
		av, inApplied := applied[k]
		lm, lok := lv.(map[string]any)
		cm, cok := cur[k].(map[string]any)
		am, aok := av.(map[string]any)
		switch {
		case lok && cok && (aok || !inApplied):
			dropUnapplied(cm, lm, am)
			if !inApplied && len(cm) == 0 {
				delete(cur, k)
			}
		case !inApplied:
			delete(cur, k)
		}
	}
}

func decodeObject(body []byte, req request) (map[string]any, *statusError) {
	var doc map[string]any
	if err := yamlUnmarshal(body, &doc); err != nil || doc == nil {
		return nil, failure(http.StatusBadRequest, req.res, req.name, "the applied configuration is not a YAML or JSON object")
	}
	return doc, nil
}
