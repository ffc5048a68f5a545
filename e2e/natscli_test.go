//go:build e2e

package e2e_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon/daemontest"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
)

// natscli is the NATS command-line tool operators use, installed from the
// Go module proxy by version: the test shows what they see.
const natscli = "github.com/nats-io/natscli/nats@v0.5.0"

// TestNatsMicroSeesCanvasAPI: the real `nats micro ls` and `nats micro
// info wasmcanvas` (natscli) against canvasd with its embedded nats-server
// list the canvas API service and every endpoint on its canvas.api
// subject. pkg/api's TestMicroDiscovery checks the $SRV requests
// themselves; this one checks that natscli reads the replies.
func TestNatsMicroSeesCanvasAPI(t *testing.T) {
	nats := installNatscli(t)
	canvasd := daemontest.Start(t, daemontest.Options{})
	ri, err := daemon.ReadRuntimeInfo(canvasd.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir() // no context of the user's: only --server counts
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, nats, append([]string{"--server", ri.NATS, "--timeout", "5s"}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "NATS_CONTEXT=", "NATS_URL=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("nats %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	var want []string
	for _, ep := range []string{wire.MicroGet, wire.MicroList, wire.MicroApply, wire.MicroDelete, wire.MicroEvents, wire.MicroStatus} {
		want = append(want, subject.CanvasAPI(wire.MicroGroup, ep))
	}
	slices.Sort(want)
	type service struct {
		Name, ID, Version string
		Endpoints         []struct{ Name, Subject string }
	}
	subjects := func(s service) []string {
		var got []string
		for _, ep := range s.Endpoints {
			got = append(got, ep.Subject)
		}
		slices.Sort(got)
		return got
	}

	if out := run("micro", "ls"); !strings.Contains(out, subject.CanvasServiceName) {
		t.Errorf("nats micro ls does not list %s:\n%s", subject.CanvasServiceName, out)
	}
	var listed []service
	if err := json.Unmarshal([]byte(run("micro", "ls", "--json")), &listed); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(listed, func(s service) bool { return s.Name == subject.CanvasServiceName })
	if i < 0 || listed[i].Version == "" || !slices.Equal(subjects(listed[i]), want) {
		t.Fatalf("nats micro ls --json: %+v; want %s with a version and endpoints %v", listed, subject.CanvasServiceName, want)
	}

	out := run("micro", "info", subject.CanvasServiceName)
	for _, s := range want {
		if !strings.Contains(out, s) {
			t.Errorf("nats micro info %s does not show endpoint %s:\n%s", subject.CanvasServiceName, s, out)
		}
	}
	var info struct{ Info service }
	if err := json.Unmarshal([]byte(run("micro", "info", subject.CanvasServiceName, "--json")), &info); err != nil {
		t.Fatal(err)
	}
	if info.Info.ID != listed[i].ID || !slices.Equal(subjects(info.Info), want) {
		t.Errorf("nats micro info %s --json: %+v; want id %s and endpoints %v", subject.CanvasServiceName, info.Info, listed[i].ID, want)
	}
}

// installNatscli installs natscli into a temporary directory with the go
// command (from the module proxy, or the module cache when it has it).
func installNatscli(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", natscli)
	cmd.Dir = bin // outside the module: natscli's own go.mod decides its dependencies
	cmd.Env = append(os.Environ(), "GOBIN="+bin, "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install %s: %v\n%s", natscli, err, out)
	}
	return filepath.Join(bin, "nats")
}
