package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmtest"
)

const productCatalog = "productcatalog-v1.component.yaml"

func TestApplyReachesCompleteInReferenceShape(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []wadmtest.Option{wadmtest.WithDelay(50 * time.Millisecond)})
	e.run()
	c := example(t, productCatalog, "ctk-productcatalogmanagement")
	e.apply(c)
	st := e.waitState(c.Key().String(), oda.DeploymentComplete)

	raw, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	version, _ := e.wadm.Deployed(appOf(c))
	if version == "" {
		t.Fatal("wadm double has no deployed version")
	}
	base := testBaseURL + "/ctk-productcatalogmanagement"
	core := base + "/tmf-api/productCatalogManagement/v4"
	sec := base + "/rolesAndPermissionsManagement/v5"
	want := map[string]any{
		"coreAPIs": []any{map[string]any{
			"name": "ctk-productcatalogmanagement-productcatalogmanagement-v4", "implementation": "ctk-prodcatapi",
			"path": "/ctk-productcatalogmanagement/tmf-api/productCatalogManagement/v4", "port": 8080.0,
			"url": core, "developerUI": core + "/docs", "ready": true,
		}},
		"managementAPIs": []any{map[string]any{
			"name": "ctk-productcatalogmanagement-metrics", "implementation": "ctk-productcatalogmanagement-sm",
			"path": "/ctk-productcatalogmanagement/metrics", "port": 4000.0, "url": base + "/metrics", "ready": true,
		}},
		"securityAPIs": []any{map[string]any{
			"name": "ctk-productcatalogmanagement-userrolesandpermissions-v5", "implementation": "ctk-permissionspecapi",
			"path": "/ctk-productcatalogmanagement/rolesAndPermissionsManagement/v5", "port": 8080.0,
			"url": sec, "developerUI": sec + "/docs", "ready": true,
		}},
		"coreDependentAPIs":         []any{},
		"managementDependentAPIs":   []any{},
		"securityDependentAPIs":     []any{},
		"securitySecretsManagement": map[string]any{},
		"publishedEvents":           []any{},
		"subscribedEvents":          []any{},
		"identityConfig":            map[string]any{"identityProvider": DefaultIdentityProvider, "listenerRegistered": false},
		"summary/status": map[string]any{
			"coreAPIsummary":                   core + " ",
			"coreDependentAPIsummary":          "",
			"managementDependentAPIsummary":    "",
			"securityDependentAPIsummary":      "",
			"securitySecretsManagementSummary": "",
			"managementAPIsummary":             base + "/metrics ",
			"securityAPIsummary":               sec + " ",
			"developerUIsummary":               core + "/docs " + sec + "/docs ",
			"deployment_status":                "Complete",
		},
		"wasmCloud": map[string]any{"app": appOf(c), "version": version, "status": "deployed"},
	}
	// uids are generated: check their shape, then compare the rest exactly.
	for _, list := range []string{"coreAPIs", "managementAPIs", "securityAPIs"} {
		for _, entry := range got[list].([]any) {
			m := entry.(map[string]any)
			uid, _ := m["uid"].(string)
			if len(uid) != 36 || strings.Count(uid, "-") != 4 {
				t.Errorf("%s uid %q is not UUID-shaped", list, uid)
			}
			delete(m, "uid")
		}
	}
	gotJSON, _ := json.MarshalIndent(got, "", "  ")
	wantJSON, _ := json.MarshalIndent(want, "", "  ")
	if string(gotJSON) != string(wantJSON) {
		t.Fatalf("status differs from the reference shape\ngot:  %s\nwant: %s", gotJSON, wantJSON)
	}

	// Events are recorded after the status write that they report: poll.
	waitFor(t, "events", func() (bool, string) {
		evs, err := e.events.List(e.opCtx(), c.Key().String(), c.Metadata.UID)
		if err != nil {
			return false, err.Error()
		}
		var reasons []string
		for _, ev := range evs {
			reasons = append(reasons, ev.Reason)
		}
		want := []string{ReasonTranslated, ReasonManifestPut, ReasonDeployed, ReasonReady}
		return slices.Equal(reasons, want), fmt.Sprintf("%v, want %v", reasons, want)
	})
}

func TestUpdateDeploysNewVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []wadmtest.Option{wadmtest.WithDelay(20 * time.Millisecond)})
	e.run()
	c := example(t, productCatalog, "pc-update")
	e.apply(c)
	first := e.waitState(c.Key().String(), oda.DeploymentComplete).WasmCloud.Version

	c.Spec.ComponentMetadata.Version = "0.0.2"
	c.Spec.CoreFunction.ExposedAPIs[0].Path = "/pc-update/tmf-api/productCatalogManagement/v4"
	e.apply(c)
	var st *oda.ComponentStatus
	waitFor(t, "new version Complete", func() (bool, string) {
		st = e.statusOf(c.Key().String())
		if st == nil {
			return false, "no status"
		}
		return st.WasmCloud.Version != first && st.Summary.DeploymentStatus == oda.DeploymentComplete,
			fmt.Sprintf("%s version %s", st.Summary.DeploymentStatus, st.WasmCloud.Version)
	})
	app := appOf(c)
	if v, _ := e.wadm.Deployed(app); v != st.WasmCloud.Version {
		t.Fatalf("wadm deployed %q, status says %q", v, st.WasmCloud.Version)
	}
	if vs := e.wadm.Versions(app); len(vs) != 2 || vs[0] != first || vs[1] != st.WasmCloud.Version {
		t.Fatalf("wadm versions %v, want [%s %s]", vs, first, st.WasmCloud.Version)
	}
	if got, want := st.CoreAPIs[0].URL, testBaseURL+"/pc-update/tmf-api/productCatalogManagement/v4"; got != want {
		t.Fatalf("core API url %q after update, want %q", got, want)
	}
}

func TestDeleteRemovesApplication(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []wadmtest.Option{wadmtest.WithDelay(10 * time.Millisecond)})
	e.run()
	c := example(t, productCatalog, "pc-delete")
	e.apply(c)
	e.waitState(c.Key().String(), oda.DeploymentComplete)
	if err := e.desired.Delete(e.opCtx(), c.Metadata.Namespace, c.Metadata.Name, 0); err != nil {
		t.Fatal(err)
	}
	app := appOf(c)
	waitFor(t, "application and status removed", func() (bool, string) {
		models := e.wadm.Models()
		st := e.statusOf(c.Key().String())
		return !slices.Contains(models, app) && st == nil, fmt.Sprintf("models %v, status present %t", models, st != nil)
	})
	if e.wadm.Undeploys() == 0 {
		t.Error("application deleted without an undeploy")
	}
	// The event is recorded after the removal: poll for it.
	waitFor(t, "Deleted event", func() (bool, string) {
		evs, err := e.events.List(e.opCtx(), c.Key().String(), c.Metadata.UID)
		if err != nil {
			return false, err.Error()
		}
		return len(evs) > 0 && evs[len(evs)-1].Reason == ReasonDeleted, fmt.Sprintf("%+v", evs)
	})
}

func TestWadmFailureBecomesFailed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []wadmtest.Option{wadmtest.WithDelay(10 * time.Millisecond)})
	c := example(t, productCatalog, "pc-fail")
	const msg = "Failed to scale component: no host matches the requirements site=edge-1"
	e.wadm.Fail(appOf(c), msg)
	e.run()
	e.apply(c)
	st := e.waitState(c.Key().String(), oda.DeploymentFailed)
	sum := st.Summary
	if sum.FailureReason != msg {
		t.Errorf("failureReason %q, want wadm's message %q", sum.FailureReason, msg)
	}
	if sum.FailedPart != "ctk-prodcatapi" {
		t.Errorf("failedPart %q, want the failing scaler's component ctk-prodcatapi", sum.FailedPart)
	}
	if st.WasmCloud.Status != "failed" || st.WasmCloud.Message != msg {
		t.Errorf("wasmCloud %+v, want failed with wadm's message", st.WasmCloud)
	}
	if st.CoreAPIs[0].Ready {
		t.Error("API ready on a failed application")
	}

	// Clearing the failure converges to Complete without a new version.
	deploys := e.wadm.Deploys()
	e.wadm.Clear(appOf(c))
	e.waitState(c.Key().String(), oda.DeploymentComplete)
	if got := e.wadm.Deploys(); got != deploys {
		t.Errorf("recovery redeployed: %d deploys, want %d", got, deploys)
	}
}

func TestMissingImplementationFailsWithoutPut(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.run()
	c := example(t, productCatalog, "pc-missing")
	c.Spec.CoreFunction.ExposedAPIs[0].Implementation = "ctk-not-built-yet"
	e.apply(c)
	st := e.waitState(c.Key().String(), oda.DeploymentFailed)
	sum := st.Summary
	if !strings.Contains(sum.FailureReason, `"ctk-not-built-yet"`) || !strings.Contains(sum.FailureReason, oda.AnnotationImplementations) {
		t.Errorf("failureReason %q does not name the implementation and how to supply it", sum.FailureReason)
	}
	if want := "spec.coreFunction.exposedAPIs[0].implementation"; sum.FailedPart != want {
		t.Errorf("failedPart %q, want %q", sum.FailedPart, want)
	}
	waitFor(t, "terminal error counted", func() (bool, string) {
		s := e.ctrl.Stats()
		return s.Terminal >= 1, fmt.Sprintf("%+v", s)
	})
	if n := e.wadm.Puts(); n != 0 {
		t.Errorf("%d wadm puts for a Component that does not translate", n)
	}
	evs, err := e.events.List(e.opCtx(), c.Key().String(), c.Metadata.UID)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Type != EventWarning || evs[0].Reason != ReasonTranslateFailed {
		t.Errorf("events %+v, want one Warning %s", evs, ReasonTranslateFailed)
	}
}

func TestConvergedSystemWritesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []wadmtest.Option{wadmtest.WithDelay(5 * time.Millisecond)})
	e.run()
	var keys []string
	for i := range 3 {
		c := example(t, productCatalog, fmt.Sprintf("pc-idem-%d", i))
		e.apply(c)
		keys = append(keys, c.Key().String())
	}
	for _, k := range keys {
		e.waitState(k, oda.DeploymentComplete)
	}
	revisions := map[string]uint64{}
	for _, k := range keys {
		ent, err := e.desired.Get(e.opCtx(), testNamespace, strings.TrimPrefix(k, testNamespace+"."))
		if err != nil {
			t.Fatal(err)
		}
		revisions[k] = ent.Revision
	}
	before := e.ctrl.Stats()
	puts, deploys := e.wadm.Puts(), e.wadm.Deploys()

	const passes = 5
	for range passes {
		for _, k := range keys {
			e.ctrl.Enqueue(k)
		}
		e.ctrl.resync(e.ctx)
	}
	waitFor(t, "re-reconciles done", func() (bool, string) {
		s := e.ctrl.Stats()
		return s.Reconciles-before.Reconciles >= int64(len(keys)) && s.QueueDepth == 0, fmt.Sprintf("%+v", s)
	})
	// A pass over each key once more, synchronously, to be sure the loop
	// is idle and every earlier pass has finished.
	for _, k := range keys {
		if _, err := e.ctrl.Reconcile(e.opCtx(), k); err != nil {
			t.Fatal(err)
		}
	}
	after := e.ctrl.Stats()
	if d := after.StatusWrites - before.StatusWrites; d != 0 {
		t.Errorf("%d status writes on a converged system", d)
	}
	if d := e.wadm.Puts() - puts; d != 0 {
		t.Errorf("%d wadm puts on a converged system", d)
	}
	if d := e.wadm.Deploys() - deploys; d != 0 {
		t.Errorf("%d wadm deploys on a converged system", d)
	}
	for _, k := range keys {
		ent, err := e.desired.Get(e.opCtx(), testNamespace, strings.TrimPrefix(k, testNamespace+"."))
		if err != nil {
			t.Fatal(err)
		}
		if ent.Revision != revisions[k] {
			t.Errorf("%s desired revision moved %d -> %d: status must not touch it", k, revisions[k], ent.Revision)
		}
	}
}

func TestManyComponentsConverge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []wadmtest.Option{wadmtest.WithDelay(5 * time.Millisecond)})
	e.run()
	const n = 50
	comps := make([]*oda.Component, n)
	var wg sync.WaitGroup
	for i := range n {
		comps[i] = example(t, productCatalog, fmt.Sprintf("pc-many-%02d", i))
		wg.Add(1)
		go func(c *oda.Component) {
			defer wg.Done()
			if _, err := e.desired.Put(e.opCtx(), c.Metadata.Namespace, c.Metadata.Name, *c); err != nil {
				t.Errorf("apply %s: %v", c.Key(), err)
			}
		}(comps[i])
	}
	wg.Wait()
	for _, c := range comps {
		st := e.waitState(c.Key().String(), oda.DeploymentComplete)
		app := appOf(c)
		vs := e.wadm.Versions(app)
		deployed, _ := e.wadm.Deployed(app)
		if len(vs) != 1 || deployed != vs[0] || st.WasmCloud.Version != deployed {
			t.Errorf("%s: versions %v, deployed %q, status version %q; want one version, deployed and reported", app, vs, deployed, st.WasmCloud.Version)
		}
	}
	if got := len(e.wadm.Models()); got != n {
		t.Errorf("%d wadm applications, want %d", got, n)
	}
	if got := e.wadm.Deploys(); got != n {
		t.Errorf("%d deploys for %d new Components, want one each", got, n)
	}
}

func TestNATSRestartConverges(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []wadmtest.Option{wadmtest.WithDelay(5 * time.Millisecond)}, func(o *Options) { o.Resync = time.Second })
	e.run()
	a := example(t, productCatalog, "pc-before-restart")
	e.apply(a)
	e.waitState(a.Key().String(), oda.DeploymentComplete)

	e.restartNATS()
	waitFor(t, "client reconnected", func() (bool, string) { return e.nc.IsConnected(), e.nc.Status().String() })

	// JetStream recovers its streams after the client is back; a write in
	// that window times out, and the user (here the test) tries again.
	b := example(t, productCatalog, "pc-after-restart")
	waitFor(t, "JetStream accepts writes", func() (bool, string) {
		ctx, cancel := context.WithTimeout(e.ctx, 2*time.Second)
		defer cancel()
		_, err := e.desired.Put(ctx, b.Metadata.Namespace, b.Metadata.Name, *b)
		return err == nil, fmt.Sprint(err)
	})
	e.waitState(b.Key().String(), oda.DeploymentComplete)
	a.Spec.ComponentMetadata.Version = "0.0.9"
	e.apply(a)
	waitFor(t, "update after restart deployed", func() (bool, string) {
		st := e.statusOf(a.Key().String())
		vs := e.wadm.Versions(appOf(a))
		return st != nil && len(vs) == 2 && st.WasmCloud.Version == vs[1] && st.Summary.DeploymentStatus == oda.DeploymentComplete,
			fmt.Sprintf("versions %v, status %+v", vs, st)
	})
}
