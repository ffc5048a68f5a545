package compose

import (
	"fmt"
	"sort"
)

// Retyping the guest. Between two components wasmtime 39 copies a
// list<u8> one element at a time (a loop in generated code), but a string
// of the same encoding with one memory copy. So, where it can, Streams
// also patches the nested guest: in its wasi:io/streams import type read
// and blocking-read return string where WASI has list<u8>, and its own
// lowers of them say string-encoding=latin1+utf16. A latin1 string and a
// list<u8> have the same core ABI (a pointer and a length, one byte per
// element), so the guest's core code is the same code. Its reads then
// come from the adapter as strings. What the guest's code sees is
// unchanged: the same bytes, and its realloc called as for a list<u8>
// (wasmtime allocates a latin1 copy with alignment 1 and the exact
// length).
//
// Its writes stay list<u8>: a latin1+utf16 string leaving a component must
// start at an even address (wasmtime checks, where a list<u8> may start
// anywhere), a UTF-8 one must be valid, and a host function that read the
// guest's latin1 directly converts it to UTF-8 and back a char at a time,
// with a branch per byte above 0x7f: measured in-process, random bytes
// echoed 3.3 times slower that way than through the list copy and
// packing, while ASCII text echoed 29% slower through the list copy
// (README, Numbers).
//
// Only a guest whose patch cannot reach anything else is retyped: the
// types patched are used by the adapted reads alone (and the streams
// instance type by no other import), the functions are only lowered (not
// exported or passed to a nested component), and the streams instance is
// not passed on. Otherwise the guest is nested as it is and the adapter
// serves it lists, as before.

// patch replaces n bytes at off with with.
type patch struct {
	off, n int
	with   []byte
}

// valRef is a valtype read in a type declaration: its value and where.
type valRef struct {
	v      int64
	off, n int
}

// typeDecl is one entry of an instance type's type index space.
type typeDecl struct {
	code   byte     // the deftype's first byte; 0 for an alias or an export
	vals   []valRef // the valtypes it reads, in order
	params int      // a func type's parameter count
	result bool     // a func type has one unnamed result, the last of vals
}

// u8Code is u8 as a valtype (0x7d read as s33).
const u8Code = -3

// stringType is string as a valtype.
var stringType = []byte{0x73}

// retype returns the patches that retype the guest, or an error wrapping
// ErrNotApplicable that says why it is not retyped.
func (g *guest) retype(wasm []byte) ([]patch, error) {
	ps, err := g.retypeStreams(wasm)
	if err != nil {
		return nil, err
	}
	ls, err := g.retypeLowers(wasm)
	if err != nil {
		return nil, err
	}
	return append(ps, ls...), nil
}

// retypeStreams patches the streams instance type: list<u8> becomes
// string in the results of read and blocking-read.
func (g *guest) retypeStreams(wasm []byte) ([]patch, error) {
	im := g.imports[g.streams]
	for i, other := range g.imports {
		if i != g.streams && other.sort == sortInstance && other.typ == im.typ {
			return nil, notApplicable("%s: its type is %s's too", im.name, other.name)
		}
	}
	tr := &reader{b: wasm[:g.prefix], off: g.typeOff[im.typ] + 1}
	var (
		types []typeDecl
		funcs = map[string]uint32{} // exported function: its type
		eqs   []uint32              // types exported as eq another
		cur   *[]valRef
	)
	tr.visit = func(v int64, off, n int) {
		if cur != nil {
			*cur = append(*cur, valRef{v, off, n})
		}
	}
	for range tr.count() {
		switch d := tr.byte(); d {
		case 0x01:
			td := typeDecl{code: tr.peek()}
			cur = &td.vals
			if td.code == 0x40 {
				tr.byte()
				td.params = tr.count()
				for range td.params {
					tr.name()
					tr.valType()
				}
				switch tr.byte() {
				case 0x00:
					tr.valType()
					td.result = true
				case 0x01:
					if tr.byte() != 0x00 {
						tr.fail("named results")
					}
				default:
					tr.fail("bad result list")
				}
			} else {
				tr.defType()
			}
			cur = nil
			types = append(types, td)
		case 0x02:
			if sort, _ := tr.alias(); sort == sortType {
				types = append(types, typeDecl{})
			}
		case 0x04:
			name := tr.nameAttributes()
			if tr.peek() == sortType {
				tr.byte()
				switch b := tr.byte(); b {
				case 0x00:
					eqs = append(eqs, tr.u32())
				case 0x01:
				default:
					tr.fail("unknown type bound 0x%02x", b)
				}
				types = append(types, typeDecl{})
				continue
			}
			if sort, idx := tr.externType(); sort == sortFunc {
				funcs[name] = idx
			}
		default:
			tr.fail("instance declaration 0x%02x", d)
		}
	}
	if tr.err != nil {
		return nil, notApplicable("%s: type: %v", im.name, tr.err)
	}
	at := func(v int64) *typeDecl {
		if v < 0 || v >= int64(len(types)) {
			return nil
		}
		return &types[v]
	}
	isBytes := func(v int64) bool {
		d := at(v)
		return d != nil && d.code == 0x70 && len(d.vals) == 1 && d.vals[0].v == u8Code
	}
	var (
		patched   = map[int]valRef{}    // by offset
		funcTypes = map[uint32]string{} // retyped function type: "read" or "write"
		results   = map[int64]bool{}    // retyped result types
	)
	for name, shim := range Adapted {
		ft, ok := funcs[name]
		if !ok {
			continue
		}
		d := at(int64(ft))
		if d == nil || d.code != 0x40 || d.params != 2 || !d.result || len(d.vals) != 3 {
			return nil, notApplicable("%s: %s does not have WASI 0.2's type", im.name, name)
		}
		group := "write"
		if isRead(shim) {
			group = "read"
			res := d.vals[2]
			rd := at(res.v)
			if rd == nil || rd.code != 0x6a || len(rd.vals) != 2 || !isBytes(rd.vals[0].v) {
				return nil, notApplicable("%s: %s does not return result<list<u8>, stream-error>", im.name, name)
			}
			patched[rd.vals[0].off] = rd.vals[0]
			results[res.v] = true
		} else if !isBytes(d.vals[1].v) {
			return nil, notApplicable("%s: %s does not take a list<u8>", im.name, name)
		}
		if other, ok := funcTypes[ft]; ok && other != group {
			return nil, notApplicable("%s: a read and a write share a function type", im.name)
		}
		funcTypes[ft] = group
	}
	// Nothing else may see the change.
	for name, ft := range funcs {
		if group, ok := funcTypes[ft]; ok && group == "read" && Adapted[name] == "" {
			return nil, notApplicable("%s: %s has the type of an adapted function", im.name, name)
		}
	}
	for i, d := range types {
		for _, v := range d.vals {
			if results[v.v] && funcTypes[uint32(i)] != "read" {
				return nil, notApplicable("%s: type %d uses the result type of read", im.name, i)
			}
		}
	}
	for _, e := range eqs {
		if _, ok := funcTypes[e]; ok || results[int64(e)] {
			return nil, notApplicable("%s: exports a retyped type", im.name)
		}
	}
	var out []patch
	for _, v := range patched {
		out = append(out, patch{off: v.off, n: v.n, with: stringType})
	}
	return out, nil
}

// retypeLowers patches the guest's canon lowers of the adapted reads to
// string-encoding=latin1+utf16, and checks that nothing else reaches
// them or the streams instance. It walks every top-level section, counting
// the component function and instance index spaces.
func (g *guest) retypeLowers(wasm []byte) ([]patch, error) {
	streams := g.imports[g.streams].idx
	adapted := map[uint32]bool{}
	var funcs, insts uint32
	var out []patch
	var passed error
	uses := func(sort byte, idx uint32) {
		if passed == nil && (sort == sortFunc && adapted[idx] || sort == sortInstance && idx == streams) {
			passed = notApplicable("the guest passes on its streams instance or an adapted function")
		}
	}
	r := &reader{b: wasm, off: len(preamble)}
	for !r.done() {
		id, start, sr := r.section()
		if sr == nil {
			break
		}
		parsed := true
		switch id {
		case 10:
			for range sr.count() {
				sr.nameAttributes()
				switch sort, _ := sr.externType(); sort {
				case sortFunc:
					funcs++
				case sortInstance:
					insts++
				}
			}
		case 6:
			for range sr.count() {
				switch a := sr.aliasOf(); a.sort {
				case sortFunc:
					if a.target == 0x00 && a.inst == streams && isRead(Adapted[a.name]) {
						adapted[funcs] = true
					}
					funcs++
				case sortInstance:
					insts++
				}
			}
		case 8:
			for range sr.count() {
				switch op := sr.byte(); op {
				case 0x00: // lift
					sr.sortCoreFunc()
					sr.canonOpts()
					sr.u32()
					funcs++
				case 0x01: // lower
					if sr.byte() != 0x00 {
						sr.fail("lower of a sort other than func")
					}
					f := sr.u32()
					o := sr.canonOpts()
					if adapted[f] && sr.err == nil {
						if o.async {
							return nil, notApplicable("an adapted function is lowered async")
						}
						out = append(out, o.latin1())
					}
				case 0x02, 0x03, 0x04: // resource.new, drop, rep
					sr.u32()
				default:
					return nil, notApplicable("section %d at byte %d: canon 0x%02x", id, start, op)
				}
			}
		case 5:
			for range sr.count() {
				switch b := sr.byte(); b {
				case 0x00:
					sr.u32()
					for range sr.count() {
						sr.name()
						sort, _, idx := sr.sortIdx()
						uses(sort, idx)
					}
				case 0x01:
					for range sr.count() {
						sr.nameAttributes()
						sort, _, idx := sr.sortIdx()
						uses(sort, idx)
					}
				default:
					sr.fail("instance expression 0x%02x", b)
				}
				insts++
			}
		case 11:
			for range sr.count() {
				sr.nameAttributes()
				sort, _, idx := sr.sortIdx()
				uses(sort, idx)
				sr.opt("export type", func() { sr.externType() })
				switch sort {
				case sortFunc:
					funcs++
				case sortInstance:
					insts++
				}
			}
		case 9:
			uses(sortFunc, sr.u32())
			parsed = false
		default:
			parsed = false
		}
		if sr.err != nil {
			return nil, notApplicable("section %d at byte %d: %v", id, start, sr.err)
		}
		if parsed && sr.off != r.off {
			return nil, notApplicable("section %d at byte %d: %d bytes left over", id, start, r.off-sr.off)
		}
		if passed != nil {
			return nil, passed
		}
	}
	if r.err != nil {
		return nil, notApplicable("%v", r.err)
	}
	return out, nil
}

// sortCoreFunc reads the 0x00 (func) before a lift's core function index
// and the index.
func (r *reader) sortCoreFunc() {
	if r.byte() != 0x00 {
		r.fail("lift of a core sort other than func")
	}
	r.u32()
}

// canonOptions is where a canon's options are and what they say.
type canonOptions struct {
	countOff, countLen int // the vector's length
	count              uint32
	encodingOff        int // the string-encoding option, or -1
	async              bool
}

// canonOpts reads a canon's options (Binary.md: canonopt).
func (r *reader) canonOpts() canonOptions {
	o := canonOptions{countOff: r.off, encodingOff: -1}
	n := r.count()
	o.count, o.countLen = uint32(n), r.off-o.countOff
	for range n {
		switch b := r.byte(); b {
		case 0x00, 0x01, 0x02:
			o.encodingOff = r.off - 1
		case 0x03, 0x04, 0x05, 0x07:
			r.u32()
		case 0x06:
			o.async = true
		default:
			r.fail("unknown canon option 0x%02x", b)
		}
	}
	return o
}

// latin1 is the patch that makes o say string-encoding=latin1+utf16: the
// option replaced, or added after the vector's length.
func (o canonOptions) latin1() patch {
	if o.encodingOff >= 0 {
		return patch{off: o.encodingOff, n: 1, with: []byte{0x02}}
	}
	var w writer
	w.u32(o.count + 1)
	w.byte(0x02)
	return patch{off: o.countOff, n: o.countLen, with: w.b}
}

// apply returns wasm with the patches made (none may overlap, and each
// lies in one top-level section), re-encoding the size of every section
// that changed.
func apply(wasm []byte, ps []patch) ([]byte, error) {
	ps = append([]patch(nil), ps...)
	sort.Slice(ps, func(i, j int) bool { return ps[i].off < ps[j].off })
	for i := 1; i < len(ps); i++ {
		if ps[i-1].off+ps[i-1].n > ps[i].off {
			return nil, fmt.Errorf("compose: patches at %d and %d overlap", ps[i-1].off, ps[i].off)
		}
	}
	out := make([]byte, 0, len(wasm)+64)
	out = append(out, wasm[:len(preamble)]...)
	r := &reader{b: wasm, off: len(preamble)}
	i := 0
	for !r.done() {
		id, _, sr := r.section()
		if sr == nil {
			return nil, fmt.Errorf("compose: %w", r.err)
		}
		from := sr.off
		body := wasm[from:r.off]
		if i < len(ps) && ps[i].off < r.off {
			var nb []byte
			pos := from
			for ; i < len(ps) && ps[i].off < r.off; i++ {
				if ps[i].off < from || ps[i].off+ps[i].n > r.off {
					return nil, fmt.Errorf("compose: patch at %d crosses a section", ps[i].off)
				}
				nb = append(append(nb, wasm[pos:ps[i].off]...), ps[i].with...)
				pos = ps[i].off + ps[i].n
			}
			body = append(nb, wasm[pos:r.off]...)
		}
		w := writer{b: out}
		w.byte(id)
		w.u32(uint32(len(body)))
		out = append(w.b, body...)
	}
	if i != len(ps) {
		return nil, fmt.Errorf("compose: patch at %d is past the last section", ps[i].off)
	}
	return out, nil
}
