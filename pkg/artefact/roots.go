package artefact

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Roots are the directories file:// artefacts may be read from. It is
// server-side configuration (canvas up --artefact-root): nothing a client
// sends widens it.
//
// # Notes
//
//   - Safe for concurrent use; it holds no open files.
type Roots struct {
	dirs []root
}

type root struct {
	given    string // absolute, as configured
	resolved string // its symlinks resolved
}

// NewRoots checks that each dir exists and is a directory. No dirs means
// no file is read.
func NewRoots(dirs ...string) (*Roots, error) {
	r := &Roots{}
	for _, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, fmt.Errorf("artefact root %q: %w", d, err)
		}
		resolved, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return nil, fmt.Errorf("artefact root %q: %w (give an existing directory)", d, err)
		}
		fi, err := os.Stat(resolved)
		if err != nil {
			return nil, fmt.Errorf("artefact root %q: %w", d, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("artefact root %q is not a directory (give the directory that holds the artefacts)", d)
		}
		r.dirs = append(r.dirs, root{given: abs, resolved: resolved})
	}
	return r, nil
}

// Dirs lists the roots, symlinks resolved, for logs.
func (r *Roots) Dirs() []string {
	out := make([]string, len(r.dirs))
	for i, d := range r.dirs {
		out[i] = d.resolved
	}
	return out
}

// ReadFile reads the artefact at path, an absolute path (of a file://
// URL). It must be a regular file inside a root once its symlinks are
// resolved; FIFOs, devices, sockets and directories are refused before
// any read, and its size is checked on the open file before Read takes
// it.
func (r *Roots) ReadFile(path string) (*Wasm, error) {
	if len(r.dirs) == 0 {
		return nil, fmt.Errorf("artefact %s: this canvas reads no file:// artefacts (it has no artefact roots; start it with --artefact-root DIR)", path)
	}
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("artefact %q is not an absolute path (name it file:///abs/path.wasm; the canvas CLI makes relative paths absolute)", path)
	}
	path = filepath.Clean(path)
	// Nothing outside the roots is looked at, not even whether it exists.
	if _, ok := r.within(path, false); !ok {
		return nil, r.outside(path, "")
	}
	resolved, err := filepath.EvalSymlinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("artefact %s does not exist (build it, or correct the file:// path): %w", path, ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("artefact %s: %w", path, err)
	}
	dir, ok := r.within(resolved, true)
	if !ok {
		return nil, r.outside(path, resolved)
	}
	rel, err := filepath.Rel(dir, resolved)
	if err != nil {
		return nil, fmt.Errorf("artefact %s: %w", path, err)
	}
	return readIn(dir, rel, path)
}

// readIn reads rel inside dir through os.Root, which refuses a path that
// escapes dir even if a symlink is swapped in after EvalSymlinks.
func readIn(dir, rel, source string) (*Wasm, error) {
	rt, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("artefact %s: %w", source, err)
	}
	defer rt.Close()
	f, fi, err := OpenRegular(rt, rel)
	var nr *NotRegularError
	switch {
	case errors.As(err, &nr):
		kind := nr.Kind
		if kind == kindSymlink {
			kind += " that changed while it was resolved" // Resolve followed the links before
		}
		return nil, fmt.Errorf("artefact %s is %s, not a regular file (name the .wasm component file itself)", source, kind)
	case err != nil:
		return nil, fmt.Errorf("artefact %s: %w", source, err)
	}
	defer f.Close()
	return Read(source, f, fi.Size())
}

// OpenRegular opens rel inside rt for reading when it is a regular file:
// anything else (a symbolic link, a directory, a FIFO, a device, a
// socket) is a *NotRegularError, found before it is opened, since opening
// a device may do something by itself, and again after, should one have
// been swapped in meanwhile.
func OpenRegular(rt *os.Root, rel string) (*os.File, fs.FileInfo, error) {
	fi, err := rt.Lstat(rel)
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, &NotRegularError{Kind: FileKind(fi.Mode())}
	}
	// O_NONBLOCK: should a FIFO be swapped in meanwhile, opening it must
	// not wait for a writer; fstat below refuses it.
	f, err := rt.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = &NotRegularError{Kind: FileKind(fi.Mode())}
		}
		return nil, nil, err
	}
	return f, fi, nil
}

// NotRegularError is OpenRegular's refusal: Kind says what the file is.
type NotRegularError struct{ Kind string }

func (e *NotRegularError) Error() string { return "is " + e.Kind + ", not a regular file" }

const kindSymlink = "a symbolic link"

// FileKind names what a file of mode m is, for errors ("a directory",
// "a named pipe (FIFO)", …).
func FileKind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeSymlink != 0:
		return kindSymlink
	}
	return "a special file"
}

// within returns the root (resolved) that holds p. Before p's symlinks
// are resolved a root matches in either form.
func (r *Roots) within(p string, resolved bool) (string, bool) {
	for _, d := range r.dirs {
		if inside(p, d.resolved) || (!resolved && inside(p, d.given)) {
			return d.resolved, true
		}
	}
	return "", false
}

func inside(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, string(filepath.Separator))+string(filepath.Separator))
}

// outside says that path is not in a root without listing the roots: the
// message reaches API clients, the roots are the server's business (its
// log names them).
func (r *Roots) outside(path, resolved string) error {
	fix := "move it under an artefact root, or add its directory to the canvas's --artefact-root"
	if resolved != "" && resolved != path {
		return fmt.Errorf("artefact %s resolves to %s, outside the artefact roots (%s)", path, resolved, fix)
	}
	return fmt.Errorf("artefact %s is outside the artefact roots (%s)", path, fix)
}

// ErrNotExist is wrapped by ReadFile's error when the artefact's file does
// not exist inside its root (a caller may add how to build it).
var ErrNotExist = errors.New("no such artefact")
