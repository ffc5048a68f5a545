package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
)

// TMF630 (TM Forum REST API design guidelines) conventions of the
// canvas-info lists: attribute filtering (?category=API, comma for "or"),
// a JSONPath filter (?filter=$[?(@.category=='API')], conjunctions of ==
// and != on attributes), paging (?offset=&limit=, with X-Total-Count and
// X-Result-Count, 206 for a partial page) and attribute selection
// (?fields=name,category; id, href and @type always stay).

// tmfReserved are the query parameters that are not attribute filters.
var tmfReserved = []string{"fields", "offset", "limit", "filter", "sort"}

// writeTMFList answers items under TMF630's conventions; own are the
// route's own query parameters (not attribute filters).
func writeTMFList[T any](w http.ResponseWriter, r *http.Request, items []T, own ...string) {
	q := r.URL.Query()
	objs, err := tmfObjects(items)
	if err != nil {
		writeProblem(w, problem(http.StatusInternalServerError, wire.ProblemBadInput, err.Error()))
		return
	}
	match, p := tmfMatcher(q, own)
	if p != nil {
		writeProblem(w, p)
		return
	}
	objs = slices.DeleteFunc(objs, func(o map[string]any) bool { return !match(o) })
	total := len(objs)
	offset, p := tmfInt(q, "offset", 0)
	if p != nil {
		writeProblem(w, p)
		return
	}
	limit, p := tmfInt(q, "limit", total)
	if p != nil {
		writeProblem(w, p)
		return
	}
	// offset and limit may be as large as an int goes: never add them.
	start := min(offset, total)
	page := objs[start : start+min(limit, total-start)]
	out := make([]map[string]any, len(page))
	for i, o := range page {
		out[i] = tmfFields(o, q.Get("fields"))
	}
	w.Header().Set(wire.HeaderTotalCount, strconv.Itoa(total))
	w.Header().Set(wire.HeaderResultCount, strconv.Itoa(len(out)))
	code := http.StatusOK
	if len(out) < total {
		code = http.StatusPartialContent
	}
	writeJSON(w, code, out)
}

// writeTMFItem answers one item, with ?fields= applied.
func writeTMFItem(w http.ResponseWriter, r *http.Request, item any) {
	objs, err := tmfObjects([]any{item})
	if err != nil {
		writeProblem(w, problem(http.StatusInternalServerError, wire.ProblemBadInput, err.Error()))
		return
	}
	writeJSON(w, http.StatusOK, tmfFields(objs[0], r.URL.Query().Get("fields")))
}

func tmfObjects[T any](items []T) ([]map[string]any, error) {
	b, err := json.Marshal(items)
	if err != nil {
		return nil, fmt.Errorf("encoding the list: %w", err)
	}
	var out []map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("encoding the list: %w", err)
	}
	return out, nil
}

func tmfInt(q url.Values, name string, def int) (int, *wire.Problem) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, problem(http.StatusBadRequest, wire.ProblemBadInput, fmt.Sprintf("?%s=%s: want a whole number >= 0", name, v))
	}
	return n, nil
}

// tmfFields keeps the attributes fields names (comma-separated; all when
// empty), and always id, href and @type.
func tmfFields(o map[string]any, fields string) map[string]any {
	if fields == "" {
		return o
	}
	keep := map[string]bool{"id": true, "href": true, "@type": true}
	for f := range strings.SplitSeq(fields, ",") {
		keep[strings.TrimSpace(f)] = true
	}
	for k := range o {
		if !keep[k] {
			delete(o, k)
		}
	}
	return o
}

// jsonPathFilter is the one JSONPath form TMF630 filters use here.
var (
	jsonPathFilter = regexp.MustCompile(`^\$(?:\.\w+)?\[\?\((.*)\)\]$`)
	jsonPathTerm   = regexp.MustCompile(`^@\.([\w.@]+)\s*(==|!=)\s*(?:'([^']*)'|"([^"]*)")$`)
)

type tmfTerm struct {
	path  []string
	equal bool
	value string
}

// tmfMatcher builds the filter of q's attribute filters and JSONPath filter.
func tmfMatcher(q url.Values, own []string) (func(map[string]any) bool, *wire.Problem) {
	var terms [][]tmfTerm // each a disjunction; all must hold
	for k, vals := range q {
		if slices.Contains(tmfReserved, k) || slices.Contains(own, k) {
			continue
		}
		var or []tmfTerm
		for _, v := range vals {
			for alt := range strings.SplitSeq(v, ",") {
				or = append(or, tmfTerm{path: strings.Split(k, "."), equal: true, value: alt})
			}
		}
		terms = append(terms, or)
	}
	if f := q.Get("filter"); f != "" {
		m := jsonPathFilter.FindStringSubmatch(strings.TrimSpace(f))
		if m == nil {
			return nil, problem(http.StatusBadRequest, wire.ProblemBadInput,
				fmt.Sprintf("?filter=%s: the canvas-info service understands JSONPath filters of the form $[?(@.attr=='value' && @.other!='value')]", f))
		}
		for cond := range strings.SplitSeq(m[1], "&&") {
			t := jsonPathTerm.FindStringSubmatch(strings.TrimSpace(cond))
			if t == nil {
				return nil, problem(http.StatusBadRequest, wire.ProblemBadInput,
					fmt.Sprintf("?filter=%s: condition %q: want @.attr=='value' or @.attr!='value'", f, strings.TrimSpace(cond)))
			}
			terms = append(terms, []tmfTerm{{path: strings.Split(t[1], "."), equal: t[2] == "==", value: t[3] + t[4]}})
		}
	}
	return func(o map[string]any) bool {
		for _, or := range terms {
			if !slices.ContainsFunc(or, func(t tmfTerm) bool { return (attr(o, t.path) == t.value) == t.equal }) {
				return false
			}
		}
		return true
	}, nil
}

// attr is the attribute at path in o as a string ("" when absent).
func attr(o map[string]any, path []string) string {
	var v any = o
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[p]
	}
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}
