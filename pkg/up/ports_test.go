package up_test

import (
	"context"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/up"
)

// TestPortClashNamesTheCanvas: a port another canvas serves on fails the
// start at once, naming that canvas's state directory and how to stop it;
// a port given twice names both flags.
func TestPortClashNamesTheCanvas(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir()) // this test's own list of running canvases
	first := start(t, t.TempDir())
	api, err := url.Parse(first.Info().API)
	if err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	began := time.Now()
	_, err = up.Start(context.Background(), up.Options{StateDir: other, Listen: api.Host, Ingress: "127.0.0.1:0", NATSPort: -1})
	if err == nil {
		t.Fatal("a second canvas on a taken --listen port started")
	}
	if d := time.Since(began); d > time.Second {
		t.Errorf("the clash took %s to report, want < 1s", d)
	}
	msg := err.Error()
	for _, want := range []string{"port " + api.Port(), "--listen " + api.Host, "state directory " + first.Info().StateDir, "canvas down --state-dir " + first.Info().StateDir} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("error is not one line:\n%s", msg)
	}
	if known := up.Known(); len(known) != 1 || known[0].StateDir != first.Info().StateDir {
		t.Errorf("Known() = %+v, want the first canvas only", known)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	err = up.CheckPorts(up.Options{Listen: addr, Ingress: addr, NATSPort: -1})
	if err == nil || !strings.Contains(err.Error(), "--listen and --ingress") {
		t.Errorf("one port for --listen and --ingress: %v", err)
	}
}
