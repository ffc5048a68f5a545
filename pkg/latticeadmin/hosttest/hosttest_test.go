package hosttest_test

import (
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/latticeadmin/hosttest"
)

// TestRepliesAsUpstream: the replies the double builds itself are the
// bytes a v1.9.2 host sends for the same request (wasmbus/ctl.rs,
// nats/ctl.rs).
func TestRepliesAsUpstream(t *testing.T) {
	t.Parallel()
	srv := testkit.NATS(t, embedded.Config{})
	hosttest.Start(t, testkit.Connect(t, srv.ClientURL()), "default", hosttest.Hosts()[0])
	nc := testkit.Connect(t, srv.ClientURL())
	ctl := func(op, arg string) string { return subject.Ctl("", "default", op, arg) }
	steps := []struct {
		subject, body, want string
	}{
		{ctl(subject.CtlHostPing, ""), "", string(hosttest.Fixture("ping-floral-forest.json"))},
		{ctl(subject.CtlHostGet, hosttest.FloralForest), "", string(hosttest.Fixture("inventory-floral-forest.json"))},
		{ctl("host.dance", hosttest.FloralForest), "", `{"success":false,"message":"unsupported subject"}`},
		{ctl(subject.CtlConfigGet, "c"), "", `{"success":true,"message":"Configuration not found"}`},
		{ctl(subject.CtlConfigPut, "c"), `["not","a","map"]`, `{"success":false,"message":"config data should be a map of string -> string"}`},
		{ctl(subject.CtlConfigPut, "c"), `{"b":"2","a":"1"}`, `{"success":true,"message":"successfully put config"}`},
		{ctl(subject.CtlConfigGet, "c"), "", `{"success":true,"message":"","response":{"a":"1","b":"2"}}`},
		{ctl(subject.CtlLabelDel, hosttest.FloralForest), `{"key":"zone"}`, `{"success":true,"message":"successfully deleted label (no such label)"}`},
		{ctl(subject.CtlLabelPut, hosttest.FloralForest), `{"key":"HostCore.x","value":"1"}`, `{"success":false,"message":"hostcore.* labels cannot be set dynamically"}`},
	}
	for _, s := range steps {
		m, err := nc.Request(s.subject, []byte(s.body), 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", s.subject, err)
		}
		if string(m.Data) != s.want {
			t.Errorf("%s %s:\n got %s\nwant %s", s.subject, s.body, m.Data, s.want)
		}
	}
}
