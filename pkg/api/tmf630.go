package api

import (
	"encoding/json"
	"fmt"
	"math"
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

// maxTMFConditions bounds the conditions of one list request (attribute
// filters and JSONPath conditions together): each is checked against
// every item, and the routes are unauthenticated, so a query of thousands
// would cost the canvas seconds of CPU per request.
const maxTMFConditions = 64

// tmfQuery is a list request's TMF630 parameters, checked before any
// item is looked at.
type tmfQuery struct {
	conds         []tmfCond
	offset, limit int
	fields        map[string]bool // nil: every attribute
}

// tmfCond holds when the attribute at path is (equal) or is not (!equal)
// one of values.
type tmfCond struct {
	path   []string
	equal  bool
	values map[string]bool
}

func (q *tmfQuery) match(o map[string]any) bool {
	for _, c := range q.conds {
		if c.values[attr(o, c.path)] != c.equal {
			return false
		}
	}
	return true
}

// writeTMFList answers items under TMF630's conventions; own are the
// route's own query parameters (not attribute filters).
func writeTMFList[T any](w http.ResponseWriter, r *http.Request, items []T, own ...string) {
	tq, p := parseTMFQuery(r.URL.Query(), own)
	if p != nil {
		writeProblem(w, p)
		return
	}
	objs, err := tmfObjects(items)
	if err != nil {
		writeProblem(w, problem(http.StatusInternalServerError, wire.ProblemBadInput, err.Error()))
		return
	}
	objs = slices.DeleteFunc(objs, func(o map[string]any) bool { return !tq.match(o) })
	total := len(objs)
	// offset and limit may be as large as an int goes: never add them.
	start := min(tq.offset, total)
	page := objs[start : start+min(tq.limit, total-start)]
	out := make([]map[string]any, len(page))
	for i, o := range page {
		out[i] = tmfFields(o, tq.fields)
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
	writeJSON(w, http.StatusOK, tmfFields(objs[0], parseTMFFields(r.URL.Query().Get("fields"))))
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

// parseTMFQuery reads q's paging, fields and filters (own are the route's
// own parameters, not attribute filters).
func parseTMFQuery(q url.Values, own []string) (*tmfQuery, *wire.Problem) {
	for _, k := range slices.Concat(tmfReserved, own) {
		if n := len(q[k]); n > 1 {
			return nil, problem(http.StatusBadRequest, wire.ProblemBadInput,
				fmt.Sprintf("?%s= is given %d times: give it once (fields and attribute filters take a comma-separated list, JSONPath conditions are joined by &&)", k, n))
		}
	}
	tq := &tmfQuery{fields: parseTMFFields(q.Get("fields"))}
	var p *wire.Problem
	if tq.offset, p = tmfInt(q, "offset", 0); p != nil {
		return nil, p
	}
	if tq.limit, p = tmfInt(q, "limit", math.MaxInt); p != nil {
		return nil, p
	}
	if tq.conds, p = tmfConditions(q, own); p != nil {
		return nil, p
	}
	return tq, nil
}

func tmfInt(q url.Values, name string, def int) (int, *wire.Problem) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, problem(http.StatusBadRequest, wire.ProblemBadInput, fmt.Sprintf("?%s=%s: want a whole number >= 0", name, quoteInput(v)))
	}
	return n, nil
}

// parseTMFFields is the set of attributes a comma-separated ?fields=
// keeps (with id, href and @type), or nil (all) when it is empty.
func parseTMFFields(fields string) map[string]bool {
	if fields == "" {
		return nil
	}
	keep := map[string]bool{"id": true, "href": true, "@type": true}
	for f := range strings.SplitSeq(fields, ",") {
		keep[strings.TrimSpace(f)] = true
	}
	return keep
}

// tmfFields keeps the attributes of o in keep (all when keep is nil).
func tmfFields(o map[string]any, keep map[string]bool) map[string]any {
	if keep == nil {
		return o
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

// tmfConditions are q's attribute filters (a comma means "or") and the
// conditions of its JSONPath filter, all of which must hold.
func tmfConditions(q url.Values, own []string) ([]tmfCond, *wire.Problem) {
	var conds []tmfCond
	tooMany := func() *wire.Problem {
		return problem(http.StatusBadRequest, wire.ProblemBadInput,
			fmt.Sprintf("more than %d conditions in the attribute filters and ?filter= together: narrow the query to %d at most, or filter what it answers yourself", maxTMFConditions, maxTMFConditions))
	}
	for k, vals := range q {
		if slices.Contains(tmfReserved, k) || slices.Contains(own, k) {
			continue
		}
		if len(conds) == maxTMFConditions {
			return nil, tooMany()
		}
		c := tmfCond{path: strings.Split(k, "."), equal: true, values: map[string]bool{}}
		for _, v := range vals {
			for alt := range strings.SplitSeq(v, ",") {
				c.values[alt] = true
			}
		}
		conds = append(conds, c)
	}
	f := q.Get("filter")
	if f == "" {
		return conds, nil
	}
	m := jsonPathFilter.FindStringSubmatch(strings.TrimSpace(f))
	if m == nil {
		return nil, problem(http.StatusBadRequest, wire.ProblemBadInput,
			fmt.Sprintf("?filter=%s: the canvas-info service understands JSONPath filters of the form $[?(@.attr=='value' && @.other!='value')]", quoteInput(f)))
	}
	for cond := range strings.SplitSeq(m[1], "&&") {
		if len(conds) == maxTMFConditions {
			return nil, tooMany()
		}
		t := jsonPathTerm.FindStringSubmatch(strings.TrimSpace(cond))
		if t == nil {
			return nil, problem(http.StatusBadRequest, wire.ProblemBadInput,
				fmt.Sprintf("?filter=%s: condition %s: want @.attr=='value' or @.attr!='value'", quoteInput(f), quoteInput(strings.TrimSpace(cond))))
		}
		conds = append(conds, tmfCond{path: strings.Split(t[1], "."), equal: t[2] == "==", values: map[string]bool{t[3] + t[4]: true}})
	}
	return conds, nil
}

// quoteInput quotes a query value for a problem, cut short: the caller
// knows what it sent, and a reply should not echo a megabyte.
func quoteInput(s string) string {
	const most = 200
	if len(s) > most {
		return strconv.Quote(strings.ToValidUTF8(s[:most], "")) + "…"
	}
	return strconv.Quote(s)
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
