package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wasmcanvas/wasmcanvas/cmd/canvas/cli"
	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/edge"
	"github.com/wasmcanvas/wasmcanvas/pkg/edge/edgetest"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/latticeadmin/hosttest"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmclient"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmtest"
)

// hostLattice is a NATS server with the host double on it; lattice runs
// `canvas lattice ARGS… --nats URL` against it with a short ping window and
// a config file of its own (so no user context leaks in).
type hostLattice struct {
	url    string
	config string
	double *hosttest.Lattice
}

func newHostLattice(t *testing.T) *hostLattice {
	t.Helper()
	srv := testkit.NATS(t, embedded.Config{})
	double := hosttest.Start(t, testkit.Connect(t, srv.ClientURL()), subject.DefaultLattice, hosttest.Hosts()...)
	return &hostLattice{url: srv.ClientURL(), config: filepath.Join(t.TempDir(), "config.yaml"), double: double}
}

func (h *hostLattice) lattice(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return run(t, "", append(append([]string{"lattice"}, args...), "--nats", h.url, "--timeout", "300ms", "--config", h.config)...)
}

// indented is the fixture reply's response (or several, as a JSON array,
// each maybe wrapped by wrap) as `-o json` prints it.
func indented(t *testing.T, raw []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		t.Fatal(err)
	}
	return buf.String() + "\n"
}

func fixtureResponse(t *testing.T, file string) string {
	t.Helper()
	var r struct {
		Response json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(hosttest.Fixture(file), &r); err != nil {
		t.Fatal(err)
	}
	return string(r.Response)
}

// TestLatticeQueriesByteForByte: with -o json the CLI prints exactly what
// the hosts sent (indented), and the tables show it.
func TestLatticeQueriesByteForByte(t *testing.T) {
	t.Parallel()
	h := newHostLattice(t)
	holy, floral := fixtureResponse(t, "ping-holy-wildflower.json"), fixtureResponse(t, "ping-floral-forest.json")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"inventory", hosttest.FloralForest, "-o", "json"}, indented(t, []byte(fixtureResponse(t, "inventory-floral-forest.json")))},
		{[]string{"inventory", hosttest.HolyWildflower, "-o", "json"}, indented(t, []byte(fixtureResponse(t, "inventory-holy-wildflower.json")))},
		{[]string{"links", "-o", "json"}, indented(t, []byte(fixtureResponse(t, "links.json")))},
		{[]string{"ping", "-o", "json"}, indented(t, []byte("["+holy+","+floral+"]"))},
		{[]string{"hosts", "-o", "json"}, indented(t, []byte(`[{"host":`+holy+`,"components":0,"providers":0},{"host":`+floral+`,"components":2,"providers":1}]`))},
		{[]string{"hosts"}, `ID                                                         NAME                   VERSION   UPTIME     COMPONENTS   PROVIDERS   LABELS
NCOGQNZLCJJS2V52A5434BX65RQFNWX5RMP6IIJJATKD3HVAPZJ2ZUXZ   holy-wildflower-2227   1.9.2     1h 2m 3s   0            0           hostcore.arch=x86_64,hostcore.os=linux,hostcore.osfamily=unix,site=a
NCRXKSKEDK3Z775IRSNBKTFCRAEB7WBQNSREZ4DMFN2TKYRYXNV7UPRT   floral-forest-3510     0.82.0    30s        2            1           hostcore.arch=aarch64,hostcore.os=macos,hostcore.osfamily=unix
`},
		{[]string{"inventory", hosttest.FloralForest}, `HOST      NCRXKSKEDK3Z775IRSNBKTFCRAEB7WBQNSREZ4DMFN2TKYRYXNV7UPRT (floral-forest-3510)
VERSION   0.82.0
UPTIME    30s
LABELS    hostcore.arch=aarch64,hostcore.os=macos,hostcore.osfamily=unix

COMPONENT                    IMAGE                                                      MAX INSTANCES   NAME               APP
hello_world                  ghcr.io/brooksmtownsend/http-hello-world-rust:0.1.0        1               http-hello-world   -
hello_world-http_component   ghcr.io/wasmcloud/components/http-hello-world-rust:0.1.0   1               -                  hello-world

PROVIDER     IMAGE                                    NAME          APP
httpserver   wasmcloud.azurecr.io/httpserver:0.19.1   HTTP Server   -
`},
		{[]string{"inventory", hosttest.HolyWildflower}, `HOST      NCOGQNZLCJJS2V52A5434BX65RQFNWX5RMP6IIJJATKD3HVAPZJ2ZUXZ (holy-wildflower-2227)
VERSION   1.9.2
UPTIME    1h 2m 3s
LABELS    hostcore.arch=x86_64,hostcore.os=linux,hostcore.osfamily=unix,site=a

COMPONENT   IMAGE   MAX INSTANCES   NAME   APP

PROVIDER   IMAGE   NAME   APP
`},
		{[]string{"links"}, `SOURCE                   TARGET                       NAME      INTERFACES                           SOURCE CONFIG              TARGET CONFIG
hello_world-httpserver   hello_world-http_component   default   wasi:http/incoming-handler           hello_world-default_http   -
hello_world              header                       default   wasmcloud:testing/pingpong,busybox   -                          -
`},
	}
	for _, tt := range tests {
		code, out, errOut := h.lattice(t, tt.args...)
		if code != 0 || out != tt.want {
			t.Errorf("canvas lattice %s: exit %d, stderr %q\n got:\n%s\nwant:\n%s", strings.Join(tt.args, " "), code, errOut, out, tt.want)
		}
	}

	// YAML is the same data.
	code, out, _ := h.lattice(t, "inventory", hosttest.FloralForest, "-o", "yaml")
	var fromYAML, fromJSON any
	if err := yaml.Unmarshal([]byte(out), &fromYAML); code != 0 || err != nil {
		t.Fatalf("-o yaml: exit %d, %v\n%s", code, err, out)
	}
	_ = json.Unmarshal([]byte(fixtureResponse(t, "inventory-floral-forest.json")), &fromJSON)
	if a, b := mustJSON(t, fromYAML), mustJSON(t, fromJSON); a != b {
		t.Errorf("-o yaml differs from the reply:\n%s\n%s", a, b)
	}

	// ping's table has the round-trip time, which varies: check the rest.
	code, out, _ = h.lattice(t, "ping")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") ||
		!strings.Contains(lines[1], "holy-wildflower-2227   default   nats://127.0.0.1:4222") {
		t.Errorf("ping table: exit %d\n%s", code, out)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLatticeChanges: config and label commands send upstream's bodies and
// print the hosts' answers; a refusal is exit 1 with the host's message.
func TestLatticeChanges(t *testing.T) {
	t.Parallel()
	h := newHostLattice(t)
	steps := []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"config", "get", "shop"}, 1, "", `config "shop": not found on lattice "default"`},
		{[]string{"config", "put", "shop", "url=http://db/?a=1&b=2", "empty="}, 0, "successfully put config\n", ""},
		{[]string{"config", "get", "shop"}, 0, "KEY     VALUE\nempty   \nurl     http://db/?a=1&b=2\n", ""},
		{[]string{"config", "get", "shop", "-o", "json"}, 0, "{\n  \"empty\": \"\",\n  \"url\": \"http://db/?a=1&b=2\"\n}\n", ""},
		{[]string{"config", "del", "shop", "-o", "json"}, 0, "{\n  \"success\": true,\n  \"message\": \"successfully deleted config\"\n}\n", ""},
		{[]string{"label", "put", hosttest.FloralForest, "zone=eu"}, 0, "successfully put label\n", ""},
		{[]string{"label", "del", hosttest.FloralForest, "zone", "-o", "yaml"}, 0, "message: successfully deleted label\nsuccess: true\n", ""},
		{[]string{"label", "del", hosttest.FloralForest, "zone"}, 0, "successfully deleted label (no such label)\n", ""},
		{[]string{"label", "put", hosttest.FloralForest, "hostcore.os=plan9"}, 1, "", "hostcore.* labels cannot be set dynamically"},
	}
	for _, s := range steps {
		code, out, errOut := h.lattice(t, s.args...)
		if code != s.code || out != s.out || !strings.Contains(errOut, s.err) {
			t.Errorf("canvas lattice %s: exit %d (want %d)\nstdout %q\nwant   %q\nstderr %q, want it to contain %q",
				strings.Join(s.args, " "), code, s.code, out, s.out, errOut, s.err)
		}
	}
	var sent []string
	for _, r := range h.double.Requests() {
		if strings.Contains(r.Subject, ".config.put.") || strings.Contains(r.Subject, ".label.") {
			sent = append(sent, string(r.Data))
		}
	}
	want := []string{`{"empty":"","url":"http://db/?a=1&b=2"}`, `{"key":"zone","value":"eu"}`, `{"key":"zone"}`, `{"key":"zone"}`, `{"key":"hostcore.os","value":"plan9"}`}
	if strings.Join(sent, "\n") != strings.Join(want, "\n") {
		t.Errorf("bodies sent:\n%s\nwant:\n%s", strings.Join(sent, "\n"), strings.Join(want, "\n"))
	}
}

// TestLatticeBadInput: the command line is checked before anything is sent.
func TestLatticeBadInput(t *testing.T) {
	t.Parallel()
	h := newHostLattice(t)
	dir := t.TempDir()
	httpOnly := writeFile(t, dir, "config.yaml", []byte("current-context: web\ncontexts:\n- name: web\n  server: http://127.0.0.1:7443\n"))
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"inventory", "NABC"}, 2, "not a host's nkey public key"},
		{[]string{"label", "put", hosttest.FloralForest, "zone"}, 2, "want KEY=VALUE"},
		{[]string{"config", "put", "shop"}, 2, "at least one KEY=VALUE"},
		{[]string{"config", "put", "shop", "a=1", "a=2"}, 2, `key "a" given twice`},
		{[]string{"config", "get", "a.b"}, 2, "not allowed in a subject token"},
		{[]string{"hosts", "-o", "wide"}, 2, "--output"},
		{[]string{"hosts", "--lattice", "a.b"}, 2, "--lattice"},
		{[]string{"events", "--type", "a.b"}, 2, "--type"},
		{[]string{"inventory", "NB6PMW4RGLBP3NAVUVO2IH34VFJFSX7LF7TJOQCDU4GGUGF3P57SZLPX"}, 1, "no wasmCloud host answered"},
	}
	for _, tt := range tests {
		code, _, errOut := h.lattice(t, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("canvas lattice %s: exit %d (want %d), stderr %q, want it to contain %q", strings.Join(tt.args, " "), code, tt.code, errOut, tt.want)
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"lattice", "hosts", "--config", filepath.Join(dir, "none.yaml")}, "pass --nats URL"},
		{[]string{"lattice", "hosts", "--config", httpOnly}, `context "web"`},
		{[]string{"lattice", "hosts", "--nats-creds", "x.creds", "--config", httpOnly}, "--nats-creds goes with --nats"},
	} {
		code, _, errOut := run(t, "", tt.args...)
		if code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("canvas %s: exit %d, stderr %q, want 2 and %q", strings.Join(tt.args, " "), code, errOut, tt.want)
		}
	}
}

// TestLatticeFromContext: with no --nats the current context's nats is used.
func TestLatticeFromContext(t *testing.T) {
	t.Parallel()
	h := newHostLattice(t)
	cfg := writeFile(t, t.TempDir(), "config.yaml", []byte("current-context: lab\ncontexts:\n- name: lab\n  nats: "+h.url+"\n"))
	code, out, errOut := run(t, "", "lattice", "links", "-o", "json", "--config", cfg)
	if code != 0 || out != indented(t, []byte(fixtureResponse(t, "links.json"))) {
		t.Errorf("exit %d, stderr %q\n%s", code, errOut, out)
	}
}

// TestLatticeEvents: the upstream event fixture, tailed with --type and
// --count, comes out one CloudEvent per line as the host sent it, and the
// command ends by itself after --count events.
func TestLatticeEvents(t *testing.T) {
	t.Parallel()
	h := newHostLattice(t)
	data, err := os.ReadFile(testref.Path(t, "wasmcloud", "fixtures", "wadm-test-host-events.json"))
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr testkit.Buffer
	code := make(chan int, 1)
	go func() {
		code <- cli.Main([]string{"lattice", "events", "--nats", h.url, "--config", h.config, "-o", "json",
			"--type", "config_set", "--type", "com.wasmcloud.lattice.labels_changed", "--count", "2", "--for", "20s"},
			strings.NewReader(""), &stdout, &stderr)
	}()
	testkit.WaitFor(t, 10*time.Second, "events to subscribe", func() bool { return strings.Contains(stderr.String(), "Watching") })
	if want := "Watching " + subject.HostEvent("default", "config_set") + ", " + subject.HostEvent("default", "labels_changed") + " (Ctrl-C to stop).\n"; stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
	var configSet string
	for _, ev := range h.double.PublishEvents(t, data) {
		if bytes.Contains(ev, []byte(`"com.wasmcloud.lattice.config_set"`)) {
			configSet = string(ev)
		}
	}
	// The second event: a label the double changes, in upstream's envelope.
	if c, out, errOut := h.lattice(t, "label", "put", hosttest.HolyWildflower, "zone=eu"); c != 0 {
		t.Fatalf("label put: %d %s %s", c, out, errOut)
	}
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("events exit %d: %s", c, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("events did not stop after --count 2")
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != 2 || lines[0] != configSet {
		t.Fatalf("events:\n%s\nwant first %s", stdout.String(), configSet)
	}
	var ev struct {
		Type, Source string
		Data         struct {
			HostID string            `json:"host_id"`
			Labels map[string]string `json:"labels"`
		}
	}
	if err := json.Unmarshal([]byte(lines[1]), &ev); err != nil || ev.Type != subject.HostEventTypePrefix+"labels_changed" ||
		ev.Source != hosttest.HolyWildflower || ev.Data.HostID != hosttest.HolyWildflower || ev.Data.Labels["zone"] != "eu" || ev.Data.Labels["site"] != "a" {
		t.Errorf("labels_changed event %s (%v)", lines[1], err)
	}

	// Bounded by --for when nothing comes, exit 0 and a table header.
	c, out, errOut := h.lattice(t, "events", "--for", "200ms")
	if c != 0 || out != "TIME\tTYPE\tSOURCE\tDATA\n" {
		t.Errorf("events --for: exit %d, stdout %q, stderr %q", c, out, errOut)
	}
}

// TestLatticeApps lists wadm's applications of the lattice.
func TestLatticeApps(t *testing.T) {
	t.Parallel()
	h := newHostLattice(t)
	nc := testkit.Connect(t, h.url)
	wadmtest.Run(t, nc, subject.DefaultLattice)
	data, err := os.ReadFile(testref.Path(t, "wasmcloud", "examples", "hello-world-http.wadm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := wadm.ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	wc, err := wadmclient.New(nc, subject.DefaultLattice)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	code, out, errOut := h.lattice(t, "apps")
	if code != 0 || out != "NAME   DEPLOYED   LATEST   STATUS   MESSAGE\n" {
		t.Errorf("no apps: exit %d %q %q", code, out, errOut)
	}
	if _, _, err := wc.PutAndDeploy(ctx, m); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = h.lattice(t, "apps")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[1], m.Metadata.Name+"   "+m.Version()) {
		t.Errorf("apps: exit %d, stderr %q\n%s", code, errOut, out)
	}
	code, out, _ = h.lattice(t, "apps", "-o", "json")
	var models []wadm.ModelSummary
	if err := json.Unmarshal([]byte(out), &models); code != 0 || err != nil || len(models) != 1 || models[0].Name != m.Metadata.Name {
		t.Errorf("apps -o json: exit %d, %v\n%s", code, err, out)
	}
}

// TestLatticeNoHosts: an empty lattice is no error: a note on stderr for
// tables, an empty list for scripts.
func TestLatticeNoHosts(t *testing.T) {
	t.Parallel()
	url := testkit.NATS(t, embedded.Config{}).ClientURL()
	for _, tt := range []struct {
		args          []string
		out, inStderr string
	}{
		{[]string{"hosts"}, "", `No host of lattice "edge" answered within 200ms.`},
		{[]string{"ping"}, "", `No host of lattice "edge" answered within 200ms.`},
		{[]string{"hosts", "-o", "json"}, "[]\n", ""},
		{[]string{"ping", "-o", "yaml"}, "[]\n", ""},
	} {
		code, out, errOut := run(t, "", append(append([]string{"lattice"}, tt.args...), "--nats", url, "--lattice", "edge", "--timeout", "200ms", "--config", filepath.Join(t.TempDir(), "c.yaml"))...)
		if code != 0 || out != tt.out || !strings.Contains(errOut, tt.inStderr) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", tt.args, code, out, errOut)
		}
	}
}

// TestLatticeCredsSpellings: against a hub from `canvas lattice init`'s
// files, natscli's --creds works as --nats-creds does, no credentials are
// refused, and the two spellings naming two files are a usage error.
func TestLatticeCredsSpellings(t *testing.T) {
	t.Parallel()
	l, err := edge.Init(edge.InitOptions{Dir: filepath.Join(t.TempDir(), "lattice"), Listen: edgetest.FreeAddr(t), LeafListen: edgetest.FreeAddr(t)})
	if err != nil {
		t.Fatal(err)
	}
	hub := edgetest.StartServer(t, filepath.Join(l.Dir(), "hub", "nats.conf"))
	creds := l.AdminCredsFile()
	for _, tt := range []struct {
		flags         []string
		code          int
		out, inStderr string
	}{
		{[]string{"--creds", creds}, 0, "[]\n", ""},
		{[]string{"--nats-creds", creds}, 0, "[]\n", ""},
		{[]string{"--creds", creds, "--nats-creds", creds}, 0, "[]\n", ""},
		{nil, 1, "", "uthorization"},
		{[]string{"--creds", creds, "--nats-creds", "other.creds"}, 2, "", "--creds " + creds + " and --nats-creds other.creds name two files"},
	} {
		args := append([]string{"lattice", "hosts", "-o", "json", "--nats", hub.ClientURL(), "--lattice", l.State().Lattice, "--timeout", "200ms", "--config", filepath.Join(t.TempDir(), "c.yaml")}, tt.flags...)
		code, out, errOut := run(t, "", args...)
		if code != tt.code || out != tt.out || !strings.Contains(errOut, tt.inStderr) {
			t.Errorf("%v: exit %d (want %d), stdout %q, stderr %q (want it to contain %q)", tt.flags, code, tt.code, out, errOut, tt.inStderr)
		}
	}
}
