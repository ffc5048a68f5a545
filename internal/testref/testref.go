// Package testref locates the upstream reference data that tests read
// (../shared/reference beside the repository root). It never downloads
// anything: when the data is missing, tests fail with a message saying
// where it was looked for and how to point at it (WASMCANVAS_REFERENCE).
package testref

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// Dir returns the reference directory, or an error naming where it looked.
func Dir() (string, error) {
	if d := os.Getenv("WASMCANVAS_REFERENCE"); d != "" {
		if _, err := os.Stat(d); err != nil {
			return "", fmt.Errorf("WASMCANVAS_REFERENCE=%s: %w", d, err)
		}
		return d, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	d := filepath.Join(root, "..", "shared", "reference")
	if _, err := os.Stat(d); err != nil {
		return "", fmt.Errorf("reference data not found at %s (set WASMCANVAS_REFERENCE to its path): %w", d, err)
	}
	return d, nil
}

// RepoRoot returns the directory holding the project's go.mod.
func RepoRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("testref: cannot locate source file")
	}
	// internal/testref/testref.go -> repository root
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..")), nil
}

// TB is the part of testing.TB this package needs; it keeps the package free
// of a testing import so non-test helpers may use Dir too.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// MustDir returns the reference directory or fails the test.
func MustDir(t TB) string {
	t.Helper()
	d, err := Dir()
	if err != nil {
		t.Fatalf("%v", err)
	}
	return d
}

// Path joins elem onto the reference directory, failing the test if the
// result does not exist.
func Path(t TB, elem ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{MustDir(t)}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("reference file missing: %v", err)
	}
	return p
}
