package kubeapi

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// Field ownership for server-side apply, as the apiserver keeps it in
// metadata.managedFields (FieldsV1), for the one kind served here. The
// Component CRD declares no x-kubernetes-list-type, so every list is
// atomic (owned and compared whole), as structured-merge-diff treats the
// lists of such a CRD; objects are maps whose fields are owned one by one.

// managedAnnotation is where a Component's managedFields are stored; it is
// served as metadata.managedFields and never shown or accepted as an
// annotation.
const managedAnnotation = oda.AnnotationManagedFields

// fieldSet is a set of field paths in FieldsV1's shape: each key is
// "f:<name>", a leaf is an empty set.
type fieldSet map[string]fieldSet

// unowned are the fields the apiserver leaves out of managedFields.
var unowned = map[string][]string{
	"":         {"apiVersion", "kind", "status"},
	"metadata": {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink", "deletionTimestamp"},
}

// fieldsOf is the set of fields doc sets: a map's fields one by one, any
// other value (a list included) as one leaf.
func fieldsOf(doc map[string]any) fieldSet {
	fs := fieldsOfMap(doc)
	for _, k := range unowned[""] {
		delete(fs, "f:"+k)
	}
	if md := fs["f:metadata"]; md != nil {
		for _, k := range unowned["metadata"] {
			delete(md, "f:"+k)
		}
		if anns := md["f:annotations"]; anns != nil {
			delete(anns, "f:"+managedAnnotation)
			if len(anns) == 0 {
				delete(md, "f:annotations")
			}
		}
		if len(md) == 0 {
			delete(fs, "f:metadata")
		}
	}
	return fs
}

func fieldsOfMap(m map[string]any) fieldSet {
	fs := fieldSet{}
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
			fs["f:"+k] = fieldsOfMap(sub)
		} else {
			fs["f:"+k] = fieldSet{}
		}
	}
	return fs
}

// leaves lists the paths of the set's leaves (field names), sorted. The
// walk shares one prefix and copies a path only for a leaf, so its work is
// the size of what it returns (cloning the prefix at every level was
// quadratic in the depth: 650 MB for one leaf 9,000 levels deep).
func (fs fieldSet) leaves() [][]string {
	var out [][]string
	var walk func(prefix []string, s fieldSet)
	walk = func(prefix []string, s fieldSet) {
		for _, k := range slices.Sorted(maps.Keys(s)) {
			p := append(prefix, strings.TrimPrefix(k, "f:"))
			if len(s[k]) == 0 {
				out = append(out, slices.Clip(slices.Clone(p)))
			} else {
				walk(p, s[k])
			}
		}
	}
	walk(nil, fs)
	return out
}

// maxFieldsDepth bounds how deep a stored FieldsV1 may nest: no admitted
// Component nests deeper than oda.MaxDepth, so a deeper set was not
// written by setManaged.
const maxFieldsDepth = oda.MaxDepth

// depth is how many levels deep the set nests (0 for the empty set).
func (fs fieldSet) depth() int {
	d := 0
	for _, sub := range fs {
		d = max(d, 1+sub.depth())
	}
	return d
}

// has says whether path is a leaf of the set, or lies under one.
func (fs fieldSet) has(path []string) bool {
	s := fs
	for _, name := range path {
		sub, ok := s["f:"+name]
		if !ok {
			return false
		}
		if len(sub) == 0 {
			return true
		}
		s = sub
	}
	return true
}

// remove takes path (a leaf) out of the set, and the parents it leaves empty.
func (fs fieldSet) remove(path []string) {
	if len(path) == 0 {
		return
	}
	k := "f:" + path[0]
	sub, ok := fs[k]
	if !ok {
		return
	}
	if len(path) == 1 || len(sub) == 0 {
		delete(fs, k)
		return
	}
	sub.remove(path[1:])
	if len(sub) == 0 {
		delete(fs, k)
	}
}

// add puts path in the set as a leaf.
func (fs fieldSet) add(path []string) {
	s := fs
	for i, name := range path {
		k := "f:" + name
		sub, ok := s[k]
		if !ok || (len(sub) == 0 && i < len(path)-1) {
			sub = fieldSet{}
			s[k] = sub
		}
		s = sub
	}
}

// valueAt is the value at path in doc.
func valueAt(doc map[string]any, path []string) (any, bool) {
	var v any = doc
	for _, name := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[name]; !ok {
			return nil, false
		}
	}
	return v, true
}

// deleteAt removes the field at path from doc, and the maps it leaves empty.
func deleteAt(doc map[string]any, path []string) {
	if len(path) == 0 {
		return
	}
	if len(path) == 1 {
		delete(doc, path[0])
		return
	}
	sub, ok := doc[path[0]].(map[string]any)
	if !ok {
		return
	}
	deleteAt(sub, path[1:])
	if len(sub) == 0 {
		delete(doc, path[0])
	}
}

// mergeApplied sets every field of applied in doc: maps merge field by
// field, anything else (lists included: they are atomic) is replaced.
func mergeApplied(doc, applied map[string]any) {
	for k, av := range applied {
		am, aok := av.(map[string]any)
		dm, dok := doc[k].(map[string]any)
		if aok && dok && len(am) > 0 {
			mergeApplied(dm, am)
			continue
		}
		doc[k] = av
	}
}

// pathString writes a path as the apiserver names conflicting fields.
func pathString(path []string) string { return "." + strings.Join(path, ".") }

// managedEntries reads the managedFields stored with c.
func managedEntries(c *oda.Component) []metav1.ManagedFieldsEntry {
	if c == nil {
		return nil
	}
	var out []metav1.ManagedFieldsEntry
	if raw := c.Metadata.Annotations[managedAnnotation]; raw != "" {
		_ = json.Unmarshal([]byte(raw), &out) // written only by setManaged
	}
	return out
}

// entrySet is an entry's fields; a FieldsV1 that does not decode, or nests
// deeper than any Component (the annotation that holds it reaches the
// store through the canvas API too), owns nothing.
func entrySet(e metav1.ManagedFieldsEntry) fieldSet {
	fs := fieldSet{}
	if e.FieldsV1 != nil {
		if json.Unmarshal(e.FieldsV1.Raw, &fs) != nil || fs.depth() > maxFieldsDepth {
			return fieldSet{}
		}
	}
	return fs
}

// newEntry is manager's entry owning fs.
func newEntry(manager string, op metav1.ManagedFieldsOperationType, apiVersion string, fs fieldSet, now time.Time) metav1.ManagedFieldsEntry {
	raw, _ := json.Marshal(fs) // a map of maps of strings
	t := metav1.NewTime(now.UTC().Truncate(time.Second))
	return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, APIVersion: apiVersion, Time: &t,
		FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: raw}}
}

// setManaged stores entries (without empty ones) with c.
func setManaged(c *oda.Component, entries []metav1.ManagedFieldsEntry) {
	entries = slices.DeleteFunc(entries, func(e metav1.ManagedFieldsEntry) bool { return len(entrySet(e)) == 0 })
	if len(entries) == 0 {
		delete(c.Metadata.Annotations, managedAnnotation)
		return
	}
	if c.Metadata.Annotations == nil {
		c.Metadata.Annotations = map[string]string{}
	}
	raw, _ := json.Marshal(entries) // plain data
	c.Metadata.Annotations[managedAnnotation] = string(raw)
}

// fieldConflict is a field an applier would change that other owns.
type fieldConflict struct {
	other, apiVersion string
	path              []string
}

// mergeApply is the object a server-side apply by manager of applied
// makes of cur (nil when creating): the fields manager applied before
// (its entry in entries) and applies no longer are removed unless another
// manager owns them, then every applied field is set.
func mergeApply(cur, applied map[string]any, entries []metav1.ManagedFieldsEntry, manager string) map[string]any {
	doc := map[string]any{}
	if cur != nil {
		doc = runtime.DeepCopyJSON(cur)
	}
	mine := fieldsOf(applied)
	// Each entry's set decoded once; the other managers' as one union, so
	// a field is checked against them in one walk (checking each removed
	// field against each entry, decoded anew, was quadratic: 6 s for an
	// apply dropping 4,000 labels beside another manager's 4,000).
	var before []fieldSet
	others := fieldSet{}
	for _, e := range entries {
		if e.Manager == manager && e.Operation == metav1.ManagedFieldsOperationApply {
			before = append(before, entrySet(e))
		} else {
			others.union(entrySet(e))
		}
	}
	for _, prev := range before {
		for _, p := range prev.leaves() {
			if !mine.has(p) && !others.has(p) {
				deleteAt(doc, p)
			}
		}
	}
	mergeApplied(doc, applied)
	return doc
}

// union adds o's fields to fs (copies: o is not changed after): a leaf
// in either stays a leaf, since it owns everything under it, so fs.has(p)
// after is whether either had p.
func (fs fieldSet) union(o fieldSet) {
	for k, osub := range o {
		cur, ok := fs[k]
		switch {
		case !ok:
			c := fieldSet{}
			c.union(osub)
			fs[k] = c
		case len(cur) == 0: // a leaf already owns all of it
		case len(osub) == 0:
			fs[k] = fieldSet{}
		default:
			cur.union(osub)
		}
	}
}

// overlap calls visit, in sorted order, with each leaf path of mine that
// fs has (fs.has), walking the two sets together: its work is bounded by
// the smaller set at each level, not by all of mine for every entry.
func (mine fieldSet) overlap(fs fieldSet, visit func(path []string)) {
	var walk func(prefix []string, m, o fieldSet)
	walk = func(prefix []string, m, o fieldSet) {
		keys := m
		if len(o) < len(m) {
			keys = o
		}
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			msub, inMine := m[k]
			osub, inOther := o[k]
			if !inMine || !inOther {
				continue
			}
			p := append(prefix, strings.TrimPrefix(k, "f:"))
			switch {
			case len(msub) == 0: // mine's leaf, which o has (or lies under o's leaf)
				visit(slices.Clip(slices.Clone(p)))
			case len(osub) == 0: // o's leaf owns all of mine's leaves under it
				for _, l := range msub.leaves() {
					visit(append(slices.Clone(p), l...))
				}
			default:
				walk(p, msub, osub)
			}
		}
	}
	walk(nil, mine, fs)
}

// applyOwnership is the ownership after manager applied the fields of
// applied, turning cur (nil when creating) into next (both as served,
// after admission): a field another manager owns whose value changes is a
// conflict, or with force no longer theirs; manager owns exactly what it
// applied, shared with those who own the same value.
func applyOwnership(cur, next, applied map[string]any, entries []metav1.ManagedFieldsEntry, manager, apiVersion string, force bool, now time.Time) ([]metav1.ManagedFieldsEntry, []fieldConflict) {
	mine := fieldsOf(applied)
	var conflicts []fieldConflict
	var out []metav1.ManagedFieldsEntry
	for _, e := range entries {
		if e.Manager == manager && e.Operation == metav1.ManagedFieldsOperationApply {
			continue
		}
		fs := entrySet(e)
		mine.overlap(fs, func(p []string) {
			cv, _ := valueAt(cur, p)
			nv, _ := valueAt(next, p)
			switch {
			case reflect.DeepEqual(cv, nv): // the same value: both own it
			case force:
				fs.remove(p)
			default:
				conflicts = append(conflicts, fieldConflict{other: e.Manager, apiVersion: e.APIVersion, path: p})
			}
		})
		out = append(out, withFields(e, fs))
	}
	return append(out, newEntry(manager, metav1.ManagedFieldsOperationApply, apiVersion, mine, now)), conflicts
}

// withFields is e owning fs instead.
func withFields(e metav1.ManagedFieldsEntry, fs fieldSet) metav1.ManagedFieldsEntry {
	raw, _ := json.Marshal(fs)
	e.FieldsV1 = &metav1.FieldsV1{Raw: raw}
	return e
}

// updateOwnership is the ownership after an update (create, replace,
// patch) by manager turned cur (nil when creating) into next, both as
// served: manager owns the fields it set or changed, which no other
// manager owns any more, and no one owns a field next no longer has.
func updateOwnership(cur, next map[string]any, entries []metav1.ManagedFieldsEntry, manager, apiVersion string, now time.Time) []metav1.ManagedFieldsEntry {
	changed := fieldSet{}
	for _, p := range fieldsOf(next).leaves() {
		cv, inCur := valueAt(cur, p)
		nv, _ := valueAt(next, p)
		if !inCur || !reflect.DeepEqual(cv, nv) {
			changed.add(p)
		}
	}
	var out []metav1.ManagedFieldsEntry
	own := fieldSet{}
	for _, e := range entries {
		fs := entrySet(e)
		for _, p := range fs.leaves() {
			if _, ok := valueAt(next, p); !ok || changed.has(p) {
				fs.remove(p)
			}
		}
		if e.Manager == manager && e.Operation == metav1.ManagedFieldsOperationUpdate {
			own = fs
			continue
		}
		out = append(out, withFields(e, fs))
	}
	for _, p := range changed.leaves() {
		own.add(p)
	}
	return append(out, newEntry(manager, metav1.ManagedFieldsOperationUpdate, apiVersion, own, now))
}

// conflictStatus is the 409 of an apply that conflicts, worded as the
// apiserver words it, one cause per field.
func conflictStatus(r *resource, name string, cs []fieldConflict) *statusError {
	byManager := map[string][]fieldConflict{}
	var order []string
	for _, c := range cs {
		if _, ok := byManager[c.other]; !ok {
			order = append(order, c.other)
		}
		byManager[c.other] = append(byManager[c.other], c)
	}
	var b strings.Builder
	plural := "s"
	if len(cs) == 1 {
		plural = ""
	}
	fmt.Fprintf(&b, "Apply failed with %d conflict%s: ", len(cs), plural)
	var causes []metav1.StatusCause
	for i, m := range order {
		l := byManager[m]
		if i > 0 {
			b.WriteString("\n")
		}
		using := fmt.Sprintf("%q using %s", m, l[0].apiVersion)
		if len(l) == 1 {
			fmt.Fprintf(&b, "conflict with %s: %s", using, pathString(l[0].path))
		} else {
			fmt.Fprintf(&b, "conflicts with %s:", using)
			for _, c := range l {
				fmt.Fprintf(&b, "\n- %s", pathString(c.path))
			}
		}
		for _, c := range l {
			causes = append(causes, metav1.StatusCause{Type: metav1.CauseTypeFieldManagerConflict, Message: "conflict with " + using, Field: pathString(c.path)})
		}
	}
	e := failure(409, r, name, b.String())
	if e.st.Details == nil {
		e.st.Details = &metav1.StatusDetails{}
	}
	e.st.Details.Causes = causes
	return e
}
