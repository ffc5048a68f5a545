package oda

import (
	"errors"
	"strings"
	"testing"
)

func TestKey(t *testing.T) {
	t.Parallel()
	k, err := NewKey("ns-1", "c0")
	if err != nil || k.String() != "ns-1.c0" || k.Display() != "ns-1/c0" {
		t.Fatalf("NewKey = %+v (%q, %q), %v", k, k.String(), k.Display(), err)
	}
	if back, err := ParseKey("ns-1.c0"); err != nil || back != k {
		t.Errorf("ParseKey = %+v, %v", back, err)
	}
	c := &Component{Metadata: ObjectMeta{Name: "cat"}}
	if got := c.Key(); got != (Key{Namespace: DefaultNamespace, Name: "cat"}) {
		t.Errorf("Component.Key = %+v, want the default namespace", got)
	}
	for _, tt := range []struct{ key, field, want string }{
		{"nodot", "key", "want {namespace}.{name}"},
		{"Ns.x", "namespace", "character 'N' at offset 0"},
		{"ns.-x", "name", "starts or ends with '-'"},
		{"ns." + strings.Repeat("a", 64), "name", "64 characters long"},
		{".x", "namespace", "is empty"},
		{"a.b.c", "name", "character '.' at offset 1"},
	} {
		_, err := ParseKey(tt.key)
		var ke *KeyError
		if !errors.Is(err, ErrInvalidKey) || !errors.As(err, &ke) || ke.Field != tt.field || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseKey(%q) = %v, want a %s KeyError saying %q", tt.key, err, tt.field, tt.want)
		}
	}
}
