package translate

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestProvenanceJSON(t *testing.T) {
	prov := map[string]string{
		"components/a":          `spec.coreFunction.exposedAPIs[0].implementation`,
		"quote\"back\\slash":    "tab\tnewline\n\x01bell",
		"html <&>":              "unicode é 世界 \u2028",
		"invalid \xff utf-8":    "x",
		"":                      "",
		"components/z/traits/0": "default placement (1 instance)",
	}
	entries := func() []provEntry {
		var out []provEntry
		for k, v := range prov {
			out = append(out, provEntry{k, v})
		}
		return out
	}
	got := provenanceJSON(entries())
	var back map[string]string
	if err := json.Unmarshal([]byte(got), &back); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, got)
	}
	want := map[string]string{}
	for k, v := range prov {
		kk, _ := json.Marshal(k)
		var k2 string
		json.Unmarshal(kk, &k2) // invalid UTF-8 becomes U+FFFD, as json.Marshal writes it
		want[k2] = v
	}
	if !reflect.DeepEqual(back, want) {
		t.Errorf("round trip:\n got %q\nwant %q", back, want)
	}
	if provenanceJSON(entries()) != got {
		t.Error("not deterministic")
	}
	// A later record for the same part replaces an earlier one, as map
	// assignment did.
	dup := provenanceJSON([]provEntry{{"b", "1"}, {"a", "x"}, {"b", "2"}})
	if dup != `{"a":"x","b":"2"}` {
		t.Errorf("duplicate keys: %s", dup)
	}
}
