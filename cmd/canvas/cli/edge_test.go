package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/pkg/edge/edgetest"
)

var seedLike = edgetest.SeedPattern

// TestLatticeAndEdgeCommands runs lattice init and the edge commands as a
// user would, checks exit codes and errors for bad input, and greps all
// they printed for a seed.
func TestLatticeAndEdgeCommands(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	lat := filepath.Join(tmp, "lattice")
	var printed strings.Builder
	canvas := func(wantCode int, args ...string) (string, string) {
		t.Helper()
		code, out, errOut := run(t, "", args...)
		printed.WriteString(out + errOut)
		if code != wantCode {
			t.Fatalf("canvas %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, wantCode, out, errOut)
		}
		return out, errOut
	}
	// Nothing listens on port 1: commands that need the hub fail fast.
	out, _ := canvas(0, "lattice", "init", "--out", lat, "--listen", "127.0.0.1:1", "-o", "json")
	var res struct {
		Dir   string            `json:"dir"`
		Creds map[string]string `json:"creds"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("lattice init -o json: %v\n%s", err, out)
	}
	for _, role := range []string{"admin", "canvasd", "wadm", "bridge", "host", "client"} {
		if _, err := os.Stat(res.Creds[role]); err != nil {
			t.Errorf("creds of %s: %v", role, err)
		}
	}
	canvas(1, "lattice", "init", "--out", lat)
	canvas(2, "lattice", "init", "--out", filepath.Join(tmp, "x"), "-o", "xml")
	canvas(2, "lattice", "init", "--out", filepath.Join(tmp, "x"), "--lattice", "a.b")

	hub := "nats://127.0.0.1:7422"
	out, _ = canvas(0, "edge", "bootstrap", "--lattice-dir", lat, "--site", "a", "--hub", hub, "--label", "region=north")
	if !strings.Contains(out, "Site a written to "+filepath.Join(lat, "sites", "a")) {
		t.Errorf("bootstrap said:\n%s", out)
	}
	out, _ = canvas(0, "edge", "bootstrap", "--lattice-dir", lat, "--site", "a", "--hub", hub, "--label", "region=north")
	if !strings.Contains(out, "nothing written") {
		t.Errorf("second bootstrap said:\n%s", out)
	}
	_, errOut := canvas(1, "edge", "bootstrap", "--lattice-dir", lat, "--site", "a", "--hub", "nats://elsewhere:7422")
	if !strings.Contains(errOut, "site a already exists") {
		t.Errorf("duplicate site: %s", errOut)
	}
	_, errOut = canvas(2, "edge", "bootstrap", "--lattice-dir", lat, "--site", "b", "--hub", "http://hub:7422")
	if !strings.Contains(errOut, `scheme "http" is not nats or tls`) {
		t.Errorf("bad hub scheme: %s", errOut)
	}
	canvas(2, "edge", "bootstrap", "--lattice-dir", lat, "--site", "b", "--hub", hub, "--label", "novalue")
	_, errOut = canvas(1, "edge", "bootstrap", "--lattice-dir", filepath.Join(tmp, "none"), "--site", "b", "--hub", hub)
	if !strings.Contains(errOut, "canvas lattice init") {
		t.Errorf("missing lattice dir: %s", errOut)
	}
	canvas(0, "edge", "bootstrap", "--lattice-dir", lat, "--site", "b", "--hub", hub)

	out, _ = canvas(0, "edge", "list", "--lattice-dir", lat, "--offline")
	for _, want := range []string{"SITE", "a  ", "b  ", "unknown", "region=north,site=a"} {
		if !strings.Contains(out, want) {
			t.Errorf("edge list lacks %q:\n%s", want, out)
		}
	}
	out, errOut = canvas(0, "edge", "list", "--lattice-dir", lat, "-o", "json", "--timeout", "2s")
	var sites []map[string]any
	if err := json.Unmarshal([]byte(out), &sites); err != nil || len(sites) != 2 {
		t.Errorf("edge list -o json: %v\n%s", err, out)
	}
	if !strings.Contains(errOut, "warning: leaf nodes unknown") {
		t.Errorf("edge list without a hub did not warn: %s", errOut)
	}

	_, errOut = canvas(1, "edge", "revoke", "--lattice-dir", lat, "--site", "zz")
	if !strings.Contains(errOut, `no site "zz"`) {
		t.Errorf("unknown site: %s", errOut)
	}
	_, errOut = canvas(1, "edge", "revoke", "--lattice-dir", lat, "--site", "a", "--timeout", "2s")
	if !strings.Contains(errOut, "site a is revoked in") || !strings.Contains(errOut, "run the command again") {
		t.Errorf("revoke without a hub: %s", errOut)
	}
	out, _ = canvas(0, "edge", "list", "--lattice-dir", lat, "--offline")
	if !strings.Contains(out, "revoked") {
		t.Errorf("edge list does not show the revocation:\n%s", out)
	}
	for _, args := range [][]string{{"lattice", "--help"}, {"lattice", "init", "--help"}, {"edge", "bootstrap", "--help"}, {"edge", "revoke", "--help"}, {"edge", "list", "--help"}} {
		canvas(0, args...)
	}
	canvas(2, "edge")
	canvas(2, "lattice")

	if m := seedLike.FindString(printed.String()); m != "" {
		t.Errorf("a seed was printed: %.4s...", m)
	}
	seeds := 0
	_ = filepath.WalkDir(lat, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		for _, s := range seedLike.FindAllString(string(b), -1) {
			seeds++
			if strings.Contains(printed.String(), s) || strings.Contains(printed.String(), s[:20]) {
				t.Errorf("the seed of %s was printed", p)
			}
		}
		return nil
	})
	if seeds < 12 {
		t.Errorf("found %d seeds in the lattice directory, want at least 12: the check would see nothing", seeds)
	}
}
