package artefact_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/artefact"
)

// secret is a file's content no message may quote.
const secret = "db-password=hunter2-7f3a9c\n"

// echoWasm is a real component binary (pkg/runtime keeps it equal to its
// WAT text).
var echoWasm, _ = filepath.Abs("../runtime/testdata/echo-http.wasm")

func write(t *testing.T, path string, b []byte) string {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// readFile is r.ReadFile bounded in time: a FIFO must be refused, not
// waited on.
func readFile(t *testing.T, r *artefact.Roots, path string) (*artefact.Wasm, error) {
	t.Helper()
	type result struct {
		w   *artefact.Wasm
		err error
	}
	done := make(chan result, 1)
	go func() {
		w, err := r.ReadFile(path)
		done <- result{w, err}
	}()
	select {
	case res := <-done:
		return res.w, res.err
	case <-time.After(10 * time.Second):
		t.Fatalf("ReadFile(%s) blocked", path)
		return nil, nil
	}
}

// quotes reports the first line of content that msg contains.
func quotes(msg string, content []byte) (string, bool) {
	for _, line := range strings.Split(string(content), "\n") {
		if len(strings.TrimSpace(line)) >= 4 && strings.Contains(msg, line) {
			return line, true
		}
	}
	return "", false
}

func TestReadFile(t *testing.T) {
	t.Parallel()
	rootDir, elsewhere := t.TempDir(), t.TempDir()
	wasm, err := os.ReadFile(echoWasm)
	if err != nil {
		t.Fatal(err)
	}
	good := write(t, filepath.Join(rootDir, "echo.wasm"), wasm)
	if err := os.Mkdir(filepath.Join(rootDir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(good, filepath.Join(rootDir, "sub", "link.wasm")); err != nil {
		t.Fatal(err)
	}
	outsideSecret := write(t, filepath.Join(elsewhere, "secret.wasm"), []byte(secret))
	if err := os.Symlink(outsideSecret, filepath.Join(rootDir, "escape.wasm")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(rootDir, "passwd.wasm")); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(rootDir, "secret.wasm"), []byte(secret))
	watText, err := os.ReadFile("../runtime/testdata/echo-http.wat")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(rootDir, "echo.wat"), watText)
	write(t, filepath.Join(rootDir, "module.wasm"), []byte("\x00asm\x01\x00\x00\x00"+secret))
	write(t, filepath.Join(rootDir, "future.wasm"), []byte("\x00asm\x0e\x00\x01\x00"+secret))
	write(t, filepath.Join(rootDir, "short.wasm"), []byte("\x00as"))
	if err := syscall.Mkfifo(filepath.Join(rootDir, "fifo.wasm"), 0o644); err != nil {
		t.Fatal(err)
	}
	huge, err := os.Create(filepath.Join(rootDir, "huge.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if err := huge.Truncate(artefact.MaxSize + 1); err != nil { // sparse: costs no disk
		t.Fatal(err)
	}
	huge.Close()

	roots, err := artefact.NewRoots(rootDir)
	if err != nil {
		t.Fatal(err)
	}
	withDev, err := artefact.NewRoots(rootDir, "/dev")
	if err != nil {
		t.Fatal(err)
	}
	passwd, _ := os.ReadFile("/etc/passwd")
	tests := []struct {
		name  string
		roots *artefact.Roots
		path  string
		want  string // in the error; "" means it reads
	}{
		{"component", roots, good, ""},
		{"symlink inside the root", roots, filepath.Join(rootDir, "sub", "link.wasm"), ""},
		{"/etc/passwd", roots, "/etc/passwd", "is outside the artefact roots"},
		{"dot-dot out of the root", roots, rootDir + "/../" + filepath.Base(elsewhere) + "/secret.wasm", "is outside the artefact roots"},
		{"symlink out of the root", roots, filepath.Join(rootDir, "escape.wasm"), "resolves to " + outsideSecret + ", outside the artefact roots"},
		{"symlink to /etc/passwd", roots, filepath.Join(rootDir, "passwd.wasm"), "resolves to /etc/passwd, outside"},
		{"/dev/zero", roots, "/dev/zero", "is outside the artefact roots"},
		{"/dev/zero under a root", withDev, "/dev/zero", "is a device, not a regular file"},
		{"directory", roots, filepath.Join(rootDir, "sub"), "is a directory, not a regular file"},
		{"the root itself", roots, rootDir, "is a directory"},
		{"fifo", roots, filepath.Join(rootDir, "fifo.wasm"), "is a named pipe (FIFO), not a regular file"},
		{"text with a secret", roots, filepath.Join(rootDir, "secret.wasm"), `does not start with the \0asm header`},
		{"WAT text", roots, filepath.Join(rootDir, "echo.wat"), `does not start with the \0asm header`},
		{"core module", roots, filepath.Join(rootDir, "module.wasm"), "is a core WebAssembly module"},
		{"other component version", roots, filepath.Join(rootDir, "future.wasm"), "component version 14; this canvas runs version 13"},
		{"shorter than the header", roots, filepath.Join(rootDir, "short.wasm"), "(3 bytes) is not a WebAssembly component"},
		{"larger than the limit", roots, filepath.Join(rootDir, "huge.wasm"), "more than the 536870912-byte limit"},
		{"missing", roots, filepath.Join(rootDir, "nope.wasm"), "does not exist"},
		{"relative", roots, "echo.wasm", "is not an absolute path"},
		{"no roots", &artefact.Roots{}, good, "reads no file:// artefacts"},
	}
	for _, tc := range tests {
		w, err := readFile(t, tc.roots, tc.path)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			} else if !bytes.Equal(w.Bytes, wasm) || w.SHA256 != sha256.Sum256(wasm) {
				t.Errorf("%s: read %d bytes, digest %s; want the file's", tc.name, len(w.Bytes), w.Digest())
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to say %q", tc.name, err, tc.want)
			continue
		}
		for _, content := range [][]byte{[]byte(secret), passwd, watText} {
			if line, ok := quotes(err.Error(), content); ok {
				t.Errorf("%s: error quotes file content %q: %v", tc.name, line, err)
			}
		}
	}
}

func TestNewRootsRefusesWhatIsNoDirectory(t *testing.T) {
	t.Parallel()
	file := write(t, filepath.Join(t.TempDir(), "f"), nil)
	for _, dir := range []string{file, filepath.Join(t.TempDir(), "missing")} {
		if _, err := artefact.NewRoots(dir); err == nil || !strings.Contains(err.Error(), "artefact root") {
			t.Errorf("NewRoots(%s): %v, want an error naming the artefact root", dir, err)
		}
	}
}

func TestReadRefusesAReaderOfAnotherSize(t *testing.T) {
	t.Parallel()
	wasm, err := os.ReadFile(echoWasm)
	if err != nil {
		t.Fatal(err)
	}
	n := int64(len(wasm))
	for _, tc := range []struct {
		name string
		size int64
		want string
	}{
		{"grew", n - 1, "grew past"},
		{"shrank", n + 1, "ended before"},
	} {
		if _, err := artefact.Read("x.wasm", bytes.NewReader(wasm), tc.size); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestCompileFailureQuotesOnlyTheOffset(t *testing.T) {
	t.Parallel()
	w, err := artefact.Read("/a/x.wasm", bytes.NewReader([]byte("\x00asm\x0d\x00\x01\x00"+secret)), int64(8+len(secret)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		compiler, want string
	}{
		{"failed to parse: unexpected byte " + secret + " (at offset 0x10)", "wasmtime refused it at byte offset 0x10;"},
		{secret + " (at offset 0xffffff)", "wasmtime refused it;"}, // past the end: not an offset of these bytes
		{secret, "wasmtime refused it;"},
	}
	for _, tc := range tests {
		got := w.CompileFailure(errors.New(tc.compiler)).Error()
		if !strings.Contains(got, tc.want) || !strings.Contains(got, w.Digest()) || !strings.Contains(got, "(35 bytes,") {
			t.Errorf("CompileFailure(%q) = %q, want %q, the size and the digest", tc.compiler, got, tc.want)
		}
		if line, ok := quotes(got, []byte(secret)); ok {
			t.Errorf("CompileFailure quotes %q: %s", line, got)
		}
	}
}
