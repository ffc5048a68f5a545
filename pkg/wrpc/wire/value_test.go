package wire

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"
	"testing/quick"
)

// A small dynamic model of WIT types and values, for the tests only: it
// drives the Encoder and Decoder the way generated bindings would, so the
// property test and the fuzz target cover every type through the real
// primitives.
type kind uint8

const (
	kBool kind = iota
	kU8
	kS8
	kU16
	kS16
	kU32
	kS32
	kU64
	kS64
	kF32
	kF64
	kChar
	kString
	kBytes // list<u8>
	kList
	kOption
	kResult
	kTuple // tuples and records
	kVariant
	kEnum
	kFlags
	numKinds
)

type typ struct {
	k      kind
	elem   *typ   // list, option; result ok
	err    *typ   // result err
	fields []*typ // tuple/record fields; variant cases (nil = no payload)
	n      int    // enum cases, flags count
}

// Values: Go scalars for the scalars, []any for lists and tuples, and
// these for the sum types.
type (
	optionV struct{ V any } // V == nil: none
	resultV struct {
		Err bool
		V   any
	}
	variantV struct {
		Case uint32
		V    any
	}
)

type some struct{ V any } // option payload, so some(nil-valued) stays some

func encodeValue(e *Encoder, t *typ, v any) {
	switch t.k {
	case kBool:
		e.Bool(v.(bool))
	case kU8:
		e.U8(v.(uint8))
	case kS8:
		e.S8(v.(int8))
	case kU16:
		e.U16(v.(uint16))
	case kS16:
		e.S16(v.(int16))
	case kU32:
		e.U32(v.(uint32))
	case kS32:
		e.S32(v.(int32))
	case kU64:
		e.U64(v.(uint64))
	case kS64:
		e.S64(v.(int64))
	case kF32:
		e.F32(v.(float32))
	case kF64:
		e.F64(v.(float64))
	case kChar:
		e.Char(v.(rune))
	case kString:
		e.Str(v.(string))
	case kBytes:
		e.ByteList(v.([]byte))
	case kList:
		l := v.([]any)
		e.ListLen(len(l))
		for _, x := range l {
			encodeValue(e, t.elem, x)
		}
	case kOption:
		o := v.(optionV)
		e.Option(o.V != nil)
		if o.V != nil {
			encodeValue(e, t.elem, o.V.(some).V)
		}
	case kResult:
		r := v.(resultV)
		e.Result(!r.Err)
		if side := t.side(r.Err); side != nil {
			encodeValue(e, side, r.V)
		}
	case kTuple:
		for i, f := range t.fields {
			encodeValue(e, f, v.([]any)[i])
		}
	case kVariant:
		c := v.(variantV)
		e.Case(c.Case)
		if p := t.fields[c.Case]; p != nil {
			encodeValue(e, p, c.V)
		}
	case kEnum:
		e.Case(v.(uint32))
	case kFlags:
		e.Flags(t.n, v.(uint64))
	}
}

func (t *typ) side(isErr bool) *typ {
	if isErr {
		return t.err
	}
	return t.elem
}

func decodeValue(d *Decoder, t *typ) any {
	switch t.k {
	case kBool:
		return d.Bool()
	case kU8:
		return d.U8()
	case kS8:
		return d.S8()
	case kU16:
		return d.U16()
	case kS16:
		return d.S16()
	case kU32:
		return d.U32()
	case kS32:
		return d.S32()
	case kU64:
		return d.U64()
	case kS64:
		return d.S64()
	case kF32:
		return d.F32()
	case kF64:
		return d.F64()
	case kChar:
		return d.Char()
	case kString:
		return d.Str()
	case kBytes:
		return d.ByteList()
	case kList:
		n := d.ListLen()
		l := make([]any, 0, n)
		for range n {
			if d.Err() != nil {
				break
			}
			l = append(l, decodeValue(d, t.elem))
		}
		return l
	case kOption:
		if d.Option() {
			return optionV{some{decodeValue(d, t.elem)}}
		}
		return optionV{}
	case kResult:
		r := resultV{Err: !d.Result()}
		if side := t.side(r.Err); side != nil && d.Err() == nil {
			r.V = decodeValue(d, side)
		}
		return r
	case kTuple:
		l := make([]any, len(t.fields))
		for i, f := range t.fields {
			l[i] = decodeValue(d, f)
		}
		return l
	case kVariant:
		c := variantV{Case: d.Case(uint32(len(t.fields)))}
		if d.Err() == nil && t.fields[c.Case] != nil {
			c.V = decodeValue(d, t.fields[c.Case])
		}
		return c
	case kEnum:
		return d.Case(uint32(t.n))
	case kFlags:
		return d.Flags(t.n)
	}
	panic(fmt.Sprintf("kind %d", t.k))
}

// randType draws a type; depth bounds the nesting. Tuples, variants and flags
// have at least one field so no type has zero-sized values (see the
// package doc).
func randType(r *rand.Rand, depth int) *typ {
	k := kind(r.IntN(int(numKinds)))
	if depth <= 0 && k >= kList {
		k = kind(r.IntN(int(kList)))
	}
	t := &typ{k: k}
	switch k {
	case kList, kOption:
		t.elem = randType(r, depth-1)
	case kResult:
		if r.IntN(4) > 0 {
			t.elem = randType(r, depth-1)
		}
		if r.IntN(4) > 0 {
			t.err = randType(r, depth-1)
		}
	case kTuple:
		for range 1 + r.IntN(4) {
			t.fields = append(t.fields, randType(r, depth-1))
		}
	case kVariant:
		for range 1 + r.IntN(4) {
			var p *typ
			if r.IntN(3) > 0 {
				p = randType(r, depth-1)
			}
			t.fields = append(t.fields, p)
		}
	case kEnum:
		t.n = 1 + r.IntN(300)
	case kFlags:
		t.n = 1 + r.IntN(64) // flags of none encode to no bytes: a zero-sized value
	}
	return t
}

var sampleStrings = []string{"", "a", "counter_total", "spiffe://lattice/app", "é𝄞", "00f067aa0ba902b7", string(make([]byte, 200))}

func randValue(r *rand.Rand, t *typ) any {
	switch t.k {
	case kBool:
		return r.IntN(2) == 1
	case kU8:
		return uint8(r.Uint32())
	case kS8:
		return int8(r.Uint32())
	case kU16:
		return uint16(r.Uint32())
	case kS16:
		return int16(r.Uint32())
	case kU32:
		return r.Uint32() >> r.IntN(32)
	case kS32:
		return int32(r.Uint32()) >> r.IntN(32)
	case kU64:
		return r.Uint64() >> r.IntN(64)
	case kS64:
		return int64(r.Uint64()) >> r.IntN(64)
	case kF32:
		return []float32{0, -1.5, math.MaxFloat32, float32(math.Inf(-1)), r.Float32()}[r.IntN(5)]
	case kF64:
		return []float64{0, 3.25, -math.MaxFloat64, math.Inf(1), math.SmallestNonzeroFloat64, r.NormFloat64()}[r.IntN(6)]
	case kChar:
		for {
			c := rune(r.IntN(0x110000))
			if c < 0xd800 || c > 0xdfff {
				return c
			}
		}
	case kString:
		return sampleStrings[r.IntN(len(sampleStrings))]
	case kBytes:
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	case kList:
		l := make([]any, r.IntN(5))
		for i := range l {
			l[i] = randValue(r, t.elem)
		}
		return l
	case kOption:
		if r.IntN(2) == 0 {
			return optionV{}
		}
		return optionV{some{randValue(r, t.elem)}}
	case kResult:
		v := resultV{Err: r.IntN(2) == 0}
		if side := t.side(v.Err); side != nil {
			v.V = randValue(r, side)
		}
		return v
	case kTuple:
		l := make([]any, len(t.fields))
		for i, f := range t.fields {
			l[i] = randValue(r, f)
		}
		return l
	case kVariant:
		c := variantV{Case: uint32(r.IntN(len(t.fields)))}
		if p := t.fields[c.Case]; p != nil {
			c.V = randValue(r, p)
		}
		return c
	case kEnum:
		return uint32(r.IntN(t.n))
	case kFlags:
		if t.n == 0 {
			return uint64(0)
		}
		return r.Uint64() >> (64 - t.n)
	}
	panic(fmt.Sprintf("kind %d", t.k))
}

// Property: for every generated type and value, decode(encode(v)) == v and
// consumes exactly the encoding, whole or streamed in random chunks.
func TestEncodeDecodeProperty(t *testing.T) {
	t.Parallel()
	prop := func(seed1, seed2 uint64) bool {
		r := rand.New(rand.NewPCG(seed1, seed2))
		typ := randType(r, 4)
		v := randValue(r, typ)
		var e Encoder
		encodeValue(&e, typ, v)
		enc := e.Bytes()

		d := NewDecoder(enc)
		got := decodeValue(d, typ)
		if err := d.Finish(); err != nil || !reflect.DeepEqual(normalize(got), normalize(v)) {
			t.Logf("seed %d,%d: %v\n got %#v\nwant %#v", seed1, seed2, err, got, v)
			return false
		}
		rest := enc[min(len(enc), r.IntN(len(enc)+1)):]
		d = NewStreamDecoder(enc[:len(enc)-len(rest)], len(enc), func() ([]byte, error) {
			if len(rest) == 0 {
				return nil, fmt.Errorf("asked for more than the encoding")
			}
			n := 1 + r.IntN(len(rest))
			c := rest[:n]
			rest = rest[n:]
			return c, nil
		})
		got = decodeValue(d, typ)
		if err := d.Finish(); err != nil || !reflect.DeepEqual(normalize(got), normalize(v)) {
			t.Logf("seed %d,%d streamed: %v", seed1, seed2, err)
			return false
		}
		return true
	}
	if err := quick.Check(prop, &quick.Config{MaxCount: 5000}); err != nil {
		t.Error(err)
	}
}

// normalize makes DeepEqual see NaN-free floats and empty slices alike.
func normalize(v any) any {
	switch x := v.(type) {
	case []byte:
		if len(x) == 0 {
			return []byte{}
		}
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = normalize(x[i])
		}
		return out
	case optionV:
		if x.V != nil {
			return optionV{some{normalize(x.V.(some).V)}}
		}
	case resultV:
		return resultV{x.Err, normalize(x.V)}
	case variantV:
		return variantV{x.Case, normalize(x.V)}
	}
	return v
}

// A 5-byte input that claims a list of 4 GiB - 1 elements (or a string of
// that many bytes) is refused at once, before anything is sized by it.
// Not parallel: it reads the process's allocation counters.
func TestHostileLengthIsRefusedWithoutAllocating(t *testing.T) {
	in := []byte{0xff, 0xff, 0xff, 0xff, 0x0f}
	for _, typ := range []*typ{
		{k: kList, elem: &typ{k: kString}},
		{k: kString},
		{k: kBytes},
		{k: kList, elem: &typ{k: kList, elem: &typ{k: kU64}}},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		d := NewDecoder(in)
		decodeValue(d, typ)
		runtime.ReadMemStats(&after)
		if err := d.Err(); err == nil || !errorsIsTooLarge(err) {
			t.Errorf("kind %d: err = %v, want ErrTooLarge", typ.k, err)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<10 {
			t.Errorf("kind %d: decoding 5 bytes allocated %d bytes", typ.k, grew)
		}
	}
	// Streamed, the bound is the stream's limit, not the claim.
	d := NewStreamDecoder(in, 1<<20, func() ([]byte, error) { panic("must not wait for 4 GiB") })
	if d.ListLen(); !errorsIsTooLarge(d.Err()) {
		t.Errorf("streamed: err = %v, want ErrTooLarge", d.Err())
	}
	if n := testing.AllocsPerRun(100, func() { NewDecoder(in).ListLen() }); n > 4 {
		t.Errorf("refusing allocates %v times per run", n)
	}
}
