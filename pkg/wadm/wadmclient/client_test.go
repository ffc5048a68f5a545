package wadmclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmclient"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmtest"
)

// samples returns the JSON blocks under "## Sample payloads" in the
// reference WADM-API.md, keyed by the line introducing each.
func samples(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(testref.Path(t, "wasmcloud", "WADM-API.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "## Sample payloads")
	if !ok {
		t.Fatal("WADM-API.md has no sample payloads section")
	}
	re := regexp.MustCompile("(?m)^([A-Z][^\\n]*):\\n```json\\n(.*)\\n```")
	out := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(section, -1) {
		key, _, _ := strings.Cut(m[1], " (")
		out[key] = m[2]
	}
	for _, k := range []string{"Generic error reply", "Put reply", "Deploy reply", "Status reply"} {
		if out[k] == "" {
			t.Fatalf("sample %q not found in WADM-API.md (found %v)", k, out)
		}
	}
	return out
}

func TestTypesMarshalLikeUpstreamSamples(t *testing.T) {
	t.Parallel()
	s := samples(t)
	cases := []struct {
		sample string
		into   any
	}{
		{"Put reply", &wadm.PutModelResponse{}},
		{"Deploy reply", &wadm.DeployModelResponse{}},
		{"Status reply", &wadm.StatusResponse{}},
	}
	for _, tc := range cases {
		t.Run(tc.sample, func(t *testing.T) {
			t.Parallel()
			if err := json.Unmarshal([]byte(s[tc.sample]), tc.into); err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(tc.into)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != s[tc.sample] {
				t.Errorf("marshal:\ngot  %s\nwant %s", got, s[tc.sample])
			}
		})
	}
	// The generic error reply decodes into every reply type.
	for _, into := range []any{&wadm.PutModelResponse{}, &wadm.GetModelResponse{}, &wadm.ListModelsResponse{}, &wadm.VersionResponse{}, &wadm.DeployModelResponse{}, &wadm.DeleteModelResponse{}, &wadm.StatusResponse{}} {
		if err := json.Unmarshal([]byte(s["Generic error reply"]), into); err != nil {
			t.Errorf("%T: %v", into, err)
		}
		back, _ := json.Marshal(into)
		var fields map[string]any
		if err := json.Unmarshal(back, &fields); err != nil || fields["result"] != "error" || fields["message"] != "Unsupported subject: wadm.api.default.model.foo" {
			t.Errorf("%T decoded as %s", into, back)
		}
	}
}

func TestStatusTypeAliasesAndAggregate(t *testing.T) {
	t.Parallel()
	var info wadm.StatusInfo
	for in, want := range map[string]wadm.StatusType{"compensating": wadm.StatusReconciling, "ready": wadm.StatusDeployed, "waiting": wadm.StatusWaiting, "unhealthy": wadm.StatusUnhealthy} {
		if err := json.Unmarshal([]byte(`{"type":"`+in+`"}`), &info); err != nil || info.Type != want {
			t.Errorf("%s: got %q, %v; want %q", in, info.Type, err, want)
		}
	}
	if err := json.Unmarshal([]byte(`{"type":"exploded"}`), &info); err == nil {
		t.Error("unknown status type accepted")
	}
	// wadm always writes the type: a status without one is not wadm's.
	for _, in := range []string{`{}`, `{"message":"m"}`, `{"type":null}`} {
		var st wadm.Status
		if err := json.Unmarshal([]byte(`{"status":`+in+`,"version":"","components":[]}`), &st); err == nil {
			t.Errorf("status %s accepted as %+v", in, st.Info)
		}
	}
	aggs := []struct {
		in   []wadm.StatusType
		want wadm.StatusType
	}{
		{nil, wadm.StatusUndeployed},
		{[]wadm.StatusType{wadm.StatusDeployed, wadm.StatusDeployed}, wadm.StatusDeployed},
		{[]wadm.StatusType{wadm.StatusReconciling, wadm.StatusUndeployed}, wadm.StatusUndeployed},
		{[]wadm.StatusType{wadm.StatusDeployed, wadm.StatusReconciling, wadm.StatusUndeployed, wadm.StatusFailed}, wadm.StatusFailed},
		{[]wadm.StatusType{wadm.StatusDeployed, wadm.StatusUnhealthy}, wadm.StatusUnhealthy},
		{[]wadm.StatusType{wadm.StatusReconciling, wadm.StatusUnhealthy}, wadm.StatusReconciling},
		{[]wadm.StatusType{wadm.StatusWaiting, wadm.StatusReconciling}, wadm.StatusWaiting},
	}
	for _, a := range aggs {
		if got := wadm.AggregateStatus(a.in...); got != a.want {
			t.Errorf("AggregateStatus(%v) = %q, want %q", a.in, got, a.want)
		}
	}
}

// env is one lattice served by a wadm double over embedded NATS.
type env struct {
	nc      *nats.Conn
	lattice string
	double  *wadmtest.Server
	client  *wadmclient.Client
}

func newEnv(t *testing.T, opts ...wadmtest.Option) *env {
	t.Helper()
	nc := testkit.Connect(t, testkit.NATS(t, embedded.Config{}).ClientURL())
	const lattice = "default"
	d := wadmtest.Run(t, nc, lattice, opts...)
	c, err := wadmclient.New(nc, lattice, wadmclient.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return &env{nc: nc, lattice: lattice, double: d, client: c}
}

// raw sends a request and returns the reply bytes untouched.
func (e *env) raw(t *testing.T, subject, body string, hdr nats.Header) string {
	t.Helper()
	msg := &nats.Msg{Subject: subject, Data: []byte(body), Header: hdr}
	r, err := e.nc.RequestMsg(msg, 5*time.Second)
	if err != nil {
		t.Fatalf("request %s: %v", subject, err)
	}
	return string(r.Data)
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func helloWorld(t *testing.T, version string) *wadm.Manifest {
	t.Helper()
	b, err := os.ReadFile(testref.Path(t, "wasmcloud", "examples", "hello-world-http.wadm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := wadm.ParseManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	if version != "" {
		m.SetVersion(version)
	}
	return m
}

func TestDoubleRepliesByteForByte(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := samples(t)
	hello := helloWorld(t, "v0.0.1")
	body, err := wadm.MarshalJSON(hello)
	if err != nil {
		t.Fatal(err)
	}
	hdr := nats.Header{}
	hdr.Set(wadm.ContentTypeHeader, wadm.ContentTypeJSON)
	api := func(op, name string) string { return subject.WadmModel("", "default", op, name) }
	steps := []struct {
		name, subject, body string
		hdr                 nats.Header
		want                string
	}{
		// wadm builds the put message before storing, from the version that
		// was current then: none on the first put (handlers.rs put_model).
		// WADM-API.md's sample shows v0.0.1 there; wadm's code does not.
		{"first put", api("put", ""), string(body), hdr,
			`{"result":"created","total_versions":1,"current_version":"v0.0.1","message":"Successfully put manifest hello-world ","name":"hello-world"}`},
		{"status before deploy", api("status", "hello-world"), "", nil,
			`{"result":"ok","message":"Successfully fetched status for application hello-world","status":{"status":{"type":"undeployed"},"version":"","components":[]}}`},
		{"deploy", api("deploy", "hello-world"), `{"version":null}`, nil, s["Deploy reply"]},
		{"versions", api("versions", "hello-world"), "", nil,
			`{"result":"success","message":"Successfully fetched versions for application hello-world","versions":[{"version":"v0.0.1","deployed":true}]}`},
		{"deploy unknown version", api("deploy", "hello-world"), `{"version":"v9"}`, nil,
			`{"result":"error","message":"Application with the name 'hello-world' does not have a version 'v9' to deploy","name":"hello-world","version":"v9"}`},
		{"deploy unknown app", api("deploy", "nope"), "", nil,
			`{"result":"notfound","message":"Application with the name nope not found","name":"nope","version":null}`},
		{"put existing version", api("put", ""), string(body), hdr,
			`{"message":"Manifest version v0.0.1 already exists","result":"error"}`},
		{"get unknown", api("get", "nope"), "", nil, `{"result":"notfound","message":"Application with the name nope not found"}`},
		{"get unknown version", api("get", "hello-world"), `{"version":"v7"}`, nil,
			`{"result":"notfound","message":"Application hello-world with version v7 doesn't exist"}`},
		{"versions unknown", api("versions", "nope"), "", nil, `{"result":"notfound","message":"Application with the name nope not found","versions":[]}`},
		{"undeploy", api("undeploy", "hello-world"), "{}", nil,
			`{"result":"acknowledged","message":"Successfully undeployed application hello-world","name":"hello-world","version":null}`},
		{"undeploy again", api("undeploy", "hello-world"), "", nil,
			`{"result":"acknowledged","message":"Application hello-world was already undeployed","name":"hello-world","version":null}`},
		{"delete unknown version", api("del", "hello-world"), `{"version":"v5"}`, nil, `{"result":"noop","message":"Application version v5 doesn't exist","undeploy":false}`},
		{"delete all", api("del", "hello-world"), "", nil, `{"result":"deleted","message":"Successfully deleted application hello-world","undeploy":true}`},
		{"delete again", api("del", "hello-world"), `{"version":null}`, nil,
			`{"result":"noop","message":"Application hello-world doesn't exist or was already deleted","undeploy":false}`},
		{"list empty", api("get", ""), "", nil, `{"result":"success","message":"Successfully fetched list of applications","models":[]}`},
		{"deprecated list", api("list", ""), "", nil, `[]`},
		// wadm's json! map sorts keys (serde_json without preserve_order),
		// so the generic error reply starts with "message"; WADM-API.md
		// shows the same keys and values in the other order.
		{"unsupported subject", api("foo", ""), "", nil, `{"message":"Unsupported subject: wadm.api.default.model.foo","result":"error"}`},
		{"history", api("history", "hello-world"), "", nil,
			`{"message":"Model deployment history is not currently supported. It may be added in a future version","result":"error"}`},
		{"extra subject tokens", api("get", "a") + ".b", "", nil,
			`{"message":"Invalid subject: Found extra components of subject, ensure your manifest name consists of only alphanumeric characters, dashes, and underscores.","result":"error"}`},
		{"bad content type", api("put", ""), string(body), nats.Header{wadm.ContentTypeHeader: []string{"text/plain"}},
			`{"message":"Unable to parse manifest: Unsupported content type text/plain given. Wadm supports YAML and JSON","result":"error"}`},
	}
	for _, st := range steps {
		if got := e.raw(t, st.subject, st.body, st.hdr); got != st.want {
			t.Errorf("%s:\ngot  %s\nwant %s", st.name, got, st.want)
		}
	}
	var sample, ours map[string]any
	if err := json.Unmarshal([]byte(s["Generic error reply"]), &sample); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(steps[len(steps)-4].want), &ours); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sample) != fmt.Sprint(ours) {
		t.Errorf("generic error reply differs from the sample beyond key order: %v vs %v", ours, sample)
	}
}

func TestClientOperations(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := ctx(t)

	put, err := e.client.Put(c, helloWorld(t, "v1"))
	if err != nil || put.Result != wadm.PutResultCreated || put.TotalVersions != 1 || put.CurrentVersion != "v1" || put.Name != "hello-world" {
		t.Fatalf("Put v1 = %+v, %v", put, err)
	}
	put, err = e.client.Put(c, helloWorld(t, "v2"))
	if err != nil || put.Result != wadm.PutResultNewVersion || put.TotalVersions != 2 || put.Message != "Successfully put manifest hello-world v1" {
		t.Fatalf("Put v2 = %+v, %v", put, err)
	}
	_, err = e.client.Put(c, helloWorld(t, "v1"))
	var apiErr *wadm.APIError
	if !errors.Is(err, wadm.ErrVersionExists) || !errors.As(err, &apiErr) || apiErr.Message != "Manifest version v1 already exists" || apiErr.Subject != subject.WadmModel("", "default", subject.WadmPut, "") {
		t.Fatalf("Put v1 again: %v", err)
	}
	unversioned := helloWorld(t, "")
	delete(unversioned.Metadata.Annotations, wadm.AnnotationVersion)
	put, err = e.client.Put(c, unversioned)
	if err != nil || !regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{26}$`).MatchString(put.CurrentVersion) {
		t.Fatalf("Put without version = %+v, %v (want a ULID version)", put, err)
	}
	ulid := put.CurrentVersion
	if _, err := e.client.Put(c, helloWorld(t, wadm.LatestVersion)); !errors.Is(err, wadm.ErrInvalidManifest) || errors.Is(err, wadm.ErrVersionExists) {
		t.Fatalf("Put version latest: %v", err)
	}

	got, err := e.client.Get(c, "hello-world", "")
	if err != nil || got.Manifest.Version() != ulid {
		t.Fatalf("Get current = %+v, %v; want the last put (%s)", got, err, ulid)
	}
	got, err = e.client.Get(c, "hello-world", "v1")
	if err != nil || got.Manifest.Version() != "v1" || got.Manifest.Spec.Components[1].Traits[0].Link.Target.Name != "http-component" {
		t.Fatalf("Get v1 = %+v, %v", got, err)
	}
	if _, err := e.client.Get(c, "hello-world", "v9"); !errors.Is(err, wadm.ErrNotFound) || !errors.Is(err, wadm.ErrVersionNotFound) {
		t.Fatalf("Get v9: %v", err)
	}
	if _, err := e.client.Get(c, "nope", ""); !errors.Is(err, wadm.ErrNotFound) || errors.Is(err, wadm.ErrVersionNotFound) {
		t.Fatalf("Get nope: %v", err)
	}

	vs, err := e.client.Versions(c, "hello-world")
	if err != nil || len(vs.Versions) != 3 || vs.Versions[0].Version != "v1" || vs.Versions[2].Version != ulid {
		t.Fatalf("Versions = %+v, %v", vs, err)
	}
	if _, err := e.client.Versions(c, "nope"); !errors.Is(err, wadm.ErrNotFound) {
		t.Fatalf("Versions nope: %v", err)
	}

	list, err := e.client.List(c)
	if err != nil || len(list.Models) != 1 {
		t.Fatalf("List = %+v, %v", list, err)
	}
	sum := list.Models[0]
	if sum.DetailedStatus.Info.Type != wadm.StatusWaiting || sum.DetailedStatus.Info.Message != "Waiting for status: Lattice contains no hosts, deployment not started." ||
		sum.Status != wadm.StatusUndeployed || sum.DeployedVersion != nil || sum.Description == nil || *sum.Description != "HTTP hello world demo" || sum.Version != ulid {
		t.Fatalf("List summary = %+v", sum)
	}

	if _, err := e.client.Deploy(c, "hello-world", "v9"); !errors.Is(err, wadm.ErrVersionNotFound) || errors.Is(err, wadm.ErrNotFound) {
		t.Fatalf("Deploy v9: %v", err)
	}
	if _, err := e.client.Deploy(c, "nope", ""); !errors.Is(err, wadm.ErrNotFound) {
		t.Fatalf("Deploy nope: %v", err)
	}
	dep, err := e.client.Deploy(c, "hello-world", "v2")
	if err != nil || dep.Result != wadm.DeployResultAcknowledged || *dep.Version != "v2" {
		t.Fatalf("Deploy v2 = %+v, %v", dep, err)
	}
	waitStatus(t, e.client, "hello-world", wadm.StatusDeployed)
	if v, ok := e.double.Deployed("hello-world"); !ok || v != "v2" {
		t.Fatalf("double deployed %q %v", v, ok)
	}
	dep, err = e.client.Deploy(c, "hello-world", wadm.LatestVersion)
	if err != nil || *dep.Version != ulid {
		t.Fatalf("Deploy latest = %+v, %v", dep, err)
	}
	st := waitStatus(t, e.client, "hello-world", wadm.StatusDeployed)
	if len(st.Scalers) != 3 {
		t.Fatalf("scalers = %+v; want a spread scaler per component and a link scaler", st.Scalers)
	}
	kinds := map[string]string{}
	for _, sc := range st.Scalers {
		if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(sc.ID) || sc.Info.Type != wadm.StatusDeployed {
			t.Errorf("scaler %+v", sc)
		}
		kinds[sc.Name] = sc.Kind
	}
	if kinds["hello_world-http_component"] != wadm.ScalerKindSpread || kinds["hello_world-httpserver -(wasi:http)-> hello_world-http_component"] != wadm.ScalerKindLink {
		t.Errorf("scaler names/kinds = %v", kinds)
	}

	und, err := e.client.Undeploy(c, "hello-world")
	if err != nil || und.Message != "Successfully undeployed application hello-world" || und.Version != nil {
		t.Fatalf("Undeploy = %+v, %v", und, err)
	}
	waitStatus(t, e.client, "hello-world", wadm.StatusUndeployed)
	und, err = e.client.Undeploy(c, "hello-world")
	if err != nil || und.Message != "Application hello-world was already undeployed" {
		t.Fatalf("Undeploy again = %+v, %v", und, err)
	}
	if _, err := e.client.Undeploy(c, "nope"); !errors.Is(err, wadm.ErrNotFound) {
		t.Fatalf("Undeploy nope: %v", err)
	}

	if _, err := e.client.Deploy(c, "hello-world", "v1"); err != nil {
		t.Fatal(err)
	}
	del, err := e.client.Delete(c, "hello-world", "v1")
	if err != nil || del.Result != wadm.DeleteResultDeleted || !del.Undeploy {
		t.Fatalf("Delete deployed v1 = %+v, %v", del, err)
	}
	waitStatus(t, e.client, "hello-world", wadm.StatusUndeployed)
	del, err = e.client.Delete(c, "hello-world", "v2")
	if err != nil || del.Result != wadm.DeleteResultDeleted || del.Undeploy {
		t.Fatalf("Delete v2 = %+v, %v", del, err)
	}
	del, err = e.client.Delete(c, "hello-world", ulid)
	if err != nil || del.Message != "Successfully deleted last version of application hello-world" || !del.Undeploy {
		t.Fatalf("Delete last = %+v, %v", del, err)
	}
	del, err = e.client.Delete(c, "hello-world", "")
	if err != nil || del.Result != wadm.DeleteResultNoop {
		t.Fatalf("Delete gone = %+v, %v", del, err)
	}
	if got := e.double.Models(); len(got) != 0 {
		t.Fatalf("models left: %v", got)
	}
	if e.double.Puts() != 3 || e.double.Deploys() != 3 || e.double.Undeploys() != 1 || e.double.Deletes() != 3 {
		t.Errorf("counters puts=%d deploys=%d undeploys=%d deletes=%d", e.double.Puts(), e.double.Deploys(), e.double.Undeploys(), e.double.Deletes())
	}
}

// waitStatus polls the status API until name reaches want.
func waitStatus(t *testing.T, c *wadmclient.Client, name string, want wadm.StatusType) wadm.Status {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last wadm.StatusResponse
	for time.Now().Before(deadline) {
		resp, err := c.Status(ctx(t), name)
		if err != nil {
			t.Fatalf("Status %s: %v", name, err)
		}
		if resp.Status.Info.Type == want {
			return *resp.Status
		}
		last = resp
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("status of %s never became %s; last %+v", name, want, last.Status)
	return wadm.Status{}
}

// next reads the next watch update or fails after a bound.
func next(t *testing.T, w *wadmclient.StatusWatch) wadmclient.StatusUpdate {
	t.Helper()
	select {
	case u, ok := <-w.C:
		if !ok {
			t.Fatal("watch closed")
		}
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		return u
	case <-time.After(10 * time.Second):
		t.Fatal("no status update within 10s")
	}
	return wadmclient.StatusUpdate{}
}

func TestWatchStatusAndFailureInjection(t *testing.T) {
	t.Parallel()
	e := newEnv(t, wadmtest.WithDelay(20*time.Millisecond))
	c := ctx(t)
	w, err := e.client.WatchStatus(c, "hello-world")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	all, err := e.client.WatchStatus(c, "*")
	if err != nil {
		t.Fatal(err)
	}
	defer all.Stop()

	if _, err := e.client.Put(c, helloWorld(t, "v1")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Deploy(c, "hello-world", ""); err != nil {
		t.Fatal(err)
	}
	for _, want := range []wadm.StatusType{wadm.StatusReconciling, wadm.StatusDeployed} {
		if u := next(t, w); u.Status.Info.Type != want || u.Name != "hello-world" {
			t.Fatalf("update = %+v, want %s", u, want)
		}
		if u := next(t, all); u.Status.Info.Type != want || u.Name != "hello-world" {
			t.Fatalf("wildcard update = %+v, want %s", u, want)
		}
	}

	e.double.FailNext("hello-world", "image pull failed: 404")
	if _, err := e.client.Put(c, helloWorld(t, "v2")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Deploy(c, "hello-world", "v2"); err != nil {
		t.Fatal(err)
	}
	if u := next(t, w); u.Status.Info.Type != wadm.StatusReconciling {
		t.Fatalf("update = %+v", u)
	}
	u := next(t, w)
	if u.Status.Info.Type != wadm.StatusFailed || u.Status.Info.Message != "image pull failed: 404" {
		t.Fatalf("update = %+v, want failed with the injected message", u)
	}
	if st := waitStatus(t, e.client, "hello-world", wadm.StatusFailed); st.Info.Message != "image pull failed: 404" {
		t.Fatalf("status message %q", st.Info.Message)
	}
	// FailNext is used up: the next deploy succeeds.
	if _, err := e.client.Deploy(c, "hello-world", "v2"); err != nil {
		t.Fatal(err)
	}
	next(t, w)
	if u := next(t, w); u.Status.Info.Type != wadm.StatusDeployed {
		t.Fatalf("update = %+v, want deployed", u)
	}

	e.double.Fail("hello-world", "host lost")
	if u := next(t, w); u.Status.Info.Type != wadm.StatusFailed || u.Status.Info.Message != "host lost" {
		t.Fatalf("update = %+v", u)
	}
	e.double.SetWaiting("hello-world")
	e.double.Clear("hello-world")
	e.double.SetWaiting("hello-world")
	got := []wadm.StatusType{}
	for len(got) == 0 || got[len(got)-1] != wadm.StatusWaiting {
		got = append(got, next(t, w).Status.Info.Type)
		if len(got) > 5 {
			t.Fatalf("never waited: %v", got)
		}
	}
	e.double.Clear("hello-world")
	waitStatus(t, e.client, "hello-world", wadm.StatusDeployed)

	w.Stop()
	for range w.C {
	}
}

func TestManifestEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := ctx(t)
	sub, err := e.nc.SubscribeSync(subject.WadmEvent("default", ">"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Put(c, helloWorld(t, "v1")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Deploy(c, "hello-world", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Undeploy(c, "hello-world"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct{ subject, typ, data string }{
		{subject.WadmEvent("default", "manifest_published"), wadm.EventManifestPublished, "manifest"},
		{subject.WadmEvent("default", "manifest_unpublished"), wadm.EventManifestUnpublished, "name"},
	} {
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var ev struct {
			SpecVersion string         `json:"specversion"`
			Type        string         `json:"type"`
			Source      string         `json:"source"`
			Data        map[string]any `json:"data"`
		}
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Fatal(err)
		}
		if m.Subject != want.subject || ev.Type != want.typ || ev.Source != "wadm" || ev.SpecVersion != "1.0" || ev.Data[want.data] == nil {
			t.Errorf("event on %s: %s", m.Subject, m.Data)
		}
	}
}

func TestPutRefusedAndIDConflict(t *testing.T) {
	t.Parallel()
	e := newEnv(t, wadmtest.WithPutHook(func(m *wadm.Manifest) error {
		if m.Metadata.Name == "refused" {
			return errors.New("Application refused by policy")
		}
		return nil
	}))
	c := ctx(t)
	refused := helloWorld(t, "v1")
	refused.Metadata.Name = "refused"
	_, err := e.client.Put(c, refused)
	var apiErr *wadm.APIError
	if !errors.As(err, &apiErr) || apiErr.Message != "Application refused by policy" || !errors.Is(err, wadm.ErrInvalidManifest) {
		t.Fatalf("refused put: %v", err)
	}
	a, b := helloWorld(t, "v1"), helloWorld(t, "v1")
	a.Metadata.Name, b.Metadata.Name = "app-a", "app-b"
	a.Spec.Components[0].Properties.ID = "shared_id"
	b.Spec.Components[0].Properties.ID = "shared_id"
	for _, m := range []*wadm.Manifest{a, b} {
		if _, err := e.client.Put(c, m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.client.Deploy(c, "app-a", ""); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.Deploy(c, "app-b", "")
	if !errors.Is(err, wadm.ErrIDConflict) || !strings.Contains(err.Error(), "Component identifier 'shared_id' is already deployed in a different application 'app-a'.") {
		t.Fatalf("conflicting deploy: %v", err)
	}
	dup := helloWorld(t, "v1")
	dup.Metadata.Name = "dup"
	dup.Spec.Components[1].Name = dup.Spec.Components[0].Name
	if _, err := e.client.Put(c, dup); !errors.Is(err, wadm.ErrInvalidManifest) || !strings.Contains(err.Error(), "Duplicate component name in manifest: http-component") {
		t.Fatalf("duplicate component put: %v", err)
	}
	if _, err := e.client.Put(c, &wadm.Manifest{Metadata: wadm.Metadata{Name: "bad.name"}}); err == nil || !strings.Contains(err.Error(), "is not allowed") {
		t.Fatalf("bad name put: %v", err)
	}
}

func TestNoWadmAndTimeout(t *testing.T) {
	t.Parallel()
	nc := testkit.Connect(t, testkit.NATS(t, embedded.Config{}).ClientURL())
	c, err := wadmclient.New(nc, "empty", wadmclient.WithTimeout(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Status(ctx(t), "x")
	if !errors.Is(err, wadm.ErrNoWadm) || !errors.Is(err, nats.ErrNoResponders) ||
		err.Error() != "no wadm is serving lattice empty on wadm.api.empty.>: is wadm running?" {
		t.Fatalf("no responders: %v", err)
	}
	// A responder that never answers: the request times out.
	silent, err := nc.QueueSubscribe(subject.WadmLatticeAPI("", "silent"), subject.WadmQueueGroup, func(*nats.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = silent.Unsubscribe() }()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	s, err := wadmclient.New(nc, "silent", wadmclient.WithTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = s.List(ctx(t))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "got no reply in time") {
		t.Fatalf("silent wadm: %v", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Fatalf("timeout took %s", time.Since(start))
	}
	for _, bad := range []string{"", "a.b", "*", "x y"} {
		if _, err := wadmclient.New(nc, bad); err == nil {
			t.Errorf("lattice %q accepted", bad)
		}
	}
	if _, err := wadmclient.New(nc, "ok", wadmclient.WithAPIPrefix("bad.>")); err == nil {
		t.Error("wildcard API prefix accepted")
	}
}

func TestAPIPrefixAndLatticeIsolation(t *testing.T) {
	t.Parallel()
	nc := testkit.Connect(t, testkit.NATS(t, embedded.Config{}).ClientURL())
	wadmtest.Run(t, nc, "east", wadmtest.WithAPIPrefix("tenant.wadm.api"), wadmtest.WithMemoryStore())
	wadmtest.Run(t, nc, "west", wadmtest.WithAPIPrefix("tenant.wadm.api"), wadmtest.WithMemoryStore())
	east, _ := wadmclient.New(nc, "east", wadmclient.WithAPIPrefix("tenant.wadm.api"))
	west, _ := wadmclient.New(nc, "west", wadmclient.WithAPIPrefix("tenant.wadm.api"))
	if _, err := east.Put(ctx(t), helloWorld(t, "v1")); err != nil {
		t.Fatal(err)
	}
	if l, err := west.List(ctx(t)); err != nil || len(l.Models) != 0 {
		t.Fatalf("west sees %+v, %v", l, err)
	}
	if _, err := east.Deploy(ctx(t), "hello-world", ""); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, east, "hello-world", wadm.StatusDeployed)
	defaultPrefix, _ := wadmclient.New(nc, "east")
	if _, err := defaultPrefix.List(ctx(t)); !errors.Is(err, wadm.ErrNoWadm) {
		t.Fatalf("default prefix reached a prefixed double: %v", err)
	}
}

func TestConcurrentClients(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const clients, apps = 8, 4
	// Connections and manifests are made here: t.Fatal must not run on the
	// client goroutines.
	conns := make([]*wadmclient.Client, clients)
	manifests := make([][]*wadm.Manifest, clients)
	for i := range clients {
		cl, err := wadmclient.New(testkit.Connect(t, e.nc.ConnectedUrl()), e.lattice)
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = cl
		for a := range apps {
			m := helloWorld(t, fmt.Sprintf("v%d", i))
			m.Metadata.Name = fmt.Sprintf("app-%d", a)
			manifests[i] = append(manifests[i], m)
		}
	}
	c := ctx(t)
	var wg sync.WaitGroup
	errs := make(chan error, clients*apps*2)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a, m := range manifests[i] {
				if _, err := conns[i].Put(c, m); err != nil {
					errs <- fmt.Errorf("client %d put app-%d: %w", i, a, err)
				}
				if _, err := conns[i].Deploy(c, m.Metadata.Name, m.Version()); err != nil {
					errs <- fmt.Errorf("client %d deploy app-%d: %w", i, a, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := e.double.Models(); len(got) != apps {
		t.Fatalf("models = %v", got)
	}
	for a := range apps {
		name := fmt.Sprintf("app-%d", a)
		if vs := e.double.Versions(name); len(vs) != clients {
			t.Errorf("%s versions = %v, want %d", name, vs, clients)
		}
		if _, ok := e.double.Deployed(name); !ok {
			t.Errorf("%s not deployed", name)
		}
	}
	if e.double.Puts() != clients*apps || e.double.Deploys() != clients*apps {
		t.Errorf("puts=%d deploys=%d", e.double.Puts(), e.double.Deploys())
	}
}

// When wadm's storage fails it answers with the generic error reply; the
// client returns it as an *APIError that matches no specific sentinel.
func TestStorageErrorReply(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	js, err := jetstream.New(e.nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteKeyValue(ctx(t), subject.WadmManifestBucket); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.Put(ctx(t), helloWorld(t, "v1"))
	var apiErr *wadm.APIError
	if !errors.As(err, &apiErr) || apiErr.Result != wadm.ResultError || apiErr.Message != "Internal storage error" {
		t.Fatalf("Put with storage gone: %v", err)
	}
	for _, sentinel := range []error{wadm.ErrInvalidManifest, wadm.ErrVersionExists, wadm.ErrNotFound, wadm.ErrNoWadm} {
		if errors.Is(err, sentinel) {
			t.Errorf("storage error matches %v", sentinel)
		}
	}
	if _, err := e.client.Versions(ctx(t), "hello-world"); !errors.As(err, &apiErr) || apiErr.Message != "Internal storage error" {
		t.Fatalf("Versions with storage gone: %v", err)
	}
}

func TestPutAndDeployThenWaitForStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t, wadmtest.WithDelay(30*time.Millisecond))
	c := ctx(t)
	put, dep, err := e.client.PutAndDeploy(c, helloWorld(t, "v3"))
	if err != nil || put.CurrentVersion != "v3" || *dep.Version != "v3" {
		t.Fatalf("PutAndDeploy = %+v %+v %v", put, dep, err)
	}
	deployed := func(s wadm.Status) bool { return s.Info.Type == wadm.StatusDeployed }
	st, err := e.client.WaitForStatus(c, "hello-world", deployed)
	if err != nil || st.Info.Type != wadm.StatusDeployed {
		t.Fatalf("WaitForStatus = %+v, %v", st, err)
	}
	e.double.Fail("hello-world", "out of memory")
	short, cancel := context.WithTimeout(c, 300*time.Millisecond)
	defer cancel()
	_, err = e.client.WaitForStatus(short, "hello-world", deployed)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `last failed "out of memory"`) {
		t.Fatalf("WaitForStatus on a failed app: %v", err)
	}
	if _, _, err := e.client.PutAndDeploy(c, helloWorld(t, "v3")); !errors.Is(err, wadm.ErrVersionExists) {
		t.Fatalf("PutAndDeploy of an existing version: %v", err)
	}
}
