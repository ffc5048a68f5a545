package wasihttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/cm"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/wasi"
)

// Outbound is what a component may reach through
// wasi:http/outgoing-handler.
type Outbound struct {
	// Client sends the requests; it should carry a dial timeout.
	Client *http.Client
	// Allowed lists authorities ("host" or "host:port"); a "*." prefix
	// matches any subdomain. Empty denies everything.
	Allowed []string
	// Observe, when set, is called with each allowed request before it is
	// sent (it may set headers), and what it returns with the outcome.
	Observe func(ctx context.Context, req *http.Request) (done func(*http.Response, error))
}

// allows reports whether the authority may be called.
func (o *Outbound) allows(authority string) bool {
	host := authority
	if h, _, err := net.SplitHostPort(authority); err == nil {
		host = h
	}
	for _, a := range o.Allowed {
		switch {
		case strings.EqualFold(a, authority), strings.EqualFold(a, host):
			return true
		case strings.HasPrefix(a, "*.") && strings.HasSuffix(strings.ToLower(host), strings.ToLower(a[1:])):
			return true
		}
	}
	return false
}

type outgoingRequest struct {
	method    string
	scheme    cm.Value
	authority cm.Value
	path      cm.Value
	headers   *fields
	body      *outgoingBody
	bodyTaken bool
}

type requestOptions struct {
	connect, firstByte, betweenBytes cm.Option
}

type futureResponse struct {
	done  chan struct{}
	resp  *http.Response
	err   cm.Value
	taken bool
}

func (f *futureResponse) Ready() bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}

func (f *futureResponse) Wait() <-chan struct{} { return f.done }

type incomingResponse struct {
	resp     *http.Response
	body     *wasi.ReaderStream
	consumed bool
	headers  *fields // made once, as incomingRequest's
}

// pipeSink feeds an outgoing request's body to the transport.
type pipeSink struct{ w *io.PipeWriter }

func (p pipeSink) write(b []byte) error { _, err := p.w.Write(b); return err }
func (p pipeSink) flush() error         { return nil }
func (p pipeSink) finish(*outgoingBody) { p.w.Close() }
func (p pipeSink) abandon() {
	p.w.CloseWithError(errors.New("outgoing request body dropped before finish"))
}

func methodName(v cm.Value) string {
	x := v.(cm.Variant)
	if x.Case == "other" {
		return x.Value.(string)
	}
	return strings.ToUpper(x.Case)
}

func optString(v cm.Value) (string, bool) {
	o := v.(cm.Option)
	if o.Value == nil {
		return "", false
	}
	return o.Value.(string), true
}

func defineClientTypes(li *cm.LinkerInstance) error {
	req := func(c *wasi.Ctx, v cm.Value) (*outgoingRequest, error) { return wasi.Get[*outgoingRequest](c, v) }
	getter := func(field func(r *outgoingRequest) cm.Value) func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
		return func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			r, err := req(c, a[0])
			if err != nil {
				return nil, err
			}
			return field(r), nil
		}
	}
	setter := func(set func(r *outgoingRequest, v cm.Value) bool) func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
		return func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			r, err := req(c, a[0])
			if err != nil {
				return nil, err
			}
			if !set(r, a[1]) {
				return cm.Result{Err: true}, nil
			}
			return cm.Result{}, nil
		}
	}
	opts := func(field func(o *requestOptions) *cm.Option) (func(c *wasi.Ctx, a []cm.Value) (cm.Value, error), func(c *wasi.Ctx, a []cm.Value) (cm.Value, error)) {
		get := func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			o, err := wasi.Get[*requestOptions](c, a[0])
			if err != nil {
				return nil, err
			}
			return *field(o), nil
		}
		set := func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			o, err := wasi.Get[*requestOptions](c, a[0])
			if err != nil {
				return nil, err
			}
			*field(o) = a[1].(cm.Option)
			return cm.Result{}, nil
		}
		return get, set
	}
	connectGet, connectSet := opts(func(o *requestOptions) *cm.Option { return &o.connect })
	firstGet, firstSet := opts(func(o *requestOptions) *cm.Option { return &o.firstByte })
	betweenGet, betweenSet := opts(func(o *requestOptions) *cm.Option { return &o.betweenBytes })
	return wasi.All(
		wasi.Fn(li, "[constructor]outgoing-request", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			h, err := wasi.Take[*fields](c, a[0])
			if err != nil {
				return nil, err
			}
			return c.Own(TypeOutgoingRequest, &outgoingRequest{method: http.MethodGet, scheme: cm.Option{}, authority: cm.Option{}, path: cm.Option{}, headers: h}), nil
		}),
		wasi.Fn(li, "[method]outgoing-request.body", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			r, err := req(c, a[0])
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
		wasi.Fn(li, "[method]outgoing-request.method", getter(func(r *outgoingRequest) cm.Value { return methodValue(r.method) })),
		wasi.Fn(li, "[method]outgoing-request.set-method", setter(func(r *outgoingRequest, v cm.Value) bool {
			m := methodName(v)
			if m == "" || strings.ContainsAny(m, " \t\r\n") {
				return false
			}
			r.method = m
			return true
		})),
		wasi.Fn(li, "[method]outgoing-request.path-with-query", getter(func(r *outgoingRequest) cm.Value { return r.path })),
		wasi.Fn(li, "[method]outgoing-request.set-path-with-query", setter(func(r *outgoingRequest, v cm.Value) bool {
			if p, ok := optString(v); ok && (p == "" || p[0] != '/' || strings.ContainsAny(p, " \r\n")) {
				return false
			}
			r.path = v
			return true
		})),
		wasi.Fn(li, "[method]outgoing-request.scheme", getter(func(r *outgoingRequest) cm.Value { return r.scheme })),
		wasi.Fn(li, "[method]outgoing-request.set-scheme", setter(func(r *outgoingRequest, v cm.Value) bool {
			if o := v.(cm.Option); o.Value != nil && o.Value.(cm.Variant).Case == "other" {
				return false
			}
			r.scheme = v
			return true
		})),
		wasi.Fn(li, "[method]outgoing-request.authority", getter(func(r *outgoingRequest) cm.Value { return r.authority })),
		wasi.Fn(li, "[method]outgoing-request.set-authority", setter(func(r *outgoingRequest, v cm.Value) bool {
			if a, ok := optString(v); ok && (a == "" || strings.ContainsAny(a, "/ \r\n")) {
				return false
			}
			r.authority = v
			return true
		})),
		defineRequestHeaders(li),
		wasi.Fn(li, "[constructor]request-options", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			return c.Own(TypeRequestOptions, &requestOptions{}), nil
		}),
		wasi.Fn(li, "[method]request-options.connect-timeout", connectGet),
		wasi.Fn(li, "[method]request-options.set-connect-timeout", connectSet),
		wasi.Fn(li, "[method]request-options.first-byte-timeout", firstGet),
		wasi.Fn(li, "[method]request-options.set-first-byte-timeout", firstSet),
		wasi.Fn(li, "[method]request-options.between-bytes-timeout", betweenGet),
		wasi.Fn(li, "[method]request-options.set-between-bytes-timeout", betweenSet),
		wasi.Fn(li, "[method]future-incoming-response.subscribe", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			f, err := wasi.Get[*futureResponse](c, a[0])
			if err != nil {
				return nil, err
			}
			return c.Own(wasi.TypePollable, wasi.Pollable(f)), nil
		}),
		wasi.Fn(li, "[method]future-incoming-response.get", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			f, err := wasi.Get[*futureResponse](c, a[0])
			if err != nil {
				return nil, err
			}
			switch {
			case !f.Ready():
				return cm.Option{}, nil
			case f.taken:
				return cm.Option{Value: cm.Result{Err: true}}, nil
			}
			f.taken = true
			if f.err != nil {
				return cm.Option{Value: cm.Result{Value: cm.Result{Err: true, Value: f.err}}}, nil
			}
			ex := c.HTTP.(*exchange)
			in := &incomingResponse{resp: f.resp, body: wasi.NewReaderStream(newFlushingReader(f.resp.Body, ex.out, f.resp.ContentLength))}
			ex.track(in.body, f.resp.Body)
			return cm.Option{Value: cm.Result{Value: cm.Result{Value: c.Own(TypeIncomingResponse, in)}}}, nil
		}),
		wasi.Fn(li, "[method]incoming-response.status", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			r, err := wasi.Get[*incomingResponse](c, a[0])
			if err != nil {
				return nil, err
			}
			return uint16(r.resp.StatusCode), nil
		}),
		wasi.Fn(li, "[method]incoming-response.headers", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			r, err := wasi.Get[*incomingResponse](c, a[0])
			if err != nil {
				return nil, err
			}
			if r.headers == nil {
				r.headers = fromHeader(r.resp.Header)
				r.headers.immutable = true
			}
			return c.Own(TypeFields, r.headers), nil
		}),
		wasi.Fn(li, "[method]incoming-response.consume", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
			r, err := wasi.Get[*incomingResponse](c, a[0])
			if err != nil {
				return nil, err
			}
			if r.consumed {
				return cm.Result{Err: true}, nil
			}
			r.consumed = true
			resp := r.resp
			return cm.Result{Value: c.Own(TypeIncomingBody, &incomingBody{stream: r.body, trailers: func() http.Header { return resp.Trailer }})}, nil
		}),
	)
}

// outgoing-request.headers is a child handle of the request's own fields.
func defineRequestHeaders(li *cm.LinkerInstance) error {
	return wasi.Fn(li, "[method]outgoing-request.headers", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
		r, err := wasi.Get[*outgoingRequest](c, a[0])
		if err != nil {
			return nil, err
		}
		return c.Own(TypeFields, r.headers), nil
	})
}

func errorCode(c string) cm.Value { return cm.Variant{Case: c} }

// clientErrorCode maps a Go client error onto wasi:http error-code.
func clientErrorCode(err error) cm.Value {
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.As(err, &dnsErr):
		return cm.Variant{Case: "DNS-error", Value: cm.Record{{Name: "rcode", Value: cm.Option{Value: dnsErr.Err}}, {Name: "info-code", Value: cm.Option{}}}}
	case errors.Is(err, syscall.ECONNREFUSED):
		return errorCode("connection-refused")
	case errors.Is(err, syscall.ECONNRESET):
		return errorCode("connection-terminated")
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return errorCode("connection-timeout")
	}
	return cm.Variant{Case: "internal-error", Value: cm.Option{Value: err.Error()}}
}

func optDuration(o cm.Option) time.Duration {
	if o.Value == nil {
		return 0
	}
	return time.Duration(o.Value.(uint64))
}

func defineOutgoingHandler(li *cm.LinkerInstance) error {
	return wasi.Fn(li, "handle", func(c *wasi.Ctx, a []cm.Value) (cm.Value, error) {
		r, err := wasi.Take[*outgoingRequest](c, a[0])
		if err != nil {
			return nil, err
		}
		var opts requestOptions
		if o := a[1].(cm.Option); o.Value != nil {
			p, err := wasi.Take[*requestOptions](c, o.Value)
			if err != nil {
				return nil, err
			}
			opts = *p
		}
		ex := c.HTTP.(*exchange)
		return ex.send(c, r, opts), nil
	})
}

// send starts an outgoing request; its goroutine is owned by the exchange,
// which cancels and waits for it in release.
func (ex *exchange) send(c *wasi.Ctx, r *outgoingRequest, opts requestOptions) cm.Value {
	authority, ok := optString(r.authority)
	if !ok {
		return cm.Result{Err: true, Value: errorCode("HTTP-request-URI-invalid")}
	}
	if ex.outbound == nil || !ex.outbound.allows(authority) {
		c.Log().Warn("outgoing request denied: authority not in the component's allow-list", zap.String("authority", authority))
		return cm.Result{Err: true, Value: errorCode("HTTP-request-denied")}
	}
	scheme := "https"
	if o := r.scheme.(cm.Option); o.Value != nil && o.Value.(cm.Variant).Case == "HTTP" {
		scheme = "http"
	}
	path, _ := optString(r.path)
	if path == "" {
		path = "/"
	}
	ctx, cancel := context.WithCancel(c.Context)
	var body io.Reader
	var sink *pipeSink
	if r.body != nil {
		pr, pw := io.Pipe()
		body, sink = pr, &pipeSink{w: pw}
	}
	req, err := http.NewRequestWithContext(ctx, r.method, fmt.Sprintf("%s://%s%s", scheme, authority, path), body)
	if err != nil {
		cancel()
		return cm.Result{Err: true, Value: errorCode("HTTP-request-URI-invalid")}
	}
	r.headers.immutable = true
	r.headers.copyTo(req.Header, "")
	if r.body == nil {
		req.ContentLength = 0
	}
	done := func(*http.Response, error) {}
	if ex.outbound.Observe != nil {
		done = ex.outbound.Observe(c.Context, req)
	}
	f := &futureResponse{done: make(chan struct{})}
	headerTimeout := optDuration(opts.connect) + optDuration(opts.firstByte)
	ex.cancels = append(ex.cancels, cancel)
	ex.futures = append(ex.futures, f)
	ex.outgoing.Add(1)
	go func() {
		defer ex.outgoing.Done()
		defer close(f.done)
		var timer *time.Timer
		if headerTimeout > 0 {
			timer = time.AfterFunc(headerTimeout, cancel)
		}
		resp, err := ex.outbound.Client.Do(req)
		if timer != nil && !timer.Stop() && err == nil {
			resp.Body.Close()
			err = context.DeadlineExceeded
		}
		if err != nil {
			done(nil, err)
			f.err = clientErrorCode(err)
			return
		}
		done(resp, nil)
		f.resp = resp
	}()
	if sink != nil {
		// Attach after the goroutine runs: the transport reads the pipe.
		r.body.attach(*sink)
	}
	return cm.Result{Value: c.Own(TypeFutureIncomingResponse, f)}
}

// track registers a response body stream for release.
func (ex *exchange) track(s *wasi.ReaderStream, body io.Closer) {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	ex.responses = append(ex.responses, trackedBody{s, body})
}

type trackedBody struct {
	stream *wasi.ReaderStream
	body   io.Closer
}

// releaseOutgoing cancels outgoing requests, closes their bodies and waits
// for every goroutine that served them.
func (ex *exchange) releaseOutgoing() {
	for _, cancel := range ex.cancels {
		cancel()
	}
	ex.outgoing.Wait()
	for _, f := range ex.futures {
		if f.resp != nil && !f.taken {
			f.resp.Body.Close()
		}
	}
	ex.mu.Lock()
	tracked := ex.responses
	ex.mu.Unlock()
	for _, t := range tracked {
		t.body.Close()
		t.stream.WaitIdle()
	}
}
