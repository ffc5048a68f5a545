//go:build e2e

package e2e_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/client"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon/daemontest"
	"github.com/wasmcanvas/wasmcanvas/pkg/edge"
	"github.com/wasmcanvas/wasmcanvas/pkg/edge/edgetest"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/reconcile"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmtest"
)

// TestSecuredLatticeWithEdgeSites runs a secured lattice from what the
// canvas CLI writes, with real nats-server processes on loopback: the hub
// from `canvas lattice init`, leaf nodes for sites a and b from `canvas edge
// bootstrap`. Site a's messages reach the hub and the lattice; a is refused
// b's subjects and the canvas's; canvasd with its own credentials applies a
// Component through the hub and, given --lattice-dir, warns about one placed
// on a site the lattice lacks; `canvas edge revoke --site a` cuts a off while
// b keeps working. Everything printed or logged is checked for seeds.
func TestSecuredLatticeWithEdgeSites(t *testing.T) {
	root, err := testref.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := buildCanvas(t, root)
	var printed strings.Builder
	canvas := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		out, err := cmd.CombinedOutput()
		printed.Write(out)
		if err != nil {
			t.Fatalf("canvas %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "lattice")
	hubAddr, leafAddr := edgetest.FreeAddr(t), edgetest.FreeAddr(t)
	canvas("lattice", "init", "--out", dir, "--listen", hubAddr, "--leaf-listen", leafAddr)
	hub := daemontest.StartNATSConfig(t, filepath.Join(dir, "hub", "nats.conf"), hubAddr)
	procs := []*daemontest.NATSProcess{hub}
	sites := map[string]*daemontest.NATSProcess{}
	for _, s := range []string{"a", "b"} {
		addr := edgetest.FreeAddr(t)
		canvas("edge", "bootstrap", "--lattice-dir", dir, "--site", s, "--hub", "nats://"+leafAddr, "--listen", addr, "--label", "zone=z"+s)
		sites[s] = daemontest.StartNATSConfig(t, filepath.Join(dir, "sites", s, edge.SiteConfigFile), addr)
		procs = append(procs, sites[s])
	}
	leafs := func() map[string]string {
		var views []struct{ Name, Leaf string }
		if err := json.Unmarshal([]byte(canvas("edge", "list", "--lattice-dir", dir, "-o", "json")), &views); err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, v := range views {
			m[v.Name] = v.Leaf
		}
		return m
	}
	if err := daemontest.WaitFor(20*time.Second, func() error {
		if m := leafs(); m["a"] != "connected" || m["b"] != "connected" {
			return &leafState{m}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	const lat = subject.DefaultLattice
	creds := func(role string) nats.Option { return nats.UserCredentials(filepath.Join(dir, "creds", role+".creds")) }
	connect := func(url string, opts ...nats.Option) *nats.Conn {
		t.Helper()
		nc, err := nats.Connect(url, append(opts, nats.Timeout(5*time.Second), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))...)
		if err != nil {
			t.Fatalf("connect %s: %v", url, err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	observer := connect(hub.URL(), creds("canvasd"))
	cli := connect(hub.URL(), creds("client"))
	a, b := connect(sites["a"].URL()), connect(sites["b"].URL())

	heartbeat := func(site string) string {
		return strings.TrimSuffix(subject.HostEventsAll(lat), ">") + site + "_heartbeat"
	}
	events := edgetest.Subscribe(t, observer, subject.HostEventsAll(lat))
	edgetest.DeliveredUntil(t, events, heartbeat("a"), func() { _ = a.Publish(heartbeat("a"), nil) })

	onB := edgetest.Subscribe(t, b, subject.WRPCLatticeAll(lat), subject.EdgeSiteAll(lat, "b"))
	callB := subject.WRPCInvoke(subject.WRPCPrefix(lat, "on-b"), "", "run")
	if got := edgetest.DeliveredUntil(t, onB, callB, func() {
		_ = a.Publish(strings.TrimSuffix(subject.EdgeSiteAll(lat, "b"), ">")+"telemetry", nil)
		_ = a.Publish(callB, nil)
	}); len(got) > 0 {
		t.Errorf("site b received %q from site a", got)
	}
	onA := edgetest.Subscribe(t, a, subject.CanvasAPIAll, subject.CtlLatticeAll("", lat))
	ctlPing := strings.TrimSuffix(subject.CtlLatticeAll("", lat), ">") + "host.ping"
	if got := edgetest.DeliveredUntil(t, onA, ctlPing, func() {
		_ = cli.Publish(subject.CanvasAPI("components", "list"), nil)
		_ = cli.Publish(ctlPing, nil)
	}); len(got) > 0 {
		t.Errorf("site a received the canvas's subjects: %q", got)
	}

	// canvasd and wadm (the test double) on the hub with their own
	// credentials; a Component applied over canvasd's API deploys.
	violations := make(chan error, 16)
	wadmConn := connect(hub.URL(), creds("wadm"), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case violations <- err:
		default:
		}
	}))
	wadmtest.Run(t, wadmConn, lat)
	canvasd := daemontest.Start(t, daemontest.Options{NATS: hub.URL(), Args: []string{"--nats-creds", filepath.Join(dir, "creds", "canvasd.creds"), "--lattice-dir", dir}})
	cl, err := client.NewHTTP(canvasd.API, e2eAdmin(canvasd.StateDir))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, _, err := cl.Apply(ctx, "edge.yaml", body(t, 0, 1)); err != nil {
		t.Fatal(err)
	}
	if err := daemontest.WaitFor(time.Minute, func() error {
		c, err := cl.Get(ctx, namespace, name(0))
		if err != nil {
			return err
		}
		if c.Status == nil || c.Status.Summary == nil || c.Status.Summary.DeploymentStatus != oda.DeploymentComplete {
			return daemontest.ErrNotYet
		}
		return nil
	}); err != nil {
		t.Fatalf("the Component did not deploy through the hub: %v", err)
	}

	// --lattice-dir: a placement on site c, which the lattice lacks, is
	// warned about in the Component's events; site a is known.
	placed := strings.Replace(string(body(t, 1, 1)), "  annotations:\n", "  annotations:\n    "+oda.AnnotationPlacement+`: '{"sites": {"a": 1, "c": 1}}'`+"\n", 1)
	if _, _, err := cl.Apply(ctx, "placed.yaml", []byte(placed)); err != nil {
		t.Fatal(err)
	}
	if err := daemontest.WaitFor(time.Minute, func() error {
		evs, err := cl.Events(ctx, namespace, name(1))
		if err != nil {
			return err
		}
		for _, ev := range evs {
			if ev.Reason == reconcile.ReasonUnknownSite {
				if !strings.Contains(ev.Message, `site "c" is not a site of the lattice (sites: a, b)`) {
					t.Errorf("UnknownSite warning %q, want one about site c", ev.Message)
				}
				return nil
			}
		}
		return daemontest.ErrNotYet
	}); err != nil {
		t.Fatalf("no UnknownSite warning for a placement on site c: %v", err)
	}

	// Least privilege, but enough: neither canvasd nor wadm was refused
	// anything it does.
	if strings.Contains(canvasd.Log(), "Permissions Violation") {
		t.Errorf("canvasd was refused a subject with its credentials:\n%s", canvasd.Log())
	}
	select {
	case err := <-violations:
		t.Errorf("wadm was refused a subject with its credentials: %v", err)
	default:
	}

	canvas("edge", "revoke", "--lattice-dir", dir, "--site", "a")
	if err := daemontest.WaitFor(20*time.Second, func() error {
		if m := leafs(); m["a"] != "disconnected" || m["b"] != "connected" {
			return &leafState{m}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_ = a.Publish(heartbeat("a"), nil)
	_ = a.Flush()
	if got := edgetest.DeliveredUntil(t, events, heartbeat("b"), func() { _ = b.Publish(heartbeat("b"), nil) }); slices.Contains(got, heartbeat("a")) {
		t.Error("site a's host event reached the hub after the revocation")
	}
	time.Sleep(time.Second) // a's leaf node retries; it must stay out
	if m := leafs(); m["a"] != "disconnected" {
		t.Errorf("site a's leaf is %s a second after the revocation", m["a"])
	}

	logs := printed.String() + canvasd.Log()
	for _, p := range procs {
		logs += p.Log()
	}
	if loc := edgetest.SeedPattern.FindStringIndex(logs); loc != nil {
		t.Errorf("a seed appears in the CLI's output or a log, after %q", logs[max(0, loc[0]-80):loc[0]])
	}
	if !strings.Contains(logs, "Site a revoked") || !strings.Contains(hub.Log(), "Leafnode connection") {
		t.Error("the captured output is not what the grep was meant to see")
	}
}

type leafState struct{ m map[string]string }

func (e *leafState) Error() string {
	b, _ := json.Marshal(e.m)
	return "leaf nodes " + string(b)
}
