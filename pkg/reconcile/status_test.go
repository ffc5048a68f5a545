package reconcile

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/deploy"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmtest"
)

func TestMajorSuffix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		version, url, want string
	}{
		{"", "https://raw.githubusercontent.com/tmforum-apis/TMF620_ProductCatalog/master/TMF620-ProductCatalog-v4.0.0.swagger.json", "-v4"},
		{"", "https://raw.githubusercontent.com/tmforum-apis/TMF672_UserRolePermissions/master/TMF672-UserRolePermissions-v5.0.0.swagger.json", "-v5"},
		{"4.0.1", "https://example.org/TMF620-v5.0.0.json", "-v4"},
		{"v5", "", "-v5"},
		{"", "https://example.org/api/v12/openapi.yaml", "-v12"},
		{"", "https://example.org/metrics", ""},
		{"", "", ""},
		{"beta", "https://example.org/devops/spec.json", ""},
	}
	for _, tt := range tests {
		if got := majorSuffix(tt.version, tt.url); got != tt.want {
			t.Errorf("majorSuffix(%q, %q) = %q, want %q", tt.version, tt.url, got, tt.want)
		}
	}
}

func TestDeploymentStatusStateMachine(t *testing.T) {
	t.Parallel()
	c := example(t, productCatalog, "ctk-productcatalogmanagement")
	dep := example(t, "productcatalog-dependent-api-v1.component.yaml", "ctk-dependent")
	sman := example(t, "productcatalog-v1-sman.component.yaml", "ctk-sman")
	deployed := deploy.AppStatus{Type: wadm.StatusDeployed, Exists: true, DeployedVersion: "v-1"}
	failed := deploy.AppStatus{Type: wadm.StatusFailed, Exists: true, DeployedVersion: "v-1", Message: "boom",
		Scalers: []wadm.ScalerStatus{{Name: "ok", Info: wadm.StatusInfo{Type: wadm.StatusDeployed}}, {Name: "components_x-impl", Info: wadm.StatusInfo{Type: wadm.StatusFailed}}}}
	unresolved := func([]string) (string, bool) { return "", false }
	resolved := func([]string) (string, bool) { return "http://127.0.0.1:8080/provider/v4", true }
	tests := []struct {
		name       string
		in         statusInput
		want       string
		wantReason string
		wantPart   string
	}{
		{"app reconciling", statusInput{c: c, version: "v-1", observed: deploy.AppStatus{Type: wadm.StatusReconciling, DeployedVersion: "v-1"}}, oda.DeploymentInProgressCompCon, "", ""},
		{"old version deployed", statusInput{c: c, version: "v-2", observed: deployed}, oda.DeploymentInProgressCompCon, "", ""},
		{"no identity provider", statusInput{c: c, version: "v-1", observed: deployed}, oda.DeploymentInProgressIDConfOp, "", ""},
		{"complete", statusInput{c: c, version: "v-1", observed: deployed, identityProvider: "idp"}, oda.DeploymentComplete, "", ""},
		{"dependency unresolved", statusInput{c: dep, version: "v-1", observed: deployed, identityProvider: "idp", resolve: unresolved}, oda.DeploymentInProgressDepAPI, "", ""},
		{"dependency resolved", statusInput{c: dep, version: "v-1", observed: deployed, identityProvider: "idp", resolve: resolved}, oda.DeploymentComplete, "", ""},
		{"secrets requested", statusInput{c: sman, version: "v-1", observed: deployed, identityProvider: "idp"}, oda.DeploymentFailed, secretsUnsupported, "spec.securityFunction.secretsManagement"},
		{"wadm failed", statusInput{c: c, version: "v-1", observed: failed, identityProvider: "idp", parts: map[string]string{"components_x-impl": "impl"}}, oda.DeploymentFailed, "boom", "impl"},
		{"translate failed", statusInput{c: c, translateErr: oda.ErrorList{{Path: "spec.x", Msg: "bad", Fix: "fix it"}}}, oda.DeploymentFailed, "spec.x: bad; fix: fix it", "spec.x"},
		{"other error", statusInput{c: c, translateErr: errors.New("plain")}, oda.DeploymentFailed, "plain", ""},
	}
	for _, tt := range tests {
		st := computeStatus(tt.in)
		s := st.Summary
		if s.DeploymentStatus != tt.want || s.FailureReason != tt.wantReason || s.FailedPart != tt.wantPart {
			t.Errorf("%s: %s (%q at %q), want %s (%q at %q)", tt.name, s.DeploymentStatus, s.FailureReason, s.FailedPart, tt.want, tt.wantReason, tt.wantPart)
		}
	}
}

func TestStatusIsDeterministic(t *testing.T) {
	t.Parallel()
	c := example(t, "productcatalog-enhanced-v1.component.yaml", "ctk-enhanced")
	in := statusInput{c: c, app: "components-ctk-enhanced", version: "v-1", baseURL: testBaseURL, identityProvider: "idp",
		observed: deploy.AppStatus{Type: wadm.StatusDeployed, DeployedVersion: "v-1"}}
	a := computeStatus(in)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(computeStatus(in))
	if string(ja) != string(jb) {
		t.Fatalf("same input, different status:\n%s\n%s", ja, jb)
	}
	seen := map[string]bool{}
	for _, l := range [][]oda.APIStatus{a.CoreAPIs, a.ManagementAPIs, a.SecurityAPIs} {
		for _, e := range l {
			if seen[e.UID] {
				t.Errorf("uid %s used twice", e.UID)
			}
			seen[e.UID] = true
		}
	}
}

func TestDependentAPIResolvesToProvider(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []wadmtest.Option{wadmtest.WithDelay(5 * time.Millisecond)})
	e.run()
	consumer := example(t, "productcatalog-dependent-api-v1.component.yaml", "f-cat")
	e.apply(consumer)
	st := e.waitState(consumer.Key().String(), oda.DeploymentInProgressDepAPI)
	if d := st.CoreDependentAPIs; len(d) != 1 || d[0].Ready || d[0].Name != "f-cat-downstreamproductcatalog-v4" {
		t.Fatalf("coreDependentAPIs before the provider = %+v", d)
	}

	provider := example(t, productCatalog, "r-cat")
	e.apply(provider)
	e.waitState(provider.Key().String(), oda.DeploymentComplete)
	st = e.waitState(consumer.Key().String(), oda.DeploymentComplete)
	want := testBaseURL + "/r-cat/tmf-api/productCatalogManagement/v4"
	if d := st.CoreDependentAPIs[0]; !d.Ready || d.URL != want {
		t.Fatalf("dependent API %+v, want ready at %s", d, want)
	}
	if got := st.Summary.CoreDependentAPISummary; got != want+" " {
		t.Fatalf("coreDependentAPIsummary %q", got)
	}
}

func TestExternalDependenciesAreReady(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []wadmtest.Option{wadmtest.WithDelay(5 * time.Millisecond)}, func(o *Options) { o.ExternalDependencies = true })
	e.run()
	consumer := example(t, "productcatalog-dependent-api-v1.component.yaml", "f-ext")
	e.apply(consumer)
	st := e.waitState(consumer.Key().String(), oda.DeploymentComplete)
	d := st.CoreDependentAPIs[0]
	if !d.Ready || d.URL != consumer.Spec.CoreFunction.DependentAPIs[0].Specification[0].URL {
		t.Fatalf("external dependency %+v, want ready at its specification URL", d)
	}
}
