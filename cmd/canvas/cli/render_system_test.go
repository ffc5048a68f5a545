package cli_test

import (
	"strings"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

// render --system prints translate's system application for the options
// given, in YAML and JSON, and refuses a Component file beside it.
func TestRenderSystem(t *testing.T) {
	t.Parallel()
	want, err := translate.SystemApplication(translate.SystemOptions{Name: "edge-system", BridgeImage: "file:///opt/canvas-bridge.par.gz", IngressAddress: "0.0.0.0:9000"})
	if err != nil {
		t.Fatal(err)
	}
	wantYAML, err := wadm.MarshalYAML(want)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"render", "--system", "--system-app", "edge-system", "--bridge-image", "file:///opt/canvas-bridge.par.gz", "--ingress-address", "0.0.0.0:9000"}
	code, out, errOut := run(t, "", args...)
	if code != 0 || out != string(wantYAML) {
		t.Errorf("render --system: exit %d, stderr %s\ngot:\n%s\nwant:\n%s", code, errOut, out, wantYAML)
	}
	code, out, errOut = run(t, "", append(args, "-o", "json")...)
	if code != 0 {
		t.Fatalf("-o json: exit %d: %s", code, errOut)
	}
	back, err := wadm.ParseManifest([]byte(out))
	if err != nil || back.Version() != want.Version() || back.Metadata.Annotations[wadm.AnnotationShared] != "true" {
		t.Errorf("-o json gives version %q shared %q (%v), want %s shared", back.Version(), back.Metadata.Annotations[wadm.AnnotationShared], err, want.Version())
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"render", "--system", "-f", "x.yaml"}, "drop -f"},
		{[]string{"render", "--system", "--ingress-address", "8080"}, `ingress address "8080"`},
	} {
		if code, _, errOut := run(t, "", tc.args...); code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
}
