package edge

import (
	"os"
	"path/filepath"
	"sync"
)

// SiteWatch serves the sites of a lattice directory to a long-running
// process (canvasd --lattice-dir): Sites stats lattice.json and reads it
// again only when it changed, so a site bootstrapped or revoked after the
// process started counts on its next call without a restart. Only the
// public record is read, never a key. It is safe for concurrent use.
type SiteWatch struct {
	path string

	mu    sync.Mutex
	info  os.FileInfo // of the lattice.json sites was read from
	sites []string
}

// WatchSites reads the sites of the lattice directory dir once, failing
// when dir is not one, and returns the watch that keeps them current.
func WatchSites(dir string) (*SiteWatch, error) {
	w := &SiteWatch{path: filepath.Join(dir, StateFile)}
	if _, err := w.Sites(); err != nil {
		return nil, err
	}
	return w, nil
}

// Sites lists the sites that are not revoked, as lattice.json says now.
// Bootstrap and Revoke replace lattice.json by renaming a new file over it,
// so a change shows as another file, another size or modification time.
func (w *SiteWatch) Sites() ([]string, error) {
	fi, err := os.Stat(w.path)
	if err != nil {
		_, err = ReadState(filepath.Dir(w.path)) // its error says what to do
		return nil, err
	}
	w.mu.Lock()
	if w.info != nil && sameVersion(w.info, fi) {
		sites := w.sites
		w.mu.Unlock()
		return sites, nil
	}
	w.mu.Unlock()
	st, err := ReadState(filepath.Dir(w.path))
	if err != nil {
		return nil, err
	}
	sites := st.SiteNames()
	w.mu.Lock()
	w.info, w.sites = fi, sites
	w.mu.Unlock()
	return sites, nil
}

func sameVersion(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}
