// Package compose wraps a component so that the bytes of its
// wasi:io/streams calls cross into the host in bulk.
//
// wasmtime 39's component C API has no byte list: a list<u8> crosses it as
// one value per byte, but a string crosses whole. Streams wraps a
// component (the guest) in an outer component that imports what the guest
// imports plus Interface, whose functions take and return the bytes as
// UTF-8 strings: as they are, or packed 7 bits a char (pack.go). Inside
// the outer
// component a small adapter (two core modules, MemoryWAT and ShimWAT)
// implements the guest's `[method]output-stream.write`,
// `blocking-write-and-flush`, `[method]input-stream.read` and
// `blocking-read` by calling Interface;
// every other wasi:io/streams function, and every other import, reaches
// the guest unchanged. Between the adapter and the host a string is one
// buffer: the per-byte values of the C API are gone.
//
// The guest is nested inside the outer component. Where it can (retype.go)
// Streams patches the guest's types so that its lowers of the two reads
// return latin1 strings (the same core ABI as a list<u8>), which wasmtime
// copies whole between components, where it copies a list<u8> element by
// element; its writes reach the adapter as lists. Otherwise the guest is
// nested unmodified and the adapter serves it lists both ways. Either
// way its code sees the same bytes from the same resources (the adapter
// re-exports the host's resource types, it defines none). Its
// wasi:io/streams instance comes from a generated re-exporter component:
// the component model names the resource of a [method] function only
// through a component's own imports and exports, so an instance made of
// exports cannot carry them.
//
// Streams only wraps the layout wit-component writes (componentize-js,
// cargo-component, jco, wasm-tools): every import before the first core
// module. Anything else is returned as ErrNotApplicable, and the caller
// loads the component as it is.
package compose

import (
	_ "embed"
	"errors"
	"fmt"
	"strings"
)

// Interface is the host interface the adapter calls: write(self:
// borrow<output-stream>, contents: string, packed: bool) -> result<_,
// stream-error> and the same for blocking-write-and-flush, whose contents
// WriteBytes reads, and read(self: borrow<input-stream>, len: u64) ->
// result<string, stream-error> and the same for blocking-read, whose
// string is ReadString's: the bytes, plain or packed, and a tag.
const Interface = "wasmcanvas:bulk/streams@0.2.0"

// MemoryWAT is the adapter's memory and allocator; ShimWAT calls
// Interface for the guest. Streams has its Encoder turn them, and the
// re-exporter it generates, into binary.
var (
	//go:embed memory.wat
	MemoryWAT []byte
	//go:embed shim.wat
	ShimWAT []byte
)

// Adapted maps the wasi:io/streams functions the adapter serves to the
// names of their Interface functions (and of the shim's exports).
var Adapted = map[string]string{
	"[method]output-stream.write":                    "write",
	"[method]output-stream.blocking-write-and-flush": "blocking-write-and-flush",
	"[method]input-stream.read":                      "read",
	"[method]input-stream.blocking-read":             "blocking-read",
}

// shimOrder is the order of the shim's functions everywhere below.
var shimOrder = []string{"write", "blocking-write-and-flush", "read", "blocking-read"}

// isRead says whether the shim's function n is a read.
func isRead(n string) bool { return n == "read" || n == "blocking-read" }

// ErrNotApplicable says why a component is loaded as it is.
var ErrNotApplicable = errors.New("not wrapped")

const streamsPrefix = "wasi:io/streams@0.2."

var preamble = []byte{0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00}

// maxNesting bounds how deep type definitions may nest before the
// decoder gives up (a hostile artefact could nest them very deep).
const maxNesting = 64

// imported is one import of the guest.
type imported struct {
	name string
	sort byte
	idx  uint32 // in its index space
	typ  uint32 // its type index (instance imports)
}

// guest is what Streams reads of the guest.
type guest struct {
	prefix     int // end of the leading type, import and alias sections
	types      uint32
	funcs      uint32
	instances  uint32
	typeOff    map[uint32]int // a type section entry's offset, by type index
	imports    []imported
	exports    []export
	streams    int      // index in imports
	streamsAPI []export // the streams instance type's exports
}

// Version names what Streams writes: compiled code is cached under the
// artefact's hash, this and whether the guest was retyped, so whatever
// changes the output of Streams for the same input and retype flag (the
// adapter's WAT, the re-exporter, the outer component's layout) must
// change it. The runtime's tests pin the output
// for a known component.
const Version = "6"

// Check says, from one reading of wasm, whether and how Streams would wrap
// it. err is nil, or wraps ErrNotApplicable and says why it would not wrap
// it. When it would, noRetype is nil when it would also retype the guest
// (retype.go), or wraps ErrNotApplicable and says why not.
func Check(wasm []byte) (noRetype, err error) {
	g, err := read(wasm)
	if err != nil {
		return nil, err
	}
	if _, err = reexporter(g.streamsAPI, false); err != nil {
		return nil, err
	}
	_, noRetype = g.retype(wasm)
	return noRetype, nil
}

// Encoder turns WebAssembly text into its binary form (the runtime's is
// wasmtime's).
type Encoder func(wat []byte) ([]byte, error)

// Streams returns wasm wrapped as the package doc says, or an error
// wrapping ErrNotApplicable that says why it is not. With retype the
// guest is retyped where Check says it can be; without, it is nested as
// it is and the adapter serves it lists (what a host falls back to should
// wasmtime refuse a retyped guest).
func Streams(wasm []byte, encode Encoder, retype bool) ([]byte, error) {
	g, err := read(wasm)
	if err != nil {
		return nil, err
	}
	inner := wasm
	retyped := false
	if retype {
		if patches, rerr := g.retype(wasm); rerr == nil {
			if inner, err = apply(wasm, patches); err != nil {
				return nil, err
			}
			retyped = true
		}
	}
	rx, err := reexporter(g.streamsAPI, retyped)
	if err != nil {
		return nil, err
	}
	var mods [3][]byte
	for i, wat := range [][]byte{MemoryWAT, ShimWAT, rx} {
		if mods[i], err = encode(wat); err != nil {
			return nil, fmt.Errorf("compose: encode the adapter: %w", err)
		}
	}
	return g.wrap(wasm, inner, retyped, mods[0], mods[1], mods[2]), nil
}

// hasType reports whether the streams instance exports the type name.
func (g *guest) hasType(name string) bool {
	for _, e := range g.streamsAPI {
		if e.name == name && e.sort == sortType {
			return true
		}
	}
	return false
}

func notApplicable(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrNotApplicable}, args...)...)
}

// read finds the guest's imports, exports and the streams instance type.
func read(wasm []byte) (*guest, error) {
	if len(wasm) < len(preamble) || string(wasm[:len(preamble)]) != string(preamble) {
		return nil, notApplicable("not a component binary")
	}
	g := &guest{typeOff: map[uint32]int{}, streams: -1}
	r := &reader{b: wasm, off: len(preamble)}
	inPrefix := true
	for !r.done() {
		id, start, sr := r.section()
		if sr == nil {
			break
		}
		switch {
		case id == 0: // custom
		case inPrefix && id == 7:
			for range sr.count() {
				g.typeOff[g.types] = sr.off
				g.types++
				sr.defType()
			}
		case inPrefix && id == 10:
			for range sr.count() {
				name := sr.nameAttributes()
				sort, typ := sr.externType()
				im := imported{name: name, sort: sort, typ: typ}
				switch sort {
				case sortType:
					im.idx = g.types
					g.types++
				case sortFunc:
					im.idx = g.funcs
					g.funcs++
				case sortInstance:
					im.idx = g.instances
					g.instances++
				default:
					sr.fail("import %q: a %s import is not wrapped", name, sortName(sort))
				}
				g.imports = append(g.imports, im)
			}
		case inPrefix && id == 6:
			for range sr.count() {
				switch sort, _ := sr.alias(); sort {
				case sortType:
					g.types++
				case sortFunc:
					g.funcs++
				case sortInstance:
					g.instances++
				default:
					sr.fail("a %s alias before the first module is not wrapped", sortName(sort))
				}
			}
		case id == 10:
			return nil, notApplicable("an import section after the first module or component")
		default:
			if inPrefix {
				inPrefix = false
				g.prefix = start
			}
			if id == 11 {
				for range sr.count() {
					name := sr.nameAttributes()
					sort := sr.byte()
					if sort == sortCore {
						sr.byte()
					}
					sr.u32()
					sr.opt("export type", func() { sr.externType() })
					g.exports = append(g.exports, export{name: name, sort: sort})
				}
			}
		}
		if sr.err != nil {
			return nil, notApplicable("section %d at byte %d: %v", id, start, sr.err)
		}
		if parsed := id == 11 || (inPrefix && (id == 6 || id == 7 || id == 10)); parsed && sr.off != r.off {
			return nil, notApplicable("section %d at byte %d: %d bytes left over", id, start, r.off-sr.off)
		}
	}
	if r.err != nil {
		return nil, notApplicable("%v", r.err)
	}
	if inPrefix {
		return nil, notApplicable("no module or component after the imports")
	}
	for i, im := range g.imports {
		switch {
		case im.name == Interface:
			return nil, notApplicable("already imports %s", Interface)
		case strings.HasPrefix(im.name, streamsPrefix) && im.sort == sortInstance:
			g.streams = i
		}
	}
	if g.streams < 0 {
		return nil, notApplicable("no wasi:io/streams@0.2 import")
	}
	im := g.imports[g.streams]
	off, ok := g.typeOff[im.typ]
	if !ok || wasm[off] != 0x42 {
		return nil, notApplicable("%s: its type is not an instance type defined before it", im.name)
	}
	tr := &reader{b: wasm[:g.prefix], off: off + 1}
	for range tr.count() {
		tr.instanceDecl(&g.streamsAPI)
	}
	if tr.err != nil {
		return nil, notApplicable("%s: type: %v", im.name, tr.err)
	}
	have := map[string]byte{}
	for _, e := range g.streamsAPI {
		have[e.name] = e.sort
	}
	for _, t := range []string{"input-stream", "output-stream", "stream-error"} {
		if have[t] != sortType {
			return nil, notApplicable("%s exports no type %s", im.name, t)
		}
	}
	n := 0
	for f := range Adapted {
		if have[f] == sortFunc {
			n++
		}
	}
	if n == 0 {
		return nil, notApplicable("%s: the guest uses none of the functions the adapter serves", im.name)
	}
	for _, e := range g.streamsAPI {
		if e.sort != sortFunc && e.sort != sortType {
			return nil, notApplicable("%s exports a %s, %s", im.name, sortName(e.sort), e.name)
		}
	}
	if len(g.exports) == 0 {
		return nil, notApplicable("the component exports nothing")
	}
	for _, e := range g.exports {
		if e.sort != sortFunc && e.sort != sortType && e.sort != sortInstance {
			return nil, notApplicable("export %s is a %s", e.name, sortName(e.sort))
		}
	}
	return g, nil
}

func sortName(s byte) string {
	switch s {
	case sortCore:
		return "core"
	case sortFunc:
		return "func"
	case sortValue:
		return "value"
	case sortType:
		return "type"
	case sortComponent:
		return "component"
	case sortInstance:
		return "instance"
	}
	return fmt.Sprintf("sort 0x%02x", s)
}
