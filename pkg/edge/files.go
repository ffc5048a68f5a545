package edge

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// file is one file to write, relative to the directory it goes in.
type file struct {
	path string
	data []byte
	mode os.FileMode
}

// checkTarget refuses a directory that exists with something in it unless
// force is set: the check every writeTree caller makes before it signs
// anything.
func checkTarget(dir string, force bool) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("%s: %w", dir, err)
	case len(entries) > 0 && !force:
		return fmt.Errorf("%s exists and is not empty: pick another directory or give --force to replace it", dir)
	}
	return nil
}

// writeTree writes files into a new temporary directory beside dir and
// renames it to dir, so dir holds either all of them or what it held
// before. Directories holding a 0600 file (dir itself included) are made
// 0700. An existing dir is
// replaced only with force (empty ones always).
func writeTree(dir string, files []file, force bool) (err error) {
	if err := checkTarget(dir, force); err != nil {
		return err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("cannot write into %s: %w", parent, err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	rootMode := os.FileMode(0o755)
	for _, f := range files {
		if f.mode&0o077 == 0 && filepath.Dir(f.path) == "." {
			rootMode = 0o700
		}
	}
	if err := os.Chmod(tmp, rootMode); err != nil {
		return err
	}
	for _, f := range files {
		p := filepath.Join(tmp, f.path)
		dirMode := os.FileMode(0o755)
		if f.mode&0o077 == 0 {
			dirMode = 0o700
		}
		if err := os.MkdirAll(filepath.Dir(p), dirMode); err != nil {
			return err
		}
		if err := writeFileSync(p, f.data, f.mode); err != nil {
			return err
		}
	}
	var old string
	if _, statErr := os.Stat(dir); statErr == nil {
		// Move the old tree aside first: rename cannot replace a
		// non-empty directory.
		old = filepath.Join(parent, "."+filepath.Base(dir)+".old-"+filepath.Base(tmp))
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("replace %s: %w", dir, err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if old != "" {
			_ = os.Rename(old, dir)
		}
		return fmt.Errorf("move the new files into %s: %w", dir, err)
	}
	if old != "" {
		_ = os.RemoveAll(old)
	}
	return nil
}

// replaceFiles writes each file under dir to a temporary file and renames
// it over the old one. Each file is atomic; callers order them so that the
// last one (lattice.json) records what the others say.
func replaceFiles(dir string, files []file) error {
	for _, f := range files {
		p := filepath.Join(dir, f.path)
		tmp, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp-")
		if err != nil {
			return fmt.Errorf("cannot write %s: %w", p, err)
		}
		name := tmp.Name()
		_ = tmp.Close()
		if err := writeFileSync(name, f.data, f.mode); err != nil {
			_ = os.Remove(name)
			return err
		}
		if err := os.Rename(name, p); err != nil {
			_ = os.Remove(name)
			return fmt.Errorf("replace %s: %w", p, err)
		}
	}
	return nil
}

func writeFileSync(p string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
