package bridge

import "testing"

func TestOnTargetDeleted(t *testing.T) {
	t.Parallel()
	ls := newLinks("prov")
	var got []string
	ls.OnTargetDeleted(func(id string, l Link) { got = append(got, id+"/"+l.Definition.Name) })
	in := LinkDefinition{SourceID: "caller", Target: "prov", Name: "default"}
	out := LinkDefinition{SourceID: "prov", Target: "callee", Name: "default"}
	ls.put(Link{Definition: in})
	ls.put(Link{Definition: out})
	ls.del(out)                                                // the provider's own link: not a caller's
	ls.del(LinkDefinition{SourceID: "nobody", Target: "prov"}) // no such link
	ls.del(in)
	if len(got) != 1 || got[0] != "caller/default" {
		t.Fatalf("OnTargetDeleted calls %q, want one for caller", got)
	}
}
