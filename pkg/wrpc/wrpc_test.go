package wrpc_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc/wire"
)

const (
	metrics  = "wasmcanvas:observe/metrics@0.1.0"
	identity = "wasmcloud:identity/store@0.0.1"
)

var prefix = subject.WRPCPrefix("default", "acme-identity")

// conns returns a server and a client connection to a fresh nats-server.
func conns(t *testing.T) (srv, cli *nats.Conn) {
	t.Helper()
	url := testkit.NATS(t, embedded.Config{}).ClientURL()
	return testkit.Connect(t, url), testkit.Connect(t, url)
}

func newServer(t *testing.T, nc *nats.Conn) *wrpc.Server {
	t.Helper()
	s, err := wrpc.NewServer(nc, prefix, testkit.Logger(t, zap.ErrorLevel))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func newClient(t *testing.T, nc *nats.Conn) *wrpc.Client {
	t.Helper()
	c, err := wrpc.NewClient(nc, prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// getHandler serves WRPC.md §5 (b): get(audience) -> result<option<string>, error>.
func getHandler(ctx context.Context, params *wire.Decoder, results *wire.Encoder) error {
	aud := params.Str()
	if err := params.Err(); err != nil {
		return err
	}
	switch aud {
	case "spiffe://lattice/app":
		results.Result(true)
		results.Option(true)
		results.Str("tok")
	case "none":
		results.Result(true)
		results.Option(false)
	default:
		results.Result(false)
		results.Case(1) // not-found
	}
	return nil
}

// A full call through Client and Server: params and results as the worked
// example (b) of WRPC.md spells them, and the invoker's headers in the
// handler's context.
func TestInvokeServeRoundTrip(t *testing.T) {
	t.Parallel()
	srvConn, cliConn := conns(t)
	s := newServer(t, srvConn)
	var seen atomic.Value
	if err := s.Handle(identity, "get", func(ctx context.Context, p *wire.Decoder, r *wire.Encoder) error {
		seen.Store(wrpc.Header(ctx))
		return getHandler(ctx, p, r)
	}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, cliConn)
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	h := nats.Header{wrpc.HeaderSourceID: {"app-api"}, wrpc.HeaderLinkName: {"default"}, wrpc.HeaderTraceparent: {tp}}
	for _, tt := range []struct{ params, results string }{
		{"14 73 70 69 66 66 65 3a 2f 2f 6c 61 74 74 69 63 65 2f 61 70 70", "00 01 03 74 6f 6b"},
		{"04 6e 6f 6e 65", "00 00"},
		{"01 78", "01 01"},
	} {
		got, err := c.Invoke(ctxT(t, 5*time.Second), identity, "get", unhex(t, tt.params), h)
		if err != nil {
			t.Fatal(err)
		}
		if want := unhex(t, tt.results); !bytes.Equal(got, want) {
			t.Errorf("results % x, want % x", got, want)
		}
	}
	sh, _ := seen.Load().(nats.Header)
	for k, v := range map[string]string{wrpc.HeaderSourceID: "app-api", wrpc.HeaderLinkName: "default", wrpc.HeaderTraceparent: tp} {
		if got := sh.Get(k); got != v {
			t.Errorf("handler saw %s = %q, want %q", k, got, v)
		}
	}
}

// The client's side of the wire, message by message, against a server
// played with bare NATS (WRPC.md §5 steps 1-4).
func TestClientOnTheWire(t *testing.T) {
	t.Parallel()
	srvConn, cliConn := conns(t)
	invocations := make(chan *nats.Msg, 1)
	sub, err := srvConn.ChanSubscribe(subject.WRPCInvoke(prefix, identity, "get"), invocations)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	srvInbox := srvConn.NewInbox()
	paramsCh := make(chan *nats.Msg, 4)
	psub, err := srvConn.ChanSubscribe(subject.WRPCParams(srvInbox), paramsCh)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = psub.Unsubscribe() }()
	if err := srvConn.Flush(); err != nil {
		t.Fatal(err)
	}

	c := newClient(t, cliConn)
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := c.Invoke(ctxT(t, 5*time.Second), identity, "get", unhex(t, "14 73 70 69 66 66 65 3a 2f 2f 6c 61 74 74 69 63 65 2f 61 70 70"),
			nats.Header{wrpc.HeaderSourceID: {"app-api"}, wrpc.HeaderLinkName: {"default"}})
		done <- result{b, err}
	}()
	inv := recv(t, invocations)
	if want := subject.WRPCInvoke(prefix, identity, "get"); inv.Subject != want { // spelled out in subject_test
		t.Errorf("invocation subject %q, want %q", inv.Subject, want)
	}
	if want := unhex(t, "14 73 70 69 66 66 65 3a 2f 2f 6c 61 74 74 69 63 65 2f 61 70 70"); !bytes.Equal(inv.Data, want) {
		t.Errorf("invocation payload % x, want % x", inv.Data, want)
	}
	if inv.Header.Get("source-id") != "app-api" || inv.Header.Get("link-name") != "default" {
		t.Errorf("invocation headers %v", inv.Header)
	}
	if inv.Reply == "" {
		t.Fatal("invocation has no reply subject")
	}
	if err := srvConn.PublishMsg(&nats.Msg{Subject: inv.Reply, Reply: srvInbox}); err != nil {
		t.Fatal(err)
	}
	if eof := recv(t, paramsCh); len(eof.Data) != 0 {
		t.Errorf("params stream: % x, want the empty end-of-stream message", eof.Data)
	}
	// Results split across messages, then the end.
	for _, p := range [][]byte{{0x00, 0x01}, {0x03, 0x74}, {0x6f, 0x6b}, nil} {
		if err := srvConn.Publish(subject.WRPCResults(inv.Reply), p); err != nil {
			t.Fatal(err)
		}
	}
	r := <-done
	if r.err != nil || !bytes.Equal(r.b, unhex(t, "00 01 03 74 6f 6b")) {
		t.Errorf("Invoke = % x, %v", r.b, r.err)
	}
}

// The server's side of the wire against a client played with bare NATS:
// the accept comes at once with a reply inbox, before the params are
// complete; the params arrive in pieces on {S}.params; the results and
// their end arrive on {R}.results.
func TestServerOnTheWire(t *testing.T) {
	t.Parallel()
	srvConn, cliConn := conns(t)
	s := newServer(t, srvConn)
	if err := s.Handle(identity, "get", getHandler); err != nil {
		t.Fatal(err)
	}
	r := cliConn.NewInbox()
	msgs := make(chan *nats.Msg, 8)
	sub, err := cliConn.ChanSubscribe(r, msgs)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	rsub, err := cliConn.ChanSubscribe(subject.WRPCResults(r), msgs)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rsub.Unsubscribe() }()

	params := unhex(t, "14 73 70 69 66 66 65 3a 2f 2f 6c 61 74 74 69 63 65 2f 61 70 70")
	if err := cliConn.PublishMsg(&nats.Msg{Subject: subject.WRPCInvoke(prefix, identity, "get"), Reply: r, Data: params[:5]}); err != nil {
		t.Fatal(err)
	}
	accept := recv(t, msgs)
	if accept.Subject != r || len(accept.Data) != 0 || accept.Reply == "" {
		t.Fatalf("accept: subject %q reply %q data % x, want an empty message on %q with a reply inbox", accept.Subject, accept.Reply, accept.Data, r)
	}
	for _, p := range [][]byte{params[5:12], params[12:], nil} {
		if err := cliConn.Publish(subject.WRPCParams(accept.Reply), p); err != nil {
			t.Fatal(err)
		}
	}
	var got []byte
	for {
		m := recv(t, msgs)
		if m.Subject != subject.WRPCResults(r) {
			t.Fatalf("message on %q, want results", m.Subject)
		}
		if len(m.Data) == 0 {
			break
		}
		got = append(got, m.Data...)
	}
	if want := unhex(t, "00 01 03 74 6f 6b"); !bytes.Equal(got, want) {
		t.Errorf("results % x, want % x", got, want)
	}
}

func recv(t *testing.T, ch <-chan *nats.Msg) *nats.Msg {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no message in 5s")
		return nil
	}
}

// Params larger than the server's max_payload go out in pieces after the
// accept, results the same way back.
func TestLargeValues(t *testing.T) {
	t.Parallel()
	srvConn, cliConn := conns(t)
	s := newServer(t, srvConn)
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
	c := newClient(t, cliConn)
	big := bytes.Repeat([]byte("0123456789abcdef"), int(cliConn.MaxPayload())/16*5/2)
	var e wire.Encoder
	e.ByteList(big)
	res, err := c.Invoke(ctxT(t, 10*time.Second), "", "echo", e.Bytes(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res, e.Bytes()) {
		t.Errorf("echoed %d bytes, want %d back unchanged", len(res), len(e.Bytes()))
	}
}

// A handler's error and a handler's panic both fail the call with a
// RemoteError, and the server goes on serving.
func TestHandlerFailures(t *testing.T) {
	t.Parallel()
	srvConn, cliConn := conns(t)
	s := newServer(t, srvConn)
	var recorded atomic.Int64
	if err := s.Handle(metrics, "counter-add", func(ctx context.Context, p *wire.Decoder, r *wire.Encoder) error {
		name, delta := p.Str(), p.U64()
		for range p.ListLen() {
			p.Str()
			p.Str()
		}
		if err := p.Err(); err != nil {
			return err
		}
		switch {
		case wrpc.Header(ctx).Get(wrpc.HeaderSourceID) == "":
			return errors.New("no link for this source:\nrefused")
		case name == "panic":
			panic("boom")
		}
		recorded.Add(int64(delta))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, cliConn)
	add := func(name string, h nats.Header) error {
		var e wire.Encoder
		e.Str(name)
		e.U64(2)
		e.ListLen(1)
		e.Str("k")
		e.Str("v")
		res, err := c.Invoke(ctxT(t, 5*time.Second), metrics, "counter-add", e.Bytes(), h)
		if err == nil && len(res) != 0 {
			t.Errorf("counter-add results % x, want none", res)
		}
		return err
	}
	src := nats.Header{wrpc.HeaderSourceID: {"productcatalog"}}
	var re *wrpc.RemoteError
	if err := add("x", nil); !errors.As(err, &re) || re.Message != "no link for this source: refused" {
		t.Errorf("no source: %v, want a RemoteError saying the source has no link", err)
	}
	if err := add("panic", src); !errors.As(err, &re) || re.Message != "handler panicked: boom" {
		t.Errorf("panic: %v, want a RemoteError", err)
	}
	if err := add("ok", src); err != nil {
		t.Errorf("after the failures: %v", err)
	}
	if n := recorded.Load(); n != 2 {
		t.Errorf("recorded %d, want only the good call's 2", n)
	}
	// Params that claim five labels and stop: the server waits for the
	// rest until the client closes the params stream.
	res, err := c.Invoke(ctxT(t, 5*time.Second), metrics, "counter-add", []byte{0x01, 'x', 0x02, 0x05}, src)
	if !errors.As(err, &re) || !strings.Contains(re.Message, "value ends early") {
		t.Errorf("truncated params: % x, %v, want a RemoteError saying they end early", res, err)
	}
	// Trailing bytes after the params are refused too.
	if _, err := c.Invoke(ctxT(t, 5*time.Second), metrics, "counter-add", []byte{0x01, 'x', 0x02, 0x00, 0xff}, src); !errors.As(err, &re) || !strings.Contains(re.Message, "left over") {
		t.Errorf("trailing bytes: %v, want a RemoteError about bytes left over", err)
	}
}

// Nothing serving the function: NATS's no-responders status comes back at
// once as ErrNoResponders. A subscriber that never accepts: the call ends
// at the context's deadline, saying so.
func TestNobodyServes(t *testing.T) {
	t.Parallel()
	srvConn, cliConn := conns(t)
	c := newClient(t, cliConn)
	start := time.Now()
	if _, err := c.Invoke(ctxT(t, 5*time.Second), metrics, "counter-add", []byte{0}, nil); !errors.Is(err, wrpc.ErrNoResponders) {
		t.Errorf("nobody subscribed: %v, want ErrNoResponders", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("no responders took %v", d)
	}
	sub, err := srvConn.SubscribeSync(subject.WRPCInvoke(prefix, metrics, "counter-add"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := srvConn.Flush(); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	_, err = c.Invoke(ctxT(t, 200*time.Millisecond), metrics, "counter-add", []byte{0}, nil)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no server accepted the call in time") {
		t.Errorf("silent subscriber: %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the deadline of 200ms took %v", d)
	}
}

// Garbage from a peer that is not a wRPC server: an accept without a reply
// inbox, and a message on the invocation subject without a reply, which
// the server drops and survives.
func TestGarbageOnTheWire(t *testing.T) {
	t.Parallel()
	srvConn, cliConn := conns(t)
	sub, err := srvConn.Subscribe(subject.WRPCInvoke(prefix, "", "bad"), func(m *nats.Msg) { _ = m.Respond([]byte("HTTP/1.1 200 OK")) })
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := srvConn.Flush(); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, cliConn)
	if _, err := c.Invoke(ctxT(t, 5*time.Second), "", "bad", nil, nil); err == nil || !strings.Contains(err.Error(), "not a wRPC 0.0.1 server") {
		t.Errorf("accept without a reply inbox: %v", err)
	}

	s := newServer(t, srvConn)
	if err := s.Handle(identity, "get", getHandler); err != nil {
		t.Fatal(err)
	}
	if err := srvConn.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, p := range [][]byte{nil, []byte("\xff\xff\xff\xff\x0f"), []byte("garbage")} {
		if err := cliConn.Publish(subject.WRPCInvoke(prefix, identity, "get"), p); err != nil {
			t.Fatal(err)
		}
	}
	var e wire.Encoder
	e.Str("none")
	res, err := c.Invoke(ctxT(t, 5*time.Second), identity, "get", e.Bytes(), nil)
	if err != nil || !bytes.Equal(res, []byte{0, 0}) {
		t.Errorf("after garbage: % x, %v", res, err)
	}
	// Results that are not a value of the function's result type fail
	// where the caller decodes them.
	d := wire.NewDecoder([]byte{0x00, 0x07})
	d.Result()
	d.Option()
	if d.Err() == nil {
		t.Error("decoding an option tag of 7: want an error")
	}
}

// Close ends what is in flight: the server cancels its handlers and waits
// for them; a closed client's calls fail with ErrClosed.
func TestClose(t *testing.T) {
	t.Parallel()
	srvConn, cliConn := conns(t)
	s, err := wrpc.NewServer(srvConn, prefix, nil)
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	if err := s.Handle("", "block", func(ctx context.Context, _ *wire.Decoder, _ *wire.Encoder) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	}); err != nil {
		t.Fatal(err)
	}
	c, err := wrpc.NewClient(cliConn, prefix)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.Invoke(ctxT(t, 10*time.Second), "", "block", nil, nil)
		errc <- err
	}()
	<-started
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var re *wrpc.RemoteError
	if err := <-errc; !errors.As(err, &re) || !strings.Contains(re.Message, "context canceled") {
		t.Errorf("call in flight at the server's Close: %v", err)
	}
	if err := s.Handle("", "again", getHandler); !errors.Is(err, wrpc.ErrClosed) {
		t.Errorf("Handle after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	sub, err := srvConn.SubscribeSync(subject.WRPCInvoke(prefix, "", "silent"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := srvConn.Flush(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_, err := c.Invoke(ctxT(t, 10*time.Second), "", "silent", nil, nil)
		errc <- err
	}()
	if _, err := sub.NextMsg(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, wrpc.ErrClosed) {
		t.Errorf("call in flight at the client's Close: %v", err)
	}
}

// A server that streams more results than MaxValueBytes fails the call:
// the client does not buffer whatever a peer sends until the deadline.
func TestResultsBeyondTheLimit(t *testing.T) {
	t.Parallel()
	srvConn, cliConn := conns(t)
	chunk := make([]byte, srvConn.MaxPayload())
	sub, err := srvConn.Subscribe(subject.WRPCInvoke(prefix, "", "flood"), func(m *nats.Msg) {
		if err := srvConn.PublishMsg(&nats.Msg{Subject: m.Reply, Reply: srvConn.NewInbox()}); err != nil {
			return
		}
		results := subject.WRPCResults(m.Reply)
		for sent := 0; sent <= wrpc.MaxValueBytes; sent += len(chunk) {
			if err := srvConn.Publish(results, chunk); err != nil {
				return
			}
		}
		_ = srvConn.Publish(results, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := srvConn.Flush(); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, cliConn)
	res, err := c.Invoke(ctxT(t, 10*time.Second), "", "flood", nil, nil)
	if !errors.Is(err, wire.ErrTooLarge) {
		t.Errorf("results of more than %d bytes: %d bytes, %v; want wire.ErrTooLarge", wrpc.MaxValueBytes, len(res), err)
	}
}
