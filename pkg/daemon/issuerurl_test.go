package daemon_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wasmcanvas/wasmcanvas/pkg/daemon"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon/daemontest"
	"github.com/wasmcanvas/wasmcanvas/pkg/edge"
)

// TestLoopbackIssuerURLWarnsOnce: with hosts possibly elsewhere (a lattice
// directory), an embedded issuer on a loopback URL is one warning, as
// canvas-bridge there could not verify its tokens; --issuer-url as hosts
// reach canvasd is the issuer (iss) and no warning.
func TestLoopbackIssuerURLWarnsOnce(t *testing.T) {
	t.Parallel()
	l, err := edge.Init(edge.InitOptions{Dir: filepath.Join(t.TempDir(), "lattice")})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, issuerURL string
		warnings        int
	}{
		{"loopback", "", 1},
		{"as hosts reach it", "http://canvas.example.org:7443" + daemon.IssuerPath, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			core, logs := observer.New(zap.WarnLevel)
			ctx := daemontest.Context(t, 30*time.Second)
			d := startDaemon(ctx, t, daemon.Options{EmbeddedNATS: true, EmbeddedNATSPort: -1, StateDir: t.TempDir(), Listen: "127.0.0.1:0",
				KubeListen: daemon.KubeListenOff, LatticeDir: l.Dir(), IssuerURL: tc.issuerURL, WadmTimeout: 100 * time.Millisecond, Logger: zap.New(core)})
			want := tc.issuerURL
			if want == "" {
				want = d.APIURL() + daemon.IssuerPath
			}
			if got := d.Issuer().URL(); got != want {
				t.Errorf("issuer %q, want %q", got, want)
			}
			n := 0
			for _, e := range logs.All() {
				if strings.Contains(e.Message, "loopback") && strings.Contains(e.Message, "--issuer-url") {
					n++
				}
			}
			if n != tc.warnings {
				t.Errorf("%d loopback issuer warnings, want %d: %v", n, tc.warnings, logs.All())
			}
		})
	}
}
