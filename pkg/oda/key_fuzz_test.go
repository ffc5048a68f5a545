package oda

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseKey: ParseKey accepts exactly the keys NewKey builds, and every
// rejection is an ErrInvalidKey.
func FuzzParseKey(f *testing.F) {
	for _, k := range []string{"default.cat", "a.b.c", "", ".", "ns.", ".n", "Ns.n", "n-s.x-1", "a*.>", "é.x"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		k, err := ParseKey(key)
		if err != nil {
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("ParseKey(%q) error %v is not ErrInvalidKey", key, err)
			}
			return
		}
		back, err := NewKey(k.Namespace, k.Name)
		if err != nil || back.String() != key {
			t.Fatalf("ParseKey(%q) = %+v but NewKey gives %q, %v", key, k, back, err)
		}
		if strings.ContainsAny(key, "*> \t") || strings.Count(key, ".") != 1 {
			t.Fatalf("ParseKey accepted %q, which is not a single-dot literal subject", key)
		}
	})
}
