package oda

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Conversion works on the JSON-like tree, not on typed values: the older
// versions differ in shape (strings where v1 has objects, fields one level
// up), and the tree keeps every field, so nothing is dropped unnoticed. See
// CONVERSION.md for the field mapping.

var (
	// metadataFields sat directly under spec in v1beta3.
	metadataFields = []string{"id", "name", "version", "description", "functionalBlock", "publicationDate", "status", "maintainers", "owners"}
	// gatewayFields sat directly on an exposed API in v1beta3.
	gatewayFields = []string{"apiKeyVerification", "rateLimit", "quota", "OASValidation", "CORS", "template"}
	functions     = []string{"coreFunction", "managementFunction", "securityFunction"}
	// eventRootFields sat on the event itself up to v1beta4 and moved into
	// specification[] items in v1.
	eventRootFields = map[string][]string{
		"publishedEvents":  {"apiType", "implementation", "developerUI", "hub", "port"},
		"subscribedEvents": {"apiType", "implementation", "developerUI", "callback", "port", "query"},
	}
	// exposedHoist are the fields v1 allows in specification[0] instead of
	// the API root, and v1beta4 requires at the root.
	exposedHoist = []string{"apiType", "implementation", "path", "port", "developerUI"}
)

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// deepCopyTree copies a JSON-like tree.
func deepCopyTree(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopyTree(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopyTree(e)
		}
		return out
	default:
		return v
	}
}

// upgrade rewrites doc, a Component of apiVersion from, into v1 in place.
func upgrade(from string, doc map[string]any) {
	spec := asMap(doc["spec"])
	if from == APIVersionV1beta3 && spec != nil {
		upgradeV1beta3(spec)
	}
	if (from == APIVersionV1beta3 || from == APIVersionV1beta4) && spec != nil {
		upgradeV1beta4(spec)
	}
	doc["apiVersion"] = APIVersionV1
}

// upgradeV1beta3 turns a v1beta3 spec into v1beta4.
func upgradeV1beta3(spec map[string]any) {
	cm := map[string]any{}
	for _, f := range metadataFields {
		if v, ok := spec[f]; ok {
			cm[f] = v
			delete(spec, f)
		}
	}
	if len(cm) > 0 {
		spec["componentMetadata"] = cm
	}
	for _, fn := range functions {
		f := asMap(spec[fn])
		for _, api := range asList(f["exposedAPIs"]) {
			a := asMap(api)
			if a == nil {
				continue
			}
			gc := map[string]any{}
			for _, g := range gatewayFields {
				if v, ok := a[g]; ok {
					gc[g] = v
					delete(a, g)
				}
			}
			if len(gc) > 0 {
				a["gatewayConfiguration"] = gc
			}
			specs := asList(a["specification"])
			for i, s := range specs {
				if u, ok := s.(string); ok {
					specs[i] = map[string]any{"url": u}
				}
			}
		}
		for _, api := range asList(f["dependentAPIs"]) {
			a := asMap(api)
			if u, ok := a["specification"].(string); ok {
				a["specification"] = []any{map[string]any{"url": u}}
			}
		}
	}
	if sf := asMap(spec["securityFunction"]); sf != nil {
		if v, ok := sf["controllerRole"]; ok {
			sf["canvasSystemRole"] = v
			delete(sf, "controllerRole")
		}
	}
	en := asMap(spec["eventNotification"])
	for list := range eventRootFields {
		for _, ev := range asList(en[list]) {
			e := asMap(ev)
			if u, ok := e["specification"].(string); ok {
				e["specification"] = []any{map[string]any{"url": u}}
			}
		}
	}
}

// upgradeV1beta4 turns a v1beta4 spec into v1: only events changed shape.
func upgradeV1beta4(spec map[string]any) {
	en := asMap(spec["eventNotification"])
	for list, fields := range eventRootFields {
		for _, ev := range asList(en[list]) {
			e := asMap(ev)
			if e == nil {
				continue
			}
			moved := map[string]any{}
			for _, f := range fields {
				if v, ok := e[f]; ok {
					moved[f] = v
					delete(e, f)
				}
			}
			if len(moved) == 0 {
				continue
			}
			specs := asList(e["specification"])
			if len(specs) == 0 {
				specs = []any{map[string]any{}}
				e["specification"] = specs
			}
			if first := asMap(specs[0]); first != nil {
				maps.Copy(first, moved)
			}
		}
	}
}

// downgrade returns a copy of doc (a v1 Component tree) in the shape of
// apiVersion to, or the v1 fields that shape cannot hold.
func downgrade(doc map[string]any, to string) (map[string]any, []issue) {
	out := asMap(deepCopyTree(doc))
	out["apiVersion"] = to
	if to == APIVersionV1 {
		return out, nil
	}
	var lost []issue
	spec := asMap(out["spec"])
	if spec != nil {
		lost = append(lost, downgradeToV1beta4(spec)...)
		if to == APIVersionV1beta3 {
			lost = append(lost, downgradeToV1beta3(spec)...)
		}
	}
	if len(lost) > 0 {
		return nil, lost
	}
	short := strings.TrimPrefix(to, Group+"/")
	for _, is := range checkSchema(to, out) {
		lost = append(lost, issue{
			tokens: is.tokens,
			msg:    fmt.Sprintf("cannot be expressed in %s (%s): %s", short, displayPath(out, is.tokens), is.msg),
			fix:    "keep this Component on " + APIVersionV1 + ", or remove the field",
		})
	}
	if len(lost) > 0 {
		return nil, lost
	}
	return out, nil
}

func tok(parts ...any) []string {
	out := make([]string, len(parts))
	for i, p := range parts {
		switch v := p.(type) {
		case string:
			out[i] = v
		case int:
			out[i] = strconv.Itoa(v)
		}
	}
	return out
}

// downgradeToV1beta4 rewrites a v1 spec into v1beta4 in place.
func downgradeToV1beta4(spec map[string]any) []issue {
	var lost []issue
	for _, fn := range functions {
		f := asMap(spec[fn])
		for _, api := range asList(f["exposedAPIs"]) {
			hoist(asMap(api), exposedHoist)
		}
		for _, api := range asList(f["dependentAPIs"]) {
			hoist(asMap(api), []string{"apiType"})
		}
	}
	en := asMap(spec["eventNotification"])
	for _, list := range slices.Sorted(maps.Keys(eventRootFields)) {
		fields := eventRootFields[list]
		for i, ev := range asList(en[list]) {
			e := asMap(ev)
			specs := asList(e["specification"])
			for j, s := range specs {
				sm := asMap(s)
				for _, f := range fields {
					v, ok := sm[f]
					if !ok {
						continue
					}
					if j > 0 {
						lost = append(lost, issue{
							tokens: tok("spec", "eventNotification", list, i, "specification", j, f),
							msg:    "cannot be expressed in v1beta4: only the event itself (specification[0]) may set " + f,
							fix:    "keep this Component on " + APIVersionV1,
						})
						continue
					}
					e[f] = v
					delete(sm, f)
				}
			}
			// Reading a v1beta4 event without a specification creates an
			// empty one to hold the moved fields; drop it again.
			if len(specs) == 1 && len(asMap(specs[0])) == 0 {
				delete(e, "specification")
			}
		}
	}
	return lost
}

// hoist moves fields from specification[0] to the API root where the root
// does not set them (v1 allows either place, v1beta4 only the root).
func hoist(api map[string]any, fields []string) {
	specs := asList(api["specification"])
	if len(specs) == 0 {
		return
	}
	first := asMap(specs[0])
	for _, f := range fields {
		if v, ok := first[f]; ok {
			if _, set := api[f]; !set {
				api[f] = v
				delete(first, f)
			}
		}
	}
}

// downgradeToV1beta3 rewrites a v1beta4 spec into v1beta3 in place.
func downgradeToV1beta3(spec map[string]any) []issue {
	var lost []issue
	if cm, ok := spec["componentMetadata"]; ok {
		for _, k := range slices.Sorted(maps.Keys(asMap(cm))) {
			if !slices.Contains(metadataFields, k) {
				lost = append(lost, issue{
					tokens: tok("spec", "componentMetadata", k),
					msg:    "cannot be expressed in v1beta3: it has no " + k + " field",
					fix:    "keep this Component on " + APIVersionV1 + ", or remove " + k,
				})
				continue
			}
			spec[k] = asMap(cm)[k]
		}
		delete(spec, "componentMetadata")
	}
	urlsOnly := func(specs []any, at []string) ([]any, []issue) {
		var lost []issue
		out := make([]any, len(specs))
		for j, s := range specs {
			sm := asMap(s)
			for _, k := range slices.Sorted(maps.Keys(sm)) {
				if k != "url" {
					lost = append(lost, issue{
						tokens: append(slices.Clone(at), strconv.Itoa(j), k),
						msg:    "cannot be expressed in v1beta3: specification items there are bare URLs",
						fix:    "keep this Component on " + APIVersionV1 + ", or remove " + k,
					})
				}
			}
			u, _ := sm["url"].(string)
			out[j] = u
		}
		return out, lost
	}
	single := func(owner map[string]any, at []string) {
		specs, ok := owner["specification"].([]any)
		if !ok {
			return
		}
		if len(specs) != 1 {
			lost = append(lost, issue{
				tokens: at,
				msg:    fmt.Sprintf("cannot be expressed in v1beta3: it holds one specification URL, this has %d", len(specs)),
				fix:    "keep this Component on " + APIVersionV1,
			})
			return
		}
		urls, l := urlsOnly(specs, at)
		lost = append(lost, l...)
		owner["specification"] = urls[0]
	}
	for _, fn := range functions {
		f := asMap(spec[fn])
		for i, api := range asList(f["exposedAPIs"]) {
			a := asMap(api)
			if gc, ok := a["gatewayConfiguration"]; ok {
				maps.Copy(a, asMap(gc))
				delete(a, "gatewayConfiguration")
			}
			if specs, ok := a["specification"].([]any); ok {
				urls, l := urlsOnly(specs, tok("spec", fn, "exposedAPIs", i, "specification"))
				lost = append(lost, l...)
				a["specification"] = urls
			}
		}
		for i, api := range asList(f["dependentAPIs"]) {
			single(asMap(api), tok("spec", fn, "dependentAPIs", i, "specification"))
		}
	}
	if sf := asMap(spec["securityFunction"]); sf != nil {
		if v, ok := sf["canvasSystemRole"]; ok {
			sf["controllerRole"] = v
			delete(sf, "canvasSystemRole")
		}
	}
	en := asMap(spec["eventNotification"])
	for _, list := range slices.Sorted(maps.Keys(eventRootFields)) {
		for i, ev := range asList(en[list]) {
			single(asMap(ev), tok("spec", "eventNotification", list, i, "specification"))
		}
	}
	return lost
}

// sourceTokens maps a location in the v1 form of a Component back to where
// the same field sits in a file of apiVersion from, so errors found after
// conversion name the field the user wrote.
func sourceTokens(from string, v1 []string) []string {
	t := slices.Clone(v1)
	if from == APIVersionV1 || len(t) < 2 || t[0] != "spec" {
		return t
	}
	// Events: specification[0].<field> was <field> on the event.
	if len(t) == 7 && t[1] == "eventNotification" && t[4] == "specification" && t[5] == "0" && slices.Contains(eventRootFields[t[2]], t[6]) {
		t = append(t[:4], t[6])
	}
	if from != APIVersionV1beta3 {
		return t
	}
	switch {
	case t[1] == "componentMetadata" && len(t) >= 3:
		return append([]string{"spec"}, t[2:]...)
	case len(t) == 3 && t[1] == "securityFunction" && t[2] == "canvasSystemRole":
		return []string{"spec", "securityFunction", "controllerRole"}
	case len(t) >= 6 && slices.Contains(functions, t[1]) && t[2] == "exposedAPIs" && t[4] == "gatewayConfiguration":
		return append(t[:4:4], t[5:]...)
	case len(t) == 7 && slices.Contains(functions, t[1]) && t[2] == "exposedAPIs" && t[4] == "specification" && t[6] == "url":
		return t[:6]
	case len(t) == 7 && (t[2] == "dependentAPIs" || t[1] == "eventNotification") && t[4] == "specification" && t[5] == "0" && t[6] == "url":
		return t[:5]
	}
	return t
}
