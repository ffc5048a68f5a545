// Package usescgo is a pure package gone wrong: it uses cgo. The dependency
// test must refuse it.
package usescgo

// int one(void) { return 1; }
import "C"

// One is there to use the import.
func One() int { return int(C.one()) }
