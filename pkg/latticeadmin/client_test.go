package latticeadmin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/latticeadmin"
	"github.com/wasmcanvas/wasmcanvas/pkg/latticeadmin/hosttest"
)

// gather is the ping window of the tests: long enough for loopback.
const gather = 300 * time.Millisecond

func setup(t *testing.T) (*latticeadmin.Client, *hosttest.Lattice) {
	t.Helper()
	srv := testkit.NATS(t, embedded.Config{})
	nc := testkit.Connect(t, srv.ClientURL())
	double := hosttest.Start(t, testkit.Connect(t, srv.ClientURL()), subject.DefaultLattice, hosttest.Hosts()...)
	c, err := latticeadmin.New(nc, subject.DefaultLattice, latticeadmin.WithTimeout(gather))
	if err != nil {
		t.Fatal(err)
	}
	return c, double
}

// response is the raw "response" of a fixture reply.
func response(t *testing.T, file string) []byte {
	t.Helper()
	var r struct {
		Response json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(hosttest.Fixture(file), &r); err != nil {
		t.Fatal(err)
	}
	return r.Response
}

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := latticeadmin.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestQueries: ping, hosts, inventory and links against the host double
// decode to exactly what the hosts sent.
func TestQueries(t *testing.T) {
	t.Parallel()
	c, double := setup(t)
	ctx := ctx(t)

	replies, err := c.Ping(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(replies) != 2 || replies[0].Host.ID != hosttest.HolyWildflower || replies[1].Host.ID != hosttest.FloralForest {
		t.Fatalf("ping replies %+v, want both hosts sorted by id", replies)
	}
	for i, file := range []string{"ping-holy-wildflower.json", "ping-floral-forest.json"} {
		if got, want := marshal(t, replies[i].Host), response(t, file); !bytes.Equal(got, want) {
			t.Errorf("ping %s:\n got %s\nwant %s", file, got, want)
		}
		if replies[i].RTT <= 0 || replies[i].RTT > gather {
			t.Errorf("RTT %v outside (0, %v]", replies[i].RTT, gather)
		}
	}

	hosts, err := c.Hosts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(hosts) != 2 || hosts[0].Components != 0 || hosts[0].Providers != 0 || hosts[1].Components != 2 || hosts[1].Providers != 1 {
		t.Errorf("hosts %+v: want holy-wildflower 0/0 and floral-forest 2/1", hosts)
	}

	inv, err := c.Inventory(ctx, hosttest.FloralForest)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := marshal(t, inv), response(t, "inventory-floral-forest.json"); !bytes.Equal(got, want) {
		t.Errorf("inventory:\n got %s\nwant %s", got, want)
	}

	links, err := c.Links(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := marshal(t, links), response(t, "links.json"); !bytes.Equal(got, want) {
		t.Errorf("links:\n got %s\nwant %s", got, want)
	}

	// What went out: empty bodies on the subjects upstream's client uses.
	want := map[string]bool{
		subject.Ctl("", "default", subject.CtlHostPing, ""):                     true,
		subject.Ctl("", "default", subject.CtlHostGet, hosttest.FloralForest):   true,
		subject.Ctl("", "default", subject.CtlHostGet, hosttest.HolyWildflower): true,
		subject.Ctl("", "default", subject.CtlLinkGet, ""):                      true,
	}
	for _, r := range double.Requests() {
		if !want[r.Subject] || len(r.Data) != 0 {
			t.Errorf("unexpected request %s %q", r.Subject, r.Data)
		}
	}
}

// TestChanges: config and labels round trip through the double, the bodies
// sent are upstream's byte for byte, and the hosts' refusals come back as
// CtlErrors with their message.
func TestChanges(t *testing.T) {
	t.Parallel()
	c, double := setup(t)
	ctx := ctx(t)

	if _, found, err := c.ConfigGet(ctx, "shop"); err != nil || found {
		t.Fatalf("get of a missing config: found=%v err=%v", found, err)
	}
	msg, err := c.ConfigPut(ctx, "shop", map[string]string{"url": "http://a/?x=1&y=<2>", "mode": "fast"})
	if err != nil || msg != "successfully put config" {
		t.Fatalf("put: %q %v", msg, err)
	}
	if b, _ := double.Config("shop"); string(b) != `{"mode":"fast","url":"http://a/?x=1&y=<2>"}` {
		t.Errorf("config body sent %s", b)
	}
	values, found, err := c.ConfigGet(ctx, "shop")
	if err != nil || !found || values["url"] != "http://a/?x=1&y=<2>" || len(values) != 2 {
		t.Errorf("get: %v %v %v", values, found, err)
	}
	if msg, err := c.ConfigDelete(ctx, "shop"); err != nil || msg != "successfully deleted config" {
		t.Errorf("delete: %q %v", msg, err)
	}
	if _, found, _ := c.ConfigGet(ctx, "shop"); found {
		t.Error("config still there after delete")
	}

	if msg, err := c.LabelPut(ctx, hosttest.HolyWildflower, "zone", "eu"); err != nil || msg != "successfully put label" {
		t.Fatalf("label put: %q %v", msg, err)
	}
	if got := double.Labels(hosttest.HolyWildflower)["zone"]; got != "eu" {
		t.Errorf("label zone = %q", got)
	}
	if msg, err := c.LabelDelete(ctx, hosttest.HolyWildflower, "zone"); err != nil || msg != "successfully deleted label" {
		t.Errorf("label del: %q %v", msg, err)
	}
	_, err = c.LabelPut(ctx, hosttest.HolyWildflower, "hostcore.os", "plan9")
	var ce *latticeadmin.CtlError
	if !errors.As(err, &ce) || ce.Message != "hostcore.* labels cannot be set dynamically" {
		t.Errorf("hostcore label: %v, want the host's refusal", err)
	}

	var bodies []string
	for _, r := range double.Requests() {
		if strings.Contains(r.Subject, ".label.") {
			bodies = append(bodies, r.Subject+" "+string(r.Data))
		}
	}
	wantBodies := []string{
		subject.Ctl("", "default", subject.CtlLabelPut, hosttest.HolyWildflower) + ` {"key":"zone","value":"eu"}`,
		subject.Ctl("", "default", subject.CtlLabelDel, hosttest.HolyWildflower) + ` {"key":"zone"}`,
		subject.Ctl("", "default", subject.CtlLabelPut, hosttest.HolyWildflower) + ` {"key":"hostcore.os","value":"plan9"}`,
	}
	if strings.Join(bodies, "\n") != strings.Join(wantBodies, "\n") {
		t.Errorf("label requests:\n%s\nwant\n%s", strings.Join(bodies, "\n"), strings.Join(wantBodies, "\n"))
	}
}

// TestBadInput: what the client refuses before sending, and a host that
// is not there.
func TestBadInput(t *testing.T) {
	t.Parallel()
	c, _ := setup(t)
	ctx := ctx(t)
	for name, err := range map[string]error{
		"short host id": func() error { _, err := c.Inventory(ctx, "NABC"); return err }(),
		"user key": func() error {
			_, err := c.LabelPut(ctx, "UCRXKSKEDK3Z775IRSNBKTFCRAEB7WBQNSREZ4DMFN2TKYRYXNV7UPRT", "k", "v")
			return err
		}(),
		"config dot":   func() error { _, err := c.ConfigPut(ctx, "a.b", nil); return err }(),
		"config empty": func() error { _, _, err := c.ConfigGet(ctx, ""); return err }(),
		"label key":    func() error { _, err := c.LabelDelete(ctx, hosttest.FloralForest, ""); return err }(),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// A valid id no host has: no responders.
	_, err := c.Inventory(ctx, "NB6PMW4RGLBP3NAVUVO2IH34VFJFSX7LF7TJOQCDU4GGUGF3P57SZLPX")
	if !errors.Is(err, latticeadmin.ErrNoHost) {
		t.Errorf("absent host: %v, want ErrNoHost", err)
	}
	nc := testkit.Connect(t, testkit.NATS(t, embedded.Config{}).ClientURL())
	for _, bad := range []struct {
		lattice string
		opts    []latticeadmin.Option
	}{
		{"a.b", nil},
		{"default", []latticeadmin.Option{latticeadmin.WithPrefix("a.*")}},
		{"default", []latticeadmin.Option{latticeadmin.WithTimeout(0)}},
	} {
		if _, err := latticeadmin.New(nc, bad.lattice, bad.opts...); err == nil {
			t.Errorf("New(%q, %d options) accepted", bad.lattice, len(bad.opts))
		}
	}
}

// TestEvents: the upstream event fixture comes through in order, untouched,
// and --type filters on the server.
func TestEvents(t *testing.T) {
	t.Parallel()
	c, double := setup(t)
	data, err := os.ReadFile(testref.Path(t, "wasmcloud", "fixtures", "wadm-test-host-events.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, types := range [][]string{nil, {"component_scaled", "com.wasmcloud.lattice.host_started"}} {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		ready := make(chan struct{})
		got := make(chan latticeadmin.Event, 64)
		done := make(chan error, 1)
		go func() {
			done <- c.Events(ctx, types, func([]string) { close(ready) }, func(ev latticeadmin.Event) error {
				got <- ev
				return nil
			})
		}()
		<-ready
		sent := double.PublishEvents(t, data)
		var want [][]byte
		for _, ev := range sent {
			var e latticeadmin.CloudEvent
			_ = json.Unmarshal(ev, &e)
			if types == nil || e.Type == "com.wasmcloud.lattice.component_scaled" || e.Type == "com.wasmcloud.lattice.host_started" {
				want = append(want, ev)
			}
		}
		if types == nil && len(want) != 15 {
			t.Fatalf("fixture has %d wasmCloud events, want 15", len(want))
		}
		for i, w := range want {
			select {
			case ev := <-got:
				if !bytes.Equal(ev.Raw, w) || ev.DecodeErr != nil || subject.HostEvent("default", ev.Name) != ev.Subject ||
					subject.HostEventTypePrefix+ev.Name != ev.Envelope.Type {
					t.Errorf("types %v event %d: %s %s %v\nwant %s", types, i, ev.Subject, ev.Raw, ev.DecodeErr, w)
				}
			case <-ctx.Done():
				t.Fatalf("types %v: %d of %d events", types, i, len(want))
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Events returned %v at the end of its context", err)
		}
		select {
		case ev := <-got:
			t.Errorf("types %v: an event more: %s", types, ev.Raw)
		default:
		}
	}
	if _, err := latticeadmin.EventName("a.b"); err == nil {
		t.Error("event type a.b accepted")
	}
}

// TestPingOddReplies: a responder on host.ping that is not a well-behaved
// host costs its own reply only: the hosts that answered are listed, and
// the error says what was wrong with each other reply.
func TestPingOddReplies(t *testing.T) {
	t.Parallel()
	srv := testkit.NATS(t, embedded.Config{})
	hosttest.Start(t, testkit.Connect(t, srv.ClientURL()), subject.DefaultLattice, hosttest.Hosts()[0])
	odd := testkit.Connect(t, srv.ClientURL())
	replies := []string{`{"success":tru`, `{"success":true,"message":""}`, `{"success":false,"message":"not today"}`}
	sub, err := odd.Subscribe(subject.Ctl(subject.CtlDefaultPrefix, subject.DefaultLattice, subject.CtlHostPing, ""), func(m *nats.Msg) {
		for _, r := range replies {
			_ = m.Respond([]byte(r))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := odd.Flush(); err != nil {
		t.Fatal(err)
	}
	c, err := latticeadmin.New(testkit.Connect(t, srv.ClientURL()), subject.DefaultLattice, latticeadmin.WithTimeout(gather))
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Ping(ctx(t))
	if len(got) != 1 || got[0].Host.ID != hosttest.Hosts()[0].ID {
		t.Errorf("ping listed %+v, want the one host", got)
	}
	if err == nil {
		t.Fatal("no error for the odd replies")
	}
	for _, want := range []string{"not a control interface response", "the host refused: not today", "success without a host"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
