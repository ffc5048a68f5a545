package kubeapi_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/api"
	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon/daemontest"
	"github.com/wasmcanvas/wasmcanvas/pkg/kubeapi"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/reconcile"
	"github.com/wasmcanvas/wasmcanvas/pkg/store"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
)

// env is the kube API over pkg/api on real stores (embedded NATS,
// JetStream KV), served over TLS on 127.0.0.1 with the CA and local admin
// credential of a state directory, reached with client-go through the
// kubeconfig kubeapi.Kubeconfig writes. There is no reconciler: tests
// write status themselves.
type env struct {
	t      *testing.T
	ctx    context.Context
	url    string
	config *rest.Config
	dyn    *dynamic.DynamicClient
	status *store.Store[oda.ComponentStatus]
	events *reconcile.Recorder
}

var (
	componentsV1 = schema.GroupVersionResource{Group: oda.Group, Version: "v1", Resource: "components"}
	exposedV1    = schema.GroupVersionResource{Group: oda.Group, Version: "v1", Resource: "exposedapis"}
	dependentV1  = schema.GroupVersionResource{Group: oda.Group, Version: "v1", Resource: "dependentapis"}
)

func newEnv(t *testing.T) *env {
	t.Helper()
	js := daemontest.StartNATS(t).JetStream(t)
	ctx := daemontest.Context(t, 60*time.Second)
	ds, err := store.New[oda.Component](ctx, js, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ss, err := store.New[oda.ComponentStatus](ctx, js, store.Options{Bucket: "STATUS"})
	if err != nil {
		t.Fatal(err)
	}
	d, st := daemon.StoreBackends(ds, ss)
	rec, err := reconcile.NewRecorder(ctx, js, reconcile.RecorderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.Options{Desired: d, Statuses: st,
		Admit: func(c *oda.Component) error {
			_, err := translate.Component(c, translate.Options{})
			return translate.InputErrors(err)
		}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tok, err := auth.EnsureAdminToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	// A second credential holds only the read role.
	reader := auth.AuthenticatorFunc(func(r *http.Request) (auth.Principal, error) {
		if tok, err := auth.BearerToken(r); err != nil || tok != readerToken {
			return auth.Principal{}, auth.ErrNoCredentials
		}
		return auth.Principal{Subject: "reader", Roles: []string{auth.RoleRead}}, nil
	})
	kube, err := kubeapi.New(kubeapi.Options{API: srv, Auth: auth.Chain(auth.LocalAdmin(tok), reader), Events: daemon.KubeEvents(rec)})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 2)
	go func() { done <- srv.Run(runCtx) }()
	go func() { done <- kube.Run(runCtx) }()
	tlsCfg, ca, err := kubeapi.EnsureTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: kube.Handler(), TLSConfig: tlsCfg, ReadHeaderTimeout: 5 * time.Second}
	hs.RegisterOnShutdown(kube.CloseWatches)
	served := make(chan error, 1)
	go func() { served <- hs.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		if err := hs.Shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
		cancel()
		for range 2 {
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Run: %v", err)
			}
		}
	})
	url := "https://" + ln.Addr().String()
	kc, err := kubeapi.Kubeconfig(url, ca, tok)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kc)
	if err != nil {
		t.Fatalf("the kubeconfig does not load: %v\n%s", err, kc)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, url: url, config: cfg, dyn: dyn, status: ss, events: rec}
	for kube.Synced() != nil {
		select {
		case <-ctx.Done():
			t.Fatal("the kube index never synced")
		case <-time.After(10 * time.Millisecond):
		}
	}
	return e
}

// readerToken is the bearer token of a caller with auth.RoleRead only.
const readerToken = "reader-token"

const implementations = `{"ctk-permissionspecapi":"ghcr.io/a/p:1","ctk-prodcatapi":"ghcr.io/a/c:1","ctk-productcatalogmanagement-sm":"ghcr.io/a/m:1","ctk-promotionmgmt":"ghcr.io/a/r:1","ctk-promotionmanagement":"ghcr.io/a/r:1"}`

// example is an upstream example Component with its implementations
// annotated, as an unstructured object; edit changes the YAML first.
func example(t *testing.T, file string, edit func(string) string) *unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(testref.Path(t, "oda", "examples", file))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(data), "metadata:\n", "metadata:\n  annotations:\n    "+oda.AnnotationImplementations+": '"+implementations+"'\n", 1)
	if edit != nil {
		s = edit(s)
	}
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(s), &obj); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: obj}
}

// components is the dynamic client of Components at version in namespace.
func (e *env) components(version, namespace string) dynamic.ResourceInterface {
	return e.dyn.Resource(schema.GroupVersionResource{Group: oda.Group, Version: version, Resource: "components"}).Namespace(namespace)
}

// writeStatus stores st as the reconciler would.
func (e *env) writeStatus(namespace, name string, st oda.ComponentStatus) {
	e.t.Helper()
	if _, err := e.status.Put(e.ctx, namespace, name, st); err != nil {
		e.t.Fatal(err)
	}
}

// eventually polls check until it returns nil or the test context ends.
func (e *env) eventually(what string, check func() error) {
	e.t.Helper()
	var err error
	for {
		if err = check(); err == nil {
			return
		}
		select {
		case <-e.ctx.Done():
			e.t.Fatalf("%s: %v", what, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
