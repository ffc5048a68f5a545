package api_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
)

// TestMicroDiscovery: the canvas API answers the NATS micro discovery
// requests `nats micro ls` and `nats micro info wasmcanvas` send ($SRV.PING,
// $SRV.INFO, $SRV.STATS), with its name, a semantic version and every
// endpoint on its canvas.api subject, so operators find it with natscli.
func TestMicroDiscovery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	nc, err := nats.Connect(e.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)

	// `nats micro ls`: a scatter/gather on $SRV.PING; take the replies that
	// come within a short window and find ours.
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	ping, err := micro.ControlSubject(micro.PingVerb, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.PublishRequest(ping, inbox, nil); err != nil {
		t.Fatal(err)
	}
	var pong micro.Ping
	for pong.Name != subject.CanvasServiceName {
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("no %s reply to %s: %v", subject.CanvasServiceName, ping, err)
		}
		if err := json.Unmarshal(m.Data, &pong); err != nil {
			t.Fatal(err)
		}
	}
	if pong.Type != micro.PingResponseType || pong.ID == "" || pong.Version == "" {
		t.Errorf("ping reply %+v", pong)
	}

	// `nats micro info wasmcanvas`: the endpoints and their subjects.
	infoSubj, err := micro.ControlSubject(micro.InfoVerb, subject.CanvasServiceName, "")
	if err != nil {
		t.Fatal(err)
	}
	m, err := nc.Request(infoSubj, nil, 5*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", infoSubj, err)
	}
	var info micro.Info
	if err := json.Unmarshal(m.Data, &info); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ep := range info.Endpoints {
		got = append(got, ep.Subject)
	}
	var want []string
	for _, ep := range []string{wire.MicroGet, wire.MicroList, wire.MicroApply, wire.MicroDelete, wire.MicroEvents, wire.MicroStatus} {
		want = append(want, subject.CanvasAPI(wire.MicroGroup, ep))
	}
	slices.Sort(got)
	slices.Sort(want)
	if info.Type != micro.InfoResponseType || info.Name != subject.CanvasServiceName || info.ID != pong.ID || !slices.Equal(got, want) {
		t.Errorf("info %+v\nendpoint subjects %v, want %v", info, got, want)
	}

	// `nats micro stats wasmcanvas`.
	statsSubj, err := micro.ControlSubject(micro.StatsVerb, subject.CanvasServiceName, pong.ID)
	if err != nil {
		t.Fatal(err)
	}
	m, err = nc.Request(statsSubj, nil, 5*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", statsSubj, err)
	}
	var stats micro.Stats
	if err := json.Unmarshal(m.Data, &stats); err != nil || stats.Type != micro.StatsResponseType || len(stats.Endpoints) != len(want) {
		t.Errorf("stats %+v (%v)", stats, err)
	}
}
