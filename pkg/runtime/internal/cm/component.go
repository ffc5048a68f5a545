package cm

/*
#include "cm.h"
*/
import "C"

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync/atomic"
	"unsafe"
)

// Component is a compiled component.
//
// # Notes
//
//   - Safe for concurrent use by many stores. Close once, after every
//     instance made from it is gone.
type Component struct {
	ptr *C.wasmtime_component_t
	eng *Engine
}

// ErrCompile marks wasmtime's refusal to compile the bytes given. The text
// after it is wasmtime's and may quote the input (its WAT parser echoes
// the line it stopped at): who compiles bytes it must not disclose shows
// its own words when errors.Is(err, ErrCompile).
var ErrCompile = errors.New("compile component")

// Compile compiles a component from binary or WAT text.
func Compile(e *Engine, src []byte) (*Component, error) {
	if len(src) == 0 {
		return nil, fmt.Errorf("%w: empty input (give a component binary or its WAT text)", ErrCompile)
	}
	var out *C.wasmtime_component_t
	err := takeError(C.wasmtime_component_new(e.ptr, (*C.uint8_t)(unsafe.Pointer(&src[0])), C.size_t(len(src)), &out))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCompile, err)
	}
	return &Component{ptr: out, eng: e}, nil
}

// Engine is the engine that compiled c (its code runs only in stores of
// that engine).
func (c *Component) Engine() *Engine { return c.eng }

// Serialize returns the compiled code, loadable by Deserialize on an engine
// of the same configuration and wasmtime version.
func (c *Component) Serialize() ([]byte, error) {
	var v C.wasm_byte_vec_t
	if err := takeError(C.wasmtime_component_serialize(c.ptr, &v)); err != nil {
		return nil, fmt.Errorf("serialize component: %w", err)
	}
	defer C.wasm_byte_vec_delete(&v)
	return C.GoBytes(unsafe.Pointer(v.data), C.int(v.size)), nil
}

// deserialize loads precompiled code. wasmtime trusts its contents, so it
// is only called on bytes whose checksum proves this host wrote them.
func deserialize(e *Engine, code []byte) (*Component, error) {
	var out *C.wasmtime_component_t
	if err := takeError(C.wasmtime_component_deserialize(e.ptr, (*C.uint8_t)(unsafe.Pointer(&code[0])), C.size_t(len(code)), &out)); err != nil {
		return nil, fmt.Errorf("load precompiled component: %w", err)
	}
	return &Component{ptr: out, eng: e}, nil
}

// A cache entry is the serialized code, its CRC-32C (little-endian) and
// cacheMagic, so a torn or foreign file never reaches wasmtime's
// deserializer (which would crash the process on garbage). The checksum
// guards against accidents, not against a writer: only this host writes
// there (Config.CacheDir). CRC-32C, in hardware, checks 50 MB of code in
// ~2 ms where sha256 took ~28 ms of every warm load.
const cacheMagic = "WCC1"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// cacheTrailer is what follows code in its cache entry.
func cacheTrailer(code []byte) []byte {
	return append(binary.LittleEndian.AppendUint32(nil, crc32.Checksum(code, castagnoli)), cacheMagic...)
}

// readCache returns the code of a cache entry, or false when the entry is
// absent, torn or not one.
func readCache(path string) ([]byte, bool) {
	b, err := os.ReadFile(path)
	n := len(b) - 4 - len(cacheMagic)
	if err != nil || n <= 0 {
		return nil, false
	}
	code := b[:n]
	return code, bytes.Equal(b[n:], cacheTrailer(code))
}

// CacheKey names the compiled form of src for engine e: sha256 of the bytes
// plus the hash of the engine settings and wasmtime version.
func CacheKey(e *Engine, src []byte) string {
	sum := sha256.Sum256(src)
	return hex.EncodeToString(sum[:]) + "-" + e.cfg.hash()
}

// LoadCached loads the compiled code named key (CacheKey, or a key derived
// from it) from dir when an earlier run compiled it; ok is false otherwise
// (and with an empty dir).
func LoadCached(e *Engine, key, dir string) (c *Component, ok bool) {
	if dir == "" {
		return nil, false
	}
	code, ok := readCache(filepath.Join(dir, key+".cwasm"))
	if !ok {
		return nil, false
	}
	c, err := deserialize(e, code)
	return c, err == nil
}

// CompileCached loads the compiled code named key from dir when an earlier
// run compiled it, or else compiles the bytes src returns (called only
// then) and stores them under key. key must name what src returns for this
// engine (CacheKey). An empty dir disables the cache. hit reports whether
// the cache answered.
func CompileCached(e *Engine, key string, src func() ([]byte, error), dir string) (c *Component, hit bool, err error) {
	// A stale or unreadable entry is recompiled and replaced.
	if c, ok := LoadCached(e, key, dir); ok {
		return c, true, nil
	}
	b, err := src()
	if err != nil {
		return nil, false, err
	}
	if c, err = Compile(e, b); err != nil || dir == "" {
		return c, false, err
	}
	if err := writeCache(c, dir, filepath.Join(dir, key+".cwasm")); err != nil {
		c.Close()
		return nil, false, err
	}
	return c, false, nil
}

func writeCache(c *Component, dir, path string) error {
	code, err := c.Serialize()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("compile cache: create %s: %w (set a writable cache directory)", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("compile cache: %w", err)
	}
	_, werr := tmp.Write(append(code, cacheTrailer(code)...))
	cerr := tmp.Close()
	if werr != nil || cerr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("compile cache: write %s: %w", tmp.Name(), errors.Join(werr, cerr))
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("compile cache: %w", err)
	}
	return nil
}

// Imports lists the names the component imports (for example
// "wasi:http/types@0.2.6").
func (c *Component) Imports() []string {
	ty := C.wasmtime_component_type(c.ptr)
	defer C.wasmtime_component_type_delete(ty)
	n := int(C.wasmtime_component_type_import_count(ty, c.eng.ptr))
	names := make([]string, 0, n)
	for i := 0; i < n; i++ {
		var name *C.char
		var nameLen C.size_t
		var item C.wasmtime_component_item_t
		if C.wasmtime_component_type_import_nth(ty, c.eng.ptr, C.size_t(i), &name, &nameLen, &item) {
			names = append(names, C.GoStringN(name, C.int(nameLen)))
			C.wasmtime_component_item_delete(&item)
		}
	}
	return names
}

// ExportIndex is a resolved export path, reusable across instances of its
// component.
type ExportIndex struct {
	ptr *C.wasmtime_component_export_index_t
	// nresults caches the result count of the function it names (its type
	// is the same in every instance): -1 until the first Instance.Func.
	nresults atomic.Int32
}

// results returns the result count of fn, the function x names,
// asking wasmtime for its type only the first time.
func (x *ExportIndex) results(fn *C.wasmtime_component_func_t, ctx *C.wasmtime_context_t) int {
	if n := x.nresults.Load(); n >= 0 {
		return int(n)
	}
	ty := C.wasmtime_component_func_type(fn, ctx)
	defer C.wasmtime_component_func_type_delete(ty)
	var rt C.wasmtime_component_valtype_t
	n := int32(0)
	if C.wasmtime_component_func_type_result(ty, &rt) {
		n = 1
		C.wasmtime_component_valtype_delete(&rt)
	}
	x.nresults.Store(n)
	return int(n)
}

// Export resolves an export path such as
// ("wasi:http/incoming-handler@0.2.6", "handle").
func (c *Component) Export(path ...string) (*ExportIndex, error) {
	var cur *C.wasmtime_component_export_index_t
	for i, name := range path {
		cs := C.CString(name)
		next := C.wasmtime_component_get_export_index(c.ptr, cur, cs, C.size_t(len(name)))
		C.free(unsafe.Pointer(cs))
		if cur != nil {
			C.wasmtime_component_export_index_delete(cur)
		}
		if next == nil {
			return nil, fmt.Errorf("component has no export %q (looked up %q of path %q)", name, path[:i+1], path)
		}
		cur = next
	}
	if cur == nil {
		return nil, errors.New("empty export path")
	}
	x := &ExportIndex{ptr: cur}
	x.nresults.Store(-1)
	return x, nil
}

// Close frees the index.
func (x *ExportIndex) Close() error {
	if x.ptr != nil {
		C.wasmtime_component_export_index_delete(x.ptr)
		x.ptr = nil
	}
	return nil
}

// Close frees the component.
func (c *Component) Close() error {
	if c.ptr != nil {
		C.wasmtime_component_delete(c.ptr)
		c.ptr = nil
	}
	return nil
}

// Exports lists the names the component exports at its top level.
func (c *Component) Exports() []string {
	ty := C.wasmtime_component_type(c.ptr)
	defer C.wasmtime_component_type_delete(ty)
	n := int(C.wasmtime_component_type_export_count(ty, c.eng.ptr))
	names := make([]string, 0, n)
	for i := 0; i < n; i++ {
		var name *C.char
		var nameLen C.size_t
		var item C.wasmtime_component_item_t
		if C.wasmtime_component_type_export_nth(ty, c.eng.ptr, C.size_t(i), &name, &nameLen, &item) {
			names = append(names, C.GoStringN(name, C.int(nameLen)))
			C.wasmtime_component_item_delete(&item)
		}
	}
	return names
}
