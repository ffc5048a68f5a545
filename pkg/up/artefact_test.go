package up_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/pkg/client"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/up"
)

// TestArtefactRoots drives canvas up as a hostile API client would:
// with the default roots (the working directory and the state directory)
// a component in the state directory serves, while /etc/passwd, /dev/zero
// and a file of secrets end Failed with a reason that neither the status
// nor the events (what `canvas describe` prints) quote a line of. (The
// local deployer's tests show that /dev/zero is not read.)
func TestArtefactRoots(t *testing.T) {
	state := t.TempDir()
	c := startWith(t, up.Options{StateDir: state})
	cl, err := client.NewHTTP(c.Info().API, admin(t, c.Info().StateDir))
	if err != nil {
		t.Fatal(err)
	}
	wasm, err := os.ReadFile(echoWasm)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "db-password=hunter2-7f3a9c\n"
	inState := filepath.Join(state, "echo.wasm")
	secretInState := filepath.Join(state, "secret.wasm")
	elsewhere := filepath.Join(t.TempDir(), "echo.wasm")
	for path, b := range map[string][]byte{inState: wasm, secretInState: []byte(secret), elsewhere: wasm} {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	applyAndWait(t, cl, oda.DefaultNamespace, "served", componentFrom("served", "/served", inState), oda.DeploymentComplete)

	passwd, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"passwd", "/etc/passwd", "artefact /etc/passwd is outside the artefact roots"},
		{"zero", "/dev/zero", "artefact /dev/zero is outside the artefact roots"},
		{"secret", secretInState, `does not start with the \0asm header`},
		{"elsewhere", elsewhere, "is outside the artefact roots"},
	}
	for _, tc := range tests {
		st := applyAndWait(t, cl, oda.DefaultNamespace, tc.name, componentFrom(tc.name, "/"+tc.name, tc.path), oda.DeploymentFailed)
		if reason := st.Summary.FailureReason; !strings.Contains(reason, tc.want) {
			t.Errorf("%s: failureReason %q, want it to say %q", tc.name, reason, tc.want)
		}
		events, err := cl.Events(context.Background(), oda.DefaultNamespace, tc.name)
		if err != nil {
			t.Fatal(err)
		}
		var shown bytes.Buffer
		enc := json.NewEncoder(&shown)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(st); err != nil {
			t.Fatal(err)
		}
		if err := enc.Encode(events); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(shown.String(), "artefact") {
			t.Fatalf("%s: neither status nor events say why:\n%s", tc.name, shown.String())
		}
		for _, content := range [][]byte{[]byte(secret), passwd} {
			for line := range bytes.SplitSeq(content, []byte("\n")) {
				if len(bytes.TrimSpace(line)) >= 4 && bytes.Contains(shown.Bytes(), line) {
					t.Errorf("%s: status or events quote %q:\n%s", tc.name, line, shown.String())
				}
			}
		}
	}
}
