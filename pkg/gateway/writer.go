package gateway

import (
	"context"
	"errors"
	"net/http"
)

// ErrHandlerFailed is returned by writes a handler attempts after it
// called Fail: the gateway has already answered.
var ErrHandlerFailed = errors.New("gateway: the handler reported a failure; the response was already sent")

// recorder wraps the client's ResponseWriter to learn the status and size
// of the response and to let the handler hand a failure back (Fail).
type recorder struct {
	http.ResponseWriter
	req         *http.Request
	status      int
	bytes       int64
	wroteHeader bool
	// failure is what the handler passed to Fail; the gateway logs it.
	failure error
}

func (w *recorder) WriteHeader(code int) {
	if w.failure != nil {
		return
	}
	if !w.wroteHeader && code >= 200 {
		w.status = code
		w.wroteHeader = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.failure != nil {
		return 0, ErrHandlerFailed
	}
	if !w.wroteHeader {
		w.status = http.StatusOK
		w.wroteHeader = true
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush lets streaming handlers push data through the gateway.
func (w *recorder) Flush() {
	if w.failure != nil {
		return
	}
	if !w.wroteHeader {
		w.status = http.StatusOK
		w.wroteHeader = true
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap gives http.ResponseController access to the client connection.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// fail answers the request with a problem for err, if nothing was written yet.
func (w *recorder) fail(err error) bool {
	if w.wroteHeader || w.failure != nil {
		return false
	}
	status, detail := failureStatus(err)
	w.status = status
	w.wroteHeader = true
	rw := &countingWriter{ResponseWriter: w.ResponseWriter}
	writeProblem(rw, w.req, status, detail)
	w.bytes += rw.n
	w.failure = err
	return true
}

type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

// failureStatus maps a handler failure to the status the client sees. The
// detail is fixed text: the error itself may carry internals (trap
// messages, file paths) and goes to the log only.
func failureStatus(err error) (int, string) {
	if errors.Is(err, context.DeadlineExceeded) {
		return http.StatusGatewayTimeout, "the API implementation did not answer within its deadline"
	}
	return http.StatusBadGateway, "the API implementation failed to produce a response"
}

// Fail is how a route handler tells the gateway it could not produce a
// response: the gateway answers 504 Gateway Timeout when err wraps
// context.DeadlineExceeded and 502 Bad Gateway otherwise, as problem JSON,
// and logs err (the client never sees it). It must be called before the
// handler writes anything; later writes return ErrHandlerFailed. Fail
// reports whether the failure response was sent (false when the handler
// had already started its response, which is then left as is).
//
// w must be the ResponseWriter the gateway passed, or wrap it and expose
// it through an Unwrap() http.ResponseWriter method. Outside the gateway
// Fail writes the same problem response itself.
func Fail(w http.ResponseWriter, r *http.Request, err error) bool {
	for cur := w; cur != nil; {
		if rec, ok := cur.(*recorder); ok {
			return rec.fail(err)
		}
		u, ok := cur.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		cur = u.Unwrap()
	}
	status, detail := failureStatus(err)
	writeProblem(w, r, status, detail)
	return true
}
