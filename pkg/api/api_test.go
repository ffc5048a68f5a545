package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/api"
	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/client"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon/daemontest"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/store"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
)

// env is the API server on real stores (embedded NATS, JetStream KV),
// served on 127.0.0.1 by httptest, without a reconciler: tests write
// status themselves.
type env struct {
	t       *testing.T
	srv     *api.Server
	url     string
	natsURL string
	status  *store.Store[oda.ComponentStatus]
	ctx     context.Context
}

func newEnv(t *testing.T, checks ...api.Check) *env {
	t.Helper()
	return newEnvWith(t, api.Options{Checks: checks})
}

// newEnvWith is newEnv with more options; the stores and Admit are its own.
func newEnvWith(t *testing.T, opts api.Options) *env {
	t.Helper()
	n := daemontest.StartNATS(t)
	nc, err := nats.Connect(n.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
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
	opts.Desired, opts.Statuses = d, st
	opts.Admit = func(c *oda.Component) error { _, err := translate.Component(c, translate.Options{}); return err }
	srv, err := api.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	// The NATS watch stream announces its start; a watch begun before
	// that would end at once, so the env is ready only after it.
	started, err := nc.SubscribeSync(wire.WatchEndedSubject)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 2)
	go func() { done <- srv.Run(runCtx) }()
	go func() { done <- srv.ServeNATS(runCtx, nc) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Run/ServeNATS: %v", err)
			}
		}
	})
	if _, err := started.NextMsgWithContext(ctx); err != nil {
		t.Fatalf("the NATS watch stream did not start: %v", err)
	}
	_ = started.Unsubscribe()
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &env{t: t, srv: srv, url: hs.URL, natsURL: n.URL(), status: ss, ctx: ctx}
}

const annotation = `{"ctk-permissionspecapi":"ghcr.io/a/p:1","ctk-prodcatapi":"ghcr.io/a/c:1","ctk-productcatalogmanagement-sm":"ghcr.io/a/m:1"}`

func component(t *testing.T, edit func(string) string) []byte {
	t.Helper()
	data, err := os.ReadFile(testref.Path(t, "oda", "examples", "productcatalog-v1.component.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(data), "metadata:\n", "metadata:\n  annotations:\n    "+oda.AnnotationImplementations+": '"+annotation+"'\n", 1)
	if edit != nil {
		s = edit(s)
	}
	return []byte(s)
}

func (e *env) do(method, path string, body []byte) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, method, e.url+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

func decode[T any](t *testing.T, data []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%v: %s", err, data)
	}
	return v
}

// TestApplySemantics walks one Component through create, no-op apply,
// change, stale and current compare-and-set writes.
func TestApplySemantics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const path = wire.PathComponents + "/components/ctk-productcatalogmanagement"
	v1 := component(t, nil)
	v2 := component(t, func(s string) string { return strings.Replace(s, "/metrics", "/metrics2", 1) })

	code, data := e.do(http.MethodPost, wire.PathComponents, v1)
	c1 := decode[oda.Component](t, data)
	if code != http.StatusCreated || c1.Metadata.Generation != 1 || c1.Metadata.ResourceVersion == "" || c1.Metadata.Namespace != "components" {
		t.Fatalf("create: %d %+v", code, c1.Metadata)
	}
	code, data = e.do(http.MethodPost, wire.PathComponents, v1)
	if same := decode[oda.Component](t, data); code != 200 || same.Metadata.ResourceVersion != c1.Metadata.ResourceVersion || same.Metadata.Generation != 1 {
		t.Errorf("unchanged apply wrote: %d %+v", code, same.Metadata)
	}
	code, data = e.do(http.MethodPut, path, v2)
	c2 := decode[oda.Component](t, data)
	if code != 200 || c2.Metadata.Generation != 2 || c2.Metadata.ResourceVersion == c1.Metadata.ResourceVersion || c2.Metadata.UID != c1.Metadata.UID || c2.Metadata.CreationTimestamp != c1.Metadata.CreationTimestamp {
		t.Fatalf("update: %d %+v (was %+v)", code, c2.Metadata, c1.Metadata)
	}

	withRV := func(c oda.Component, rv, metrics string) []byte {
		c.Metadata.ResourceVersion = rv
		c.Spec.ManagementFunction.ExposedAPIs[0].Path = metrics
		b, _ := json.Marshal(c)
		return b
	}
	code, data = e.do(http.MethodPut, path, withRV(c2, c1.Metadata.ResourceVersion, "/m3"))
	p := decode[wire.Problem](t, data)
	if code != 409 || p.CurrentResourceVersion != c2.Metadata.ResourceVersion || p.GivenResourceVersion != c1.Metadata.ResourceVersion {
		t.Errorf("stale PUT: %d %+v", code, p)
	}
	code, data = e.do(http.MethodPut, path, withRV(c2, c2.Metadata.ResourceVersion, "/m3"))
	if c3 := decode[oda.Component](t, data); code != 200 || c3.Metadata.Generation != 3 {
		t.Errorf("PUT at the current resourceVersion: %d %+v", code, c3.Metadata)
	}
	code, data = e.do(http.MethodPut, path, withRV(c2, "seven", "/m4"))
	if p := decode[wire.Problem](t, data); code != 422 || len(p.Errors) != 1 || p.Errors[0].Path != "metadata.resourceVersion" {
		t.Errorf("PUT with a malformed resourceVersion: %d %+v", code, p)
	}
	code, data = e.do(http.MethodPut, wire.PathComponents+"/components/gone", withRV(c2, c2.Metadata.ResourceVersion, "/m4"))
	if code != 422 {
		t.Errorf("PUT of a body naming another component: %d %s", code, data)
	}
}

// TestWatch: the initial state, status changes merged into MODIFIED, a
// delete, and watchers cut off by Rewatch and CloseWatches.
func TestWatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cl, err := client.NewHTTP(e.url)
	if err != nil {
		t.Fatal(err)
	}
	if code, data := e.do(http.MethodPost, wire.PathComponents, component(t, nil)); code != 201 {
		t.Fatalf("create: %d %s", code, data)
	}
	events := make(chan wire.WatchEvent, 16)
	watchErr := make(chan error, 1)
	// Cancelled when the test returns, before the HTTP server's Close
	// waits for this stream to end.
	watchCtx, stopWatch := context.WithCancel(e.ctx)
	defer stopWatch()
	go func() { // ends when the server cuts the watch or the test returns
		watchErr <- cl.Watch(watchCtx, "components", "", func(ev wire.WatchEvent) error {
			events <- ev
			return nil
		})
	}()
	next := func(want string) wire.WatchEvent { // "" takes any type
		t.Helper()
		select {
		case ev := <-events:
			if want != "" && ev.Type != want {
				t.Fatalf("event %s, want %s", ev.Type, want)
			}
			return ev
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s event within 10s", want)
		}
		return wire.WatchEvent{}
	}
	// The watch's mirror of the store may see the create just after the
	// watch began, so its ADDED may follow the BOOKMARK.
	first := next("")
	if first.Type == wire.WatchBookmark {
		first = next(wire.WatchAdded)
	} else {
		next(wire.WatchBookmark)
	}
	if first.Type != wire.WatchAdded || first.Object.Metadata.Name != "ctk-productcatalogmanagement" || first.Object.Status != nil {
		t.Errorf("initial event %s %+v, want ADDED without status", first.Type, first.Object)
	}
	st := oda.ComponentStatus{Summary: &oda.StatusSummary{DeploymentStatus: oda.DeploymentInProgressCompCon}}
	if _, err := e.status.Put(e.ctx, "components", "ctk-productcatalogmanagement", st); err != nil {
		t.Fatal(err)
	}
	if ev := next(wire.WatchModified); ev.Object.Status == nil || ev.Object.Status.Summary.DeploymentStatus != oda.DeploymentInProgressCompCon {
		t.Errorf("status change not merged: %+v", ev.Object.Status)
	}
	if code, data := e.do(http.MethodDelete, wire.PathComponents+"/components/ctk-productcatalogmanagement", nil); code != 200 {
		t.Fatalf("delete: %d %s", code, data)
	}
	next(wire.WatchDeleted)
	// The status outlives the Component until the reconciler removes it.
	if code, _ := e.do(http.MethodGet, wire.PathComponents+"/components/ctk-productcatalogmanagement/status", nil); code != 200 {
		t.Errorf("status after delete: %d, want 200 until cleaned up", code)
	}

	e.srv.Rewatch()
	select {
	case err := <-watchErr:
		if !errors.Is(err, client.ErrWatchEnded) {
			t.Errorf("watch after Rewatch ended with %v, want ErrWatchEnded", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Rewatch did not end the watch")
	}
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	var again []string
	err = cl.Watch(ctx, "", "", func(ev wire.WatchEvent) error {
		again = append(again, ev.Type)
		if ev.Type == wire.WatchBookmark {
			e.srv.CloseWatches()
		}
		return nil
	})
	if !errors.Is(err, client.ErrWatchEnded) || len(again) != 1 {
		t.Errorf("re-watch saw %v and ended with %v; want only a BOOKMARK (nothing left), ended by CloseWatches", again, err)
	}
	err = cl.Watch(ctx, "", "", func(wire.WatchEvent) error { return nil })
	if client.StatusCode(err) != http.StatusServiceUnavailable {
		t.Errorf("watch after CloseWatches: %v, want 503", err)
	}
}

func TestReadiness(t *testing.T) {
	t.Parallel()
	e := newEnv(t, api.Check{Name: "wadm", Check: func(context.Context) error { return errors.New("no wadm answers on wadm.api.default") }})
	err := daemontest.WaitFor(10*time.Second, func() error {
		code, data := e.do(http.MethodGet, wire.PathReadyz, nil)
		rd := decode[wire.Readiness](t, data)
		if rd.Checks["watch"] != "ok" {
			return daemontest.ErrNotYet
		}
		if code != 503 || rd.Ready || rd.Checks["wadm"] != "no wadm answers on wadm.api.default" {
			t.Errorf("readyz: %d %+v", code, rd)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.New(api.Options{}); err == nil || !strings.Contains(err.Error(), "Options.Desired is nil") || !strings.Contains(err.Error(), "Options.Statuses is nil") {
		t.Errorf("New without stores: %v", err)
	}
}

// TestMalformedQueryChangesNothing: a query string Go would parse only in
// part (a bad escape, a ';', too many parameters) is a 400 that says so,
// and nothing is stored or deleted: dropping the malformed dryRun or
// resourceVersion would make a dry run a write and a compare-and-set
// delete an unconditional one.
func TestMalformedQueryChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const path = wire.PathComponents + "/components/ctk-productcatalogmanagement"
	tooMany := strings.Repeat("&", 10_000)
	bad := func(method, target string, body []byte) {
		t.Helper()
		code, data := e.do(method, target, body)
		if p := decode[wire.Problem](t, data); code != http.StatusBadRequest || !strings.Contains(p.Detail, "query string") || !strings.Contains(p.Detail, "nothing was done") {
			t.Errorf("%s %.80s: %d %s, want 400 naming the query string", method, target, code, data)
		}
	}
	bad(http.MethodPost, wire.PathComponents+"?"+wire.QueryDryRun+"=All;", component(t, nil))
	bad(http.MethodPost, wire.PathComponents+"?"+wire.QueryDryRun+"=All"+tooMany, component(t, nil))
	if code, _ := e.do(http.MethodGet, path, nil); code != http.StatusNotFound {
		t.Fatalf("a malformed dry run stored the component: GET answers %d", code)
	}
	if code, data := e.do(http.MethodPost, wire.PathComponents, component(t, nil)); code != http.StatusCreated {
		t.Fatalf("apply: %d %s", code, data)
	}
	bad(http.MethodDelete, path+"?resourceVersion=1%zz", nil)
	bad(http.MethodDelete, path+"?resourceVersion=1;", nil)
	bad(http.MethodDelete, path+"?resourceVersion=1"+tooMany, nil)
	if code, _ := e.do(http.MethodGet, path, nil); code != http.StatusOK {
		t.Fatalf("a malformed compare-and-set delete deleted the component: GET answers %d", code)
	}
	bad(http.MethodGet, wire.PathResourceInventory+"?category=nothing;", nil)
}

// TestWatchRefusesABadName: a watch of a name no Component can have is a
// 400 naming it, not a stream that stays silent.
func TestWatchRefusesABadName(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cl, err := client.NewHTTP(e.url)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	err = cl.Watch(ctx, "components", "Not_A_Name", func(wire.WatchEvent) error { return nil })
	if p, ok := errors.AsType[*wire.Problem](err); !ok || p.Status != http.StatusBadRequest || !strings.Contains(p.Detail, `name "Not_A_Name"`) {
		t.Fatalf("err = %v, want a 400 naming the name", err)
	}
}
