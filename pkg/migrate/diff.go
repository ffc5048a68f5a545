package migrate

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// StatusRow is one field of a Component's status on both canvases.
type StatusRow struct {
	Field      string `json:"field"`
	Kubernetes string `json:"kubernetes"`
	Wasmcanvas string `json:"wasmcanvas"`
	// Match is same, differs, kubernetes-only or wasmcanvas-only.
	Match string `json:"match"`
}

// Status row matches.
const (
	MatchSame           = "same"
	MatchDiffers        = "differs"
	MatchKubernetesOnly = "kubernetes-only"
	MatchWasmcanvasOnly = "wasmcanvas-only"
)

// DiffStatus compares two status objects field by field (leaves by path,
// e.g. coreAPIs[0].url, summary/status.deployment_status), sorted by path.
func DiffStatus(kube, wasm map[string]any) []StatusRow {
	k, w := map[string]string{}, map[string]string{}
	flatten("", kube, k)
	flatten("", wasm, w)
	paths := slices.Sorted(maps.Keys(k))
	for p := range w {
		if _, ok := k[p]; !ok {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	out := make([]StatusRow, 0, len(paths))
	for _, p := range paths {
		kv, kok := k[p]
		wv, wok := w[p]
		r := StatusRow{Field: p, Kubernetes: kv, Wasmcanvas: wv}
		switch {
		case kok && wok && kv == wv:
			r.Match = MatchSame
		case kok && wok:
			r.Match = MatchDiffers
		case kok:
			r.Match = MatchKubernetesOnly
		default:
			r.Match = MatchWasmcanvasOnly
		}
		out = append(out, r)
	}
	return out
}

func flatten(prefix string, v any, out map[string]string) {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 0 && prefix != "" {
			out[prefix] = "{}"
		}
		for k, e := range v {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(p, e, out)
		}
	case []any:
		if len(v) == 0 {
			out[prefix] = "[]"
		}
		for i, e := range v {
			flatten(prefix+"["+strconv.Itoa(i)+"]", e, out)
		}
	case string:
		out[prefix] = v
	case nil:
		out[prefix] = "null"
	default:
		b, _ := json.Marshal(v)
		out[prefix] = string(b)
	}
}

// StatusTable writes rows as an aligned table.
func StatusTable(rows []StatusRow) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-16s %-50s %-40s %s\n", "MATCH", "FIELD", "KUBERNETES", "WASMCANVAS")
	for _, r := range rows {
		fmt.Fprintf(&b, "%-16s %-50s %-40s %s\n", r.Match, r.Field, r.Kubernetes, r.Wasmcanvas)
	}
	return b.String()
}
