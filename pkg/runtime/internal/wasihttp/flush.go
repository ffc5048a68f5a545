package wasihttp

import (
	"errors"
	"io"
	"net/http"
	"sync"
	"time"
)

// flushDelay bounds how long a flush the guest asked for may wait for the
// guest's next wait or its return.
const flushDelay = time.Millisecond

// writeBuffer is how much of the response lazyFlusher gathers before it
// writes to the HTTP server. The server's own buffer is 4 KiB, so a guest
// writing 4 KiB at a time would otherwise make a network write, and wake
// the reader on the other end, per chunk.
const writeBuffer = 64 << 10

// lazyFlusher writes the response and defers the guest's flushes.
//
// Writes are gathered, up to writeBuffer, and handed to the HTTP server
// with the flush. A guest's flush (blocking-write-and-flush, flush) asks
// for the network write only: it happens when
// the guest waits for something (poll, a read that may block), when the
// handler returns, or flushDelay later, whichever comes first. A small
// response written and flushed just before handle returns then goes out in
// one write, with a Content-Length, instead of two chunked writes; a guest
// that streams (writes, waits, writes) sees every flush before each wait.
//
// Writes happen on the guest's goroutine, the delayed flush on a timer's:
// mu orders them, and stop (before the handler's own last writes) ends the
// timer's part.
type lazyFlusher struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	rc      *http.ResponseController
	pending bool
	stopped bool
	timer   *time.Timer
	// buf holds writes not yet handed to w (its capacity is kept with
	// the pooled lazyFlusher).
	buf []byte
	// direct hands writes to w at once: the status allows no body, and the
	// guest learns so from its write, as net/http refuses it.
	direct bool
	// err is a failed delayed flush, returned by the next write or flush.
	err error
}

// flushers keep lazyFlushers, and their timers, across requests: a timer
// is costly to make. A timer of a former request that fires late finds
// nothing pending, or flushes the current request's response early, which
// is harmless.
var flushers = sync.Pool{New: func() any { return new(lazyFlusher) }}

func getFlusher(w http.ResponseWriter, rc *http.ResponseController) *lazyFlusher {
	f := flushers.Get().(*lazyFlusher)
	f.mu.Lock()
	f.w, f.rc, f.pending, f.stopped, f.err, f.direct = w, rc, false, false, nil, false
	f.buf = f.buf[:0]
	f.mu.Unlock()
	return f
}

// release stops f and returns it to the pool; the request is over.
func (f *lazyFlusher) release() {
	f.stop()
	f.mu.Lock()
	f.w, f.rc = nil, nil
	f.mu.Unlock()
	flushers.Put(f)
}

func (f *lazyFlusher) write(p []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if f.stopped || f.direct {
		_, err := f.w.Write(p)
		return err
	}
	if len(f.buf)+len(p) > writeBuffer {
		if err := f.drainLocked(); err != nil {
			return err
		}
		if len(p) >= writeBuffer {
			_, err := f.w.Write(p)
			return err
		}
	}
	if f.buf == nil {
		f.buf = make([]byte, 0, writeBuffer)
	}
	f.buf = append(f.buf, p...)
	return nil
}

// status tells f the response's status: one that allows no body (1xx,
// 204, 304) has every write handed to the server at once.
func (f *lazyFlusher) status(code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.direct = code == http.StatusNoContent || code == http.StatusNotModified || code >= 100 && code < 200
}

// drainLocked hands the gathered writes to w.
func (f *lazyFlusher) drainLocked() error {
	if len(f.buf) == 0 {
		return nil
	}
	_, err := f.w.Write(f.buf)
	f.buf = f.buf[:0]
	if err != nil && f.err == nil {
		f.err = err
	}
	return err
}

// request asks for a flush within flushDelay.
func (f *lazyFlusher) request() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil || f.stopped {
		return f.err
	}
	if !f.pending {
		f.pending = true
		if f.timer == nil {
			f.timer = time.AfterFunc(flushDelay, f.now)
		} else {
			f.timer.Reset(flushDelay)
		}
	}
	return nil
}

// now does a pending flush; the guest is about to wait.
func (f *lazyFlusher) now() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.pending || f.stopped {
		return
	}
	f.pending = false
	if f.timer != nil {
		f.timer.Stop()
	}
	if f.drainLocked() != nil {
		return
	}
	if err := f.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		f.err = err
	}
}

// stop ends delayed flushes and hands the gathered writes to the server:
// the handler returns next, and the server writes what it has buffered.
func (f *lazyFlusher) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.stopped && f.w != nil {
		_ = f.drainLocked()
	}
	f.stopped, f.pending = true, false
	if f.timer != nil {
		f.timer.Stop()
	}
}

// flushingReader reads a body after doing the response's pending flush
// whenever the read may wait on the peer (the guest is about to wait).
// A body whose length is known and fully read ends without waiting.
type flushingReader struct {
	r         io.Reader
	f         *lazyFlusher
	remaining int64 // -1 when unknown
}

func newFlushingReader(r io.Reader, f *lazyFlusher, length int64) *flushingReader {
	if length < 0 {
		length = -1
	}
	return &flushingReader{r: r, f: f, remaining: length}
}

func (fr *flushingReader) Read(p []byte) (int, error) {
	if fr.remaining != 0 {
		fr.f.now()
	}
	n, err := fr.r.Read(p)
	if fr.remaining > 0 {
		fr.remaining = max(fr.remaining-int64(n), 0)
	}
	return n, err
}
