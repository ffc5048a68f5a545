package wasi

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/cm"
)

// Resource type ids, shared by every version of an interface.
const (
	TypeError uint32 = iota + 1
	TypePollable
	TypeInputStream
	TypeOutputStream
	TypeTerminalInput
	TypeTerminalOutput
	TypeDescriptor
	TypeDirectoryEntryStream
	TypeNetwork
	TypeTCPSocket
	TypeUDPSocket
	TypeIncomingDatagramStream
	TypeOutgoingDatagramStream
	TypeResolveAddressStream
	TypeKeyValueBucket
	// TypeFirstFree is the first id left for other packages (wasihttp).
	TypeFirstFree
)

// Config is what one component sees of its host.
type Config struct {
	// Name labels the component's log lines.
	Name string
	// Env is wasi:cli/environment.
	Env map[string]string
	// Config is wasi:config/runtime and wasi:config/store.
	Config map[string]string
	// Log receives stdout/stderr lines and wasi:logging records.
	Log *zap.Logger
	// KeyValue backs wasi:keyvalue; nil answers no-such-store to open.
	KeyValue KeyValue
	// Observe backs wasmcanvas:observe (ObserveInterfaces), every call
	// made as Source with the API of the request's route (Ctx.source);
	// when it is linked (not nil or observe.Unlinked), wasi:logging
	// records go to its Log instead of to Log.
	Observe observe.Recorder
	Source  observe.Source
	// Identity backs wasmcanvas:identity/tokens (IdentityInterfaces); the
	// zero value answers every call unavailable (not linked).
	Identity auth.Tokens

	logOnce sync.Once
	named   *zap.Logger
}

// logger is Log with the component's name, built once per Config rather
// than once per request.
func (cfg *Config) logger() *zap.Logger {
	cfg.logOnce.Do(func() {
		log := cfg.Log
		if log == nil {
			log = zap.NewNop()
		}
		cfg.named = log.With(zap.String("component", cfg.Name))
	})
	return cfg.named
}

// Ctx is the per-store host state: the resource table and the context that
// bounds blocking host calls.
//
// # Notes
//
//   - Used by one goroutine at a time, like its store.
//   - Close flushes stdout/stderr; it does not close the store.
type Ctx struct {
	// Context bounds every blocking host call (poll, blocking reads and
	// writes); when it is done they trap.
	Context context.Context
	cfg     *Config
	log     *zap.Logger
	table   map[uint32]any
	next    uint32
	// full is the trap of a Push past MaxResources or a Hold past
	// MaxHeldBytes, raised by the host function (hostFunc) when it
	// returns; held is what Hold counted.
	full   error
	held   int
	stdout lineWriter
	stderr lineWriter
	// HTTP is wasihttp's per-request state.
	HTTP any
	// BeforeWait, when set, runs before poll and pollable.block wait for a
	// pollable that is not ready (wasihttp sends a pending flush then).
	BeforeWait func()

	src     observe.Source // source's answer, once sourced
	sourced bool
	// unpacked is where the stream adapter's packed writes are unpacked,
	// packed where its reads are packed, readBuf where stream reads land;
	// each is reused from call to call (what a call returned is copied
	// into C or into an output stream before the next).
	unpacked, packed, readBuf []byte
}

// keepReadBuf keeps b's array for the next read when it is larger than
// the one kept.
func (c *Ctx) keepReadBuf(b []byte) {
	if cap(b) > cap(c.readBuf) {
		c.readBuf = b[:0]
	}
}

// NewCtx makes the state for one store.
func NewCtx(ctx context.Context, cfg *Config) *Ctx {
	log := cfg.logger()
	return &Ctx{
		Context: ctx,
		cfg:     cfg,
		log:     log,
		table:   make(map[uint32]any, 8),
		stdout:  lineWriter{log: log, stream: "stdout"},
		stderr:  lineWriter{log: log, stream: "stderr"},
	}
}

// FromStore returns the Ctx a store was made with.
func FromStore(s *cm.Store) *Ctx { return s.Data().(*Ctx) }

// Log is the component's logger.
func (c *Ctx) Log() *zap.Logger { return c.log }

// source is who the component's observe calls and wasi:logging records
// come from: Config.Source, with the API of the route serving the request
// when the gateway put the route's Source in Context (observe.WithSource)
// and it names the same Component (a route of another Component does not
// re-attribute the records). Looked up once per Ctx.
func (c *Ctx) source() observe.Source {
	if !c.sourced {
		c.src, c.sourced = c.cfg.Source, true
		if rs, ok := observe.SourceFrom(c.Context); ok && rs.Namespace == c.src.Namespace && rs.Component == c.src.Component && rs.API != "" {
			c.src.API = rs.API
		}
	}
	return c.src
}

// Close flushes partial output lines.
func (c *Ctx) Close() {
	c.stdout.flush()
	c.stderr.flush()
}

// MaxResources bounds the host objects one instance holds at once
// (pollables, streams, fields, requests...): each costs host memory
// outside the instance's own, which --max-memory does not count. A
// request's component needs a few dozen.
const MaxResources = 1 << 16

// Push stores v and returns its rep. Past MaxResources it stores nothing
// and the host function that pushed traps when it returns.
func (c *Ctx) Push(v any) uint32 {
	if len(c.table) >= MaxResources {
		if c.full == nil {
			c.log.Warn("component trapped: it holds too many host resources", zap.Int("limit", MaxResources))
			c.full = fmt.Errorf("component holds %d host resources (streams, pollables, fields...), at most %d per instance: drop the handles it no longer needs", len(c.table), MaxResources)
		}
		return 0
	}
	c.next++
	c.table[c.next] = v
	return c.next
}

// MaxHeldBytes bounds the bytes one instance's calls copy into host
// objects that outlive the call (wasi:http fields), which --max-memory
// does not count either.
const MaxHeldBytes = 8 << 20

// Hold counts n more bytes the host keeps for the guest as what; they are
// never given back (an instance serves one request). Past MaxHeldBytes it
// returns the trap the host function must return.
func (c *Ctx) Hold(what string, n int) error {
	c.held += n
	if c.held <= MaxHeldBytes {
		return nil
	}
	if c.full == nil {
		c.log.Warn("component trapped: it made the host hold too many bytes", zap.String("what", what), zap.Int("limit", MaxHeldBytes))
		c.full = fmt.Errorf("component made the host hold %d bytes of %s, at most %d per instance", c.held, what, MaxHeldBytes)
	}
	return c.full
}

// Own makes an owned handle of type ty for v.
func (c *Ctx) Own(ty uint32, v any) cm.Resource {
	return cm.Resource{Type: ty, Rep: c.Push(v), Own: true}
}

// Len is the number of live host objects (for leak checks).
func (c *Ctx) Len() int { return len(c.table) }

// errBadHandle is what a guest gets for a handle that is not the expected
// kind; wasmtime already checks resource types, so this means host state
// was lost.
var errBadHandle = errors.New("host resource handle does not name a live object of the expected kind")

// Get finds the object behind a resource argument.
func Get[T any](c *Ctx, v cm.Value) (T, error) {
	var zero T
	r, ok := v.(cm.Resource)
	if !ok {
		return zero, fmt.Errorf("want a resource, got %T", v)
	}
	x, ok := c.table[r.Rep].(T)
	if !ok {
		return zero, fmt.Errorf("%w (rep %d, want %T)", errBadHandle, r.Rep, zero)
	}
	return x, nil
}

// Take removes the object behind an owned resource argument.
func Take[T any](c *Ctx, v cm.Value) (T, error) {
	x, err := Get[T](c, v)
	if err == nil {
		delete(c.table, v.(cm.Resource).Rep)
	}
	return x, err
}

// drop is the destructor for every resource type: the object leaves the
// table and, if it holds something, releases it.
func drop(s *cm.Store, rep uint32) error {
	c := FromStore(s)
	x, ok := c.table[rep]
	if !ok {
		return fmt.Errorf("drop of unknown host resource %d", rep)
	}
	delete(c.table, rep)
	if d, ok := x.(interface{ Drop() }); ok {
		d.Drop()
	}
	return nil
}

// Drop is the destructor to register for host resource types.
func Drop(s *cm.Store, rep uint32) error { return drop(s, rep) }

func sortedPairs(m map[string]string) cm.List {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(cm.List, len(keys))
	for i, k := range keys {
		out[i] = cm.Tuple{k, m[k]}
	}
	return out
}
