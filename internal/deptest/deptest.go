// Package deptest keeps the pure core pure: it lists a package's
// dependencies with the go command and reports the ones a rule forbids,
// after Tailscale's tstest/deptest. Tests only.
package deptest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// Rule forbids dependencies: import paths with one of the prefixes in
// Forbidden (a prefix ending in "/" or matching a whole path), and, with
// NoCgo, any non-standard package built with cgo.
type Rule struct {
	Forbidden []string
	NoCgo     bool
}

type listed struct {
	ImportPath string
	Standard   bool
	CgoFiles   []string
	Deps       []string
}

// Violations lists what pkg (an import path or ./relative path, as the go
// command takes it) depends on against r, one line each, naming the
// forbidden package.
func Violations(dir, pkg string, r Rule) ([]string, error) {
	cmd := exec.Command("go", "list", "-deps", "-json", pkg)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -deps %s: %w: %s", pkg, err, stderr.String())
	}
	var bad []string
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list -deps %s: %w", pkg, err)
		}
		for _, f := range r.Forbidden {
			if p.ImportPath == f || strings.HasPrefix(p.ImportPath, strings.TrimSuffix(f, "/")+"/") {
				bad = append(bad, fmt.Sprintf("%s depends on %s (forbidden: %s)", pkg, p.ImportPath, f))
			}
		}
		if r.NoCgo && !p.Standard && len(p.CgoFiles) > 0 {
			bad = append(bad, fmt.Sprintf("%s depends on %s, which uses cgo", pkg, p.ImportPath))
		}
	}
	return bad, nil
}
