package edge_test

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/wasmcanvas/wasmcanvas/pkg/edge"
	"github.com/wasmcanvas/wasmcanvas/pkg/edge/edgetest"
)

func freePort(t testing.TB) int {
	t.Helper()
	_, port, err := net.SplitHostPort(edgetest.FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(port)
	return n
}

// hub is a lattice directory and its hub, started in-process from the
// hub/nats.conf lattice init wrote.
type hub struct {
	l       *edge.Lattice
	dir     string
	srv     *server.Server
	url     string
	leafURL string
}

func newLattice(t testing.TB) (*edge.Lattice, string, int) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "lattice")
	port, leafPort := freePort(t), freePort(t)
	l, err := edge.Init(edge.InitOptions{
		Dir:    dir,
		Listen: "127.0.0.1:" + strconv.Itoa(port), LeafListen: "127.0.0.1:" + strconv.Itoa(leafPort),
	})
	if err != nil {
		t.Fatal(err)
	}
	return l, dir, leafPort
}

func startHub(t *testing.T) *hub {
	t.Helper()
	l, dir, leafPort := newLattice(t)
	h := &hub{l: l, dir: dir, leafURL: "nats://127.0.0.1:" + strconv.Itoa(leafPort)}
	h.srv = edgetest.StartServer(t, filepath.Join(dir, "hub", "nats.conf"))
	h.url = h.srv.ClientURL()
	return h
}

// bootstrapSite writes a site on a free local port and starts its leaf node.
func (h *hub) bootstrapSite(t *testing.T, name string) (*server.Server, edge.Site) {
	t.Helper()
	res, err := h.l.Bootstrap(edge.SiteOptions{Name: name, Hub: h.leafURL, Listen: "127.0.0.1:" + strconv.Itoa(freePort(t))})
	if err != nil {
		t.Fatal(err)
	}
	return edgetest.StartServer(t, filepath.Join(res.Site.Dir, edge.SiteConfigFile)), res.Site
}

func connect(t *testing.T, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, append(opts, nats.Timeout(5*time.Second))...)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func (h *hub) creds(role string) string { return filepath.Join(h.dir, "creds", role+".creds") }

var seedLike = edgetest.SeedPattern

// under turns a subject pattern ending in > into one subject below it.
func under(pattern, tail string) string { return strings.TrimSuffix(pattern, ">") + tail }
