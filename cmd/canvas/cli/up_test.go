package cli_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/cmd/canvas/cli"
	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/up"
)

// TestUpPortTaken occupies each of the three ports canvas up listens on in
// turn: up fails in well under a second with one line naming the port and
// the flag that moves it, no log and no stack trace, exit code 1, in the
// foreground and with --detach alike.
func TestUpPortTaken(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	taken := ln.Addr().String()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	for _, tc := range []struct{ flag, value string }{
		{"--listen", taken},
		{"--ingress", taken},
		{"--nats-port", port},
	} {
		for _, detach := range []bool{false, true} {
			args := []string{"up", "--state-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--ingress", "127.0.0.1:0", "--nats-port", "-1", tc.flag, tc.value}
			if detach {
				args = append(args, "--detach")
			}
			began := time.Now()
			code, out, errOut := run(t, "", args...)
			took := time.Since(began)
			if code != 1 {
				t.Errorf("%v: exit %d, want 1\n%s%s", args, code, out, errOut)
			}
			if took > time.Second {
				t.Errorf("%v: took %s, want < 1s", args, took)
			}
			line := strings.TrimSuffix(errOut, "\n")
			t.Logf("%v: %s", args[len(args)-2:], line)
			if strings.Contains(line, "\n") || !strings.HasPrefix(line, "error: ") || strings.Contains(line, "goroutine") {
				t.Errorf("%v: want one error line, got:\n%s", args, errOut)
			}
			for _, want := range []string{"port " + port, tc.flag} {
				if !strings.Contains(line, want) {
					t.Errorf("%v: %q lacks %q", args, line, want)
				}
			}
		}
	}
}

// TestUpHintReachesThisCanvas runs the Next: line canvas up prints, as
// printed, and checks that it reached this canvas (on ports that are not
// the defaults); canvas down without the canvas's --state-dir names it.
func TestUpHintReachesThisCanvas(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir()) // no current-context to fall back on
	t.Setenv("XDG_STATE_HOME", t.TempDir())  // the default state dir holds no canvas
	info := startCanvas(t)
	state := info.StateDir
	var banner strings.Builder
	cli.PrintBanner(&banner, info, true)
	var next, stop []string
	for _, l := range strings.Split(banner.String(), "\n") {
		if s, ok := strings.CutPrefix(l, "Next: "); ok {
			next = strings.Fields(s)
		}
		if s, ok := strings.CutPrefix(l, "Stop: "); ok {
			stop = strings.Fields(s)
		}
	}
	if len(next) < 2 || len(stop) < 2 || !strings.Contains(banner.String(), "--server "+info.API+"\n") {
		t.Fatalf("no Next:/Stop: line, or Next: lacks --server %s, in\n%s", info.API, banner.String())
	}
	t.Logf("canvas up printed:\n%s", banner.String())
	root, err := testref.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(root) // the hint names examples/ in the repository
	// Without --wait: the example's Wasm may not be built here; what
	// matters is which canvas stores it.
	args := make([]string, 0, len(next))
	for _, a := range next[1:] {
		if a != "--wait" {
			args = append(args, a)
		}
	}
	code, out, errOut := run(t, "", args...)
	if code != 0 || !strings.Contains(out, "productcatalog created") {
		t.Fatalf("%v as printed: exit %d\n%s%s", next, code, out, errOut)
	}
	// No --token: the CLI found this canvas's local admin credential.
	code, out, _ = run(t, "", "get", "components", "--server", info.API)
	if code != 0 || !strings.Contains(out, "productcatalog") {
		t.Fatalf("the hint's apply did not reach this canvas:\n%s", out)
	}
	if code, out, errOut := run(t, "", "get", "components", "--server", info.API, "--token", "wcadm_not-this-canvas-s-credential-at-all"); code == 0 || !strings.Contains(errOut, "credentials refused") {
		t.Fatalf("a wrong --token: exit %d\n%s%s", code, out, errOut)
	}
	// canvas token with no client: canvas-admin with the local credential;
	// the embedded issuer's token is accepted by the API.
	code, tok, errOut := run(t, "", "token", "--server", info.API)
	if code != 0 || !strings.HasPrefix(tok, "ey") {
		t.Fatalf("canvas token: exit %d\n%s%s", code, tok, errOut)
	}
	if code, out, errOut := run(t, "", "get", "components", "--server", info.API, "--token", strings.TrimSpace(tok)); code != 0 || !strings.Contains(out, "productcatalog") {
		t.Fatalf("get with the issuer's token: exit %d\n%s%s", code, out, errOut)
	}
	if stop[len(stop)-1] != state {
		t.Errorf("Stop: %v does not name the state directory %s", stop, state)
	}

	code, _, errOut = run(t, "", "down")
	t.Logf("canvas down: %s", errOut)
	if code != 1 || !strings.Contains(errOut, "down --state-dir "+state) {
		t.Errorf("canvas down on the empty default state dir: exit %d, %q does not name the running canvas", code, errOut)
	}
}

// startCanvas runs an embedded canvas on free ports for one test. Its
// artefact roots are the repository (the runtime's test components) and
// the temporary directory the tests write Components to.
func startCanvas(t *testing.T) up.Info {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	repo, err := testref.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	tmp, err := filepath.EvalSymlinks(os.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := up.Start(ctx, up.Options{StateDir: t.TempDir(), Listen: "127.0.0.1:0", Ingress: "127.0.0.1:0", NATSPort: -1,
		ArtefactRoots: []string{repo, tmp}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = c.Shutdown(sctx)
	})
	return c.Info()
}

// TestDescribeAfterRecreate: a Component deleted and applied again under
// its name is described with its own events only, none of the old one's.
func TestDescribeAfterRecreate(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	info := startCanvas(t)
	file := writeFile(t, t.TempDir(), "echo.yaml", testref.EchoComponent("echo", "/echo/api"))
	apply := func() {
		t.Helper()
		if code, out, errOut := run(t, "", "apply", "-f", file, "--wait", "--timeout", "1m", "--server", info.API); code != 0 {
			t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
		}
	}
	apply()
	if code, out, errOut := run(t, "", "delete", "component", "echo", "--wait", "--server", info.API); code != 0 {
		t.Fatalf("delete: exit %d\n%s%s", code, out, errOut)
	}
	apply()
	var out string
	// Ready is recorded right after the status write --wait saw.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var code int
		code, out, _ = run(t, "", "describe", "component", "echo", "--server", info.API)
		if code == 0 && strings.Contains(out, "Ready") || time.Now().After(deadline) {
			break
		}
	}
	events := out[strings.Index(out, "\nEvents:"):]
	for reason, want := range map[string]int{"Deleted": 0, "Deployed": 1, "Ready": 1} {
		if got := strings.Count(events, " "+reason+" "); got != want {
			t.Errorf("%d %s event(s) after the re-create, want %d:\n%s", got, reason, want, events)
		}
	}
}

// TestValidateAgreesWithApply: what apply stores as Failed, validate
// reports (a warning, an error with --strict or --implementations), with
// the fix apply's failure prints.
func TestValidateAgreesWithApply(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	info := startCanvas(t)
	dir := filepath.Join(t.TempDir(), "examples")
	noImpl := strings.Replace(string(testref.EchoComponent("noimpl", "/noimpl/api")), "    wasmcanvas.io/implementations:", "    unrelated:", 1)
	unbuilt := strings.Replace(string(testref.EchoComponent("unbuilt", "/unbuilt/api")), `"impl": "file://`, `"impl": "file://build/unbuilt.wasm", "x": "file://`, 1)
	impls := writeFile(t, t.TempDir(), "impls.yaml", []byte("other: file:///elsewhere.wasm\n"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, data, fix string
	}{
		{"noimpl", noImpl, `add "impl": "<oci reference or file:///path/to.wasm>" to the wasmcanvas.io/implementations annotation`},
		{"unbuilt", unbuilt, "build it with `make examples`"},
	} {
		file := writeFile(t, dir, tc.name+".yaml", []byte(tc.data))
		code, out, errOut := run(t, "", "validate", "-f", file)
		if code != 0 || !strings.Contains(out, ": valid (") || !strings.Contains(out, "warning: ") || !strings.Contains(out, tc.fix) {
			t.Errorf("validate %s: exit %d, want 0 with a warning naming %q:\n%s%s", tc.name, code, tc.fix, out, errOut)
		}
		for _, extra := range [][]string{{"--strict"}, {"--implementations", impls}} {
			code, out, _ := run(t, "", append([]string{"validate", "-f", file}, extra...)...)
			if code != 1 || strings.Contains(out, ": valid (") || !strings.Contains(out, tc.fix) {
				t.Errorf("validate %s %v: exit %d, want 1 with the error:\n%s", tc.name, extra, code, out)
			}
		}
		code, out, errOut = run(t, "", "apply", "-f", file, "--wait", "--timeout", "1m", "--server", info.API)
		if code != 1 || !strings.Contains(errOut, "Failed") || !strings.Contains(errOut, tc.fix) {
			t.Errorf("apply %s: exit %d, want 1 with Failed and the fix %q:\n%s%s", tc.name, code, tc.fix, out, errOut)
		}
	}
}
