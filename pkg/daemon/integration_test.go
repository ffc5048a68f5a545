package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.yaml.in/yaml/v3"
	"golang.org/x/sys/unix"

	"github.com/wasmcanvas/wasmcanvas/cmd/canvas/cli"
	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/client"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon/daemontest"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmtest"
)

func TestMain(m *testing.M) {
	testkit.VerifyNoLeaksThen(m, daemontest.Cleanup)
}

const ingressURL = "http://127.0.0.1:8080"

// impls maps the reference example's implementations to artefacts, one as
// a relative file:// path that apply must make absolute against the
// implementations file's directory.
const impls = `ctk-prodcatapi: file://wasm/prodcatapi.wasm
ctk-productcatalogmanagement-sm: ghcr.io/wasmcanvas/examples/metrics:0.1.0
ctk-permissionspecapi: ghcr.io/wasmcanvas/examples/permissionspec:0.1.0
`

// env is one canvas under test: an embedded nats-server with JetStream in
// this process, the wadm double on it, and canvasd as a separate process.
type env struct {
	t       *testing.T
	nats    *daemontest.NATS
	nc      *nats.Conn
	wadm    *wadmtest.Server
	canvasd *daemontest.Canvasd
	dir     string
	impls   string
	token   string // canvasd's local admin credential
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir()}
	e.nats = daemontest.StartNATS(t)
	nc, err := nats.Connect(e.nats.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	e.nc = nc
	e.wadm = wadmtest.Run(t, nc, "default")
	e.canvasd = daemontest.Start(t, daemontest.Options{NATS: e.nats.URL(), Args: []string{"--ingress-url", ingressURL, "--resync", "2s"}})
	if e.token, err = auth.ReadAdminToken(e.canvasd.StateDir); err != nil {
		t.Fatal(err)
	}
	e.impls = e.write("impls.yaml", impls)
	return e
}

func (e *env) write(name, data string) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// component writes the reference productcatalog-v1 example as ns/name,
// its APIs served under /{ns}-{name} (two Components may not serve one
// path), and returns its path.
func (e *env) component(ns, name string, edit ...func(string) string) string {
	e.t.Helper()
	data, err := os.ReadFile(testref.Path(e.t, "oda", "examples", "productcatalog-v1.component.yaml"))
	if err != nil {
		e.t.Fatal(err)
	}
	s := strings.Replace(string(data), "metadata:\n  name: ctk-productcatalogmanagement\n", "metadata:\n  name: "+name+"\n  namespace: "+ns+"\n", 1)
	s = strings.Replace(s, "componentName: ctk-productcatalogmanagement\n", "componentName: "+name+"\n", 1)
	for _, f := range edit {
		s = f(s)
	}
	s = strings.ReplaceAll(s, "path: /ctk-productcatalogmanagement/", "path: /"+ns+"-"+name+"/")
	return e.write(ns+"-"+name+".yaml", s)
}

// canvas runs the CLI in-process against this env's canvasd.
func (e *env) canvas(args ...string) (int, string, string) {
	e.t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(append(args, "--server", e.canvasd.API, "--token", e.token), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func (e *env) mustCanvas(args ...string) string {
	e.t.Helper()
	code, out, errOut := e.canvas(args...)
	if code != 0 {
		e.t.Fatalf("canvas %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func (e *env) get(ns, name string) *oda.Component {
	e.t.Helper()
	out := e.mustCanvas("get", "components", name, "-n", ns, "-o", "json")
	var c oda.Component
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		e.t.Fatalf("get -o json: %v\n%s", err, out)
	}
	return &c
}

func (e *env) http(method, path string, body []byte, hdr map[string]string) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.canvasd.API+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, data
}

func problemOf(t *testing.T, data []byte) wire.Problem {
	t.Helper()
	var p wire.Problem
	if err := json.Unmarshal(data, &p); err != nil || p.Status == 0 {
		t.Fatalf("not a problem body (%v): %s", err, data)
	}
	return p
}

func TestCanvasd(t *testing.T) {
	e := newEnv(t)

	t.Run("apply-wait-complete", func(t *testing.T) {
		t.Parallel()
		f := e.component("apply", "ctk-productcatalogmanagement")
		out := e.mustCanvas("apply", "-f", f, "--implementations", e.impls, "--wait", "--timeout", "30s")
		for _, want := range []string{"component apply/ctk-productcatalogmanagement created (generation 1)", "In-Progress", "Complete"} {
			if !strings.Contains(out, want) {
				t.Errorf("apply output lacks %q:\n%s", want, out)
			}
		}
		c := e.get("apply", "ctk-productcatalogmanagement")
		st := c.Status
		if st == nil || st.Summary == nil || st.Summary.DeploymentStatus != oda.DeploymentComplete {
			t.Fatalf("status not Complete: %+v", st)
		}
		base := ingressURL + "/apply-ctk-productcatalogmanagement"
		if len(st.CoreAPIs) != 1 || !st.CoreAPIs[0].Ready || st.CoreAPIs[0].URL != base+"/tmf-api/productCatalogManagement/v4" {
			t.Errorf("coreAPIs = %+v", st.CoreAPIs)
		}
		if len(st.ManagementAPIs) != 1 || st.ManagementAPIs[0].URL != base+"/metrics" || len(st.SecurityAPIs) != 1 {
			t.Errorf("management/security APIs = %+v / %+v", st.ManagementAPIs, st.SecurityAPIs)
		}
		if st.Summary.CoreAPISummary != base+"/tmf-api/productCatalogManagement/v4 " {
			t.Errorf("coreAPIsummary = %q (space-joined with a trailing space)", st.Summary.CoreAPISummary)
		}
		if st.IdentityConfig == nil || st.IdentityConfig.IdentityProvider == "" {
			t.Errorf("identityConfig = %+v", st.IdentityConfig)
		}
		if st.WasmCloud == nil || st.WasmCloud.App != "apply-ctk-productcatalogmanagement" || st.WasmCloud.ObservedGeneration != 1 {
			t.Fatalf("wasmCloud = %+v", st.WasmCloud)
		}
		if v, ok := e.wadm.Deployed(st.WasmCloud.App); !ok || v != st.WasmCloud.Version {
			t.Errorf("wadm deployed %q (%t), status says %q", v, ok, st.WasmCloud.Version)
		}
		want := "file://" + filepath.Join(e.dir, "wasm", "prodcatapi.wasm")
		if ann := c.Metadata.Annotations[oda.AnnotationImplementations]; !strings.Contains(ann, `"ctk-prodcatapi":"`+want+`"`) {
			t.Errorf("implementations annotation %s lacks the absolute %s", ann, want)
		}
		if c.Metadata.Generation != 1 || c.Metadata.ResourceVersion == "" || c.Metadata.UID == "" || c.Metadata.CreationTimestamp == "" {
			t.Errorf("metadata = %+v", c.Metadata)
		}

		table := e.mustCanvas("get", "components", "-n", "apply")
		if !regexpMatch(`(?m)^NAME\s+DEPLOYMENT_STATUS\n(?m)ctk-productcatalogmanagement\s+Complete$`, table) {
			t.Errorf("get components table:\n%s", table)
		}
		wide := e.mustCanvas("get", "components", "-A", "-o", "wide")
		if !regexpMatch(`(?m)^NAMESPACE\s+NAME\s+DEPLOYMENT_STATUS\s+WADM APP\s+VERSION\s+AGE$`, wide) ||
			!strings.Contains(wide, "apply-ctk-productcatalogmanagement   "+st.WasmCloud.Version) {
			t.Errorf("get components -A -o wide:\n%s", wide)
		}
		desc := e.mustCanvas("describe", "component", "ctk-productcatalogmanagement", "-n", "apply")
		for _, want := range []string{"Deployment Status:", "Complete", "Wadm App:", "apply-ctk-productcatalogmanagement", base + "/metrics", "Events:", "Deployed", "ctk-prodcatapi"} {
			if !strings.Contains(desc, want) {
				t.Errorf("describe lacks %q:\n%s", want, desc)
			}
		}

		// The same again changes nothing: same generation, same version.
		out = e.mustCanvas("apply", "-f", f, "--implementations", e.impls, "--wait")
		if !strings.Contains(out, "configured (generation 1)") {
			t.Errorf("re-apply:\n%s", out)
		}
		if vs := e.wadm.Versions(st.WasmCloud.App); len(vs) != 1 {
			t.Errorf("wadm versions after an unchanged apply = %v, want one", vs)
		}
	})

	t.Run("wait-progress-on-a-terminal", func(t *testing.T) {
		t.Parallel()
		tty, output := openPTY(t)
		var errb bytes.Buffer
		f := e.component("tty", "pc")
		code := cli.Main([]string{"apply", "-f", f, "--implementations", e.impls, "--wait", "--timeout", "30s", "--server", e.canvasd.API, "--token", e.token}, strings.NewReader(""), tty, &errb)
		out := output()
		if code != 0 {
			t.Fatalf("apply --wait on a terminal: exit %d\n%q\n%s", code, out, errb.String())
		}
		// One line rewritten in place (carriage return, erase line), then
		// the outcome on its own line.
		if !strings.Contains(out, "\r\x1b[Ktty/pc: ") || !strings.Contains(out, "tty/pc: Complete\r\n") {
			t.Errorf("terminal output %q", out)
		}
	})

	t.Run("update-new-wadm-version", func(t *testing.T) {
		t.Parallel()
		f := e.component("update", "pc")
		e.mustCanvas("apply", "-f", f, "--implementations", e.impls, "--wait", "--timeout", "30s")
		v1 := e.get("update", "pc").Status.WasmCloud.Version
		f = e.component("update", "pc", func(s string) string {
			return strings.Replace(s, "/ctk-productcatalogmanagement/metrics", "/ctk-productcatalogmanagement/metrics2", 1)
		})
		out := e.mustCanvas("apply", "-f", f, "--implementations", e.impls, "--wait", "--timeout", "30s")
		if !strings.Contains(out, "configured (generation 2)") {
			t.Errorf("update output:\n%s", out)
		}
		c := e.get("update", "pc")
		v2 := c.Status.WasmCloud.Version
		if v2 == v1 || c.Status.WasmCloud.ObservedGeneration != 2 {
			t.Fatalf("after the update version %s (was %s), observed generation %d", v2, v1, c.Status.WasmCloud.ObservedGeneration)
		}
		if got, _ := e.wadm.Deployed("update-pc"); got != v2 {
			t.Errorf("wadm deployed %s, want %s", got, v2)
		}
		if vs := e.wadm.Versions("update-pc"); !slices.Equal(vs, []string{v1, v2}) {
			t.Errorf("wadm versions %v, want [%s %s]", vs, v1, v2)
		}
		if c.Status.ManagementAPIs[0].URL != ingressURL+"/update-pc/metrics2" {
			t.Errorf("management URL after update = %s", c.Status.ManagementAPIs[0].URL)
		}
	})

	t.Run("delete-wait-removed", func(t *testing.T) {
		t.Parallel()
		f := e.component("delete", "pc")
		e.mustCanvas("apply", "-f", f, "--implementations", e.impls, "--wait", "--timeout", "30s")
		out := e.mustCanvas("delete", "component", "pc", "-n", "delete", "--wait", "--timeout", "30s")
		if !strings.Contains(out, "component delete/pc deleted") || !strings.Contains(out, "removed from the lattice") {
			t.Errorf("delete output:\n%s", out)
		}
		if slices.Contains(e.wadm.Models(), "delete-pc") {
			t.Errorf("wadm still has delete-pc: %v", e.wadm.Models())
		}
		code, _, errOut := e.canvas("get", "components", "pc", "-n", "delete")
		if code != cli.ExitFailure || !strings.Contains(errOut, "not found") {
			t.Errorf("get after delete: exit %d, %s", code, errOut)
		}
		code, _, errOut = e.canvas("delete", "-f", f)
		if code != cli.ExitFailure || !strings.Contains(errOut, "not found") {
			t.Errorf("second delete: exit %d, %s", code, errOut)
		}
	})

	t.Run("wadm-failure-explained", func(t *testing.T) {
		t.Parallel()
		const reason = "no host satisfies spread requirement site=edge-1"
		e.wadm.Fail("failing-pc", reason)
		f := e.component("failing", "pc")
		code, out, errOut := e.canvas("apply", "-f", f, "--implementations", e.impls, "--wait", "--timeout", "30s")
		if code != cli.ExitFailure || !strings.Contains(errOut, "Failed") || !strings.Contains(errOut, reason) {
			t.Fatalf("apply --wait of a failing app: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		st := e.get("failing", "pc").Status
		if st.Summary.DeploymentStatus != oda.DeploymentFailed || !strings.Contains(st.Summary.FailureReason, reason) || st.WasmCloud.Status != "failed" {
			t.Errorf("status does not explain the failure: summary %+v wasmCloud %+v", st.Summary, st.WasmCloud)
		}
	})

	// canvasd --nats once deployed every Component claiming one path; now
	// the second is Failed naming the path and the owner, as under canvas
	// up, and never reaches wadm.
	t.Run("path-claimed-by-another", func(t *testing.T) {
		t.Parallel()
		shared := func(s string) string {
			return strings.ReplaceAll(s, "path: /ctk-productcatalogmanagement/", "path: /claimed/")
		}
		e.mustCanvas("apply", "-f", e.component("claim", "first", shared), "--implementations", e.impls, "--wait", "--timeout", "30s")
		code, out, errOut := e.canvas("apply", "-f", e.component("claim", "second", shared), "--implementations", e.impls, "--wait", "--timeout", "30s")
		const want = `path "/claimed/tmf-api/productCatalogManagement/v4" of exposed API "productcatalogmanagement" is already claimed by Component claim/first`
		if code != cli.ExitFailure || !strings.Contains(errOut, want) {
			t.Fatalf("apply --wait of a second claimant: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		st := e.get("claim", "second").Status
		if st.Summary.DeploymentStatus != oda.DeploymentFailed || !strings.HasPrefix(st.Summary.FailureReason, want) ||
			st.Summary.FailedPart != "spec.coreFunction.exposedAPIs[0].path" {
			t.Errorf("second claimant's summary %+v", st.Summary)
		}
		if vs := e.wadm.Versions("claim-second"); len(vs) != 0 {
			t.Errorf("the second claimant reached wadm: versions %v", vs)
		}
	})

	t.Run("invalid-422-nothing-stored", func(t *testing.T) {
		t.Parallel()
		f := e.component("invalid", "pc", func(s string) string {
			return strings.Replace(s, "spec:\n", "spec:\n  colour: blue\n", 1)
		})
		code, _, errOut := e.canvas("apply", "-f", f, "--implementations", e.impls)
		if code != cli.ExitFailure || !strings.Contains(errOut, f+":") || !strings.Contains(errOut, "spec.colour") {
			t.Errorf("apply of an invalid file: exit %d, stderr:\n%s", code, errOut)
		}
		body, _ := os.ReadFile(f)
		for _, tc := range []struct{ header, file string }{{"", wire.BodyFileName}, {"my-component.yaml", "my-component.yaml"}} {
			hdr := map[string]string{}
			if tc.header != "" {
				hdr[wire.HeaderFileName] = tc.header
			}
			status, data := e.http(http.MethodPost, wire.PathComponents, body, hdr)
			p := problemOf(t, data)
			if status != http.StatusUnprocessableEntity || p.Status != 422 || len(p.Errors) == 0 {
				t.Fatalf("POST invalid: %d %s", status, data)
			}
			found := false
			for _, fe := range p.Errors {
				found = found || (fe.Path == "spec.colour" && fe.File == tc.file && fe.Line > 0)
			}
			if !found {
				t.Errorf("422 errors lack spec.colour in file %q with a line: %+v", tc.file, p.Errors)
			}
		}
		// A Component whose canvas annotations are malformed is refused too
		// (a missing artefact is not: it is stored and reported in status).
		bad := strings.Replace(string(body), "  colour: blue\n", "", 1)
		bad = strings.Replace(bad, "metadata:\n", "metadata:\n  annotations:\n    wasmcanvas.io/instances: many\n", 1)
		status, data := e.http(http.MethodPost, wire.PathComponents, []byte(bad), nil)
		if p := problemOf(t, data); status != 422 || !strings.Contains(p.Error(), "wasmcanvas.io/instances") {
			t.Errorf("POST with a malformed placement annotation: %d %s", status, data)
		}
		if out := e.mustCanvas("get", "components", "-n", "invalid", "-o", "json"); !strings.Contains(out, `"items": []`) {
			t.Errorf("something was stored:\n%s", out)
		}
	})

	t.Run("stale-resourceVersion-409", func(t *testing.T) {
		t.Parallel()
		f := e.component("conflict", "pc")
		e.mustCanvas("apply", "-f", f, "--implementations", e.impls)
		c := e.get("conflict", "pc")
		stale := c.Metadata.ResourceVersion
		c.Metadata.Labels["team"] = "a"
		c.Status = nil
		body, _ := json.Marshal(c)
		status, data := e.http(http.MethodPut, wire.PathComponents+"/conflict/pc", body, nil)
		if status != http.StatusOK {
			t.Fatalf("PUT at the current resourceVersion: %d %s", status, data)
		}
		var updated oda.Component
		if err := json.Unmarshal(data, &updated); err != nil || updated.Metadata.Generation != 2 || updated.Metadata.ResourceVersion == stale {
			t.Fatalf("PUT reply %v: %s", err, data)
		}
		c.Metadata.Labels["team"] = "b"
		body, _ = json.Marshal(c)
		status, data = e.http(http.MethodPut, wire.PathComponents+"/conflict/pc", body, nil)
		p := problemOf(t, data)
		if status != http.StatusConflict || p.GivenResourceVersion != stale || p.CurrentResourceVersion != updated.Metadata.ResourceVersion ||
			!strings.Contains(p.Detail, stale) || !strings.Contains(p.Detail, updated.Metadata.ResourceVersion) {
			t.Errorf("stale PUT: %d %+v", status, p)
		}
		if got := e.get("conflict", "pc"); got.Metadata.Labels["team"] != "a" {
			t.Errorf("the stale write was stored: labels %v", got.Metadata.Labels)
		}
		// The CLI says the same for a file carrying a stale resourceVersion.
		staleFile := e.write("stale.json", string(body))
		code, _, errOut := e.canvas("apply", "-f", staleFile)
		if code != cli.ExitFailure || !strings.Contains(errOut, "stale") {
			t.Errorf("apply of a stale file: exit %d: %s", code, errOut)
		}
	})

	t.Run("body-too-large-413", func(t *testing.T) {
		t.Parallel()
		big := bytes.Repeat([]byte("#"), 5<<20)
		status, data := e.http(http.MethodPost, wire.PathComponents, big, nil)
		if p := problemOf(t, data); status != http.StatusRequestEntityTooLarge || p.Status != 413 {
			t.Errorf("5 MiB body: %d %s", status, data)
		}
	})

	t.Run("not-found-404", func(t *testing.T) {
		t.Parallel()
		for _, path := range []string{"/v1/components/nowhere/nothing", "/v1/components/nowhere/nothing/events", "/v1/components/nowhere/nothing/status"} {
			status, data := e.http(http.MethodGet, path, nil, nil)
			if p := problemOf(t, data); status != 404 || p.Status != 404 {
				t.Errorf("GET %s: %d %s", path, status, data)
			}
		}
		status, data := e.http(http.MethodDelete, "/v1/components/nowhere/nothing", nil, nil)
		if status != 404 {
			t.Errorf("DELETE of nothing: %d %s", status, data)
		}
	})

	// apply --dry-run: canvasd checks (admission, the stored value) and
	// stores nothing, over HTTP and NATS; =client sends nothing at all.
	t.Run("apply-dry-run", func(t *testing.T) {
		t.Parallel()
		f := e.component("dry", "pc")
		overNATS := func(args ...string) (int, string, string) {
			var out, errb bytes.Buffer
			code := cli.Main(append(args, "--nats", e.nats.URL()), strings.NewReader(""), &out, &errb)
			return code, out.String(), errb.String()
		}
		for _, run := range []func(...string) (int, string, string){e.canvas, overNATS} {
			code, out, errOut := run("apply", "-f", f, "--implementations", e.impls, "--dry-run", "-o", "json")
			var c oda.Component
			if code != 0 || json.Unmarshal([]byte(out), &c) != nil || c.Metadata.Name != "pc" || c.Metadata.Generation != 1 || c.Metadata.ResourceVersion != "" {
				t.Fatalf("apply --dry-run -o json: exit %d\n%s%s", code, out, errOut)
			}
		}
		if code, _, errOut := e.canvas("get", "components", "pc", "-n", "dry"); code == 0 || !strings.Contains(errOut, "not found") {
			t.Fatalf("after dry runs the Component exists: exit %d, %s", code, errOut)
		}
		var out, errb bytes.Buffer
		code := cli.Main([]string{"apply", "-f", f, "--dry-run=client", "--server", "http://127.0.0.1:1"}, strings.NewReader(""), &out, &errb)
		if code != 0 || !strings.Contains(out.String(), "component dry/pc checked (dry run: client, nothing sent)") {
			t.Errorf("apply --dry-run=client with no canvasd: exit %d\n%s%s", code, out.String(), errb.String())
		}
		e.mustCanvas("apply", "-f", f, "--implementations", e.impls, "--wait", "--timeout", "30s")
		before := e.get("dry", "pc")
		changed := e.component("dry", "pc", func(s string) string {
			return strings.Replace(s, "  labels:\n", "  labels:\n    tier: gold\n", 1)
		})
		for _, run := range []func(...string) (int, string, string){e.canvas, overNATS} {
			code, out, errOut := run("apply", "-f", changed, "--implementations", e.impls, "--dry-run=server")
			if code != 0 || !strings.Contains(out, "component dry/pc configured (generation 2) (dry run: server, nothing stored)") {
				t.Errorf("apply --dry-run of a change: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
			}
		}
		if after := e.get("dry", "pc"); after.Metadata.Generation != 1 || after.Metadata.ResourceVersion != before.Metadata.ResourceVersion || after.Metadata.Labels["tier"] != "" {
			t.Errorf("a dry run stored something: generation %d, rv %s (was %s), labels %v", after.Metadata.Generation, after.Metadata.ResourceVersion, before.Metadata.ResourceVersion, after.Metadata.Labels)
		}
		// A stale resourceVersion is refused as a real apply would be.
		stale := e.component("dry", "pc", func(s string) string {
			return strings.Replace(s, "  namespace: dry\n", "  namespace: dry\n  resourceVersion: \"999999\"\n", 1)
		})
		if code, _, errOut := e.canvas("apply", "-f", stale, "--implementations", e.impls, "--dry-run"); code == 0 || !strings.Contains(errOut, "stale") {
			t.Errorf("dry run at a stale resourceVersion: exit %d, %s", code, errOut)
		}
		status, data := e.http(http.MethodPost, wire.PathComponents+"?dryRun=Some", []byte("{}"), nil)
		if p := problemOf(t, data); status != 400 || !strings.Contains(p.Detail, `the only value is "All"`) {
			t.Errorf("dryRun=Some: %d %s", status, data)
		}
	})

	t.Run("nats-micro-api", func(t *testing.T) {
		t.Parallel()
		f := e.component("micro", "pc")
		run := func(args ...string) (int, string, string) {
			var out, errb bytes.Buffer
			code := cli.Main(append(args, "--nats", e.nats.URL()), strings.NewReader(""), &out, &errb)
			return code, out.String(), errb.String()
		}
		if code, out, errOut := run("apply", "-f", f, "--implementations", e.impls, "--wait", "--timeout", "30s"); code != 0 || !strings.Contains(out, "created") {
			t.Fatalf("apply over NATS: exit %d\n%s%s", code, out, errOut)
		}
		if code, out, errOut := run("get", "components", "-n", "micro"); code != 0 || !regexpMatch(`pc\s+Complete`, out) {
			t.Errorf("get over NATS: exit %d\n%s%s", code, out, errOut)
		}
		if code, out, errOut := run("describe", "component", "pc", "-n", "micro"); code != 0 || !strings.Contains(out, "Deployed") {
			t.Errorf("describe over NATS: exit %d\n%s%s", code, out, errOut)
		}
		code, _, errOut := run("apply", "-f", e.component("micro", "bad", func(s string) string { return strings.Replace(s, "spec:\n", "spec:\n  colour: blue\n", 1) }))
		if code != cli.ExitFailure || !strings.Contains(errOut, "spec.colour") {
			t.Errorf("invalid apply over NATS: exit %d: %s", code, errOut)
		}
		if code, out, errOut := run("delete", "component", "pc", "-n", "micro", "--wait", "--timeout", "30s"); code != 0 || !strings.Contains(out, "removed") {
			t.Errorf("delete over NATS: exit %d\n%s%s", code, out, errOut)
		}
	})

	t.Run("watch", func(t *testing.T) {
		t.Parallel()
		cl, err := client.NewHTTP(e.canvasd.API, client.WithToken(e.token))
		if err != nil {
			t.Fatal(err)
		}
		ctx := daemontest.Context(t, 30*time.Second)
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		f := e.component("watch", "pc")
		var seen []string
		err = cl.Watch(ctx, "watch", "", func(ev wire.WatchEvent) error {
			if ev.Type == wire.WatchBookmark {
				seen = append(seen, ev.Type)
				go e.canvas("apply", "-f", f, "--implementations", e.impls) // the watcher's own goroutine must not block on the apply
				return nil
			}
			seen = append(seen, ev.Type+" "+deploymentStatus(ev.Object))
			if deploymentStatus(ev.Object) == oda.DeploymentComplete {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("watch ended with %v; saw %v", err, seen)
		}
		if len(seen) < 3 || seen[0] != wire.WatchBookmark || !strings.HasPrefix(seen[1], wire.WatchAdded) || seen[len(seen)-1] != "MODIFIED Complete" {
			t.Errorf("watch events %v: want BOOKMARK, ADDED, …, MODIFIED Complete", seen)
		}
	})

	t.Run("watch-cli", func(t *testing.T) {
		t.Parallel()
		e.mustCanvas("apply", "-f", e.component("watchcli", "pc"), "--implementations", e.impls, "--wait", "--timeout", "30s")
		out := e.mustCanvas("watch", "components", "-n", "watchcli", "--timeout", "1s")
		if !regexpMatch(`(?m)^EVENT\s+NAMESPACE\s+NAME\s+DEPLOYMENT_STATUS\s+WADM STATUS\s+VERSION\n(?m)^ADDED\s+watchcli\s+pc\s+Complete\s+deployed\s+v-`, out) {
			t.Errorf("canvas watch:\n%s", out)
		}
		out = e.mustCanvas("watch", "-n", "watchcli", "-o", "json", "--timeout", "1s")
		var ev wire.WatchEvent
		if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &ev); err != nil || ev.Type != wire.WatchAdded || ev.Object.Metadata.Name != "pc" {
			t.Errorf("canvas watch -o json (%v):\n%s", err, out)
		}
		out = e.mustCanvas("watch", "-n", "watchcli", "-o", "yaml", "--timeout", "1s")
		dec := yaml.NewDecoder(strings.NewReader(out))
		var doc struct {
			Type   string
			Object struct{ Metadata struct{ Name string } }
		}
		if err := dec.Decode(&doc); err != nil || !strings.HasPrefix(out, "---\n") || doc.Type != wire.WatchAdded || doc.Object.Metadata.Name != "pc" {
			t.Errorf("canvas watch -o yaml (%v):\n%s", err, out)
		}
	})

	t.Run("api-edges", func(t *testing.T) {
		t.Parallel()
		f := e.component("edges", "pc")
		e.mustCanvas("apply", "-f", f, "--implementations", e.impls, "--wait", "--timeout", "30s")
		c := e.get("edges", "pc")
		c.Status = nil
		body, _ := json.Marshal(c)
		status, data := e.http(http.MethodPut, wire.PathComponents+"/edges/other", body, nil)
		if p := problemOf(t, data); status != 422 || len(p.Errors) != 1 || p.Errors[0].Path != "metadata.name" {
			t.Errorf("PUT to another name: %d %s", status, data)
		}
		status, data = e.http(http.MethodDelete, wire.PathComponents+"/edges/pc?resourceVersion=999999", nil, nil)
		if p := problemOf(t, data); status != 409 || p.CurrentResourceVersion != c.Metadata.ResourceVersion {
			t.Errorf("DELETE at a stale resourceVersion: %d %s", status, data)
		}
		status, data = e.http(http.MethodGet, wire.PathComponents+"/Bad_NS/pc", nil, nil)
		if status != 400 {
			t.Errorf("GET with an invalid namespace: %d %s", status, data)
		}
		// The micro API answers errors as micro errors: code = HTTP status, data = problem.
		msg, err := e.nc.Request(subject.CanvasAPI(wire.MicroGroup, "get"), []byte(`{"namespace":"edges","name":"missing"}`), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if code := msg.Header.Get("Nats-Service-Error-Code"); code != "404" || problemOf(t, msg.Data).Status != 404 {
			t.Errorf("micro get of a missing component: code %q, %s", code, msg.Data)
		}
		msg, err = e.nc.Request(subject.CanvasAPI(wire.MicroGroup, "list"), []byte(`{"namespace":"edges"}`), 5*time.Second)
		var list wire.ComponentList
		if err != nil || json.Unmarshal(msg.Data, &list) != nil || len(list.Items) != 1 || list.Items[0].Status == nil {
			t.Errorf("micro list (%v): %s", err, msg.Data)
		}
	})

	t.Run("contexts", func(t *testing.T) {
		t.Parallel()
		cfg := filepath.Join(e.dir, "config", "config.yaml")
		run := func(args ...string) (int, string, string) {
			var out, errb bytes.Buffer
			if args[0] == "get" {
				args = append(args, "--token", e.token)
			}
			code := cli.Main(append(args, "--config", cfg), strings.NewReader(""), &out, &errb)
			return code, out.String(), errb.String()
		}
		steps := []struct {
			args []string
			code int
			want string
		}{
			{[]string{"config", "set-context", "nowhere", "--server", "http://127.0.0.1:1"}, 0, `context "nowhere" saved`},
			{[]string{"config", "set-context", "here", "--server", e.canvasd.API}, 0, `context "here" saved`},
			{[]string{"config", "set-context", "viaNATS", "--nats", e.nats.URL()}, 0, "saved"},
			{[]string{"get", "components", "-A"}, 1, "cannot reach canvasd at http://127.0.0.1:1"},
			{[]string{"get", "components", "-A", "--context", "here"}, 0, ""},
			{[]string{"get", "components", "-A", "--context", "viaNATS"}, 0, ""},
			{[]string{"config", "use-context", "here"}, 0, `current context is now "here"`},
			{[]string{"get", "components", "-A"}, 0, ""},
			{[]string{"config", "use-context", "missing"}, 2, "not in"},
			{[]string{"get", "components", "--context", "missing"}, 2, `context "missing" is not in`},
			{[]string{"config", "get-contexts"}, 0, "here"},
		}
		for _, s := range steps {
			code, out, errOut := run(s.args...)
			if code != s.code || !strings.Contains(out+errOut, s.want) || (s.args[1] == "get-contexts" && !regexpMatch(`(?m)^\*\s+here\s`, out)) {
				t.Errorf("canvas %s: exit %d (want %d), want %q in:\n%s%s", strings.Join(s.args, " "), code, s.code, s.want, out, errOut)
			}
		}
	})

	t.Run("health-metrics", func(t *testing.T) {
		t.Parallel()
		status, data := e.http(http.MethodGet, "/healthz", nil, nil)
		if status != 200 {
			t.Errorf("/healthz: %d %s", status, data)
		}
		status, data = e.http(http.MethodGet, "/readyz", nil, nil)
		var rd wire.Readiness
		if err := json.Unmarshal(data, &rd); err != nil || status != 200 || !rd.Ready || rd.Checks["nats"] != "ok" || rd.Checks["kv"] != "ok" || rd.Checks["controller"] != "ok" {
			t.Errorf("/readyz: %d %s", status, data)
		}
		if status, data = e.http(http.MethodGet, wire.PathComponents, nil, nil); status != 200 {
			t.Fatalf("list: %d %s", status, data)
		}
		status, data = e.http(http.MethodGet, "/metrics", nil, nil)
		if status != 200 || !strings.Contains(string(data), `canvasd_api_requests_total{code="200",route="list",transport="http"}`) || !strings.Contains(string(data), "go_goroutines") {
			t.Errorf("/metrics: %d\n%.500s", status, data)
		}
	})
}

// TestNATSRestartConverges restarts nats-server under a running canvasd:
// it reconnects, its watches resume, and Components applied before and
// after the restart are Complete.
func TestNATSRestartConverges(t *testing.T) {
	e := newEnv(t)
	e.mustCanvas("apply", "-f", e.component("restart", "before"), "--implementations", e.impls, "--wait", "--timeout", "30s")
	e.nats.Restart()
	if err := daemontest.WaitFor(30*time.Second, func() error { return daemontest.Ready(e.canvasd.API) }); err != nil {
		t.Fatalf("canvasd not ready after the NATS restart: %v", err)
	}
	e.mustCanvas("apply", "-f", e.component("restart", "after"), "--implementations", e.impls, "--wait", "--timeout", "30s")
	out := e.mustCanvas("get", "components", "-n", "restart")
	if !regexpMatch(`after\s+Complete`, out) || !regexpMatch(`before\s+Complete`, out) {
		t.Errorf("after the NATS restart:\n%s", out)
	}
	for _, app := range []string{"restart-before", "restart-after"} {
		if _, ok := e.wadm.Deployed(app); !ok {
			t.Errorf("%s not deployed in wadm", app)
		}
	}
}

// TestShutdownAndRestart stops canvasd with SIGTERM (exit 0, runtime file
// removed) and starts it again on the same state: nothing is lost.
func TestShutdownAndRestart(t *testing.T) {
	e := newEnv(t)
	e.mustCanvas("apply", "-f", e.component("restart", "pc"), "--implementations", e.impls, "--wait", "--timeout", "30s")
	e.canvasd.Stop()
	if code := e.canvasd.ExitCode(); code != 0 {
		t.Errorf("exit code after SIGTERM = %d\n%s", code, e.canvasd.Log())
	}
	if _, err := os.Stat(filepath.Join(e.canvasd.StateDir, "canvasd.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("runtime file left after shutdown: %v", err)
	}
	if err := e.canvasd.Restart(); err != nil {
		t.Fatal(err)
	}
	if got := e.get("restart", "pc"); deploymentStatus(got) != oda.DeploymentComplete || got.Metadata.Generation != 1 {
		t.Errorf("after restart: %s generation %d", deploymentStatus(got), got.Metadata.Generation)
	}
}

func deploymentStatus(c *oda.Component) string {
	if c == nil || c.Status == nil || c.Status.Summary == nil {
		return ""
	}
	return c.Status.Summary.DeploymentStatus
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

// openPTY opens a pseudo-terminal: the CLI writes to tty, and output
// returns what a terminal would have shown once the writer is done.
func openPTY(t *testing.T) (tty *os.File, output func() string) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() { // reads until the terminal closes (EIO once tty is closed)
		defer close(done)
		_, _ = io.Copy(&buf, master)
	}()
	return tty, func() string {
		tty.Close()
		<-done
		return buf.String()
	}
}
