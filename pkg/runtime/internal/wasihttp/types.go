package wasihttp

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/cm"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/wasi"
)

// Resource type ids of wasi:http/types.
const (
	TypeFields = wasi.TypeFirstFree + iota
	TypeIncomingRequest
	TypeOutgoingRequest
	TypeRequestOptions
	TypeResponseOutparam
	TypeIncomingResponse
	TypeIncomingBody
	TypeFutureTrailers
	TypeOutgoingResponse
	TypeOutgoingBody
	TypeFutureIncomingResponse
)

// Interfaces are the wasi:http interfaces this package implements, keyed
// by unversioned name, for wasi.Link.
func Interfaces() map[string]wasi.Definer {
	return map[string]wasi.Definer{
		"wasi:http/types":            defineTypes,
		"wasi:http/outgoing-handler": defineOutgoingHandler,
	}
}

type incomingRequest struct {
	ex       *exchange
	consumed bool
	// headers is made once and shared by every handle headers returns
	// (they are immutable): a guest asking again and again makes the host
	// copy the request's headers once.
	headers *fields
}

// incomingBody is the body of an incoming request or response.
type incomingBody struct {
	stream      *wasi.ReaderStream
	trailers    func() http.Header
	streamTaken bool
}

// futureTrailers makes its fields once, as incomingRequest its headers.
type futureTrailers struct {
	body     *incomingBody
	trailers *fields
}

type outgoingResponse struct {
	status    int
	headers   *fields
	body      *outgoingBody
	bodyTaken bool
}

type responseOutparam struct{ ex *exchange }

// maxPending bounds what a guest may write to a body before it hands the
// response to response-outparam.set.
const maxPending = 4 << 20

// bodySink is where an outgoing body's bytes go once it is attached: the
// client's response, or an outgoing request's pipe.
type bodySink interface {
	write(p []byte) error
	flush() error
	finish(b *outgoingBody)
	abandon()
}

// outgoingBody buffers writes until it is attached (its response is set,
// or its request is handed to the outgoing handler), then streams them.
type outgoingBody struct {
	sink        bodySink
	attached    bool
	pending     []byte
	trailers    *fields
	finished    bool
	dropped     bool
	streamTaken bool
	failed      error
}

// Drop marks a body dropped without finish: the response is incomplete.
func (b *outgoingBody) Drop() {
	if !b.finished {
		b.dropped = true
		if b.attached {
			b.sink.abandon()
		}
	}
}

// attach connects b to its sink and sends what was buffered.
func (b *outgoingBody) attach(sink bodySink) {
	b.sink, b.attached = sink, true
	if len(b.pending) > 0 {
		if err := sink.write(b.pending); err != nil {
			b.failed = err
		}
		b.pending = nil
	}
	switch {
	case b.finished:
		sink.finish(b)
	case b.dropped:
		sink.abandon()
	}
}

// bodyStream is the output-stream of an outgoing body.
type bodyStream struct {
	wasi.ReadyPollable
	b *outgoingBody
}

func (s *bodyStream) CheckWrite() (int, error) {
	b := s.b
	switch {
	case b.failed != nil:
		return 0, b.failed
	case b.finished:
		return 0, io.EOF
	case !b.attached:
		return maxPending - len(b.pending), nil
	}
	return 1 << 20, nil
}

func (s *bodyStream) Write(p []byte) error {
	b := s.b
	if b.failed != nil {
		return b.failed
	}
	if b.finished {
		return io.EOF
	}
	if !b.attached {
		if len(b.pending)+len(p) > maxPending {
			return fmt.Errorf("%d bytes written before the response was set; at most %d are buffered", len(b.pending)+len(p), maxPending)
		}
		b.pending = append(b.pending, p...)
		return nil
	}
	if err := b.sink.write(p); err != nil {
		b.failed = err
		return err
	}
	return nil
}

func (s *bodyStream) Flush() error {
	if s.b.attached && s.b.failed == nil {
		return s.b.sink.flush()
	}
	return s.b.failed
}

func methodValue(m string) cm.Value {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete,
		http.MethodConnect, http.MethodOptions, http.MethodTrace, http.MethodPatch:
		return cm.Variant{Case: strings.ToLower(m)}
	}
	return cm.Variant{Case: "other", Value: m}
}

func defineTypes(li *cm.LinkerInstance) error {
	return wasi.All(
		defineFields(li),
		li.Resource("incoming-request", TypeIncomingRequest, wasi.Drop),
		li.Resource("outgoing-request", TypeOutgoingRequest, wasi.Drop),
		li.Resource("request-options", TypeRequestOptions, wasi.Drop),
		li.Resource("response-outparam", TypeResponseOutparam, wasi.Drop),
		li.Resource("incoming-response", TypeIncomingResponse, wasi.Drop),
		li.Resource("incoming-body", TypeIncomingBody, wasi.Drop),
		li.Resource("future-trailers", TypeFutureTrailers, wasi.Drop),
		li.Resource("outgoing-response", TypeOutgoingResponse, wasi.Drop),
		li.Resource("outgoing-body", TypeOutgoingBody, wasi.Drop),
		li.Resource("future-incoming-response", TypeFutureIncomingResponse, wasi.Drop),
		wasi.Fn(li, "http-error-code", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) { return cm.Option{}, nil }),
		defineIncoming(li),
		defineOutgoing(li),
		defineClientTypes(li),
	)
}

func defineIncoming(li *cm.LinkerInstance) error {
	req := func(c *wasi.Ctx, v cm.Value) (*incomingRequest, error) { return wasi.Get[*incomingRequest](c, v) }
	return wasi.All(
		wasi.Fn(li, "[method]incoming-request.method", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			r, err := req(c, a[0])
			if err != nil {
				return nil, err
			}
			return methodValue(r.ex.r.Method), nil
		}),
		wasi.Fn(li, "[method]incoming-request.path-with-query", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			r, err := req(c, a[0])
			if err != nil {
				return nil, err
			}
			return cm.Option{Value: r.ex.r.URL.RequestURI()}, nil
		}),
		wasi.Fn(li, "[method]incoming-request.scheme", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			r, err := req(c, a[0])
			if err != nil {
				return nil, err
			}
			if r.ex.r.TLS != nil {
				return cm.Option{Value: cm.Variant{Case: "HTTPS"}}, nil
			}
			return cm.Option{Value: cm.Variant{Case: "HTTP"}}, nil
		}),
		wasi.Fn(li, "[method]incoming-request.authority", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			r, err := req(c, a[0])
			if err != nil {
				return nil, err
			}
			return cm.Option{Value: r.ex.r.Host}, nil
		}),
		wasi.Fn(li, "[method]incoming-request.headers", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			r, err := req(c, a[0])
			if err != nil {
				return nil, err
			}
			if r.headers == nil {
				r.headers = fromHeader(r.ex.r.Header)
				r.headers.immutable = true
			}
			return c.Own(TypeFields, r.headers), nil
		}),
		wasi.Fn(li, "[method]incoming-request.consume", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			r, err := req(c, a[0])
			if err != nil {
				return nil, err
			}
			if r.consumed {
				return cm.Result{Err: true}, nil
			}
			r.consumed = true
			ex := r.ex
			body := &incomingBody{stream: ex.requestBody(), trailers: func() http.Header { return ex.r.Trailer }}
			return cm.Result{Value: c.Own(TypeIncomingBody, body)}, nil
		}),
		wasi.Fn(li, "[method]incoming-body.stream", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			b, err := wasi.Get[*incomingBody](c, a[0])
			if err != nil {
				return nil, err
			}
			if b.streamTaken {
				return cm.Result{Err: true}, nil
			}
			b.streamTaken = true
			return cm.Result{Value: c.Own(wasi.TypeInputStream, wasi.InputStream(b.stream))}, nil
		}),
		wasi.Fn(li, "[static]incoming-body.finish", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			b, err := wasi.Take[*incomingBody](c, a[0])
			if err != nil {
				return nil, err
			}
			return c.Own(TypeFutureTrailers, &futureTrailers{body: b}), nil
		}),
		wasi.Fn(li, "[method]future-trailers.subscribe", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			f, err := wasi.Get[*futureTrailers](c, a[0])
			if err != nil {
				return nil, err
			}
			return c.Own(wasi.TypePollable, wasi.Pollable(f.body.stream)), nil
		}),
		wasi.Fn(li, "[method]future-trailers.get", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			f, err := wasi.Get[*futureTrailers](c, a[0])
			if err != nil {
				return nil, err
			}
			// Trailers are known once the body is read to its end.
			if !f.body.stream.Done() {
				return cm.Option{}, nil
			}
			var trailers cm.Value = cm.Option{}
			if h := f.body.trailers(); len(h) > 0 {
				if f.trailers == nil {
					f.trailers = fromHeader(h)
					f.trailers.immutable = true
				}
				trailers = cm.Option{Value: c.Own(TypeFields, f.trailers)}
			}
			return cm.Option{Value: cm.Result{Value: cm.Result{Value: trailers}}}, nil
		}),
	)
}

func defineOutgoing(li *cm.LinkerInstance) error {
	resp := func(c *wasi.Ctx, v cm.Value) (*outgoingResponse, error) { return wasi.Get[*outgoingResponse](c, v) }
	return wasi.All(
		wasi.Fn(li, "[constructor]outgoing-response", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			h, err := wasi.Take[*fields](c, a[0])
			if err != nil {
				return nil, err
			}
			return c.Own(TypeOutgoingResponse, &outgoingResponse{status: http.StatusOK, headers: h}), nil
		}),
		wasi.Fn(li, "[method]outgoing-response.status-code", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			r, err := resp(c, a[0])
			if err != nil {
				return nil, err
			}
			return uint16(r.status), nil
		}),
		wasi.Fn(li, "[method]outgoing-response.set-status-code", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			r, err := resp(c, a[0])
			if err != nil {
				return nil, err
			}
			code := int(a[1].(uint16))
			if code < 100 || code > 999 {
				return cm.Result{Err: true}, nil
			}
			r.status = code
			return cm.Result{}, nil
		}),
		wasi.Fn(li, "[method]outgoing-response.headers", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			r, err := resp(c, a[0])
			if err != nil {
				return nil, err
			}
			// A child handle: changes show in the response until it is sent.
			return c.Own(TypeFields, r.headers), nil
		}),
		wasi.Fn(li, "[method]outgoing-response.body", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			r, err := resp(c, a[0])
			if err != nil {
				return nil, err
			}
			if r.bodyTaken {
				return cm.Result{Err: true}, nil
			}
			r.bodyTaken = true
			r.body = &outgoingBody{}
			return cm.Result{Value: c.Own(TypeOutgoingBody, r.body)}, nil
		}),
		wasi.Fn(li, "[method]outgoing-body.write", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			b, err := wasi.Get[*outgoingBody](c, a[0])
			if err != nil {
				return nil, err
			}
			if b.streamTaken {
				return cm.Result{Err: true}, nil
			}
			b.streamTaken = true
			return cm.Result{Value: c.Own(wasi.TypeOutputStream, wasi.OutputStream(&bodyStream{b: b}))}, nil
		}),
		wasi.Fn(li, "[static]outgoing-body.finish", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			b, err := wasi.Take[*outgoingBody](c, a[0])
			if err != nil {
				return nil, err
			}
			if opt := a[1].(cm.Option); opt.Value != nil {
				t, err := wasi.Take[*fields](c, opt.Value)
				if err != nil {
					return nil, err
				}
				b.trailers = t
			}
			b.finished = true
			if b.attached {
				b.sink.finish(b)
			}
			return cm.Result{}, nil
		}),
		wasi.Fn0(li, "[static]response-outparam.set", func(c *wasi.Ctx, a []cm.Value) error {
			out, err := wasi.Take[*responseOutparam](c, a[0])
			if err != nil {
				return err
			}
			res := a[1].(cm.Result)
			if res.Err {
				out.ex.fail(res.Value)
				return nil
			}
			r, err := wasi.Take[*outgoingResponse](c, res.Value)
			if err != nil {
				return err
			}
			return out.ex.respond(r)
		}),
	)
}
