package edge_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/pkg/edge"
)

// TestBootstrapNode: with Node, the start script and the host unit run
// `canvas node` with its own leaf-node connection to the hub, the site's
// credentials and labels; without it they run a wasmCloud host through
// the site's leaf node, as before.
func TestBootstrapNode(t *testing.T) {
	t.Parallel()
	l, dir, _ := newLattice(t)
	if _, err := l.Bootstrap(edge.SiteOptions{Name: "a", Hub: "nats://hub.example.net:7422", Labels: map[string]string{"zone": "z1"}, Node: true, Listen: "127.0.0.1:4333"}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Bootstrap(edge.SiteOptions{Name: "b", Hub: "nats://hub.example.net:7422"}); err != nil {
		t.Fatal(err)
	}
	read := func(site, name string) string {
		b, err := os.ReadFile(filepath.Join(dir, "sites", site, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	siteA := filepath.Join(dir, "sites", "a")
	for _, tc := range []struct {
		site, file string
		want, not  []string
	}{
		{"a", "start.sh", []string{`exec "$CANVAS" node --hub nats://hub.example.net:7422 --creds ./site.creds --lattice default --label site=a --label zone=z1 --listen-http "$LISTEN_HTTP" --state-dir ./node`}, []string{"WASMCLOUD", "NATS_SERVER"}},
		{"a", "systemd/wasmcanvas-host.service", []string{"ExecStart=/usr/local/bin/canvas node --hub nats://hub.example.net:7422 --creds " + filepath.Join(siteA, edge.SiteCredsFile) + " --lattice default --label site=a --label zone=z1 --listen-http 127.0.0.1:8080 --state-dir " + filepath.Join(siteA, "node"), "Description=canvas node of edge site a"}, []string{"wasmcloud", "Requires=wasmcanvas-leaf"}},
		{"a", "README.md", []string{"`canvas node`", "LISTEN_HTTP"}, []string{"WASMCLOUD"}},
		{"b", "start.sh", []string{`exec "$WASMCLOUD" --lattice default`}, []string{"canvas node", "CANVAS"}},
		{"b", "systemd/wasmcanvas-host.service", []string{"ExecStart=/usr/local/bin/wasmcloud --lattice default"}, []string{"canvas node"}},
	} {
		got := read(tc.site, tc.file)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("site %s %s lacks %q:\n%s", tc.site, tc.file, w, got)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(got, n) {
				t.Errorf("site %s %s has %q:\n%s", tc.site, tc.file, n, got)
			}
		}
	}
	for _, s := range []string{"a", "b"} {
		if out, err := exec.Command("sh", "-n", filepath.Join(dir, "sites", s, "start.sh")).CombinedOutput(); err != nil {
			t.Errorf("site %s start.sh does not parse: %v\n%s", s, err, out)
		}
	}
	if !strings.HasPrefix(read("a", "start.sh"), "#!/bin/sh\n# Starts edge site a") || !strings.HasPrefix(read("a", "systemd/wasmcanvas-host.service"), "# systemd unit") {
		t.Errorf("template whitespace:\n%s\n%s", read("a", "start.sh"), read("a", "systemd/wasmcanvas-host.service"))
	}
	// --node is a setting of the site: changing it needs --force.
	if _, err := l.Bootstrap(edge.SiteOptions{Name: "a", Hub: "nats://hub.example.net:7422", Labels: map[string]string{"zone": "z1"}, Listen: "127.0.0.1:4333"}); err == nil {
		t.Error("dropping --node without --force was accepted")
	}
}
