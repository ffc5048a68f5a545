package cli_test

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/wasmcanvas/wasmcanvas/cmd/canvas/cli"
	"github.com/wasmcanvas/wasmcanvas/internal/testref"
)

// run executes the CLI in-process and returns exit code, stdout, stderr.
func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func example(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(testref.Path(t, "oda", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

const implsYAML = `ctk-prodcatapi: ghcr.io/wasmcanvas/examples/productcatalog:0.1.0
ctk-productcatalogmanagement-sm: file://build/metrics.wasm
ctk-permissionspecapi: ghcr.io/wasmcanvas/examples/permissionspec:0.1.0
ctk-partyroleapi: ghcr.io/wasmcanvas/examples/partyrole:0.1.0
ctk-promgmtapi: ghcr.io/wasmcanvas/examples/promotion:0.1.0
static-prodcatapi: ghcr.io/wasmcanvas/examples/productcatalog:0.1.0
static-productcatalogmanagement-sm: ghcr.io/wasmcanvas/examples/metrics:0.1.0
`

func TestValidateAndRenderUpstreamExamples(t *testing.T) {
	dir := testref.Path(t, "oda", "examples")
	code, out, errOut := run(t, "", "validate", "-f", dir)
	if code != 0 {
		t.Fatalf("validate exit %d\n%s%s", code, out, errOut)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if got := strings.Count(out, ": valid ("); got != len(files) {
		t.Errorf("%d files reported valid, want %d:\n%s", got, len(files), out)
	}
	tmp := t.TempDir()
	impls := writeFile(t, tmp, "impls.yaml", []byte(implsYAML))
	for _, f := range files {
		code, out, errOut := run(t, "", "render", "-f", f, "--implementations", impls)
		if code != 0 {
			t.Errorf("render %s: exit %d: %s", filepath.Base(f), code, errOut)
			continue
		}
		if !strings.Contains(out, "apiVersion: core.oam.dev/v1beta1") {
			t.Errorf("render %s: no manifest:\n%s", filepath.Base(f), out)
		}
		if strings.Contains(out, "metrics.wasm") && !strings.Contains(out, "file://"+filepath.Join(tmp, "build", "metrics.wasm")) {
			t.Errorf("relative file:// path not resolved against the implementations file:\n%s", out)
		}
	}
}

func TestRenderJSON(t *testing.T) {
	tmp := t.TempDir()
	impls := writeFile(t, tmp, "impls.yaml", []byte(implsYAML))
	code, out, errOut := run(t, string(example(t, "productcatalog-v1.component.yaml")), "render", "-f", "-", "--implementations", impls, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if m["kind"] != "Application" {
		t.Errorf("kind = %v", m["kind"])
	}
}

// TestBadInput: each bad input gives its own path-named error and exit 1,
// and nothing panics.
func TestBadInput(t *testing.T) {
	good := example(t, "productcatalog-v1.component.yaml")
	replace := func(old, new string) []byte {
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("example lacks %q", old)
		}
		return bytes.Replace(good, []byte(old), []byte(new), 1)
	}
	start := bytes.Index(good, []byte("  managementFunction:"))
	end := bytes.Index(good, []byte("  securityFunction:"))
	mf := append(append(append([]byte{}, good[:start]...), []byte("  managementFunction: []\n")...), good[end:]...)
	huge := append(bytes.Repeat([]byte("# padding padding padding\n"), 5<<20/26+1), good...)
	tests := []struct {
		name string
		data []byte
		cmd  []string
		want string
	}{
		{"malformed YAML", []byte("apiVersion: oda.tmforum.org/v1\nkind: Component\nmetadata:\n  name: [x\n"), nil, "bad.yaml:"},
		{"wrong kind", replace("kind: Component", "kind: Deployment"), nil, "bad.yaml:5: kind"},
		{"wrong apiVersion", replace("apiVersion: oda.tmforum.org/v1", "apiVersion: oda.tmforum.org/v9"), nil, "bad.yaml:4: apiVersion"},
		{"unknown field", replace("    functionalBlock: CoreCommerce", "    functionalBlock: CoreCommerce\n    colour: blue"), nil, "spec.componentMetadata.colour"},
		{"wrong type", replace("port: 8080", "port: eighty"), nil, "spec.coreFunction.exposedAPIs[0].port"},
		{"duplicate API name", replace("    - name: userrolesandpermissions", "    - name: metrics"), nil, "exposedAPIs[0].name"},
		{"path without slash", replace("path: /ctk-productcatalogmanagement/tmf-api", "path: ctk-productcatalogmanagement/tmf-api"), nil, `spec.coreFunction.exposedAPIs[0].path`},
		{"managementFunction: []", mf, nil, "spec.managementFunction"},
		{"missing implementation", good, []string{"render"}, `no Wasm artefact for implementation "ctk-prodcatapi"`},
		{"5 MiB file", huge, nil, "bad.yaml: "},
		{"binary garbage", []byte("\x00\x01\x02\xff\xfe garbage \x00"), nil, "bad.yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "bad.yaml", tc.data)
			cmd := tc.cmd
			if cmd == nil {
				cmd = []string{"validate"}
			}
			code, out, errOut := run(t, "", append(cmd, "-f", p)...)
			if code != 1 {
				t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", code, out, errOut)
			}
			all := out + errOut
			if !strings.Contains(all, tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, all)
			}
			if strings.Contains(all, "panic") || strings.Contains(all, "goroutine ") {
				t.Errorf("panic:\n%s", all)
			}
		})
	}
}

func TestValidateJSONReportsAllErrors(t *testing.T) {
	bad := []byte(`apiVersion: oda.tmforum.org/v1
kind: Component
metadata:
  name: two-errors
spec:
  coreFunction:
    exposedAPIs:
    - name: a
      specification:
      - url: https://example.org/a.json
      apiType: openapi
      implementation: a
      path: no-slash
      port: 8080
    - name: a
      specification:
      - url: https://example.org/b.json
      apiType: openapi
      implementation: b
      path: /b
      port: 8081
`)
	p := writeFile(t, t.TempDir(), "c.yaml", bad)
	code, out, _ := run(t, "", "validate", "-f", p, "-o", "json")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	var rep struct {
		Valid bool `json:"valid"`
		Files []struct {
			Errors []map[string]any `json:"errors"`
		} `json:"files"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.Valid || len(rep.Files) != 1 || len(rep.Files[0].Errors) < 2 {
		t.Fatalf("want both errors reported at once, got %s", out)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"validate"},
		{"validate", "-f", "x.yaml", "extra"},
		{"validate", "--no-such-flag"},
		{"render", "-f", "x.yaml", "-o", "toml"},
		{"convert", "-f", "x.yaml", "--to", "v2"},
		{"aply"},
		{"get", "componentz"},
		{"up", "extra"},
	} {
		code, _, errOut := run(t, "", args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errOut)
		}
		if !strings.HasPrefix(errOut, "error: ") {
			t.Errorf("%v: stderr %q does not start with the one error prefix \"error: \"", args, errOut)
		}
	}
	if _, _, errOut := run(t, "", "aply"); !strings.Contains(errOut, `unknown command "aply"`) || !strings.Contains(errOut, "apply") {
		t.Errorf("canvas aply: %q names neither the typo nor the command meant", errOut)
	}
	if _, _, errOut := run(t, "", "up", "extra"); strings.Contains(errOut, "-f") {
		t.Errorf("canvas up extra: %q points at -f, which up does not take", errOut)
	}
	if code, _, errOut := run(t, "", "apply", "-f", "x.yaml", "--dry-run", "server"); code != 2 || !strings.Contains(errOut, "--dry-run=server (with =)") {
		t.Errorf("canvas apply --dry-run server: exit %d, %q; want 2 showing the = form", code, errOut)
	}
	for _, args := range [][]string{{"--dry-run=bogus"}, {"--dry-run", "--wait"}} {
		if code, _, errOut := run(t, "", append([]string{"apply", "-f", "x.yaml"}, args...)...); code != 2 || !strings.Contains(errOut, "--dry-run") {
			t.Errorf("canvas apply %v: exit %d, %q; want 2 naming --dry-run", args, code, errOut)
		}
	}
	code, _, errOut := run(t, "", "validate", "-f", "/no/such/file.yaml")
	if code != 1 || !strings.Contains(errOut, "/no/such/file.yaml") {
		t.Errorf("missing file: exit %d, %s", code, errOut)
	}
}

func TestConvertRoundTrip(t *testing.T) {
	tmp := t.TempDir()
	src := writeFile(t, tmp, "old.yaml", example(t, "productcatalog-v1beta3.component.yaml"))
	code, v1, errOut := run(t, "", "convert", "-f", src, "--to", "v1")
	if code != 0 {
		t.Fatalf("to v1: exit %d: %s", code, errOut)
	}
	if !strings.Contains(v1, "apiVersion: oda.tmforum.org/v1\n") || !strings.Contains(v1, "canvasSystemRole: Admin") || !strings.Contains(v1, "componentMetadata:") {
		t.Errorf("v1 output lacks the converted fields:\n%s", v1)
	}
	code, back, errOut := run(t, v1, "convert", "-f", "-", "--to", "v1beta3")
	if code != 0 {
		t.Fatalf("to v1beta3: exit %d: %s", code, errOut)
	}
	if !strings.Contains(back, "controllerRole: Admin") {
		t.Errorf("v1beta3 output lacks controllerRole:\n%s", back)
	}
}

func TestVersionAndCompletion(t *testing.T) {
	code, out, _ := run(t, "", "version", "-o", "json")
	if code != 0 || !strings.Contains(out, `"version"`) {
		t.Fatalf("version: %d %s", code, out)
	}
	code, out, _ = run(t, "", "completion", "bash")
	if code != 0 || !strings.Contains(out, "bash completion") {
		t.Fatalf("completion: %d %.200s", code, out)
	}
	for _, c := range []string{"validate", "render", "convert", "version"} {
		code, out, _ := run(t, "", c, "--help")
		if code != 0 || !strings.Contains(out, "Examples:") {
			t.Errorf("%s --help has no example (exit %d)", c, code)
		}
	}
}

// TestBinaryExitCode runs the real binary once to prove exit codes reach
// the shell.
func TestBinaryExitCode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "canvas")
	if out, err := exec.Command("go", "build", "-o", bin, "..").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	p := writeFile(t, t.TempDir(), "bad.yaml", []byte("kind: Component\n"))
	cmd := exec.Command(bin, "validate", "-f", p)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1\n%s", err, out)
	}
	if !strings.Contains(string(out), "bad.yaml:1: apiVersion") {
		t.Errorf("output: %s", out)
	}
	out, err = exec.Command(bin, "aply").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("canvas aply: exit %v, want 2 (a bad command line)\n%s", err, out)
	}
}

// A word that names no subcommand of a group is a usage error (exit 2)
// naming the word, with a flag after it or not, and a near miss gets the
// subcommand meant; given nothing, a group prints its help.
func TestUnknownSubcommands(t *testing.T) {
	var groups [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		if !c.HasSubCommands() {
			return
		}
		if len(path) > 0 {
			groups = append(groups, path)
		}
		for _, s := range c.Commands() {
			walk(s, append(slices.Clone(path), s.Name()))
		}
	}
	walk(cli.NewRootCmd(nil, io.Discard, io.Discard), nil)
	if len(groups) < 8 {
		t.Fatalf("found %d command groups, want the ten or so canvas has: %v", len(groups), groups)
	}
	for _, g := range groups {
		for _, extra := range [][]string{nil, {"--server", "http://127.0.0.1:1"}} {
			args := slices.Concat(g, []string{"zzzz"}, extra)
			code, out, errOut := run(t, "", args...)
			if code != 2 || !strings.Contains(errOut, `unknown command "zzzz"`) || out != "" {
				t.Errorf("canvas %s: exit %d, stdout %d bytes, stderr %q; want 2 and the unknown command named", strings.Join(args, " "), code, len(out), errOut)
			}
		}
		code, out, errOut := run(t, "", g...)
		if strings.Contains(out, "canvas "+strings.Join(g, " ")+" [flags]") {
			t.Errorf("canvas %s: its usage offers it as a command of its own:\n%s", strings.Join(g, " "), out)
		}
		if code != 0 || !strings.Contains(out, "Available Commands:") {
			if !(code == 2 && strings.HasPrefix(errOut, "error: ")) { // get, edge, lattice: "get what?"
				t.Errorf("canvas %s: exit %d, stdout %q, stderr %q; want its help or a usage error", strings.Join(g, " "), code, out, errOut)
			}
		}
	}
	code, _, errOut := run(t, "", "apikey", "lst")
	if code != 2 || !strings.Contains(errOut, "Did you mean this?\n\tlist") {
		t.Errorf("canvas apikey lst: exit %d, %q; want 2 suggesting list", code, errOut)
	}
	code, _, errOut = run(t, "", "get", "componentz", "--server", "http://127.0.0.1:1")
	if code != 2 || !strings.Contains(errOut, `unknown command "componentz"`) || !strings.Contains(errOut, "\tcomponents") {
		t.Errorf("canvas get componentz --server URL: exit %d, %q; want 2 naming componentz and suggesting components", code, errOut)
	}
}

// Every command that runs says how in its help: `Usage:` followed by its
// own use line (a group's usage must not take that line from its
// subcommands).
func TestHelpShowsUseLine(t *testing.T) {
	var runnable [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		if c.Runnable() && !c.HasSubCommands() && len(path) > 0 && !c.Hidden {
			runnable = append(runnable, path)
		}
		for _, s := range c.Commands() {
			walk(s, append(slices.Clone(path), s.Name()))
		}
	}
	walk(cli.NewRootCmd(nil, io.Discard, io.Discard), nil)
	if len(runnable) < 30 {
		t.Fatalf("found %d runnable commands, want the forty or so canvas has", len(runnable))
	}
	for _, p := range runnable {
		code, out, errOut := run(t, "", append(slices.Clone(p), "--help")...)
		if code != 0 {
			t.Errorf("canvas %s --help: exit %d, stderr %q", strings.Join(p, " "), code, errOut)
			continue
		}
		if !strings.Contains(out, "Usage:\n  canvas "+strings.Join(p, " ")) {
			t.Errorf("canvas %s --help has no use line:\n%s", strings.Join(p, " "), out)
		}
	}
}
