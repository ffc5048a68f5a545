package up_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/client"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/up"
)

// TestUpstreamExamples applies every upstream example to one embedded
// canvas twice over: as published (no Wasm artefacts named) each must end
// Failed with a reason naming a missing implementation, as the reference
// canvas reports a failed deployment; with every implementation supplied
// (the runtime's echo component standing in) each must become Complete and
// serve each exposed API at its status url.
func TestUpstreamExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testref.Path(t, "oda", "examples"), "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	c := startWith(t, up.Options{StateDir: t.TempDir(), ArtefactRoots: testRoots, Authenticator: roleTokens})
	cl, err := client.NewHTTP(c.Info().API, admin(t, c.Info().StateDir))
	if err != nil {
		t.Fatal(err)
	}
	type example struct {
		file string
		comp *oda.Component
	}
	var examples []example
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		comp, err := oda.Parse(filepath.Base(f), data)
		if err != nil {
			t.Fatal(err)
		}
		examples = append(examples, example{f, comp})
	}
	// Examples with dependent APIs need TMF620, which the others expose:
	// apply them last so the dependency resolves (as the upstream BDD
	// installs r-cat before f-cat).
	hasDeps := func(c *oda.Component) bool {
		return c.Spec.CoreFunction != nil && len(c.Spec.CoreFunction.DependentAPIs) > 0
	}
	sort.SliceStable(examples, func(i, j int) bool { return !hasDeps(examples[i].comp) && hasDeps(examples[j].comp) })
	for i, ex := range examples {
		f, comp := ex.file, ex.comp
		bare := render(t, comp, "bare", nil)
		st := applyAndWait(t, cl, "bare", comp.Metadata.Name, bare, oda.DeploymentFailed)
		if !strings.Contains(st.Summary.FailureReason, "no Wasm artefact for implementation") || !strings.Contains(st.Summary.FailedPart, "implementation") {
			t.Errorf("%s: failure %q at %q does not name the missing implementation", filepath.Base(f), st.Summary.FailureReason, st.Summary.FailedPart)
		}

		// Served copies stay up side by side, each under its own path
		// prefix, as distinct Helm releases of the examples would be.
		ns := fmt.Sprintf("release-%d", i)
		served := render(t, comp, ns, func(a *oda.ExposedAPI) {
			a.Path = "/" + ns + a.EffectivePath()
			if len(a.Specification) > 0 && a.Specification[0].Path != "" {
				a.Specification[0].Path = "/" + ns + a.Specification[0].Path
			}
		})
		want := oda.DeploymentComplete
		if sf := comp.Spec.SecurityFunction; sf != nil && sf.SecretsManagement != nil {
			want = oda.DeploymentFailed // no secrets side-car here: said, not waited on
		}
		st = applyAndWait(t, cl, ns, comp.Metadata.Name, served, want)
		if want == oda.DeploymentFailed && st.Summary.FailedPart != "spec.securityFunction.secretsManagement" {
			t.Errorf("%s: failed at %q: %s", filepath.Base(f), st.Summary.FailedPart, st.Summary.FailureReason)
		}
		apis := append(append(st.CoreAPIs, st.ManagementAPIs...), st.SecurityAPIs...)
		if len(apis) == 0 {
			t.Errorf("%s: no API in status", filepath.Base(f))
		}
		// Metrics APIs are scraped without a token, guarded or not.
		metrics := map[string]bool{} // by path, as served under ns
		for _, fn := range comp.Spec.ExposedAPIsByFunction() {
			for i := range fn {
				metrics[c.Info().Ingress+"/"+ns+fn[i].EffectivePath()] = fn[i].Metrics()
			}
		}
		for _, api := range apis {
			if !strings.HasPrefix(api.URL, c.Info().Ingress+"/"+ns+"/") {
				t.Errorf("%s: status url %s is not under the gateway", filepath.Base(f), api.URL)
			}
			sf := comp.Spec.SecurityFunction
			if sf == nil || metrics[api.URL] {
				if code, _ := get(t, api.URL); code != 200 {
					t.Errorf("%s: %s answers %d", filepath.Base(f), api.URL, code)
				}
				continue
			}
			// A securityFunction guards every other exposed API: a token
			// with the canvasSystemRole passes, none is refused.
			if code, _ := getWith(t, api.URL, "Bearer role:"+sf.CanvasSystemRole); code != 200 {
				t.Errorf("%s: %s answers %d to a token with role %s", filepath.Base(f), api.URL, code, sf.CanvasSystemRole)
			}
			if code, _ := get(t, api.URL); code != 401 {
				t.Errorf("%s: %s answers %d without a token, want 401", filepath.Base(f), api.URL, code)
			}
		}
	}
}

// render returns comp as JSON in namespace ns. With edit set, every
// implementation gets the echo component as artefact and edit may change
// each exposed API; without, no artefact is named.
func render(t *testing.T, comp *oda.Component, ns string, edit func(*oda.ExposedAPI)) []byte {
	t.Helper()
	cp := comp.DeepCopy()
	cp.Metadata.Namespace = ns
	if edit != nil {
		impls := map[string]string{}
		for _, fn := range cp.Spec.ExposedAPIsByFunction() {
			for i := range fn {
				impls[fn[i].EffectiveImplementation()] = "file://" + echoWasm
				edit(&fn[i])
			}
		}
		raw, _ := json.Marshal(impls)
		if cp.Metadata.Annotations == nil {
			cp.Metadata.Annotations = map[string]string{}
		}
		cp.Metadata.Annotations[oda.AnnotationImplementations] = string(raw)
	}
	data, err := oda.Marshal(cp, "json")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func applyAndWait(t *testing.T, cl *client.HTTP, ns, name string, body []byte, want string) *oda.ComponentStatus {
	t.Helper()
	if _, _, err := cl.Apply(context.Background(), name+".json", body); err != nil {
		t.Fatalf("apply %s/%s: %v", ns, name, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := cl.Status(context.Background(), ns, name)
		if err == nil && st.Summary != nil && st.Summary.DeploymentStatus == want {
			return st
		}
		if time.Now().After(deadline) {
			got := ""
			if st != nil && st.Summary != nil {
				got = st.Summary.DeploymentStatus + ": " + st.Summary.FailureReason
			}
			t.Fatalf("%s/%s: status %q, want %s (%v)", ns, name, got, want, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
