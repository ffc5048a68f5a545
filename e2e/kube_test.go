//go:build e2e

package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon/daemontest"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmtest"
)

// kubeCanvas is a real canvasd process (its kube API on a free loopback
// port over TLS) on a real nats-server with the wadm double, and the
// kubeconfig `canvas kubeconfig` printed for it.
type kubeCanvas struct {
	t          *testing.T
	ctx        context.Context
	root       string
	kubeconfig string
	dyn        *dynamic.DynamicClient
	wadm       *wadmtest.Server
	kubectlBin string // TestKubectl's: bin/kubectl of make kube-deps, else the one on PATH
}

func startKubeCanvas(t *testing.T) *kubeCanvas {
	t.Helper()
	root, err := testref.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	n := daemontest.StartNATSProcess(t)
	nc, err := nats.Connect(n.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	w := wadmtest.Run(t, nc, "default")
	canvasd := daemontest.Start(t, daemontest.Options{NATS: n.URL(), Args: []string{"--ingress-url", "https://components.example.org", "--resync", "2s"}})
	bin := buildCanvas(t, root)
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte(runCanvas(t, root, bin, "kubeconfig", "--state-dir", canvasd.StateDir)), 0o600); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(kc)
	cfg, err := clientcmd.RESTConfigFromKubeConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	return &kubeCanvas{t: t, ctx: ctx, root: root, kubeconfig: kc, dyn: dyn, wadm: w}
}

// implementationsFor maps every implementation of the upstream examples,
// with the metrics one renamed with the Component, to a (never pulled)
// artefact: the wadm double deploys without hosts.
func implementationsFor(name string) string {
	return `{"ctk-prodcatapi":"ghcr.io/a/c:1","ctk-permissionspecapi":"ghcr.io/a/p:1","ctk-partyroleapi":"ghcr.io/a/r:1","ctk-promgmtapi":"ghcr.io/a/m:1","` + name + `-sm":"ghcr.io/a/s:1"}`
}

// upstreamExample is an upstream example installed as release name (the
// reference canvas's Helm release prefix replaces "ctk-productcatalogmanagement"
// everywhere: name, label, paths), with its implementations annotated.
func upstreamExample(t *testing.T, file, name string) *unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(testref.Path(t, "oda", "examples", file))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(data), "ctk-productcatalogmanagement", name)
	s = strings.Replace(s, "metadata:\n", "metadata:\n  annotations:\n    "+oda.AnnotationImplementations+": '"+implementationsFor(name)+"'\n", 1)
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(s), &obj); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: obj}
}

func gvr(version, resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: oda.Group, Version: version, Resource: resource}
}

// until polls check every 100ms until it returns nil; the error of the
// last try fails the test at the deadline.
func (k *kubeCanvas) until(what string, check func() error) {
	k.t.Helper()
	var err error
	for {
		if err = check(); err == nil {
			return
		}
		select {
		case <-k.ctx.Done():
			k.t.Fatalf("%s: %v", what, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (k *kubeCanvas) deploymentStatus(namespace, name string) (string, error) {
	c, err := k.dyn.Resource(gvr("v1", "components")).Namespace(namespace).Get(k.ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	s, _, _ := unstructured.NestedString(c.Object, "status", "summary/status", "deployment_status")
	return s, nil
}

func (k *kubeCanvas) waitComplete(namespace, name string) {
	k.t.Helper()
	k.until(namespace+"/"+name+" Complete", func() error {
		s, err := k.deploymentStatus(namespace, name)
		if err == nil && s != oda.DeploymentComplete {
			err = fmt.Errorf("deployment_status %q", s)
		}
		return err
	})
}

// children lists the ExposedAPIs or DependentAPIs of component by label.
func (k *kubeCanvas) children(resource, namespace, component string) map[string]*unstructured.Unstructured {
	k.t.Helper()
	l, err := k.dyn.Resource(gvr("v1", resource)).Namespace(namespace).List(k.ctx, metav1.ListOptions{LabelSelector: oda.LabelComponentName + "=" + component})
	if err != nil {
		k.t.Fatal(err)
	}
	out := map[string]*unstructured.Unstructured{}
	for i := range l.Items {
		out[l.Items[i].GetName()] = &l.Items[i]
	}
	return out
}

func (k *kubeCanvas) waitChildren(resource, namespace, component string, want ...string) map[string]*unstructured.Unstructured {
	k.t.Helper()
	var got map[string]*unstructured.Unstructured
	k.until(fmt.Sprintf("%s of %s are %v", resource, component, want), func() error {
		got = k.children(resource, namespace, component)
		if len(got) != len(want) {
			return fmt.Errorf("have %d: %v", len(got), keys(got))
		}
		for _, w := range want {
			if got[w] == nil {
				return fmt.Errorf("no %s among %v", w, keys(got))
			}
		}
		return nil
	})
	return got
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestKubeUseCases: the reference canvas's BDD scenarios UC002, UC003,
// UC007-F001 and UC013 (../shared/reference/oda/NOTES.md) through
// client-go, driving installs by creating, replacing and deleting
// Components.
func TestKubeUseCases(t *testing.T) {
	k := startKubeCanvas(t)
	comps := k.dyn.Resource(gvr("v1", "components")).Namespace("components")

	// UC002-F001 / UC003-F001..F003: install; one ExposedAPI per segment,
	// each with its URL published and its implementation ready.
	if _, err := comps.Create(k.ctx, upstreamExample(t, "productcatalog-v1.component.yaml", "ctk"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	k.waitComplete("components", "ctk")
	exposed := k.waitChildren("exposedapis", "components", "ctk", "ctk-productcatalogmanagement-v4", "ctk-metrics", "ctk-userrolesandpermissions-v5")
	for name, segment := range map[string]string{"ctk-productcatalogmanagement-v4": "core", "ctk-metrics": "management", "ctk-userrolesandpermissions-v5": "security"} {
		x := exposed[name]
		if s, _, _ := unstructured.NestedString(x.Object, "spec", "segment"); s != segment {
			t.Errorf("%s segment %q, want %s", name, s, segment)
		}
		if u, _, _ := unstructured.NestedString(x.Object, "status", "apiStatus", "url"); !strings.HasPrefix(u, "https://components.example.org/ctk/") {
			t.Errorf("%s url %q not published on the ingress", name, u)
		}
		if ready, _, _ := unstructured.NestedBool(x.Object, "status", "implementation", "ready"); !ready {
			t.Errorf("%s implementation not ready", name)
		}
		if own := x.GetOwnerReferences(); len(own) != 1 || own[0].Name != "ctk" {
			t.Errorf("%s ownerReferences %+v", name, own)
		}
	}

	// UC002-F002 / UC003-F004: upgrade adds promotionmanagement.
	replace := func(file string, edit func(*unstructured.Unstructured)) {
		t.Helper()
		next := upstreamExample(t, file, "ctk")
		if edit != nil {
			edit(next)
		}
		cur, err := comps.Get(k.ctx, "ctk", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		next.SetResourceVersion(cur.GetResourceVersion())
		if _, err := comps.Update(k.ctx, next, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("replace with %s: %v", file, err)
		}
	}
	replace("productcatalog-enhanced-v1.component.yaml", nil)
	k.waitChildren("exposedapis", "components", "ctk", "ctk-productcatalogmanagement-v4", "ctk-metrics", "ctk-userrolesandpermissions-v5", "ctk-promotionmanagement-v4")
	// UC002-F002 / UC003-F005: upgrade removes it again.
	replace("productcatalog-v1.component.yaml", nil)
	k.waitChildren("exposedapis", "components", "ctk", "ctk-productcatalogmanagement-v4", "ctk-metrics", "ctk-userrolesandpermissions-v5")
	// UC002-F002: upgrade changes the API's specification (TMF620 v4.0.1).
	const v401 = "https://raw.githubusercontent.com/tmforum-apis/TMF620_ProductCatalog/master/TMF620-ProductCatalog-v4.0.1.swagger.json"
	replace("productcatalog-v1.component.yaml", func(u *unstructured.Unstructured) {
		apis, _, _ := unstructured.NestedSlice(u.Object, "spec", "coreFunction", "exposedAPIs")
		apis[0].(map[string]any)["specification"] = []any{map[string]any{"url": v401}}
		_ = unstructured.SetNestedSlice(u.Object, apis, "spec", "coreFunction", "exposedAPIs")
	})
	k.until("the ExposedAPI carries the new specification", func() error {
		x, err := k.dyn.Resource(gvr("v1", "exposedapis")).Namespace("components").Get(k.ctx, "ctk-productcatalogmanagement-v4", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if specs, _, _ := unstructured.NestedSlice(x.Object, "spec", "specification"); len(specs) != 1 || specs[0].(map[string]any)["url"] != v401 {
			return fmt.Errorf("specification %v", specs)
		}
		return nil
	})

	replace("productcatalog-v1.component.yaml", nil) // the TMF620 v4.0.0 the dependency below names

	// UC007-F001: a DependentAPI per segment (core, management, security).
	dep := upstreamExample(t, "productcatalog-dependent-api-v1.component.yaml", "f-cat")
	for _, fn := range []string{"managementFunction", "securityFunction"} {
		d := map[string]any{"name": "downstream" + strings.TrimSuffix(fn, "Function"), "apiType": "openapi",
			"specification": []any{map[string]any{"url": "https://raw.githubusercontent.com/tmforum-apis/TMF672_UserRolePermissions/master/TMF672-UserRolePermissions-v5.0.0.swagger.json"}}}
		_ = unstructured.SetNestedSlice(dep.Object, []any{d}, "spec", fn, "dependentAPIs")
	}
	if _, err := comps.Create(k.ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deps := k.waitChildren("dependentapis", "components", "f-cat", "f-cat-downstreamproductcatalog-v4", "f-cat-downstreammanagement-v5", "f-cat-downstreamsecurity-v5")
	for name, segment := range map[string]string{"f-cat-downstreamproductcatalog-v4": "core", "f-cat-downstreammanagement-v5": "management", "f-cat-downstreamsecurity-v5": "security"} {
		if s, _, _ := unstructured.NestedString(deps[name].Object, "spec", "segment"); s != segment {
			t.Errorf("%s segment %q, want %s", name, s, segment)
		}
	}
	k.until("the core dependency resolves to ctk's TMF620", func() error {
		d := k.children("dependentapis", "components", "f-cat")["f-cat-downstreamproductcatalog-v4"]
		if d == nil {
			return errors.New("gone")
		}
		u, _, _ := unstructured.NestedString(d.Object, "status", "depapiStatus", "url")
		if ready, _, _ := unstructured.NestedBool(d.Object, "status", "implementation", "ready"); !ready || !strings.Contains(u, "/ctk/") {
			return fmt.Errorf("ready %v url %q", ready, u)
		}
		return nil
	})
	if err := comps.Delete(k.ctx, "f-cat", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	k.waitChildren("dependentapis", "components", "f-cat")

	// UC002-F005/F006: install into and uninstall from another namespace.
	other := k.dyn.Resource(gvr("v1", "components")).Namespace("odacompns-1")
	pcother := upstreamExample(t, "productcatalog-v1.component.yaml", "pcother")
	pcother.SetNamespace("odacompns-1")
	if _, err := other.Create(k.ctx, pcother, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	k.waitComplete("odacompns-1", "pcother")
	k.waitChildren("exposedapis", "odacompns-1", "pcother", "pcother-productcatalogmanagement-v4", "pcother-metrics", "pcother-userrolesandpermissions-v5")
	if err := other.Delete(k.ctx, "pcother", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	k.waitChildren("exposedapis", "odacompns-1", "pcother")

	// UC013-F001: v1beta4 and v1beta3 written, Complete and read as v1;
	// UC013-F002: v1 written, read as v1beta4 and v1beta3.
	old := upstreamExample(t, "productcatalog-v1beta3.component.yaml", "oldpc")
	if _, err := k.dyn.Resource(gvr("v1beta3", "components")).Namespace("components").Create(k.ctx, old, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	k.waitComplete("components", "oldpc")
	b4, err := k.dyn.Resource(gvr("v1beta4", "components")).Namespace("components").Get(k.ctx, "oldpc", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b4.SetLabels(map[string]string{oda.LabelComponentName: "oldpc", "written": "v1beta4"})
	if _, err := k.dyn.Resource(gvr("v1beta4", "components")).Namespace("components").Update(k.ctx, b4, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("v1beta4 replace: %v", err)
	}
	for _, v := range []string{"v1", "v1beta4", "v1beta3"} {
		for _, name := range []string{"oldpc", "ctk"} {
			got, err := k.dyn.Resource(gvr(v, "components")).Namespace("components").Get(k.ctx, name, metav1.GetOptions{})
			if err != nil || got.GetAPIVersion() != oda.Group+"/"+v {
				t.Errorf("%s read as %s: %v (%s)", name, v, err, got.GetAPIVersion())
			}
		}
	}

	// UC002-F004: uninstall; the wadm application goes too.
	if err := comps.Delete(k.ctx, "ctk", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := comps.Get(k.ctx, "ctk", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get after uninstall: %v", err)
	}
	k.waitChildren("exposedapis", "components", "ctk")
	k.until("wadm app undeployed", func() error {
		if _, ok := k.wadm.Deployed("components-ctk"); ok {
			return errors.New("still deployed")
		}
		return nil
	})
}

// kubectl runs the real kubectl (bin/kubectl) with the canvas's kubeconfig.
func (k *kubeCanvas) kubectl(args ...string) string {
	k.t.Helper()
	out, err := k.kubectlErr(args...)
	if err != nil {
		k.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (k *kubeCanvas) kubectlErr(args ...string) (string, error) {
	cmd := exec.CommandContext(k.ctx, k.kubectlBin, append([]string{"--kubeconfig", k.kubeconfig}, args...)...)
	cmd.Dir = k.root
	out, err := cmd.CombinedOutput()
	k.t.Logf("$ kubectl %s\n%s", strings.Join(args, " "), out)
	return string(out), err
}

// TestKubectl drives the real kubectl binary (`make kube-deps` installs
// it when missing) against canvasd.
func TestKubectl(t *testing.T) {
	k := startKubeCanvas(t)
	k.kubectlBin = filepath.Join(k.root, "bin", "kubectl")
	if _, err := os.Stat(k.kubectlBin); err != nil {
		if k.kubectlBin, err = exec.LookPath("kubectl"); err != nil {
			t.Fatal("no bin/kubectl and no kubectl on PATH: run make kube-deps")
		}
	}
	file := filepath.Join(t.TempDir(), "productcatalog.yaml")
	data, err := yaml.Marshal(upstreamExample(t, "productcatalog-v1.component.yaml", "ctk-productcatalogmanagement").Object)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}

	if out := k.kubectl("apply", "-f", file); !strings.Contains(out, "component.oda.tmforum.org/ctk-productcatalogmanagement created") {
		t.Errorf("apply: %s", out)
	}
	k.until("kubectl get components shows Complete", func() error {
		out := k.kubectl("get", "components")
		if !strings.Contains(out, "DEPLOYMENT_STATUS") || !strings.Contains(out, "Complete") {
			return errors.New(out)
		}
		return nil
	})
	yamlOut := k.kubectl("get", "component", "ctk-productcatalogmanagement", "-o", "yaml")
	for _, want := range []string{"summary/status:", "deployment_status: Complete", "coreAPIs:", "url: https://components.example.org/ctk-productcatalogmanagement/"} {
		if !strings.Contains(yamlOut, want) {
			t.Errorf("-o yaml lacks %q", want)
		}
	}
	if out := k.kubectl("get", "exposedapis"); strings.Count(out, "ctk-productcatalogmanagement-") != 3 || !strings.Contains(out, "API_ENDPOINT") {
		t.Errorf("get exposedapis: %s", out)
	}
	if out := k.kubectl("explain", "component.spec.coreFunction"); !strings.Contains(out, "exposedAPIs") || !strings.Contains(out, "dependentAPIs") {
		t.Errorf("explain: %s", out)
	}
	if out := k.kubectl("explain", "exposedapi.spec"); !strings.Contains(out, "specification") || !strings.Contains(out, "apiType") {
		t.Errorf("explain exposedapi.spec: %s", out)
	}
	if out := k.kubectl("get", "namespaces"); !strings.Contains(out, "components") || !strings.Contains(out, "Active") {
		t.Errorf("get namespaces: %s", out)
	}
	if out := k.kubectl("get", "components", "-A"); !strings.Contains(out, "NAMESPACE") || !strings.Contains(out, "ctk-productcatalogmanagement") {
		t.Errorf("get components -A: %s", out)
	}
	// The reconciler's events, as the Kubernetes canvas's operators'
	// show: under Events in describe, and in get events.
	if out := k.kubectl("describe", "component", "ctk-productcatalogmanagement"); !regexp.MustCompile(`(?m)^Events:\n\s+Type\s+Reason\s+Age\s+From\s+Message\n[\s\S]*Normal\s+Deployed\s+.*wasmcanvas\s+deployed wadm application`).MatchString(out) {
		t.Errorf("describe shows no Deployed event: %s", out)
	}
	if out := k.kubectl("get", "events", "--field-selector", "reason=Deployed"); !strings.Contains(out, "component/ctk-productcatalogmanagement") || !strings.Contains(out, "LAST SEEN") {
		t.Errorf("get events: %s", out)
	}

	// A watch streams the change a patch makes.
	watchCtx, stopWatch := context.WithCancel(k.ctx)
	var watchOut testkit.Buffer
	watch := exec.CommandContext(watchCtx, k.kubectlBin, "--kubeconfig", k.kubeconfig, "get", "components", "--watch", "-o", "custom-columns=NAME:.metadata.name,TIER:.metadata.labels.tier")
	watch.Stdout = &watchOut
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stopWatch(); _ = watch.Wait() }()
	k.until("the watch lists the component", func() error {
		if !strings.Contains(watchOut.String(), "ctk-productcatalogmanagement") {
			return errors.New("nothing yet")
		}
		return nil
	})
	k.kubectl("patch", "component", "ctk-productcatalogmanagement", "--type", "merge", "-p", `{"metadata":{"labels":{"tier":"gold"}}}`)
	k.until("the watch streams the patch", func() error {
		if out := watchOut.String(); !strings.Contains(out, "gold") {
			return errors.New(out)
		}
		return nil
	})
	if out := k.kubectl("get", "components", "-l", "tier=gold", "-o", "name"); strings.TrimSpace(out) != "component.oda.tmforum.org/ctk-productcatalogmanagement" {
		t.Errorf("label selector after patch: %q", out)
	}
	if out, err := k.kubectlErr("patch", "component", "ctk-productcatalogmanagement", "--type", "json", "-p", `[{"op":"replace","path":"/spec/coreFunction/exposedAPIs/0/port","value":"x"}]`); err == nil || !strings.Contains(out, "spec.coreFunction.exposedAPIs[0].port") {
		t.Errorf("an invalid patch: %v %s", err, out)
	}

	// Server-side apply: the same values are shared with the client-side
	// applier; another manager's change of them conflicts, naming the
	// field, until it forces; managedFields show who owns what.
	if out := k.kubectl("apply", "--server-side", "-f", file); !strings.Contains(out, "serverside-applied") {
		t.Errorf("apply --server-side: %s", out)
	}
	other := filepath.Join(t.TempDir(), "version.yaml")
	if err := os.WriteFile(other, []byte("apiVersion: oda.tmforum.org/v1\nkind: Component\nmetadata:\n  name: ctk-productcatalogmanagement\n  namespace: components\n"+
		"spec:\n  componentMetadata:\n    version: 9.9.9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := k.kubectlErr("apply", "--server-side", "--field-manager", "other", "-f", other); err == nil ||
		!strings.Contains(out, "conflict") || !strings.Contains(out, ".spec.componentMetadata.version") {
		t.Errorf("a conflicting server-side apply: %v %s", err, out)
	}
	k.kubectl("apply", "--server-side", "--field-manager", "other", "--force-conflicts", "-f", other)
	if out := k.kubectl("get", "component", "ctk-productcatalogmanagement", "-o", "yaml", "--show-managed-fields"); !strings.Contains(out, "version: 9.9.9") ||
		!strings.Contains(out, "manager: other") || !strings.Contains(out, "operation: Apply") || !strings.Contains(out, "f:version: {}") {
		t.Errorf("after forcing: %s", out)
	}

	k.kubectl("delete", "component", "ctk-productcatalogmanagement")
	if out := k.kubectl("get", "components"); !strings.Contains(out, "No resources found") {
		t.Errorf("after delete: %s", out)
	}
	k.until("wadm app undeployed", func() error {
		if _, ok := k.wadm.Deployed("components-ctk-productcatalogmanagement"); ok {
			return errors.New("still deployed")
		}
		return nil
	})
}
