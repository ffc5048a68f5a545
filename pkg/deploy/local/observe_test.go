package local_test

import (
	"net/http"
	"path/filepath"
	"testing"

	"go.uber.org/zap/zapcore"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/deploy/local"
	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

// observeWasm is the runtime's hand-written wasmcanvas:observe component:
// per request it records wat_requests_total{path="/"} and a span, and
// answers 200 only when every call came out as expected.
var observeWasm, _ = filepath.Abs("../../runtime/testdata/observe.wasm")

// observedManifest translates Component name, served by the observe
// component at path, with a managementFunction when managed.
func observedManifest(t *testing.T, name, path string, managed bool) *wadm.Manifest {
	t.Helper()
	port := 8080
	api := func(name, typ, path string) oda.ExposedAPI {
		return oda.ExposedAPI{Name: name, APIType: typ, Implementation: "probe-impl", Path: path, Port: &port,
			Specification: []oda.APISpecification{{URL: "https://example.org/" + name + ".json"}}}
	}
	c := &oda.Component{
		APIVersion: oda.APIVersionV1, Kind: oda.Kind,
		Metadata: oda.ObjectMeta{Name: name, Namespace: "test"},
		Spec:     oda.ComponentSpec{CoreFunction: &oda.CoreFunction{ExposedAPIs: []oda.ExposedAPI{api("probe", "openapi", path)}}},
	}
	if managed {
		c.Spec.ManagementFunction = &oda.ManagementFunction{ExposedAPIs: []oda.ExposedAPI{api("metrics", "prometheus", path+"/metrics")}}
	}
	m, err := translate.Component(c, translate.Options{Implementations: map[string]string{"probe-impl": "file://" + observeWasm}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestObserveLinkRecordsInTheObserver(t *testing.T) {
	o := observe.New(observe.Options{Getenv: func(string) string { return "" }, Logger: testkit.Logger(t, zapcore.WarnLevel)})
	e := newEnvOpts(t, func(opts *local.Options) { opts.Observer = o })
	for _, c := range []struct {
		name    string
		managed bool
		want    int
	}{
		{"observed", true, http.StatusOK},
		// No managementFunction, no link: the probe's first call answers
		// not-linked (501 from the probe), as without an Observer.
		{"unlinked", false, 501},
	} {
		m := observedManifest(t, c.name, "/"+c.name, c.managed)
		e.apply(t, m)
		e.waitStatus(t, m.Metadata.Name, wadm.StatusDeployed)
		if code, _ := e.get(t, "/"+c.name); code != c.want {
			t.Errorf("%s: status %d, want %d", c.name, code, c.want)
		}
	}
	src := observe.Source{Namespace: "test", Component: "observed"}
	m, err := o.Metrics(src)
	if err != nil {
		t.Fatal(err)
	}
	fams := testkit.Scrape(t, m.Handler())
	if v, _, ok := testkit.Sample(fams, "wat_requests_total", "path=/"); !ok || v != 1 {
		t.Errorf("wat_requests_total{path=\"/\"} = %v (present %v) in %s/%s's registry, want 1", v, ok, src.Namespace, src.Component)
	}
}

func TestObserveWithoutObserverAnswersNotLinked(t *testing.T) {
	e := newEnv(t)
	m := observedManifest(t, "observed", "/observed", true)
	e.apply(t, m)
	e.waitStatus(t, m.Metadata.Name, wadm.StatusDeployed)
	if code, _ := e.get(t, "/observed"); code != 501 {
		t.Errorf("status %d, want 501 (the probe's counter-add answered not-linked)", code)
	}
}
