package up

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/wasmcanvas/wasmcanvas/pkg/daemon"
)

// registryDir lists the state directories of the canvases running for this
// user, one file per process (named by pid, holding the state directory),
// so that a port clash or `canvas down` can name a canvas that runs on
// another state directory. $XDG_RUNTIME_DIR is the place for such files
// (removed at logout); without it, a per-user directory in os.TempDir.
func registryDir() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "wasmcanvas", "canvases")
	}
	return filepath.Join(os.TempDir(), "wasmcanvas-"+strconv.Itoa(os.Getuid()), "canvases")
}

// register records this process's canvas; unregister removes it. Failing
// to record is not fatal: the canvas only becomes harder to name.
func register(stateDir string) (unregister func()) {
	dir := registryDir()
	path := filepath.Join(dir, strconv.Itoa(os.Getpid()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return func() {}
	}
	if err := os.WriteFile(path, []byte(stateDir), 0o600); err != nil {
		return func() {}
	}
	return func() { os.Remove(path) }
}

// Known lists the canvases running for this user: those recorded by a
// running canvas up, and the one on the default state directory. Records
// of canvases that are gone are removed.
func Known() []Info {
	var dirs []string
	if d, err := daemon.DefaultStateDir(); err == nil {
		dirs = append(dirs, d)
	}
	entries, _ := os.ReadDir(registryDir())
	for _, e := range entries {
		path := filepath.Join(registryDir(), e.Name())
		data, err := os.ReadFile(path)
		pid, perr := strconv.Atoi(e.Name())
		if err != nil || perr != nil {
			continue
		}
		if info, ok := Running(string(data)); !ok || info.PID != pid {
			os.Remove(path) // that canvas stopped (or crashed)
			continue
		}
		dirs = append(dirs, string(data))
	}
	var out []Info
	for _, d := range dirs {
		if info, ok := Running(d); ok && !slices.ContainsFunc(out, func(i Info) bool { return i.StateDir == info.StateDir }) {
			out = append(out, info)
		}
	}
	return out
}
