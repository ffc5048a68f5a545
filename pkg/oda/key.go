package oda

import (
	"errors"
	"fmt"
	"strings"
)

// Key identifies a Component in the canvas: its namespace and name. Its
// string form {namespace}.{name} keys the Component in the canvas's stores,
// events and queues; the dot can never be ambiguous because both parts are
// DNS-1123 labels. Build one with NewKey, ParseKey or Component.Key, never
// by joining strings.
type Key struct {
	Namespace string
	Name      string
}

// NewKey returns the key of namespace and name after checking both are
// DNS-1123 labels, as Kubernetes requires of namespaces and names.
func NewKey(namespace, name string) (Key, error) {
	k := Key{Namespace: namespace, Name: name}
	return k, k.Validate()
}

// ParseKey reads the string form of a Key.
func ParseKey(s string) (Key, error) {
	ns, n, ok := strings.Cut(s, ".")
	if !ok {
		return Key{}, &KeyError{Field: "key", Value: s, Reason: "want {namespace}.{name}"}
	}
	return NewKey(ns, n)
}

// Validate checks both parts; the error is a *KeyError.
func (k Key) Validate() error {
	if err := CheckDNSLabel(k.Namespace); err != nil {
		return &KeyError{Field: "namespace", Value: k.Namespace, Reason: err.Error()}
	}
	if err := CheckDNSLabel(k.Name); err != nil {
		return &KeyError{Field: "name", Value: k.Name, Reason: err.Error()}
	}
	return nil
}

// String is {namespace}.{name}.
func (k Key) String() string { return k.Namespace + "." + k.Name }

// Display is namespace/name, as messages for people show a Component.
func (k Key) Display() string { return k.Namespace + "/" + k.Name }

// ErrInvalidKey matches every *KeyError.
var ErrInvalidKey = errors.New("invalid key")

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

const maxLabelLen = 63

// dnsLabelRule is what CheckDNSLabel asks for, in the words its errors use.
const dnsLabelRule = "must be a DNS-1123 label: 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit"

// CheckDNSLabel is the one DNS-1123 label rule of the canvas: 1-63
// lower-case ASCII letters, digits or '-', starting and ending with a letter
// or digit. Component names, namespaces and API names all pass through it.
func CheckDNSLabel(v string) error {
	switch {
	case v == "":
		return errors.New("is empty; " + dnsLabelRule)
	case len(v) > maxLabelLen:
		return fmt.Errorf("is %d characters long; %s", len(v), dnsLabelRule)
	case v[0] == '-' || v[len(v)-1] == '-':
		return errors.New("starts or ends with '-'; " + dnsLabelRule)
	}
	for i, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return fmt.Errorf("character %q at offset %d is not allowed; %s", r, i, dnsLabelRule)
		}
	}
	return nil
}
