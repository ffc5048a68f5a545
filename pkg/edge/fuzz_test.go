package edge_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/edge"
)

// FuzzOpen: whatever lattice.json holds, Open either refuses it or gives
// a lattice whose site records are what bootstrap would have written:
// valid, distinct names, and directories that are absolute, clean and
// outside the lattice directory but for its sites/.
func FuzzOpen(f *testing.F) {
	l, dir, _ := newLattice(f)
	if _, err := l.Bootstrap(edge.SiteOptions{Name: "a", Hub: "nats://hub:7422", Labels: map[string]string{"zone": "z1"}}); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(dir, edge.StateFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(strings.Replace(string(good), filepath.Join(dir, "sites", "a"), dir, 1)))
	f.Add([]byte(`{"sites":[{"name":"a"},{"name":"a"}]}`))
	sites := filepath.Join(dir, "sites") + string(filepath.Separator)
	f.Fuzz(func(t *testing.T, state []byte) {
		if err := os.WriteFile(filepath.Join(dir, edge.StateFile), state, 0o644); err != nil {
			t.Fatal(err)
		}
		l, err := edge.Open(dir, time.Now())
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, s := range l.State().Sites {
			if edge.ValidateSiteName(s.Name) != nil || seen[s.Name] {
				t.Fatalf("Open took site name %q (seen before: %v)", s.Name, seen[s.Name])
			}
			seen[s.Name] = true
			if !filepath.IsAbs(s.Dir) || filepath.Clean(s.Dir) != s.Dir || below(dir, s.Dir) || below(s.Dir, dir) && !strings.HasPrefix(s.Dir, sites) {
				t.Fatalf("Open took site %s's directory %q in lattice directory %s", s.Name, s.Dir, dir)
			}
		}
	})
}

// below reports whether p is dir or inside it.
func below(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, string(filepath.Separator))+string(filepath.Separator))
}
