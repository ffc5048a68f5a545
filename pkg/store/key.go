package store

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidKey matches every *KeyError.
var ErrInvalidKey = errors.New("invalid key")

const maxLabelLen = 63

// KeyError says which part of a key is invalid and why.
type KeyError struct {
	Field  string // "namespace", "name" or "key"
	Value  string
	Reason string
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("invalid %s %q: %s", e.Field, e.Value, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidKey) true.
func (e *KeyError) Is(target error) bool { return target == ErrInvalidKey }

// Key returns the KV key {namespace}.{name} after checking both are DNS-1123
// labels, as Kubernetes requires of namespaces; the dot between them can then
// never be ambiguous.
func Key(namespace, name string) (string, error) {
	if err := validateLabel("namespace", namespace); err != nil {
		return "", err
	}
	if err := validateLabel("name", name); err != nil {
		return "", err
	}
	return namespace + "." + name, nil
}

// ParseKey splits a KV key made by Key.
func ParseKey(key string) (namespace, name string, err error) {
	ns, n, ok := strings.Cut(key, ".")
	if !ok {
		return "", "", &KeyError{Field: "key", Value: key, Reason: "want {namespace}.{name}"}
	}
	if _, err := Key(ns, n); err != nil {
		return "", "", err
	}
	return ns, n, nil
}

func validateLabel(field, v string) error {
	const rule = "must be a DNS-1123 label: 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit"
	switch {
	case v == "":
		return &KeyError{Field: field, Value: v, Reason: "is empty; " + rule}
	case len(v) > maxLabelLen:
		return &KeyError{Field: field, Value: v, Reason: fmt.Sprintf("is %d characters long; %s", len(v), rule)}
	case v[0] == '-' || v[len(v)-1] == '-':
		return &KeyError{Field: field, Value: v, Reason: "starts or ends with '-'; " + rule}
	}
	for i, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return &KeyError{Field: field, Value: v, Reason: fmt.Sprintf("character %q at offset %d is not allowed; %s", r, i, rule)}
		}
	}
	return nil
}
