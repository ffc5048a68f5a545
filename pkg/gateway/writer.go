package gateway

import (
	"errors"
	"net/http"
)

// errHandlerFailed is returned by writes after the gateway answered a
// failed handler (one that panicked) itself.
var errHandlerFailed = errors.New("gateway: the handler failed; the response was already sent")

// recorder wraps the client's ResponseWriter to learn the status and size
// of the response, and to answer for a handler that panicked.
type recorder struct {
	http.ResponseWriter
	req         *http.Request
	status      int
	bytes       int64
	wroteHeader bool
	// failure is why the handler produced no response; the gateway logs it.
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
		return 0, errHandlerFailed
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

// failureStatus is what the client sees of a failed handler. The detail is
// fixed text: the failure itself may carry internals (a panic value, trap
// messages, file paths) and goes to the log only.
func failureStatus(error) (int, string) {
	return http.StatusBadGateway, "the API implementation failed to produce a response"
}
