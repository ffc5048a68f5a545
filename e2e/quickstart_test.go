//go:build e2e

package e2e_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/up"
)

// TestQuickStart does the README quick start as a new user would, with
// the real binary: canvas up --detach, apply the productcatalog example
// and wait for Complete, get a token for its API (canvas client create,
// canvas token), create a productOffering over HTTP and read it back,
// restart the canvas and read it again with a token of the same client, delete the Component (its
// routes answer 404), canvas down.
func TestQuickStart(t *testing.T) {
	root, err := testref.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	wasm := filepath.Join(root, "examples", "productcatalog", "build", "productcatalog.wasm")
	if _, err := os.Stat(wasm); err != nil {
		t.Fatalf("%v: run `make examples` first (make e2e does)", err)
	}
	bin := buildCanvas(t, root)
	state := t.TempDir()
	canvas := func(args ...string) string { return runCanvas(t, root, bin, args...) }
	upArgs := []string{"up", "--detach", "--state-dir", state, "--listen", "127.0.0.1:0", "--ingress", "127.0.0.1:0", "--nats-port", "-1", "--timeout", "3m"}
	canvas(upArgs...)
	t.Cleanup(func() {
		if _, ok := up.Running(state); ok {
			exec.Command(bin, "down", "--state-dir", state).Run()
		}
	})
	info, err := up.ReadInfo(state)
	if err != nil {
		t.Fatal(err)
	}
	out := canvas("apply", "-f", "examples/productcatalog/component.yaml", "--wait", "--timeout", "3m", "--server", info.API)
	if !strings.Contains(out, "Complete") {
		t.Fatalf("apply --wait did not report Complete:\n%s", out)
	}
	base := info.Ingress + "/productcatalog/tmf-api/productCatalogManagement/v4"
	if r := do(t, "GET", base+"/productOffering", ""); r.code != 401 {
		t.Fatalf("no token: %d %s, want 401 (the example has a securityFunction)", r.code, r.body)
	}
	token, tokenAgain := productCatalogToken(t, root, bin, info.API, "quickstart")

	resp := doWith(t, token, "POST", base+"/productOffering", `{"name":"Fibre 1G","lifecycleStatus":"Active"}`)
	if resp.code != 201 {
		t.Fatalf("create: %d %s", resp.code, resp.body)
	}
	var created map[string]any
	if err := json.Unmarshal([]byte(resp.body), &created); err != nil {
		t.Fatal(err)
	}
	id, _ := created["id"].(string)
	href, _ := created["href"].(string)
	if id == "" || !strings.HasSuffix(href, "/productOffering/"+id) {
		t.Fatalf("created offering lacks id/href: %s", resp.body)
	}
	read := func() {
		t.Helper()
		r := doWith(t, token, "GET", base+"/productOffering/"+id, "")
		if r.code != 200 || !strings.Contains(r.body, `"Fibre 1G"`) {
			t.Fatalf("read back: %d %s", r.code, r.body)
		}
	}
	read()

	canvas("down", "--state-dir", state)
	canvas(upArgs...)
	if info, err = up.ReadInfo(state); err != nil {
		t.Fatal(err)
	}
	base = info.Ingress + "/productcatalog/tmf-api/productCatalogManagement/v4"
	// The client survived the restart; the API's port, and so the
	// issuer's URL, did not (--listen 127.0.0.1:0).
	token = tokenAgain(info.API)
	read() // served as soon as up returned, nothing lost across the restart
	canvas("get", "components", "--server", info.API)

	canvas("delete", "component", "productcatalog", "--wait", "--server", info.API)
	if r := do(t, "GET", base+"/productOffering/"+id, ""); r.code != 404 || !strings.Contains(r.body, `"status":404`) {
		t.Fatalf("after delete: %d %s", r.code, r.body)
	}
	canvas("down", "--state-dir", state)
}

type response struct {
	code int
	body string
}

func do(t *testing.T, method, url, body string) response {
	t.Helper()
	return doWith(t, "", method, url, body)
}

// doWith is do with a bearer token (none when "").
func doWith(t *testing.T, token, method, url, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return response{code: -1, body: err.Error()}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{code: resp.StatusCode, body: string(b)}
}

// buildCanvas builds cmd/canvas into a temporary directory.
func buildCanvas(t *testing.T, root string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "canvas")
	build := exec.Command("go", "build", "-o", bin, "./cmd/canvas")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// productCatalogToken does what the README quick start does for a token
// to the productcatalog example's API (its securityFunction guards it):
// canvas client create with the role pcadmin, then canvas token. again
// gets a new token from the canvas serving api (the issuer is the API's
// URL: a restart on other ports is another issuer).
func productCatalogToken(t *testing.T, root, bin, api, client string) (token string, again func(api string) string) {
	t.Helper()
	secret := filepath.Join(t.TempDir(), client+".secret")
	out := canvasStdout(t, root, bin, "client", "create", client, "--grant", "productcatalog=pcadmin", "--server", api)
	if err := os.WriteFile(secret, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	again = func(api string) string {
		t.Helper()
		return strings.TrimSpace(canvasStdout(t, root, bin, "token", "--client-id", client, "--client-secret-file", secret, "--audience", "productcatalog", "--server", api))
	}
	return again(api), again
}

// canvasStdout is runCanvas keeping stdout alone (a secret or a token).
func canvasStdout(t *testing.T, root, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("canvas %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// runCanvas runs the canvas binary in the repository root with a config
// of its own and fails the test when it fails.
func runCanvas(t *testing.T, root, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("canvas %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("$ canvas %s\n%s", strings.Join(args, " "), out)
	return string(out)
}
