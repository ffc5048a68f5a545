package oda

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// FieldError is one problem in a Component, located by file, line and field
// path (dotted, with [i] for list items: spec.coreFunction.exposedAPIs[0].port).
// Line is 0 when unknown (values not read from a file). Fix says what to do.
type FieldError struct {
	File string `json:"file,omitzero"`
	Line int    `json:"line,omitzero"`
	Path string `json:"path,omitzero"`
	Msg  string `json:"msg"`
	Fix  string `json:"fix,omitzero"`
}

// Error formats the error as file:line: path: msg; fix: fix, leaving out the
// parts that are unknown.
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":")
			b.WriteString(strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Fix != "" {
		b.WriteString("; fix: ")
		b.WriteString(e.Fix)
	}
	return b.String()
}

// ErrorList is every problem found in one input. A nil or empty ErrorList
// means no problem; functions return it as error only when it is non-empty.
type ErrorList []FieldError

// Error joins the errors, one per line.
func (l ErrorList) Error() string {
	parts := make([]string, len(l))
	for i := range l {
		parts[i] = l[i].Error()
	}
	return strings.Join(parts, "\n")
}

// Unwrap exposes each FieldError to errors.As / errors.Is.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i := range l {
		errs[i] = &l[i]
	}
	return errs
}

// Err returns l as an error, or nil when l is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// sorted orders errors by line, then path, and drops exact duplicates (the
// same problem found by the schema and by the typed decode).
func (l ErrorList) sorted() ErrorList {
	lineKey := func(e FieldError) int {
		if e.Line == 0 {
			return int(^uint(0) >> 1) // unknown lines last
		}
		return e.Line
	}
	slices.SortStableFunc(l, func(a, b FieldError) int {
		return cmp.Or(cmp.Compare(lineKey(a), lineKey(b)), cmp.Compare(a.Path, b.Path), cmp.Compare(a.Msg, b.Msg))
	})
	return slices.CompactFunc(l, func(a, b FieldError) bool { return a == b })
}
