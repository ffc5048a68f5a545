package wasi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/cm"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/compose"
)

// Pollable is something a guest can wait on.
type Pollable interface {
	Ready() bool
	// Wait returns a channel that is closed once Ready may have become true.
	Wait() <-chan struct{}
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// ReadyPollable is always ready.
type ReadyPollable struct{}

func (ReadyPollable) Ready() bool           { return true }
func (ReadyPollable) Wait() <-chan struct{} { return closedChan }

// timerPollable is ready at a monotonic instant.
type timerPollable struct{ at time.Time }

func (p timerPollable) Ready() bool { return !time.Now().Before(p.at) }

// Wait implements Pollable; Block does not call it (it waits for all of a
// poll's timers with one timer it stops), so a timer fires no later than
// the instant and nothing of it outlives the wait.
func (p timerPollable) Wait() <-chan struct{} {
	d := time.Until(p.at)
	if d <= 0 {
		return closedChan
	}
	ch := make(chan struct{})
	time.AfterFunc(d, func() { close(ch) })
	return ch
}

// after is the instant ns nanoseconds past from; a guest's u64 past
// math.MaxInt64 (292 years) is that far, not a negative duration.
func after(from time.Time, ns uint64) time.Time {
	return from.Add(time.Duration(min(ns, math.MaxInt64)))
}

// Block waits until one of ps is ready and returns the indexes of the ready
// ones, or an error when ctx ends first. Timers are waited for with one Go
// timer, for the earliest, stopped before Block returns: a guest polling a
// far timer in a loop leaves nothing behind in the runtime's timer heap.
func Block(ctx context.Context, ps []Pollable) ([]uint32, error) {
	for {
		var ready []uint32
		for i, p := range ps {
			if p.Ready() {
				ready = append(ready, uint32(i))
			}
		}
		if len(ready) > 0 {
			return ready, nil
		}
		if err := wait(ctx, ps); err != nil {
			return nil, err
		}
	}
}

// maxPollChannels is what one poll may wait on besides its context and its
// earliest timer: reflect.Select takes at most 65,536 cases.
const maxPollChannels = 65536 - 2

// wait returns once one of ps may be ready, or with an error once ctx ends.
// A channel several pollables share (a borrow listed twice) is waited on
// once.
func wait(ctx context.Context, ps []Pollable) error {
	cases := make([]reflect.SelectCase, 0, min(len(ps), maxPollChannels)+2)
	cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())})
	var earliest time.Time
	seen := make(map[<-chan struct{}]struct{}, min(len(ps), maxPollChannels))
	for _, p := range ps {
		if t, ok := p.(timerPollable); ok {
			if earliest.IsZero() || t.at.Before(earliest) {
				earliest = t.at
			}
			continue
		}
		ch := p.Wait()
		if _, ok := seen[ch]; ok {
			continue
		}
		if len(seen) == maxPollChannels {
			return fmt.Errorf("poll of %d pollables: more than the %d distinct ones one poll may wait for", len(ps), maxPollChannels)
		}
		seen[ch] = struct{}{}
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
	}
	if !earliest.IsZero() {
		timer := time.NewTimer(time.Until(earliest))
		defer timer.Stop()
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timer.C)})
	}
	if i, _, _ := reflect.Select(cases); i == 0 {
		return fmt.Errorf("blocking host call abandoned: %w", context.Cause(ctx))
	}
	return nil
}

// block is Block for the guest's poll calls: BeforeWait runs first when
// none of ps is ready.
func (c *Ctx) block(ps []Pollable) ([]uint32, error) {
	if c.BeforeWait != nil && !slices.ContainsFunc(ps, Pollable.Ready) {
		c.BeforeWait()
	}
	return Block(c.Context, ps)
}

// InputStream is the host side of a wasi:io input-stream.
type InputStream interface {
	// Read returns up to n bytes, in a slice the caller then owns (to its
	// capacity); with block false it may return none. io.EOF means the
	// stream is closed. The slice is buf's array when buf has room for
	// the bytes and one more (the caller reuses a buffer from read to
	// read), else a new one.
	Read(ctx context.Context, n int, block bool, buf []byte) ([]byte, error)
	Pollable
}

// OutputStream is the host side of a wasi:io output-stream.
type OutputStream interface {
	// CheckWrite is how many bytes Write accepts now.
	CheckWrite() (int, error)
	Write(p []byte) error
	Flush() error
	Pollable
}

// EmptyInput is a closed input stream (stdin).
type EmptyInput struct{ ReadyPollable }

func (EmptyInput) Read(context.Context, int, bool, []byte) ([]byte, error) { return nil, io.EOF }

// ReaderStream adapts an io.Reader into an InputStream. Blocking reads
// call the reader directly on the caller's goroutine (its owner bounds
// them, for example with a read deadline or a context); non-blocking reads
// and polls are served by one read-ahead goroutine at a time, which ends
// when the reader returns; its owner makes the reader return (by closing
// it or setting a read deadline) and then calls WaitIdle.
type ReaderStream struct {
	r       io.Reader
	mu      sync.Mutex
	buf     []byte
	err     error
	filling chan struct{}
	wg      sync.WaitGroup
}

// NewReaderStream wraps r.
func NewReaderStream(r io.Reader) *ReaderStream { return &ReaderStream{r: r} }

const readChunk = 64 << 10

// scratch holds readChunk-sized buffers for reads whose result is copied
// out at its real size: a 4 KiB read of a 200-byte body, or of its end,
// then allocates 200 bytes, or nothing.
var scratch = sync.Pool{New: func() any { b := make([]byte, readChunk); return &b }}

// fillLocked starts the read-ahead goroutine if none runs; mu is held.
func (s *ReaderStream) fillLocked() chan struct{} {
	if s.filling != nil {
		return s.filling
	}
	ch := make(chan struct{})
	s.filling = ch
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		bp := scratch.Get().(*[]byte)
		n, err := s.r.Read(*bp)
		s.mu.Lock()
		s.buf = append(s.buf, (*bp)[:n]...)
		scratch.Put(bp)
		if err != nil {
			s.err = err
		}
		s.filling = nil
		s.mu.Unlock()
		close(ch)
	}()
	return ch
}

// Read implements InputStream.
func (s *ReaderStream) Read(ctx context.Context, n int, block bool, buf []byte) ([]byte, error) {
	for {
		s.mu.Lock()
		if len(s.buf) > 0 {
			if n > len(s.buf) {
				n = len(s.buf)
			}
			out := readCopy(buf, s.buf[:n])
			s.buf = s.buf[n:]
			s.mu.Unlock()
			return out, nil
		}
		if s.err != nil {
			err := s.err
			s.mu.Unlock()
			return nil, err
		}
		if block && s.filling == nil {
			s.mu.Unlock()
			return s.readNow(n, buf)
		}
		ch := s.fillLocked()
		s.mu.Unlock()
		if !block {
			return nil, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("blocking read abandoned: %w", context.Cause(ctx))
		}
	}
}

// readCopy is a read's own copy of b, in buf when it has room, with a
// byte to spare: the stream adapter's read (compose.ReadString) puts its
// tag there.
func readCopy(buf, b []byte) []byte {
	out := buf[:0]
	if cap(out) <= len(b) {
		out = make([]byte, 0, len(b)+1)
	}
	return append(out, b...)
}

// readNow reads directly, skipping the read-ahead goroutine; a (0, nil)
// read is retried. It reads up to readChunk whatever n is, and keeps what
// is past n for the next reads: a guest reading 4 KiB at a time then
// blocks (parking its thread, inside a cgo call) once per 64 KiB that has
// arrived, not once per 4 KiB.
func (s *ReaderStream) readNow(n int, buf []byte) ([]byte, error) {
	n = min(n, readChunk)
	// A buffer with room for a whole chunk and the tag is read into
	// directly; else a pooled one, and the read copied out of it.
	var p []byte
	direct := cap(buf) > readChunk
	if direct {
		p = buf[:readChunk]
	} else {
		bp := scratch.Get().(*[]byte)
		defer scratch.Put(bp)
		p = *bp
	}
	for {
		m, err := s.r.Read(p)
		if err != nil || m > n {
			s.mu.Lock()
			if err != nil {
				s.err = err
			}
			if m > n {
				s.buf = append(s.buf, p[n:m]...)
			}
			s.mu.Unlock()
		}
		if m > 0 {
			if direct {
				return p[:min(m, n)], nil
			}
			return readCopy(buf, p[:min(m, n)]), nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// Ready implements Pollable.
func (s *ReaderStream) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.buf) > 0 || s.err != nil
}

// Wait implements Pollable: it starts a read-ahead if nothing is buffered.
func (s *ReaderStream) Wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.buf) > 0 || s.err != nil {
		return closedChan
	}
	return s.fillLocked()
}

// WaitIdle waits for the read-ahead goroutine, after the owner made the
// reader return.
func (s *ReaderStream) WaitIdle() { s.wg.Wait() }

// streamError is the wasi:io/error resource's host object.
type streamError struct{ err error }

// streamErrorValue turns a Go stream error into wasi:io stream-error.
func streamErrorValue(c *Ctx, err error) cm.Value {
	if errors.Is(err, io.EOF) {
		return cm.Result{Err: true, Value: cm.Variant{Case: "closed"}}
	}
	return cm.Result{Err: true, Value: cm.Variant{Case: "last-operation-failed", Value: c.Own(TypeError, &streamError{err: err})}}
}

// blockingWriteLimit is the most wasi:io lets blocking-write-and-flush take
// in one call.
const blockingWriteLimit = 4096

func defineError(li *cm.LinkerInstance) error {
	return all(
		li.Resource("error", TypeError, drop),
		fn(li, "[method]error.to-debug-string", func(c *Ctx, a []cm.Value) (cm.Value, error) {
			e, err := Get[*streamError](c, a[0])
			if err != nil {
				return nil, err
			}
			return e.err.Error(), nil
		}),
	)
}

func definePoll(li *cm.LinkerInstance) error {
	return all(
		li.Resource("pollable", TypePollable, drop),
		fn(li, "[method]pollable.ready", func(c *Ctx, a []cm.Value) (cm.Value, error) {
			p, err := Get[Pollable](c, a[0])
			if err != nil {
				return nil, err
			}
			return p.Ready(), nil
		}),
		fn0(li, "[method]pollable.block", func(c *Ctx, a []cm.Value) error {
			p, err := Get[Pollable](c, a[0])
			if err != nil {
				return err
			}
			_, err = c.block([]Pollable{p})
			return err
		}),
		fn(li, "poll", func(c *Ctx, a []cm.Value) (cm.Value, error) {
			list, _ := a[0].(cm.List)
			if len(list) == 0 {
				return nil, errors.New("poll of an empty list would block forever")
			}
			ps := make([]Pollable, len(list))
			for i, v := range list {
				p, err := Get[Pollable](c, v)
				if err != nil {
					return nil, err
				}
				ps[i] = p
			}
			ready, err := c.block(ps)
			if err != nil {
				return nil, err
			}
			out := make(cm.List, len(ready))
			for i, r := range ready {
				out[i] = r
			}
			return out, nil
		}),
	)
}

// streamRead is input-stream.read (block false) or blocking-read; asBytes
// makes the result's value from what was read.
func streamRead(block bool, asBytes func(*Ctx, []byte) cm.Value) func(c *Ctx, a []cm.Value) (cm.Value, error) {
	return func(c *Ctx, a []cm.Value) (cm.Value, error) {
		s, err := Get[InputStream](c, a[0])
		if err != nil {
			return nil, err
		}
		n := int(min(a[1].(uint64), readChunk))
		b, err := s.Read(c.Context, n, block, c.readBuf)
		if err != nil {
			if c.Context.Err() != nil {
				return nil, err
			}
			return streamErrorValue(c, err), nil
		}
		c.keepReadBuf(b)
		return cm.Result{Value: asBytes(c, b)}, nil
	}
}

// listValue is b as a list<u8>.
func listValue(_ *Ctx, b []byte) cm.Value {
	if len(b) == 0 {
		return cm.List(nil)
	}
	return b
}

// streamWrite writes p to the output stream a[0], and flushes it when
// flush is set.
func streamWrite(c *Ctx, a []cm.Value, p []byte, flush bool) (cm.Value, error) {
	s, err := Get[OutputStream](c, a[0])
	if err != nil {
		return nil, err
	}
	if err := s.Write(p); err != nil {
		return streamErrorValue(c, err), nil
	}
	if flush {
		if err := s.Flush(); err != nil {
			return streamErrorValue(c, err), nil
		}
	}
	return cm.Result{}, nil
}

// blockingWriteAndFlush is output-stream.blocking-write-and-flush of p.
func blockingWriteAndFlush(c *Ctx, a []cm.Value, p []byte) (cm.Value, error) {
	if len(p) > blockingWriteLimit {
		return nil, fmt.Errorf("blocking write of %d bytes: wasi:io allows at most %d per call", len(p), blockingWriteLimit)
	}
	return streamWrite(c, a, p, true)
}

// defineBulkStreams is compose.Interface: the adapter's way to move
// stream bytes as UTF-8 strings, plain or packed (a string crosses the C
// API whole, a list<u8> one value per byte).
func defineBulkStreams(li *cm.LinkerInstance) error {
	// A read's string (in the request's read or pack buffer) is copied
	// into C before the host call returns, so the next read may reuse
	// those buffers; every OutputStream copies what it is given, so a
	// write may pass a plain string's own bytes (wasmtime's, borrowed).
	readString := func(c *Ctx, b []byte) cm.Value {
		s, packed := compose.ReadString(b, c.packed)
		c.packed = packed
		return s
	}
	write := func(flush bool) func(c *Ctx, a []cm.Value) (cm.Value, error) {
		return func(c *Ctx, a []cm.Value) (cm.Value, error) {
			if len(a) != 3 {
				return nil, fmt.Errorf("%s write: %d arguments, want 3", compose.Interface, len(a))
			}
			s, ok := a[1].(string)
			packed, ok2 := a[2].(bool)
			if !ok || !ok2 {
				return nil, fmt.Errorf("%s write: want (string, bool), got (%T, %T)", compose.Interface, a[1], a[2])
			}
			p, err := compose.WriteBytes(s, packed, c.unpacked)
			if err != nil {
				return nil, fmt.Errorf("%s write: %w", compose.Interface, err)
			}
			if packed {
				c.unpacked = p // the stream copied it: the next write may reuse it
			}
			if flush {
				return blockingWriteAndFlush(c, a, p)
			}
			return streamWrite(c, a, p, false)
		}
	}
	return all(
		fn(li, "read", streamRead(false, readString)),
		fn(li, "blocking-read", streamRead(true, readString)),
		// A write's string is wasmtime's copy, borrowed for the call:
		// the output stream copies what it is given, and the error names
		// only types.
		fnBorrowing(li, "write", write(false)),
		fnBorrowing(li, "blocking-write-and-flush", write(true)),
	)
}

func defineStreams(li *cm.LinkerInstance) error {
	read := func(block bool) func(c *Ctx, a []cm.Value) (cm.Value, error) {
		return streamRead(block, listValue)
	}
	skip := func(block bool) func(c *Ctx, a []cm.Value) (cm.Value, error) {
		r := read(block)
		return func(c *Ctx, a []cm.Value) (cm.Value, error) {
			v, err := r(c, a)
			if err != nil {
				return nil, err
			}
			res := v.(cm.Result)
			if res.Err {
				return res, nil
			}
			b, _ := cm.Bytes(res.Value)
			return cm.Result{Value: uint64(len(b))}, nil
		}
	}
	write := streamWrite
	blockingWrite := func(zeroes bool) func(c *Ctx, a []cm.Value) (cm.Value, error) {
		return func(c *Ctx, a []cm.Value) (cm.Value, error) {
			var p []byte
			if zeroes {
				p = make([]byte, min(a[1].(uint64), blockingWriteLimit+1))
			} else {
				b, err := cm.Bytes(a[1])
				if err != nil {
					return nil, err
				}
				p = b
			}
			return blockingWriteAndFlush(c, a, p)
		}
	}
	return all(
		li.Resource("input-stream", TypeInputStream, drop),
		li.Resource("output-stream", TypeOutputStream, drop),
		fn(li, "[method]input-stream.read", read(false)),
		fn(li, "[method]input-stream.blocking-read", read(true)),
		fn(li, "[method]input-stream.skip", skip(false)),
		fn(li, "[method]input-stream.blocking-skip", skip(true)),
		fn(li, "[method]input-stream.subscribe", func(c *Ctx, a []cm.Value) (cm.Value, error) {
			s, err := Get[InputStream](c, a[0])
			if err != nil {
				return nil, err
			}
			return c.Own(TypePollable, Pollable(s)), nil
		}),
		fn(li, "[method]output-stream.check-write", func(c *Ctx, a []cm.Value) (cm.Value, error) {
			s, err := Get[OutputStream](c, a[0])
			if err != nil {
				return nil, err
			}
			n, err := s.CheckWrite()
			if err != nil {
				return streamErrorValue(c, err), nil
			}
			return cm.Result{Value: uint64(n)}, nil
		}),
		fn(li, "[method]output-stream.write", func(c *Ctx, a []cm.Value) (cm.Value, error) {
			p, err := cm.Bytes(a[1])
			if err != nil {
				return nil, err
			}
			return write(c, a, p, false)
		}),
		fn(li, "[method]output-stream.blocking-write-and-flush", blockingWrite(false)),
		fn(li, "[method]output-stream.write-zeroes", func(c *Ctx, a []cm.Value) (cm.Value, error) {
			return write(c, a, make([]byte, min(a[1].(uint64), readChunk)), false)
		}),
		fn(li, "[method]output-stream.blocking-write-zeroes-and-flush", blockingWrite(true)),
		fn(li, "[method]output-stream.flush", func(c *Ctx, a []cm.Value) (cm.Value, error) {
			return write(c, a, nil, true)
		}),
		fn(li, "[method]output-stream.blocking-flush", func(c *Ctx, a []cm.Value) (cm.Value, error) {
			return write(c, a, nil, true)
		}),
		fn(li, "[method]output-stream.subscribe", func(c *Ctx, a []cm.Value) (cm.Value, error) {
			s, err := Get[OutputStream](c, a[0])
			if err != nil {
				return nil, err
			}
			return c.Own(TypePollable, Pollable(s)), nil
		}),
		fn(li, "[method]output-stream.splice", splice(false)),
		fn(li, "[method]output-stream.blocking-splice", splice(true)),
	)
}

func splice(block bool) func(c *Ctx, a []cm.Value) (cm.Value, error) {
	return func(c *Ctx, a []cm.Value) (cm.Value, error) {
		dst, err := Get[OutputStream](c, a[0])
		if err != nil {
			return nil, err
		}
		src, err := Get[InputStream](c, a[1])
		if err != nil {
			return nil, err
		}
		b, err := src.Read(c.Context, int(min(a[2].(uint64), readChunk)), block, c.readBuf)
		if err != nil {
			if c.Context.Err() != nil {
				return nil, err
			}
			return streamErrorValue(c, err), nil
		}
		c.keepReadBuf(b)
		if err := dst.Write(b); err != nil {
			return streamErrorValue(c, err), nil
		}
		if block {
			if err := dst.Flush(); err != nil {
				return streamErrorValue(c, err), nil
			}
		}
		return cm.Result{Value: uint64(len(b))}, nil
	}
}

// Busy reports whether a read-ahead is in flight (the owner must make the
// reader return before WaitIdle).
func (s *ReaderStream) Busy() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.filling != nil
}

// Done reports whether the reader returned io.EOF.
func (s *ReaderStream) Done() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Is(s.err, io.EOF) && len(s.buf) == 0
}
