package runtime

import (
	"bytes"
	"errors"
	"sync"

	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/cm"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/compose"
)

// source is what a component's code is compiled from: key names the
// compiled code (in memory and in the compile cache), bytes builds what
// to compile, once and only when a compile needs it. With the stream
// adapter the key is the artefact's own plus the adapter's version, so a
// load whose code is already compiled neither wraps nor copies the
// artefact.
type source struct {
	key     string
	adapter bool // wrapped with the stream adapter
	retyped bool // and the guest retyped (see package internal/compose)
	build   func() ([]byte, error)
	// lists is the same artefact wrapped without retyping the guest,
	// for a retyped source; what the host falls back to should wasmtime
	// refuse the retyped guest.
	lists func() *source

	once sync.Once
	b    []byte
	err  error
}

func (s *source) bytes() ([]byte, error) {
	s.once.Do(func() { s.b, s.err = s.build(); s.build = nil })
	return s.b, s.err
}

// plainSource is wasm as it is.
func (h *Host) plainSource(wasm []byte) *source {
	return &source{key: cm.CacheKey(h.engine, wasm), build: func() ([]byte, error) { return wasm, nil }}
}

// sourceOf is wasm wrapped with the stream adapter (see package
// internal/compose) when it is in the shape the adapter wraps and the
// host has the adapter on, else wasm as it is.
func (h *Host) sourceOf(log *zap.Logger, wasm []byte) *source {
	if h.cfg.NoStreamAdapter {
		return h.plainSource(wasm)
	}
	bin := wasm
	if !bytes.HasPrefix(wasm, []byte("\x00asm")) {
		// Text: the binary is what gets wrapped. Text that does not
		// encode is left for the compile to report.
		var err error
		if bin, err = cm.WATToBinary(wasm); err != nil {
			return h.plainSource(wasm)
		}
	}
	noRetype, err := compose.Check(bin)
	if err != nil {
		if !errors.Is(err, compose.ErrNotApplicable) {
			log.Warn("stream adapter", zap.Error(err))
		}
		log.Debug("stream bytes cross as list<u8>", zap.String("reason", err.Error()))
		return h.plainSource(wasm)
	}
	key := cm.CacheKey(h.engine, wasm) + "+streams-" + compose.Version
	lists := func() *source {
		return &source{
			key:     key + "-lists",
			adapter: true,
			build:   func() ([]byte, error) { return h.wrap(bin, false) },
		}
	}
	if noRetype != nil {
		// The bytes still reach the host in bulk, but cross between the
		// guest and the adapter as lists, element by element.
		log.Info("stream adapter serves the component lists: its types are not retyped", zap.String("reason", noRetype.Error()))
		return lists()
	}
	return &source{
		key:     key,
		adapter: true,
		retyped: true,
		build:   func() ([]byte, error) { return h.wrap(bin, true) },
		lists:   lists,
	}
}

func (h *Host) wrap(bin []byte, retype bool) ([]byte, error) {
	out, err := compose.Streams(bin, cm.WATToBinary, retype)
	if err == nil && h.wrapHook != nil {
		out = h.wrapHook(out, retype)
	}
	return out, err
}
