package wasi

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/cm"
)

// epoch is the zero of wasi:clocks/monotonic-clock.
var epoch = time.Now()

func defineMonotonic(li *cm.LinkerInstance) error {
	return all(
		fn(li, "now", func(c *Ctx, a []cm.Value) (cm.Value, error) { return uint64(time.Since(epoch)), nil }),
		fn(li, "resolution", func(c *Ctx, a []cm.Value) (cm.Value, error) { return uint64(1), nil }),
		fn(li, "subscribe-instant", func(c *Ctx, a []cm.Value) (cm.Value, error) {
			return c.Own(TypePollable, Pollable(timerPollable{at: after(epoch, a[0].(uint64))})), nil
		}),
		fn(li, "subscribe-duration", func(c *Ctx, a []cm.Value) (cm.Value, error) {
			return c.Own(TypePollable, Pollable(timerPollable{at: after(time.Now(), a[0].(uint64))})), nil
		}),
	)
}

func datetime(sec uint64, ns uint32) cm.Value {
	return cm.Record{{Name: "seconds", Value: sec}, {Name: "nanoseconds", Value: ns}}
}

func defineWall(li *cm.LinkerInstance) error {
	return all(
		fn(li, "now", func(c *Ctx, a []cm.Value) (cm.Value, error) {
			now := time.Now()
			return datetime(uint64(now.Unix()), uint32(now.Nanosecond())), nil
		}),
		fn(li, "resolution", func(c *Ctx, a []cm.Value) (cm.Value, error) { return datetime(0, 1), nil }),
	)
}

// maxRandom bounds one random-bytes request; more is a guest bug or abuse.
const maxRandom = 1 << 20

func randomBytes(n uint64, secure bool) (cm.Value, error) {
	if n > maxRandom {
		return nil, fmt.Errorf("random bytes: %d requested, at most %d per call", n, maxRandom)
	}
	b := make([]byte, n)
	if secure {
		rand.Read(b)
	} else {
		for i := range b {
			b[i] = byte(mrand.Uint32())
		}
	}
	if len(b) == 0 {
		return cm.List(nil), nil
	}
	return b, nil
}

func defineRandom(li *cm.LinkerInstance) error {
	return all(
		fn(li, "get-random-bytes", func(c *Ctx, a []cm.Value) (cm.Value, error) { return randomBytes(a[0].(uint64), true) }),
		fn(li, "get-random-u64", func(c *Ctx, a []cm.Value) (cm.Value, error) {
			var b [8]byte
			rand.Read(b[:])
			return binary.LittleEndian.Uint64(b[:]), nil
		}),
	)
}

func defineInsecure(li *cm.LinkerInstance) error {
	return all(
		fn(li, "get-insecure-random-bytes", func(c *Ctx, a []cm.Value) (cm.Value, error) { return randomBytes(a[0].(uint64), false) }),
		fn(li, "get-insecure-random-u64", func(c *Ctx, a []cm.Value) (cm.Value, error) { return mrand.Uint64(), nil }),
	)
}

func defineInsecureSeed(li *cm.LinkerInstance) error {
	return fn(li, "insecure-seed", func(c *Ctx, a []cm.Value) (cm.Value, error) {
		return cm.Tuple{mrand.Uint64(), mrand.Uint64()}, nil
	})
}

func defineEnvironment(li *cm.LinkerInstance) error {
	return all(
		fn(li, "get-environment", func(c *Ctx, a []cm.Value) (cm.Value, error) { return sortedPairs(c.cfg.Env), nil }),
		fn(li, "get-arguments", func(c *Ctx, a []cm.Value) (cm.Value, error) { return cm.List{c.cfg.Name}, nil }),
		fn(li, "initial-cwd", func(c *Ctx, a []cm.Value) (cm.Value, error) { return cm.Option{}, nil }),
	)
}

// ErrExit is the trap a guest's wasi:cli/exit raises.
var ErrExit = errors.New("component called wasi:cli/exit")

func defineExit(li *cm.LinkerInstance) error {
	return all(
		fn0(li, "exit", func(c *Ctx, a []cm.Value) error {
			if r, _ := a[0].(cm.Result); r.Err {
				return fmt.Errorf("%w with an error status", ErrExit)
			}
			return fmt.Errorf("%w with success", ErrExit)
		}),
		fn0(li, "exit-with-code", func(c *Ctx, a []cm.Value) error {
			return fmt.Errorf("%w with code %d", ErrExit, a[0])
		}),
	)
}

func defineStdin(li *cm.LinkerInstance) error {
	return fn(li, "get-stdin", func(c *Ctx, a []cm.Value) (cm.Value, error) {
		return c.Own(TypeInputStream, InputStream(EmptyInput{})), nil
	})
}

func defineStdout(li *cm.LinkerInstance) error {
	return fn(li, "get-stdout", func(c *Ctx, a []cm.Value) (cm.Value, error) {
		return c.Own(TypeOutputStream, OutputStream(&c.stdout)), nil
	})
}

func defineStderr(li *cm.LinkerInstance) error {
	return fn(li, "get-stderr", func(c *Ctx, a []cm.Value) (cm.Value, error) {
		return c.Own(TypeOutputStream, OutputStream(&c.stderr)), nil
	})
}

func defineTerminal(name string, ty uint32) Definer {
	return func(li *cm.LinkerInstance) error { return li.Resource(name, ty, drop) }
}

// defineNoTerminal answers "not a terminal" for a stdio stream.
func defineNoTerminal(getter string) Definer {
	return func(li *cm.LinkerInstance) error {
		return fn(li, getter, func(c *Ctx, a []cm.Value) (cm.Value, error) { return cm.Option{}, nil })
	}
}

// lineWriter turns guest stdout/stderr into one log entry per line.
type lineWriter struct {
	ReadyPollable
	mu     sync.Mutex
	log    *zap.Logger
	stream string
	buf    []byte
}

// maxLine bounds a buffered partial line; longer lines are split.
const maxLine = 16 << 10

func (w *lineWriter) CheckWrite() (int, error) { return readChunk, nil }
func (w *lineWriter) Flush() error             { return nil }

func (w *lineWriter) Write(p []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			if len(w.buf) > maxLine {
				w.emit(w.buf)
				w.buf = w.buf[:0]
			}
			return nil
		}
		w.emit(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
}

func (w *lineWriter) emit(line []byte) {
	w.log.Info(strings.TrimRight(string(line), "\r"), zap.String("stream", w.stream))
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(w.buf)
		w.buf = nil
	}
}

// defineLogging serves wasi:logging/logging: a linked component's records
// go to its Recorder's Log (zap and OTLP, with the ODA Component's name,
// namespace and API; the context argument, when not empty, as the field
// "context"), the others to the runtime's zap logger. The function has no
// result, so a record the Recorder refuses (the Source is not a Component,
// a host failure) goes to zap with the reason rather than trapping.
func defineLogging(li *cm.LinkerInstance) error {
	return fn0(li, "log", func(c *Ctx, a []cm.Value) error {
		level, err := enumCase(a[0], observe.LevelCritical)
		if err != nil {
			level = observe.LevelInfo
		}
		logCtx, message := a[1].(string), a[2].(string)
		var refused error
		if linked(c.cfg.Observe) {
			var fields []observe.KeyValue
			if logCtx != "" {
				fields = []observe.KeyValue{{Key: "context", Value: logCtx}}
			}
			if refused = c.cfg.Observe.Log(c.Context, c.source(), level, message, fields); refused == nil {
				return nil
			}
		}
		message, logCtx = observe.LogRecord(message, logCtx) // one log line, not a guest's gigabyte
		zf := []zap.Field{zap.String("context", logCtx), zap.Stringer("level", level)}
		if refused != nil {
			zf = append(zf, zap.NamedError("observe_error", refused))
		}
		c.log.Log(level.ZapLevel(), message, zf...)
		return nil
	})
}

// linked reports whether r records: set and not observe.Unlinked.
func linked(r observe.Recorder) bool {
	_, unlinked := r.(observe.Unlinked)
	return r != nil && !unlinked
}

// defineConfig serves wasi:config/runtime and wasi:config/store; both
// answer from the component's map and so never return their error variant.
func defineConfig(li *cm.LinkerInstance) error {
	return all(
		fn(li, "get", func(c *Ctx, a []cm.Value) (cm.Value, error) {
			v, ok := c.cfg.Config[a[0].(string)]
			if !ok {
				return cm.Result{Value: cm.Option{}}, nil
			}
			return cm.Result{Value: cm.Option{Value: v}}, nil
		}),
		fn(li, "get-all", func(c *Ctx, a []cm.Value) (cm.Value, error) {
			return cm.Result{Value: sortedPairs(c.cfg.Config)}, nil
		}),
	)
}
