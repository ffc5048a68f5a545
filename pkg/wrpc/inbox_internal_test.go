package wrpc

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc/wire"
)

// A peer that floods a call with messages that carry no payload (an
// empty message ends a stream, so the decoder stops reading, and the rest
// wait in the queue until the call ends) or a byte each must hit the
// call's bound as a flood of bytes does: each message is counted at what
// it costs to hold, not by its payload alone.
func TestQueueCountsWhatAMessageCosts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		msg  *nats.Msg
	}{
		{"headers only", &nats.Msg{Subject: "_INBOX.x.1.params", Header: nats.Header{"X": {strings.Repeat("h", 1<<10)}}}},
		{"one byte", &nats.Msg{Subject: "_INBOX.x.1.params", Data: []byte{1}}},
	} {
		ib := &inbox{held: &pool{limit: maxHeldBytes}, calls: map[string]*queue{}}
		q := ib.open(tc.msg.Subject)
		n := 2 * maxCallBytes / msgOverhead
		for range n {
			q.push(tc.msg)
		}
		var err error
		taken := 0
		for ; taken < n; taken++ {
			if _, err = q.next(context.Background()); err != nil {
				break
			}
		}
		if !errors.Is(err, wire.ErrTooLarge) {
			t.Errorf("%s: %d messages pushed, %d taken, then %v; want wire.ErrTooLarge", tc.name, n, taken, err)
		}
		ib.release(q, tc.msg.Subject)
		if held := ib.held.held.Load(); held != 0 {
			t.Errorf("%s: %d bytes held after the call ended", tc.name, held)
		}
	}
}

// The calls in flight on a server share one bound: while one call holds
// most of it with params it has not finished sending, another that needs
// more fails at once with an error that says why, and once the first ends
// what it held is free again.
func TestServerBoundsTheCallsInFlight(t *testing.T) {
	t.Parallel()
	url := testkit.NATS(t, embedded.Config{}).ClientURL()
	srvConn, cliConn := testkit.Connect(t, url), testkit.Connect(t, url)
	const limit = 3 << 20
	s, err := newServer(srvConn, "default.bound", nil, limit)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Handle("", "echo", func(_ context.Context, p *wire.Decoder, r *wire.Encoder) error {
		b := p.ByteList()
		if err := p.Err(); err != nil {
			return err
		}
		r.ByteList(b)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(cliConn, "default.bound")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)

	// The first call, by hand: it claims 8 MiB, sends 2.5 and waits.
	r := cliConn.NewInbox()
	msgs := make(chan *nats.Msg, 16)
	for _, subj := range []string{r, subject.WRPCResults(r)} {
		sub, err := cliConn.ChanSubscribe(subj, msgs)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}
	var claim wire.Encoder
	claim.ListLen(8 << 20)
	if err := cliConn.PublishMsg(&nats.Msg{Subject: subject.WRPCInvoke("default.bound", "", "echo"), Reply: r, Data: claim.Bytes()}); err != nil {
		t.Fatal(err)
	}
	accept := next(t, msgs)
	chunk := bytes.Repeat([]byte{'p'}, 512<<10)
	for range 5 {
		if err := cliConn.Publish(subject.WRPCParams(accept.Reply), chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := cliConn.Flush(); err != nil {
		t.Fatal(err)
	}

	// The first call's params reach the server's queue in their own time;
	// the second call must come after them (one in flight meanwhile could
	// take the room the first call's last chunk needs, and then the first
	// call is the one refused).
	for i := 0; s.inbox.held.held.Load() < 5*512<<10; i++ {
		if i == 1000 {
			t.Fatalf("the first call's params were not held within 10 s (%d bytes held)", s.inbox.held.held.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	var p wire.Encoder
	p.ByteList(make([]byte, 1<<20))
	var re *RemoteError
	_, err = c.Invoke(ctx, "", "echo", p.Bytes(), nil)
	if !errors.As(err, &re) || !strings.Contains(re.Message, "in flight") {
		t.Fatalf("a call past the bound: %v; want a RemoteError saying the calls in flight hold the most they may", err)
	}

	// The first call ends (its params are short); then the bound is free.
	if err := cliConn.Publish(subject.WRPCParams(accept.Reply), nil); err != nil {
		t.Fatal(err)
	}
	for m := next(t, msgs); len(m.Data) > 0; m = next(t, msgs) {
	}
	for range 100 {
		if _, err = c.Invoke(ctx, "", "echo", p.Bytes(), nil); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Errorf("a call once the first ended: %v", err)
	}
}

func next(t *testing.T, ch <-chan *nats.Msg) *nats.Msg {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message in 10s")
		return nil
	}
}
