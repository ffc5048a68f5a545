package compose

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// reader decodes the component binary format (design/mvp/Binary.md of
// the component model): LEB128 numbers, names, and the type grammar, far
// enough to step over every type definition and to list an instance
// type's exports. Every read is bounds-checked; the first error sticks.
type reader struct {
	b     []byte
	off   int
	err   error
	depth int // nesting of component and instance types
	// visit, when set, sees every valtype read: its value and where.
	visit func(v int64, off, n int)
}

var errShort = errors.New("unexpected end")

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("byte %d: "+format, append([]any{r.off}, args...)...)
	}
}

func (r *reader) done() bool { return r.err != nil || r.off >= len(r.b) }

// section reads the next top-level section's header: its id, where it
// starts, and a reader over its body (nil when the section is cut short).
func (r *reader) section() (id byte, start int, sr *reader) {
	start = r.off
	id = r.byte()
	body := r.bytes(r.u32())
	if r.err != nil {
		return id, start, nil
	}
	return id, start, &reader{b: r.b[:r.off], off: r.off - len(body)}
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.fail("%v", errShort)
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *reader) peek() byte {
	if r.err != nil || r.off >= len(r.b) {
		r.fail("%v", errShort)
		return 0
	}
	return r.b[r.off]
}

// u32 reads an unsigned LEB128 of at most 5 bytes.
func (r *reader) u32() uint32 {
	var v uint64
	for i := 0; i < 5; i++ {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			if v > 0xffffffff {
				r.fail("u32 out of range")
				return 0
			}
			return uint32(v)
		}
	}
	r.fail("u32 longer than 5 bytes")
	return 0
}

// s33 reads a signed LEB128 of at most 5 bytes (a valtype: negative is a
// primitive type code, non-negative a type index).
func (r *reader) s33() int64 {
	var v int64
	var shift uint
	for i := 0; i < 5; i++ {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if c&0x40 != 0 {
				v |= -1 << shift
			}
			return v
		}
	}
	r.fail("s33 longer than 5 bytes")
	return 0
}

func (r *reader) bytes(n uint32) []byte {
	if r.err != nil {
		return nil
	}
	if uint64(n) > uint64(len(r.b)-r.off) {
		r.fail("%v (%d bytes wanted, %d left)", errShort, n, len(r.b)-r.off)
		return nil
	}
	p := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return p
}

func (r *reader) name() string {
	p := r.bytes(r.u32())
	if r.err == nil && !utf8.Valid(p) {
		r.fail("name is not UTF-8")
	}
	return string(p)
}

// count reads a vector length, refusing one that could not fit in what is
// left (every element takes at least one byte).
func (r *reader) count() int {
	n := r.u32()
	if r.err == nil && uint64(n) > uint64(len(r.b)-r.off) {
		r.fail("vector of %d elements in %d bytes", n, len(r.b)-r.off)
		return 0
	}
	return int(n)
}

// Sorts of the component level (Binary.md: sort, externtype).
const (
	sortCore      = 0x00
	sortFunc      = 0x01
	sortValue     = 0x02
	sortType      = 0x03
	sortComponent = 0x04
	sortInstance  = 0x05
)

// Core sorts (core:sort) used here.
const (
	coreFunc     = 0x00
	coreMemory   = 0x02
	coreModule   = 0x11
	coreInstance = 0x12
)

// nameAttributes reads an import's or export's name and steps over its
// attributes (implements, versionsuffix, external-id).
func (r *reader) nameAttributes() string {
	switch tag := r.byte(); tag {
	case 0x00, 0x01:
		return r.name()
	case 0x02:
		n := r.name()
		for range r.count() {
			switch a := r.byte(); a {
			case 0x00, 0x01, 0x02:
				r.name()
			default:
				r.fail("unknown name attribute 0x%02x", a)
			}
		}
		return n
	default:
		r.fail("unknown name encoding 0x%02x", tag)
		return ""
	}
}

// externType reads an externtype and returns its sort (core module as
// sortCore) and, for func, component and instance, its type index.
func (r *reader) externType() (sort byte, idx uint32) {
	switch sort = r.byte(); sort {
	case sortCore:
		if r.byte() != coreModule {
			r.fail("core extern type other than module")
		}
		return sort, r.u32()
	case sortFunc, sortComponent, sortInstance:
		return sort, r.u32()
	case sortValue:
		switch b := r.byte(); b {
		case 0x00:
			r.u32()
		case 0x01:
			r.valType()
		default:
			r.fail("unknown value bound 0x%02x", b)
		}
		return sort, 0
	case sortType:
		switch b := r.byte(); b {
		case 0x00:
			return sort, r.u32()
		case 0x01: // sub resource
			return sort, 0
		default:
			r.fail("unknown type bound 0x%02x", b)
		}
		return sort, 0
	default:
		r.fail("unknown extern sort 0x%02x", sort)
		return 0, 0
	}
}

// isPrim reports whether c is a primitive value type's code.
func isPrim(c int64) bool { return c == -0x1c /* 0x64 error-context */ || (c >= -0x0d && c <= -0x01) }

func (r *reader) valType() {
	off := r.off
	v := r.s33()
	if v < 0 && !isPrim(v) {
		r.fail("unknown value type code %d", v)
	}
	if r.visit != nil && r.err == nil {
		r.visit(v, off, r.off-off)
	}
}

// opt reads the binary format's T? (0x00, or 0x01 then T with read).
func (r *reader) opt(what string, read func()) {
	switch b := r.byte(); b {
	case 0x00:
	case 0x01:
		read()
	default:
		r.fail("bad %s option tag 0x%02x", what, b)
	}
}

func (r *reader) optValType() { r.opt("value type", r.valType) }

// defType steps over one deftype (Binary.md: type).
func (r *reader) defType() {
	if r.depth++; r.depth > maxNesting {
		r.fail("types nested deeper than %d", maxNesting)
	}
	defer func() { r.depth-- }()
	c := r.byte()
	switch {
	case c >= 0x73 && c <= 0x7f, c == 0x64: // primitive
	case c == 0x72: // record
		for range r.count() {
			r.name()
			r.valType()
		}
	case c == 0x71: // variant
		for range r.count() {
			r.name()
			r.optValType()
			if r.byte() != 0x00 {
				r.fail("variant case refinement is not supported")
			}
		}
	case c == 0x70, c == 0x6b: // list, option
		r.valType()
	case c == 0x67: // fixed-size list
		r.valType()
		r.u32()
	case c == 0x6f: // tuple
		for range r.count() {
			r.valType()
		}
	case c == 0x6e, c == 0x6d: // flags, enum
		for range r.count() {
			r.name()
		}
	case c == 0x6a: // result
		r.optValType()
		r.optValType()
	case c == 0x69, c == 0x68: // own, borrow
		r.u32()
	case c == 0x66, c == 0x65: // stream, future
		r.optValType()
	case c == 0x63: // map
		r.valType()
		r.valType()
	case c == 0x40, c == 0x43: // func
		for range r.count() {
			r.name()
			r.valType()
		}
		switch b := r.byte(); b {
		case 0x00:
			r.valType()
		case 0x01:
			if r.byte() != 0x00 {
				r.fail("named results are not supported")
			}
		default:
			r.fail("bad result list 0x%02x", b)
		}
	case c == 0x41: // component type
		for range r.count() {
			if r.peek() == 0x03 {
				r.byte()
				r.nameAttributes()
				r.externType()
				continue
			}
			r.instanceDecl(nil)
		}
	case c == 0x42: // instance type
		for range r.count() {
			r.instanceDecl(nil)
		}
	case c == 0x3f: // resource
		if rep := r.byte(); rep != 0x7f {
			r.fail("resource representation 0x%02x, want i32", rep)
		}
		r.opt("resource destructor", func() { r.u32() })
	default:
		r.fail("unknown type code 0x%02x", c)
	}
}

// export is one export of an instance type, or of a component.
type export struct {
	name string
	sort byte
}

// instanceDecl steps over one instancedecl, adding an exportdecl to out.
func (r *reader) instanceDecl(out *[]export) {
	switch d := r.byte(); d {
	case 0x00:
		r.fail("core types in instance types are not supported")
	case 0x01:
		r.defType()
	case 0x02:
		r.alias()
	case 0x04:
		n := r.nameAttributes()
		s, _ := r.externType()
		if out != nil && r.err == nil {
			*out = append(*out, export{name: n, sort: s})
		}
	default:
		r.fail("unknown instance declaration 0x%02x", d)
	}
}

// alias steps over an alias and returns its sort (a core sort as
// sortCore, with the core sort in core).
func (r *reader) alias() (sort, core byte) {
	a := r.aliasOf()
	return a.sort, a.core
}

// aliasInfo is one alias: its sort and its target (0x00 an export of a
// component instance, 0x01 of a core instance, 0x02 outer).
type aliasInfo struct {
	sort, core, target byte
	inst               uint32 // the instance, or the outer count
	name               string // the export's name
}

func (r *reader) aliasOf() (a aliasInfo) {
	a.sort = r.byte()
	if a.sort == sortCore {
		a.core = r.byte()
	} else if a.sort > sortInstance {
		r.fail("unknown alias sort 0x%02x", a.sort)
	}
	switch a.target = r.byte(); a.target {
	case 0x00, 0x01:
		a.inst = r.u32()
		a.name = r.name()
	case 0x02:
		a.inst = r.u32()
		r.u32()
	default:
		r.fail("unknown alias target 0x%02x", a.target)
	}
	return a
}

// sortIdx reads a sortidx (a core sort as sortCore, with the core sort in
// core).
func (r *reader) sortIdx() (sort, core byte, idx uint32) {
	sort = r.byte()
	if sort == sortCore {
		core = r.byte()
	} else if sort > sortInstance {
		r.fail("unknown sort 0x%02x", sort)
	}
	return sort, core, r.u32()
}
