package wasihttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/problem"
	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/cm"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/wasi"
)

// errRequestDeadline is the cause of a request context that ran out of time.
var errRequestDeadline = errors.New("per-request deadline exceeded")

// FindHandler resolves the handle function of the
// wasi:http/incoming-handler@0.2.x the component exports.
func FindHandler(c *cm.Component) (*cm.ExportIndex, string, error) {
	for _, name := range c.Exports() {
		if strings.HasPrefix(name, "wasi:http/incoming-handler@0.2.") {
			x, err := c.Export(name, "handle")
			if err != nil {
				return nil, "", fmt.Errorf("export %s: %w", name, err)
			}
			return x, name, nil
		}
	}
	return nil, "", errors.New("component exports no wasi:http/incoming-handler@0.2.x handle function: build it for the wasi:http proxy world")
}

// Handler serves HTTP requests with a fresh instance of Component each.
//
// # Notes
//
//   - Safe for concurrent use; requests share nothing but the compiled
//     component and the linker.
//   - The fields must stay valid (not closed) while requests are served.
type Handler struct {
	Engine    *cm.Engine
	Linker    *cm.Linker
	Component *cm.Component
	Handle    *cm.ExportIndex
	WASI      *wasi.Config
	Limits    cm.StoreLimits
	// Timeout bounds one request: the guest is interrupted (epoch) and
	// blocking host calls give up when it passes.
	Timeout time.Duration
	// Outbound governs wasi:http/outgoing-handler; nil denies every call.
	Outbound *Outbound
	Log      *zap.Logger
}

// ServeHTTP implements http.Handler: Serve, then the instance's teardown.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.Serve(w, r).Close() }

// Serve answers r from a fresh instance and returns that instance, whose
// Close (its teardown) must run once and may run after Serve returned,
// while the response goes out: it deletes the store, where wasmtime resets
// the memory it keeps resident (~1 ms for a JavaScript component's heap).
// If Serve panics (http.ErrAbortHandler, a response cut short) it has torn
// the instance down itself.
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request) (instance io.Closer) {
	ctx, cancel := context.WithTimeoutCause(traceContext(r), h.Timeout, errRequestDeadline)
	defer cancel()
	rc := http.NewResponseController(w)
	// The guest may stream the response while still reading the request.
	_ = rc.EnableFullDuplex()
	// Reads and writes of the exchange happen on the guest's goroutine;
	// the connection deadlines keep them within the request's time.
	_ = rc.SetWriteDeadline(time.Now().Add(h.Timeout))
	_ = rc.SetReadDeadline(time.Now().Add(h.Timeout))
	ex := &exchange{w: w, r: r, rc: rc, outbound: h.Outbound, out: getFlusher(w, rc)}
	defer ex.out.release()
	defer ex.release()

	wctx := wasi.NewCtx(ctx, h.WASI)
	wctx.HTTP = ex
	wctx.BeforeWait = ex.out.now
	defer wctx.Close()
	log := func() *zap.Logger {
		return wctx.Log().With(zap.String("method", r.Method), zap.String("path", r.URL.Path))
	}

	store := cm.NewStore(h.Engine, h.Limits, wctx)
	served := false
	defer func() {
		if !served { // a panic: the caller gets no teardown to run
			store.Close()
		}
	}()
	h.run(ctx, store, wctx, ex, log)
	served = true
	return store
}

// run instantiates the component in store and calls its handler.
func (h *Handler) run(ctx context.Context, store *cm.Store, wctx *wasi.Ctx, ex *exchange, log func() *zap.Logger) {
	inst, err := h.Linker.Instantiate(store, h.Component)
	if err != nil {
		log().Error("instantiate component for a request", zap.Error(err))
		ex.errorStatus(http.StatusInternalServerError, "the component could not be started for this request")
		return
	}
	fn, err := inst.Func(h.Handle)
	if err != nil {
		log().Error("look up the incoming-handler export", zap.Error(err))
		ex.errorStatus(http.StatusInternalServerError, "the component could not be started for this request")
		return
	}
	store.SetDeadline(h.Timeout)
	req := wctx.Own(TypeIncomingRequest, &incomingRequest{ex: ex})
	out := wctx.Own(TypeResponseOutparam, &responseOutparam{ex: ex})
	_, err = fn.Call(req, out)
	ex.complete(ctx, log, err)
}

// traceContext is r's context carrying the trace context of the request,
// which wasmcanvas:observe's current answers: the span the gateway put in
// the context, else the client's traceparent header.
func traceContext(r *http.Request) context.Context {
	ctx := r.Context()
	if trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	return observe.Extract(ctx, r.Header)
}

// exchange is one request's state, shared by the host objects of the
// request and its response.
type exchange struct {
	w           http.ResponseWriter
	r           *http.Request
	rc          *http.ResponseController
	out         *lazyFlusher
	body        *wasi.ReaderStream
	responded   bool
	wroteHeader bool
	resp        *outgoingResponse
	guestErr    cm.Value

	outbound  *Outbound
	cancels   []context.CancelFunc
	futures   []*futureResponse
	outgoing  sync.WaitGroup
	mu        sync.Mutex
	responses []trackedBody
}

func (ex *exchange) requestBody() *wasi.ReaderStream {
	if ex.body == nil {
		ex.body = wasi.NewReaderStream(newFlushingReader(ex.r.Body, ex.out, ex.r.ContentLength))
	}
	return ex.body
}

// Bounds of release's drain of a request body the guest left unread.
const (
	drainBytes   = 256 << 10
	drainTimeout = time.Second
)

// release stops a read-ahead still waiting on the client, so no goroutine
// outlives the request, then settles the request body. In full-duplex
// mode Go's server panics on the connection's next request when its own
// close of a half-read body reaches EOF after the handler returned, so
// release reads a short remainder to EOF itself, and otherwise makes
// further reads fail so the server closes the connection instead.
func (ex *exchange) release() {
	ex.releaseOutgoing()
	if ex.body != nil {
		if ex.body.Busy() {
			_ = ex.rc.SetReadDeadline(time.Now())
		}
		ex.body.WaitIdle()
		if ex.body.Done() {
			return
		}
	}
	if ex.r.ContentLength == 0 {
		return
	}
	_ = ex.rc.SetReadDeadline(time.Now().Add(drainTimeout))
	if _, err := io.CopyN(io.Discard, ex.r.Body, drainBytes); !errors.Is(err, io.EOF) {
		_ = ex.rc.SetReadDeadline(time.Now())
	}
}

func (ex *exchange) respond(r *outgoingResponse) error {
	if ex.responded {
		return errors.New("response-outparam.set called twice")
	}
	ex.responded, ex.resp = true, r
	r.headers.immutable = true
	r.headers.copyTo(ex.w.Header(), "")
	ex.w.WriteHeader(r.status)
	ex.out.status(r.status)
	ex.wroteHeader = true
	if b := r.body; b != nil {
		b.attach(ex)
	}
	return nil
}

func (ex *exchange) fail(code cm.Value) {
	ex.responded = true
	ex.guestErr = code
}

func (ex *exchange) write(p []byte) error { return ex.out.write(p) }

func (ex *exchange) flush() error { return ex.out.request() }

// abandon is a no-op for responses: complete sees the unfinished body and
// aborts the connection.
func (ex *exchange) abandon() {}

func (ex *exchange) finish(b *outgoingBody) {
	// Trailers go into the header map a delayed flush may be reading.
	ex.out.mu.Lock()
	defer ex.out.mu.Unlock()
	if b.trailers != nil {
		b.trailers.copyTo(ex.w.Header(), http.TrailerPrefix)
	}
}

// errorGrace is how long an error status may take to write once the
// request's own write deadline has passed.
const errorGrace = 5 * time.Second

// errorStatus answers code as problem JSON, the gateway's format. detail
// reaches the client, so it is fixed text; the error goes to the log.
func (ex *exchange) errorStatus(code int, detail string) {
	_ = ex.rc.SetWriteDeadline(time.Now().Add(errorGrace))
	problem.Write(ex.w, ex.r, code, detail)
}

// complete turns the outcome of handle into the end of the HTTP exchange.
func (ex *exchange) complete(ctx context.Context, log func() *zap.Logger, err error) {
	// The handler's writes below and the server's after return need no
	// timer's flush racing them.
	ex.out.stop()
	var body *outgoingBody
	if ex.resp != nil {
		body = ex.resp.body
	}
	switch {
	case err != nil:
		status, detail := http.StatusInternalServerError, "the component failed while handling the request"
		if errors.Is(err, cm.ErrDeadline) || errors.Is(context.Cause(ctx), errRequestDeadline) {
			status, detail = http.StatusGatewayTimeout, "the component did not answer within its deadline"
		}
		log().Error("component failed while handling a request", zap.Int("status", status), zap.Error(err))
		ex.abortOr(status, detail)
	case !ex.responded:
		log().Error("component returned without setting a response")
		ex.errorStatus(http.StatusInternalServerError, "the component returned without setting a response")
	case ex.guestErr != nil:
		log().Error("component answered with an error code", zap.Any("error_code", ex.guestErr))
		ex.errorStatus(http.StatusInternalServerError, "the component answered with an error instead of a response")
	case body != nil && !body.finished:
		log().Error("component left the response body unfinished; aborting the response")
		ex.abortOr(http.StatusInternalServerError, "the component left its response unfinished")
	}
}

// abortOr answers status if nothing was sent yet, else aborts the
// connection so the client sees a broken response, not a short one.
func (ex *exchange) abortOr(status int, detail string) {
	if !ex.wroteHeader {
		ex.errorStatus(status, detail)
		return
	}
	panic(http.ErrAbortHandler)
}

var (
	_ http.Handler      = (*Handler)(nil)
	_ bodySink          = (*exchange)(nil)
	_ bodySink          = pipeSink{}
	_ wasi.Pollable     = (*futureResponse)(nil)
	_ wasi.OutputStream = (*bodyStream)(nil)
)
