package edge_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/pkg/edge"
)

// A SiteWatch sees sites bootstrapped and revoked after it was made, and
// reads nothing again while lattice.json is unchanged.
func TestSiteWatchFollowsBootstrapAndRevoke(t *testing.T) {
	t.Parallel()
	l, dir, _ := newLattice(t)
	w, err := edge.WatchSites(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := func(step string, names ...string) {
		t.Helper()
		got, err := w.Sites()
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if !slices.Equal(got, names) {
			t.Fatalf("%s: sites %q, want %q", step, got, names)
		}
	}
	want("fresh lattice")
	for _, name := range []string{"a", "b"} {
		if _, err := l.Bootstrap(edge.SiteOptions{Name: name, Hub: "nats://hub:7422"}); err != nil {
			t.Fatal(err)
		}
	}
	want("after bootstrap", "a", "b")
	if _, err := l.Revoke("a"); err != nil {
		t.Fatal(err)
	}
	want("after revoke", "b")

	// A file that looks unchanged (same file, size and time) is not read
	// again: garbage written in place goes unnoticed; another file renamed
	// over it, even with the same time, is read.
	state := filepath.Join(dir, edge.StateFile)
	fi, err := os.Stat(state)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	garbage := []byte("{" + strings.Repeat(" ", len(raw)-1))
	f, err := os.OpenFile(state, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(garbage, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(state, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	want("unchanged stat", "b")
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, garbage, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(bad, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(bad, state); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Sites(); err == nil || !strings.Contains(err.Error(), edge.StateFile) {
		t.Fatalf("replaced by broken JSON: err %v, want one naming %s", err, edge.StateFile)
	}
}

func TestWatchSitesNotALatticeDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := edge.WatchSites(dir)
	if err == nil || !strings.Contains(err.Error(), "canvas lattice init --out "+dir) {
		t.Fatalf("err %v, want one telling to run canvas lattice init", err)
	}
}
