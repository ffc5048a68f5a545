// Package hosttest is a wasmCloud host double for tests: it answers the
// control interface of one lattice on a real NATS server with the bytes a
// wasmCloud v1.9.2 host sends (testdata/, derived from upstream data as
// testdata/README.md says), keeps named config and host labels as a host
// does, publishes the host events those changes cause, and records every
// request so a test can check what a client sent byte for byte.
//
// The ping, inventory and link replies are the fixture bytes verbatim: a
// label change shows in Labels and in the labels_changed event, not in a
// later ping. Tests only; it runs no component.
package hosttest

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/latticeadmin"
)

//go:embed testdata/*.json
var fixtures embed.FS

// Fixture returns a reply file of testdata/ without its trailing newline.
func Fixture(name string) []byte {
	b, err := fixtures.ReadFile("testdata/" + name)
	if err != nil {
		panic(err) // a typo in a test's fixture name
	}
	return bytes.TrimSpace(b)
}

// The hosts the fixtures describe.
const (
	FloralForest   = "NCRXKSKEDK3Z775IRSNBKTFCRAEB7WBQNSREZ4DMFN2TKYRYXNV7UPRT"
	HolyWildflower = "NCOGQNZLCJJS2V52A5434BX65RQFNWX5RMP6IIJJATKD3HVAPZJ2ZUXZ"
)

// HostFixture is one host: its id and its host.ping and host.get replies.
type HostFixture struct {
	ID        string
	Ping      []byte
	Inventory []byte
}

// Hosts returns the fixture hosts: floral-forest (two components, one
// provider) and holy-wildflower (site=a, running nothing).
func Hosts() []HostFixture {
	return []HostFixture{
		{ID: FloralForest, Ping: Fixture("ping-floral-forest.json"), Inventory: Fixture("inventory-floral-forest.json")},
		{ID: HolyWildflower, Ping: Fixture("ping-holy-wildflower.json"), Inventory: Fixture("inventory-holy-wildflower.json")},
	}
}

// Request is one control interface request a host of the double received.
type Request struct {
	Host    string
	Subject string
	Data    []byte
}

// Lattice is the double: hosts answering one lattice's control interface.
type Lattice struct {
	nc      *nats.Conn
	lattice string
	prefix  string
	links   []byte

	mu       sync.Mutex
	requests []Request
	labels   map[string]map[string]string
	config   map[string][]byte
}

// Start answers lattice's control interface (prefix subject.CtlDefaultPrefix)
// on nc with hosts until the test ends.
func Start(t testing.TB, nc *nats.Conn, lattice string, hosts ...HostFixture) *Lattice {
	t.Helper()
	l := &Lattice{nc: nc, lattice: lattice, prefix: subject.CtlDefaultPrefix, links: Fixture("links.json"),
		labels: map[string]map[string]string{}, config: map[string][]byte{}}
	for _, h := range hosts {
		var ping struct {
			Response struct {
				Labels map[string]string `json:"labels"`
			} `json:"response"`
		}
		if err := json.Unmarshal(h.Ping, &ping); err != nil {
			t.Fatalf("hosttest: ping fixture of %s: %v", h.ID, err)
		}
		l.labels[h.ID] = ping.Response.Labels
		// Subscribed as a v1.9.2 host does (host/src/nats/ctl.rs): the
		// scatter/gather and host-targeted subjects plainly, links and
		// config in a queue group so one host answers.
		subs := []struct{ subj, queue string }{
			{subject.Ctl(l.prefix, lattice, subject.CtlHostPing, ""), ""},
			{subject.Ctl(l.prefix, lattice, "link.*", ""), subject.Ctl(l.prefix, lattice, "link", "")},
			{subject.Ctl(l.prefix, lattice, "label.*", h.ID), ""},
			{subject.Ctl(l.prefix, lattice, "host.*", h.ID), ""},
			{subject.Ctl(l.prefix, lattice, "config.>", ""), subject.Ctl(l.prefix, lattice, "config", "")},
		}
		for _, s := range subs {
			sub, err := nc.QueueSubscribe(s.subj, s.queue, func(m *nats.Msg) { l.serve(h, m) })
			if err != nil {
				t.Fatalf("hosttest: subscribe %s: %v", s.subj, err)
			}
			t.Cleanup(func() { _ = sub.Unsubscribe() })
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatalf("hosttest: %v", err)
	}
	return l
}

// Requests returns the requests received so far, in arrival order.
func (l *Lattice) Requests() []Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Request(nil), l.requests...)
}

// Labels returns a host's labels as the double keeps them.
func (l *Lattice) Labels(hostID string) map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.labels[hostID])
}

// Config returns a named config's stored bytes and whether it exists.
func (l *Lattice) Config(name string) ([]byte, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.config[name]
	return b, ok
}

func (l *Lattice) serve(h HostFixture, m *nats.Msg) {
	l.mu.Lock()
	l.requests = append(l.requests, Request{Host: h.ID, Subject: m.Subject, Data: bytes.Clone(m.Data)})
	l.mu.Unlock()
	op := strings.TrimPrefix(m.Subject, subject.CtlOpPrefix(l.prefix, l.lattice))
	area, rest, _ := strings.Cut(op, ".")
	verb, arg, _ := strings.Cut(rest, ".")
	var reply []byte
	switch {
	case area == "host" && verb == "ping":
		reply = h.Ping
	case area == "host" && verb == "get":
		reply = h.Inventory
	case area == "link" && verb == "get":
		reply = l.links
	case area == "label" && verb == "put":
		reply = l.labelPut(h.ID, m.Data)
	case area == "label" && verb == "del":
		reply = l.labelDel(h.ID, m.Data)
	case area == "config" && verb == "get" && arg != "":
		reply = l.configGet(arg)
	case area == "config" && verb == "put" && arg != "":
		reply = l.configPut(h.ID, arg, m.Data)
	case area == "config" && verb == "del" && arg != "":
		reply = l.configDel(h.ID, arg)
	default:
		reply = failure("unsupported subject")
	}
	_ = m.Respond(reply)
}

// success and failure are CtlResponse<()> as upstream writes them.
func success(message string) []byte {
	return fmt.Appendf(nil, `{"success":true,"message":%s}`, quote(message))
}

func failure(message string) []byte {
	return fmt.Appendf(nil, `{"success":false,"message":%s}`, quote(message))
}

// quote is a JSON string as serde writes it (no HTML escaping).
func quote(s string) []byte {
	b, _ := latticeadmin.Marshal(s)
	return b
}

func (l *Lattice) labelPut(hostID string, data []byte) []byte {
	var req struct {
		Key   *string `json:"key"`
		Value *string `json:"value"`
	}
	if err := json.Unmarshal(data, &req); err != nil || req.Key == nil || req.Value == nil {
		return failure("failed to deserialize label put request")
	}
	if strings.HasPrefix(strings.ToLower(*req.Key), "hostcore.") {
		return failure("hostcore.* labels cannot be set dynamically")
	}
	l.mu.Lock()
	if l.labels[hostID] == nil {
		l.labels[hostID] = map[string]string{}
	}
	l.labels[hostID][*req.Key] = *req.Value
	labels := maps.Clone(l.labels[hostID])
	l.mu.Unlock()
	l.publish(hostID, "labels_changed", map[string]any{"host_id": hostID, "labels": labels})
	return success("successfully put label")
}

func (l *Lattice) labelDel(hostID string, data []byte) []byte {
	var req struct {
		Key *string `json:"key"`
	}
	if err := json.Unmarshal(data, &req); err != nil || req.Key == nil {
		return failure("failed to deserialize label delete request")
	}
	l.mu.Lock()
	_, had := l.labels[hostID][*req.Key]
	delete(l.labels[hostID], *req.Key)
	labels := maps.Clone(l.labels[hostID])
	l.mu.Unlock()
	if !had {
		return success("successfully deleted label (no such label)")
	}
	l.publish(hostID, "labels_changed", map[string]any{"host_id": hostID, "labels": labels})
	return success("successfully deleted label")
}

func (l *Lattice) configGet(name string) []byte {
	l.mu.Lock()
	data, ok := l.config[name]
	l.mu.Unlock()
	if !ok {
		return success("Configuration not found")
	}
	var values map[string]string
	if err := json.Unmarshal(data, &values); err != nil {
		return failure("config data should be a map of string -> string")
	}
	resp, _ := latticeadmin.Marshal(values)
	return fmt.Appendf(nil, `{"success":true,"message":"","response":%s}`, resp)
}

func (l *Lattice) configPut(hostID, name string, data []byte) []byte {
	var values map[string]string
	if err := json.Unmarshal(data, &values); err != nil {
		return failure("config data should be a map of string -> string")
	}
	l.mu.Lock()
	l.config[name] = bytes.Clone(data)
	l.mu.Unlock()
	l.publish(hostID, "config_set", map[string]any{"config_name": name})
	return success("successfully put config")
}

func (l *Lattice) configDel(hostID, name string) []byte {
	l.mu.Lock()
	delete(l.config, name)
	l.mu.Unlock()
	l.publish(hostID, "config_deleted", map[string]any{"config_name": name})
	return success("successfully deleted config")
}

var eventSeq struct {
	sync.Mutex
	n uint64
}

// publish sends a host event in the CloudEvents envelope a v1.9.2 host
// uses (host/src/nats/event.rs).
func (l *Lattice) publish(hostID, name string, data any) {
	eventSeq.Lock()
	eventSeq.n++
	id := fmt.Sprintf("00000000-0000-7000-8000-%012d", eventSeq.n)
	eventSeq.Unlock()
	raw, _ := latticeadmin.Marshal(data)
	ev := fmt.Appendf(nil, `{"specversion":"1.0","id":%q,"type":%q,"source":%q,"datacontenttype":"application/json","time":%q,"data":%s}`,
		id, subject.HostEventTypePrefix+name, hostID, time.Now().UTC().Format(time.RFC3339Nano), raw)
	_ = l.nc.Publish(subject.HostEvent(l.lattice, name), ev)
}

// PublishEvents publishes each wasmCloud event of a JSON array of
// CloudEvents (such as the upstream fixture wadm-test-host-events.json),
// each compacted but otherwise as written, on the subject its type names;
// events of other sources (wadm's) are skipped. It returns the events it
// published, in order.
func (l *Lattice) PublishEvents(t testing.TB, array []byte) [][]byte {
	t.Helper()
	var events []json.RawMessage
	if err := json.Unmarshal(array, &events); err != nil {
		t.Fatalf("hosttest: events: %v", err)
	}
	var out [][]byte
	for _, raw := range events {
		var head struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			t.Fatalf("hosttest: event: %v", err)
		}
		name, ok := strings.CutPrefix(head.Type, subject.HostEventTypePrefix)
		if !ok {
			continue
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			t.Fatal(err)
		}
		if err := l.nc.Publish(subject.HostEvent(l.lattice, name), buf.Bytes()); err != nil {
			t.Fatalf("hosttest: publish %s: %v", name, err)
		}
		out = append(out, buf.Bytes())
	}
	if err := l.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return out
}
