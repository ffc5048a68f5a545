//go:build e2e

package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon/daemontest"
	"github.com/wasmcanvas/wasmcanvas/pkg/edge"
	"github.com/wasmcanvas/wasmcanvas/pkg/edge/edgetest"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/latticeadmin"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

// nodeProcess is a `canvas node` process with its output.
type nodeProcess struct {
	cmd     *exec.Cmd
	ingress string
	mu      sync.Mutex
	out     bytes.Buffer
	done    chan struct{}
}

func (p *nodeProcess) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *nodeProcess) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// startNode runs canvas node as the site's start script does (its own
// leaf-node connection to the hub with the site's credentials and labels),
// with a short heartbeat for the test's pace.
func startNode(t *testing.T, bin, lattice, siteDir, hub, site, artefacts string) *nodeProcess {
	t.Helper()
	p := &nodeProcess{ingress: edgetest.FreeAddr(t), done: make(chan struct{})}
	p.cmd = exec.Command(bin, "node", "--hub", "nats://"+hub, "--creds", filepath.Join(siteDir, edge.SiteCredsFile), "--lattice", lattice,
		"--label", "site="+site, "--listen-http", p.ingress, "--state-dir", filepath.Join(siteDir, edge.SiteNodeStateDir),
		"--artefact-root", artefacts, "--heartbeat", "5s", "--name", "node-"+site)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	p.cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir())
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("canvas node (site %s) output:\n%s", site, p.Log())
		}
	})
	return p
}

// wadmLike deploys the Wasm components of m to one host as wadm would:
// named config as {app}-{config}, links between component ids (shared
// components of the system application by theirs), then component.scale.
func wadmLike(t *testing.T, ctx context.Context, c *latticeadmin.Client, m *wadm.Manifest, hostID string, count uint32) {
	t.Helper()
	ids := map[string]string{}
	for _, comp := range m.Spec.Components {
		if a := comp.Properties.Application; a != nil {
			ids[comp.Name] = (&wadm.Manifest{Metadata: wadm.Metadata{Name: a.Name}}).ComponentID(wadm.Component{Name: a.Component})
			continue
		}
		ids[comp.Name] = m.ComponentID(comp)
	}
	putConfig := func(props []wadm.ConfigProperty) []string {
		names := []string{}
		for _, p := range props {
			name := m.Metadata.Name + "-" + p.Name
			if _, err := c.ConfigPut(ctx, name, p.Properties); err != nil {
				t.Fatal(err)
			}
			names = append(names, name)
		}
		return names
	}
	for _, sl := range m.Links() {
		l := sl.Link
		link := latticeadmin.Link{SourceID: ids[sl.Source], Target: ids[l.Target.Name], Name: l.EffectiveName(), WitNamespace: l.Namespace, WitPackage: l.Package, Interfaces: l.Interfaces,
			TargetConfig: putConfig(l.Target.Config), SourceConfig: []string{}}
		if l.Source != nil {
			link.SourceConfig = putConfig(l.Source.Config)
		}
		if _, err := c.LinkPut(ctx, link); err != nil {
			t.Fatal(err)
		}
	}
	for _, comp := range m.Spec.Components {
		if comp.Properties.Application != nil || comp.IsCapability() {
			continue
		}
		if _, err := c.ScaleComponent(ctx, latticeadmin.ScaleComponentCommand{
			ComponentRef: comp.Properties.Image, ComponentID: ids[comp.Name], Count: count, HostID: hostID,
			Annotations: map[string]string{latticeadmin.AnnotationAppSpec: m.Metadata.Name, "wasmcloud.dev/managed-by": "wadm"},
			Config:      putConfig(comp.Properties.Config),
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// openProductCatalog writes the productcatalog example without its
// securityFunction (its implementation at the example's absolute path)
// and returns the file.
func openProductCatalog(t *testing.T, root string) string {
	t.Helper()
	ex := filepath.Join(root, "examples", "productcatalog")
	b, err := os.ReadFile(filepath.Join(ex, "component.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	y, _, found := strings.Cut(string(b), "\n  securityFunction:\n")
	if !found {
		t.Fatal("examples/productcatalog/component.yaml has no spec.securityFunction to leave out")
	}
	y = strings.ReplaceAll(y, "file://build/", "file://"+filepath.Join(ex, "build")+"/")
	out := filepath.Join(t.TempDir(), "component.yaml")
	if err := os.WriteFile(out, []byte(y+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNodesOnEdgeSites: a hub and two leaf sites bootstrapped with --node,
// each running `canvas node` as its start script does. `canvas lattice
// hosts` lists both with their site labels; component.scale for the
// productcatalog component, sent to site a's node as wadm would (over the
// hub with wadm's credentials), makes it
// answer TMF620 on a's ingress and not on b's; with the hub down site a
// keeps serving, and once it is back the inventory is right again; scaling
// to 0 stops it; revoking site b's credential leaves b's node without
// commands, saying so in its log.
func TestNodesOnEdgeSites(t *testing.T) {
	root, err := testref.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	wasmDir := filepath.Join(root, "examples", "productcatalog", "build")
	if _, err := os.Stat(filepath.Join(wasmDir, "productcatalog.wasm")); err != nil {
		t.Fatalf("%v: run `make examples` first (make e2e does)", err)
	}
	bin := buildCanvas(t, root)
	canvas := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("canvas %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	dir := filepath.Join(t.TempDir(), "lattice")
	hubAddr, leafAddr := edgetest.FreeAddr(t), edgetest.FreeAddr(t)
	canvas("lattice", "init", "--out", dir, "--listen", hubAddr, "--leaf-listen", leafAddr)
	hub := daemontest.StartNATSConfig(t, filepath.Join(dir, "hub", "nats.conf"), hubAddr)
	const lat = subject.DefaultLattice
	nodes := map[string]*nodeProcess{}
	for _, s := range []string{"a", "b"} {
		canvas("edge", "bootstrap", "--lattice-dir", dir, "--site", s, "--hub", "nats://"+leafAddr, "--listen", edgetest.FreeAddr(t), "--node")
		siteDir := filepath.Join(dir, "sites", s)
		if script, err := os.ReadFile(filepath.Join(siteDir, "start.sh")); err != nil || !strings.Contains(string(script), `node --hub nats://`+leafAddr+` --creds ./site.creds`) {
			t.Fatalf("site %s's start.sh does not run canvas node with the site's credentials (%v):\n%s", s, err, script)
		}
		nodes[s] = startNode(t, bin, lat, siteDir, leafAddr, s, wasmDir)
	}
	clientCreds := filepath.Join(dir, "creds", "client.creds")

	// canvas lattice hosts lists both nodes with their sites.
	type hostRow struct {
		Host struct {
			ID     string            `json:"id"`
			Labels map[string]string `json:"labels"`
		} `json:"host"`
		Components int `json:"components"`
	}
	hosts := func() map[string]hostRow {
		out, err := exec.Command(bin, "lattice", "hosts", "--nats", hub.URL(), "--creds", clientCreds, "-o", "json", "--timeout", "1s").Output()
		if err != nil {
			return nil
		}
		var rows []hostRow
		if json.Unmarshal(out, &rows) != nil {
			return nil
		}
		bySite := map[string]hostRow{}
		for _, r := range rows {
			bySite[r.Host.Labels["site"]] = r
		}
		return bySite
	}
	var bySite map[string]hostRow
	if err := daemontest.WaitFor(30*time.Second, func() error {
		if bySite = hosts(); len(bySite) != 2 || bySite["a"].Host.ID == "" || bySite["b"].Host.ID == "" {
			return daemontest.ErrNotYet
		}
		return nil
	}); err != nil {
		t.Fatalf("canvas lattice hosts does not list the two nodes with site=a and site=b: %v (%+v)", err, bySite)
	}
	hostA := bySite["a"].Host.ID

	// As wadm: the productcatalog manifest to site a's node, of the
	// example without its securityFunction: a node given no --oidc-issuer
	// checks no tokens, so it answers a guarded API 503 (never open), which
	// TestGuardedRouteOnANodeWithoutIssuer in pkg/node covers.
	m, err := wadm.ParseManifest([]byte(canvas("render", "-f", openProductCatalog(t, root))))
	if err != nil {
		t.Fatal(err)
	}
	wadmConn, err := nats.Connect(hub.URL(), nats.UserCredentials(filepath.Join(dir, "creds", "wadm.creds")))
	if err != nil {
		t.Fatal(err)
	}
	defer wadmConn.Close()
	wadmClient, err := latticeadmin.New(wadmConn, lat, latticeadmin.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	wadmLike(t, ctx, wadmClient, m, hostA, 1)

	const api = "/productcatalog/tmf-api/productCatalogManagement/v4"
	a, b := "http://"+nodes["a"].ingress+api, "http://"+nodes["b"].ingress+api
	var offering string
	if err := daemontest.WaitFor(2*time.Minute, func() error {
		r := do(t, "POST", a+"/productOffering", `{"name":"Edge 1G","lifecycleStatus":"Active"}`)
		if r.code != 201 {
			return daemontest.ErrNotYet
		}
		var created map[string]any
		_ = json.Unmarshal([]byte(r.body), &created)
		offering, _ = created["id"].(string)
		return nil
	}); err != nil {
		t.Fatalf("productcatalog does not answer on site a's ingress: %v", err)
	}
	read := func(base string) response { return do(t, "GET", base+"/productOffering/"+offering, "") }
	if r := read(a); r.code != 200 || !strings.Contains(r.body, "Edge 1G") {
		t.Fatalf("site a: %d %s", r.code, r.body)
	}
	if r := read(b); r.code != 404 {
		t.Errorf("site b answers the component placed on a: %d %s", r.code, r.body)
	}

	// The hub goes: site a keeps serving.
	hub.Kill()
	time.Sleep(time.Second)
	if r := read(a); r.code != 200 {
		t.Errorf("with the hub down, site a answers %d %s", r.code, r.body)
	}
	if r := do(t, "POST", a+"/productOffering", `{"name":"Offline 100M"}`); r.code != 201 {
		t.Errorf("with the hub down, a write on site a answers %d %s", r.code, r.body)
	}
	if !strings.Contains(nodes["a"].Log(), "hub link down") {
		t.Error("site a's node did not log that the hub link is down")
	}
	// It comes back: the inventory is right again.
	if err := hub.Start(); err != nil {
		t.Fatal(err)
	}
	if err := daemontest.WaitFor(60*time.Second, func() error {
		bySite = hosts()
		if bySite["a"].Components != 1 || bySite["b"].Host.ID == "" || bySite["b"].Components != 0 {
			return daemontest.ErrNotYet
		}
		return nil
	}); err != nil {
		t.Fatalf("after the hub came back the inventory is %+v: %v", bySite, err)
	}
	if strings.Count(nodes["a"].Log(), "hub link up") < 2 {
		t.Error("site a's node did not log that the hub link is back")
	}

	// Scale to 0 stops it.
	wadmLike(t, ctx, wadmClient, m, hostA, 0)
	if err := daemontest.WaitFor(30*time.Second, func() error {
		if read(a).code != 404 {
			return daemontest.ErrNotYet
		}
		return nil
	}); err != nil {
		t.Fatalf("after scaling to 0 site a still serves: %v", err)
	}
	if err := daemontest.WaitFor(30*time.Second, func() error {
		if bySite = hosts(); bySite["a"].Host.ID == "" || bySite["a"].Components != 0 {
			return daemontest.ErrNotYet
		}
		return nil
	}); err != nil {
		t.Fatalf("inventory after scaling to 0: %+v", bySite)
	}

	// Site b's credential is revoked: its node gets no commands and says why.
	canvas("edge", "revoke", "--lattice-dir", dir, "--site", "b")
	if err := daemontest.WaitFor(30*time.Second, func() error {
		if bySite = hosts(); bySite["a"].Host.ID == "" || bySite["b"].Host.ID != "" {
			return daemontest.ErrNotYet
		}
		return nil
	}); err != nil {
		t.Fatalf("after revoking site b, the lattice's hosts are %+v", bySite)
	}
	if err := daemontest.WaitFor(20*time.Second, func() error {
		if !strings.Contains(nodes["b"].Log(), "the hub refuses this site's credential (Authentication Revoked)") {
			return daemontest.ErrNotYet
		}
		return nil
	}); err != nil {
		t.Errorf("site b's node did not say why it gets no commands:\n%s", nodes["b"].Log())
	}
	for s, n := range nodes {
		if loc := edgetest.SeedPattern.FindStringIndex(n.Log()); loc != nil {
			t.Errorf("a seed appears in site %s's node log", s)
		}
	}
}
