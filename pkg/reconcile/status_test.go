package reconcile

import (
	"encoding/json"
	"errors"
	"reflect"
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
	unresolved := func([]string) (string, bool, string) { return "", false, "" }
	resolved := func([]string) (string, bool, string) { return "http://127.0.0.1:8080/provider/v4", true, "" }
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
		{"registered identity", statusInput{c: c, version: "v-1", observed: deployed, identity: &oda.IdentityConfigStatus{IdentityProvider: "idp", ClientID: "x"}}, oda.DeploymentComplete, "", ""},
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

// What the IdentityConfigurer registered is the status, not an assumption.
func TestIdentityConfigIsWhatWasRegistered(t *testing.T) {
	t.Parallel()
	c := example(t, productCatalog, "ctk-productcatalogmanagement")
	reg := oda.IdentityConfigStatus{IdentityProvider: "idp", Issuer: "http://127.0.0.1:1/oidc", ClientID: "ctk-productcatalogmanagement", CanvasSystemRole: "Admin"}
	st := computeStatus(statusInput{c: c, version: "v-1", identityProvider: "assumed", identity: &reg,
		observed: deploy.AppStatus{Type: wadm.StatusDeployed, Exists: true, DeployedVersion: "v-1"}})
	if st.IdentityConfig == nil || !reflect.DeepEqual(*st.IdentityConfig, reg) {
		t.Fatalf("identityConfig %+v, want %+v", st.IdentityConfig, reg)
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

const tmf620v5 = "https://raw.githubusercontent.com/tmforum-apis/TMF620_ProductCatalog/master/TMF620-ProductCatalog-v5.0.0.oas.yaml"

func TestDependentAPIResolvesToProvider(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []wadmtest.Option{wadmtest.WithDelay(5 * time.Millisecond)})
	e.run()
	consumer := example(t, "productcatalog-dependent-api-v1.component.yaml", "f-cat")
	// The example also exposes the TMF620 it depends on, which would
	// provide it to itself (TestDependentAPIProvidedByItself): expose
	// another version here so only the provider can.
	consumer.Spec.CoreFunction.ExposedAPIs[0].Specification[0].URL = tmf620v5
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

// TestDependentAPIProvidedByItself: upstream's productcatalog-enhanced-v1
// depends on the TMF620 v4.0.0 it exposes; as on the reference canvas (its
// dependent-API operator matches every ready ExposedAPI, its own
// Component's included) it resolves to its own API and reaches Complete
// with no other Component present.
func TestDependentAPIProvidedByItself(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []wadmtest.Option{wadmtest.WithDelay(5 * time.Millisecond)}, func(o *Options) { o.PollInterval = time.Hour })
	e.run()
	c := example(t, "productcatalog-enhanced-v1.component.yaml", "self-cat")
	e.apply(c)
	st := e.waitState(c.Key().String(), oda.DeploymentComplete)
	want := testBaseURL + "/self-cat/tmf-api/productCatalogManagement/v4"
	if d := st.CoreDependentAPIs; len(d) != 1 || !d[0].Ready || d[0].URL != want {
		t.Fatalf("coreDependentAPIs %+v, want one ready at its own %s", d, want)
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

// TestSitesFromWadmStatus: a Component placed on two sites reports, in the
// wasmCloud part of its status, the replicas per site of each
// implementation as the wadm double's spreadscaler status gives them:
// deployed, then failed for the site wadm names and requested for the other.
func TestSitesFromWadmStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []wadmtest.Option{wadmtest.WithDelay(5 * time.Millisecond)})
	e.run()
	c := example(t, productCatalog, "s-cat")
	if c.Metadata.Annotations == nil {
		c.Metadata.Annotations = map[string]string{}
	}
	c.Metadata.Annotations[oda.AnnotationPlacement] = `{"sites": {"north-1": 2, "south-1": 1}}`
	e.apply(c)
	key := c.Key().String()
	st := e.waitState(key, oda.DeploymentComplete)
	sites := st.WasmCloud.Sites
	if len(sites) != 6 {
		t.Fatalf("sites = %+v; want north-1 and south-1 for each of the 3 implementations", sites)
	}
	for _, s := range sites {
		want := map[string]int{"north-1": 2, "south-1": 1}[s.Site]
		if s.State != string(wadm.StatusDeployed) || s.Replicas != want || s.Requirements["site"] != s.Site {
			t.Errorf("deployed: %+v; want %d replicas deployed on hosts labelled site=%s", s, want, s.Site)
		}
	}

	msg := "Could not satisfy spread south-1 for file:///opt/wasm/prodcatapi.wasm, 0/1 eligible hosts found."
	e.wadm.Fail(appOf(c), msg)
	st = e.waitState(key, oda.DeploymentFailed)
	for _, s := range st.WasmCloud.Sites {
		switch {
		case s.Site == "south-1" && (s.State != string(wadm.StatusFailed) || s.Message != msg):
			t.Errorf("south-1 %+v; want failed with wadm's sentence", s)
		case s.Site == "north-1" && (s.State != oda.SiteRequested || s.Replicas != 2 || s.Message != ""):
			t.Errorf("north-1 %+v; want its 2 replicas requested (wadm says nothing of it)", s)
		}
	}
}

func TestSiteStatuses(t *testing.T) {
	t.Parallel()
	two := []spreadPart{
		{impl: "api", spread: wadm.Spread{Name: "a", Requirements: map[string]string{"site": "a"}}, replicas: 2},
		{impl: "api", spread: wadm.Spread{Name: "b", Requirements: map[string]string{"site": "b"}}, replicas: 1},
	}
	scaler := func(typ wadm.StatusType, msg string) []wadm.ScalerStatus {
		return []wadm.ScalerStatus{
			{Kind: wadm.ScalerKindLink, Name: "api", Info: wadm.StatusInfo{Type: wadm.StatusDeployed}},
			{Kind: wadm.ScalerKindSpread, Name: "app-api", Info: wadm.StatusInfo{Type: typ, Message: msg}},
		}
	}
	parts := map[string]string{"app-api": "api"}
	both := "Could not satisfy spread a for r, 0/1 eligible hosts found. Could not satisfy spread b for r, 0/1 eligible hosts found."
	tests := []struct {
		name     string
		observed deploy.AppStatus
		want     [2]string // state: message of a, b
	}{
		{"no word from wadm", deploy.AppStatus{Type: wadm.StatusReconciling}, [2]string{"requested: ", "requested: "}},
		{"reconciling", deploy.AppStatus{Scalers: scaler(wadm.StatusReconciling, "Scaling component on 1 host(s)")},
			[2]string{"reconciling: Scaling component on 1 host(s)", "reconciling: Scaling component on 1 host(s)"}},
		{"both failed", deploy.AppStatus{Scalers: scaler(wadm.StatusFailed, both)},
			[2]string{"failed: Could not satisfy spread a for r, 0/1 eligible hosts found.", "failed: Could not satisfy spread b for r, 0/1 eligible hosts found."}},
		{"failed for another reason", deploy.AppStatus{Scalers: scaler(wadm.StatusFailed, "image pull failed")},
			[2]string{"failed: image pull failed", "failed: image pull failed"}},
		{"embedded canvas", deploy.AppStatus{IgnoresPlacement: true, Scalers: []wadm.ScalerStatus{{Kind: wadm.ScalerKindSpread, Name: "api", Info: wadm.StatusInfo{Type: wadm.StatusDeployed}}}},
			[2]string{"ignored: the embedded canvas runs every component on its one node; spread requirements are accepted and ignored", "ignored: the embedded canvas runs every component on its one node; spread requirements are accepted and ignored"}},
	}
	for _, tt := range tests {
		got := statusInput{spreads: two, parts: parts, observed: tt.observed}.siteStatuses()
		for i, s := range got {
			if s.State+": "+s.Message != tt.want[i] || s.Replicas != two[i].replicas {
				t.Errorf("%s: site %s = %s: %s (%d replicas), want %s", tt.name, s.Site, s.State, s.Message, s.Replicas, tt.want[i])
			}
		}
	}
	if got := (statusInput{}).siteStatuses(); got != nil {
		t.Errorf("no placement: %+v, want no sites", got)
	}
}

func TestCodeStatuses(t *testing.T) {
	got := codeStatuses([]deploy.CodeStatus{
		{Component: "api", Tier: "baseline", BaselineCompile: 2104 * time.Millisecond, BaselineCompiler: "winch"},
		{Component: "ui", Tier: "optimized", OptimizedCompile: 81500 * time.Microsecond, CacheHit: true, StreamAdapter: true, StreamsRetyped: true},
		{Component: "bad", Tier: "baseline", BaselineCompile: time.Second, Error: "boom"},
	})
	want := []oda.CodeStatus{
		{Implementation: "api", Tier: "baseline", BaselineCompile: "2.104s", BaselineCompiler: "winch"},
		{Implementation: "ui", Tier: "optimized", OptimizedCompile: "82ms", Cached: true, StreamAdapter: true, StreamsRetyped: true},
		{Implementation: "bad", Tier: "baseline", BaselineCompile: "1s", Error: "boom"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("codeStatuses = %+v, want %+v", got, want)
	}
	if codeStatuses(nil) != nil {
		t.Error("no code must stay absent from the status")
	}
}
