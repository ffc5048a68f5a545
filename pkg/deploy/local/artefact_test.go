package local_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/pkg/deploy"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

// secret is the content of a file an API client must not learn.
const secret = "db-password=hunter2-7f3a9c\napi-key=sk-live-0d1e2f\n"

// rss is this process's resident set size in bytes (VmRSS).
func rss(t *testing.T) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// messages is every text a failed deploy shows: its message and each
// scaler's, as status, events and `canvas describe` carry them.
func messages(st deploy.AppStatus) string {
	var b strings.Builder
	b.WriteString(st.Message)
	for _, sc := range st.Scalers {
		b.WriteString("\n" + sc.Info.Message)
	}
	return b.String()
}

// quoted returns a line of content that text contains.
func quoted(text string, content []byte) (string, bool) {
	for line := range bytes.SplitSeq(content, []byte("\n")) {
		if len(bytes.TrimSpace(line)) >= 4 && strings.Contains(text, string(line)) {
			return string(line), true
		}
	}
	return "", false
}

// TestHostileArtefactsFailWithoutBeingRead applies what a hostile API
// client could name as a Component's artefact. Each deploy ends Failed
// with a reason that quotes none of the file's bytes, and /dev/zero is
// never read (the process does not grow).
func TestHostileArtefactsFailWithoutBeingRead(t *testing.T) {
	// /dev is a root here so that /dev/zero is refused for what it is (a
	// device), not only for where it is.
	e := newEnvWith(t, nil, "/dev")
	events, err := e.d.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := t.TempDir()
	outsideSecret := filepath.Join(elsewhere, "secret.wasm")
	for path, content := range map[string]string{
		outsideSecret:                         secret,
		filepath.Join(e.dir, "secret.wasm"):   secret,
		filepath.Join(e.dir, "compiles.wasm"): "\x00asm\x0d\x00\x01\x00" + secret,
	} {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outsideSecret, filepath.Join(e.dir, "escape.wasm")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(e.dir, "fifo.wasm"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(e.dir, "dir.wasm"), 0o755); err != nil {
		t.Fatal(err)
	}
	passwd, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, path, want string
	}{
		{"/etc/passwd", "/etc/passwd", "artefact /etc/passwd is outside the artefact roots"},
		{"/dev/zero", "/dev/zero", "artefact /dev/zero is a device, not a regular file"},
		{"directory", filepath.Join(e.dir, "dir.wasm"), "dir.wasm is a directory, not a regular file"},
		{"symlink out of a root", filepath.Join(e.dir, "escape.wasm"), "escape.wasm resolves to " + outsideSecret + ", outside the artefact roots"},
		{"fifo", filepath.Join(e.dir, "fifo.wasm"), "fifo.wasm is a named pipe (FIFO), not a regular file"},
		{"secret text in a root", filepath.Join(e.dir, "secret.wasm"), `is not a WebAssembly component: it does not start with the \0asm header`},
		{"secret behind a component header", filepath.Join(e.dir, "compiles.wasm"), "is not a valid Wasm component (58 bytes, sha256:"},
	}
	for i, tc := range tests {
		var before int64
		if tc.name == "/dev/zero" {
			before = rss(t)
		}
		m := manifest(t, "hostile-"+strconv.Itoa(i), "/hostile/"+strconv.Itoa(i), "file://"+tc.path)
		e.apply(t, m)
		st := e.waitStatus(t, m.Metadata.Name, wadm.StatusFailed)
		text := messages(st)
		if !strings.Contains(st.Message, tc.want) {
			t.Errorf("%s: status message %q, want it to say %q", tc.name, st.Message, tc.want)
		}
		if before != 0 {
			if grew := rss(t) - before; grew > 50<<20 {
				t.Errorf("%s: RSS grew by %d MiB (it was read)", tc.name, grew>>20)
			}
		}
		for len(events) > 0 {
			ev := <-events
			text += "\n" + messages(ev.Status)
		}
		for _, content := range [][]byte{[]byte(secret), passwd} {
			if line, ok := quoted(text, content); ok {
				t.Errorf("%s: status or events quote %q:\n%s", tc.name, line, text)
			}
		}
	}
}
