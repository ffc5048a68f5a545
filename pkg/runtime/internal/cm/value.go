package cm

/*
#include "cm.h"
*/
import "C"

import (
	"fmt"
	"math"
	"sync"
	"unsafe"
)

// Value is a component-model value. Its dynamic type is one of: bool, int8,
// uint8, int16, uint16, int32, uint32, int64, uint64, float32, float64,
// Char, string, List, []byte, Record, Tuple, Variant, Enum, Option, Result,
// Flags, Resource. A non-empty list<u8> always arrives as []byte (bodies
// would otherwise box every byte); an empty list arrives as List(nil).
type Value = any

// Char is a Unicode scalar value (WIT char), distinct from u32.
type Char rune

// List is a WIT list.
type List []Value

// Field is one named field of a Record.
type Field struct {
	Name  string
	Value Value
}

// Record is a WIT record, fields in declaration order.
type Record []Field

// Tuple is a WIT tuple.
type Tuple []Value

// Variant is a WIT variant case; Value is nil for a case without payload.
type Variant struct {
	Case  string
	Value Value
}

// Enum is a WIT enum case name.
type Enum string

// Option is a WIT option: Value nil means none (a WIT option's payload
// always has a type, so nil is never a valid some).
type Option struct{ Value Value }

// Result is a WIT result; Value is nil when that side has no payload.
type Result struct {
	Err   bool
	Value Value
}

// Flags is the set of WIT flag names that are on.
type Flags []string

// Resource is a handle to a host-defined resource: Type is the id given to
// LinkerInstance.Resource, Rep the host's own number for the object. Own is
// false for borrow<T> arguments a host function receives; values the host
// sends must be owned.
type Resource struct {
	Type uint32
	Rep  uint32
	Own  bool
}

const (
	kBool     = C.WASMTIME_COMPONENT_BOOL
	kS8       = C.WASMTIME_COMPONENT_S8
	kU8       = C.WASMTIME_COMPONENT_U8
	kS16      = C.WASMTIME_COMPONENT_S16
	kU16      = C.WASMTIME_COMPONENT_U16
	kS32      = C.WASMTIME_COMPONENT_S32
	kU32      = C.WASMTIME_COMPONENT_U32
	kS64      = C.WASMTIME_COMPONENT_S64
	kU64      = C.WASMTIME_COMPONENT_U64
	kF32      = C.WASMTIME_COMPONENT_F32
	kF64      = C.WASMTIME_COMPONENT_F64
	kChar     = C.WASMTIME_COMPONENT_CHAR
	kString   = C.WASMTIME_COMPONENT_STRING
	kList     = C.WASMTIME_COMPONENT_LIST
	kRecord   = C.WASMTIME_COMPONENT_RECORD
	kTuple    = C.WASMTIME_COMPONENT_TUPLE
	kVariant  = C.WASMTIME_COMPONENT_VARIANT
	kEnum     = C.WASMTIME_COMPONENT_ENUM
	kOption   = C.WASMTIME_COMPONENT_OPTION
	kResult   = C.WASMTIME_COMPONENT_RESULT
	kFlags    = C.WASMTIME_COMPONENT_FLAGS
	kResource = C.WASMTIME_COMPONENT_RESOURCE
	// kHostResourceMarker is CM_KIND_HOST_RESOURCE (cm.h).
	kHostResourceMarker = C.CM_KIND_HOST_RESOURCE
)

func of[T any](v *C.wasmtime_component_val_t) *T { return (*T)(unsafe.Pointer(&v.of)) }

// vals views n C values starting at p.
func vals(p *C.wasmtime_component_val_t, n C.size_t) []C.wasmtime_component_val_t {
	if n == 0 || p == nil {
		return nil
	}
	return unsafe.Slice(p, int(n))
}

func setName(dst *C.wasm_name_t, s string) {
	if len(s) == 0 {
		C.wasm_byte_vec_new_empty(dst)
		return
	}
	C.wasm_byte_vec_new(dst, C.size_t(len(s)), (*C.wasm_byte_t)(unsafe.Pointer(unsafe.StringData(s))))
}

func goName(n *C.wasm_name_t) string {
	if n.size == 0 {
		return ""
	}
	return C.GoStringN((*C.char)(unsafe.Pointer(n.data)), C.int(n.size))
}

// typeNames interns the names a component's types give (record fields,
// variant and enum cases, flags): a component passes the same few again on
// every call, and each would otherwise be a new string. Bounded, since a
// component's types are.
var typeNames = struct {
	sync.RWMutex
	m map[string]string
}{m: map[string]string{}}

const maxTypeNames = 4096

// typeName is goName for a name of a type, interned.
func typeName(n *C.wasm_name_t) string {
	if n.size == 0 {
		return ""
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(n.data)), int(n.size))
	typeNames.RLock()
	s, ok := typeNames.m[string(b)]
	typeNames.RUnlock()
	if ok {
		return s
	}
	s = string(b)
	typeNames.Lock()
	if len(typeNames.m) < maxTypeNames {
		typeNames.m[s] = s
	}
	typeNames.Unlock()
	return s
}

// zero makes v a valid value that owns nothing, so deleting it is safe.
func zero(v *C.wasmtime_component_val_t) { *v = C.wasmtime_component_val_t{} }

// toC writes v into dst, allocating with wasmtime's allocators so wasmtime
// (or valDelete) can free it. dst must own nothing. On error dst is still
// safe to delete. With a nil ctx (a host call's results) owned resources
// become CM_KIND_HOST_RESOURCE markers that cm_func_trampoline resolves;
// such a tree must go back to the trampoline, never to valDelete.
func toC(ctx *C.wasmtime_context_t, v Value, dst *C.wasmtime_component_val_t) error {
	zero(dst)
	switch x := v.(type) {
	case bool:
		*of[C.bool](dst) = C.bool(x)
	case int8:
		dst.kind = kS8
		*of[C.int8_t](dst) = C.int8_t(x)
	case uint8:
		dst.kind = kU8
		*of[C.uint8_t](dst) = C.uint8_t(x)
	case int16:
		dst.kind = kS16
		*of[C.int16_t](dst) = C.int16_t(x)
	case uint16:
		dst.kind = kU16
		*of[C.uint16_t](dst) = C.uint16_t(x)
	case int32:
		dst.kind = kS32
		*of[C.int32_t](dst) = C.int32_t(x)
	case uint32:
		dst.kind = kU32
		*of[C.uint32_t](dst) = C.uint32_t(x)
	case int64:
		dst.kind = kS64
		*of[C.int64_t](dst) = C.int64_t(x)
	case uint64:
		dst.kind = kU64
		*of[C.uint64_t](dst) = C.uint64_t(x)
	case float32:
		dst.kind = kF32
		*of[uint32](dst) = math.Float32bits(x)
	case float64:
		dst.kind = kF64
		*of[uint64](dst) = math.Float64bits(x)
	case Char:
		dst.kind = kChar
		*of[C.uint32_t](dst) = C.uint32_t(x)
	case string:
		dst.kind = kString
		setName(of[C.wasm_name_t](dst), x)
	case List:
		dst.kind = kList
		l := of[C.wasmtime_component_vallist_t](dst)
		return seqToC(ctx, x, func(n int) (*C.wasmtime_component_val_t, C.size_t) {
			C.wasmtime_component_vallist_new_uninit(l, C.size_t(n))
			return l.data, l.size
		})
	case []byte:
		C.cm_list_from_bytes(dst, (*C.uint8_t)(unsafe.SliceData(x)), C.size_t(len(x)))
	case Tuple:
		dst.kind = kTuple
		t := of[C.wasmtime_component_valtuple_t](dst)
		return seqToC(ctx, x, func(n int) (*C.wasmtime_component_val_t, C.size_t) {
			C.wasmtime_component_valtuple_new_uninit(t, C.size_t(n))
			return t.data, t.size
		})
	case Record:
		dst.kind = kRecord
		r := of[C.wasmtime_component_valrecord_t](dst)
		C.wasmtime_component_valrecord_new_uninit(r, C.size_t(len(x)))
		entries := unsafe.Slice(r.data, len(x))
		for i := range entries {
			C.wasm_byte_vec_new_empty(&entries[i].name)
			zero(&entries[i].val)
		}
		for i, f := range x {
			C.wasm_byte_vec_delete(&entries[i].name)
			setName(&entries[i].name, f.Name)
			if err := toC(ctx, f.Value, &entries[i].val); err != nil {
				return fmt.Errorf("record field %q: %w", f.Name, err)
			}
		}
	case Variant:
		dst.kind = kVariant
		vv := of[C.wasmtime_component_valvariant_t](dst)
		setName(&vv.discriminant, x.Case)
		p, err := boxToC(ctx, x.Value)
		vv.val = p
		if err != nil {
			return fmt.Errorf("variant case %q: %w", x.Case, err)
		}
	case Enum:
		dst.kind = kEnum
		setName(of[C.wasm_name_t](dst), string(x))
	case Option:
		dst.kind = kOption
		p, err := boxToC(ctx, x.Value)
		*of[*C.wasmtime_component_val_t](dst) = p
		if err != nil {
			return fmt.Errorf("option: %w", err)
		}
	case Result:
		dst.kind = kResult
		r := of[C.wasmtime_component_valresult_t](dst)
		r.is_ok = C.bool(!x.Err)
		p, err := boxToC(ctx, x.Value)
		r.val = p
		if err != nil {
			return fmt.Errorf("result: %w", err)
		}
	case Flags:
		dst.kind = kFlags
		f := of[C.wasmtime_component_valflags_t](dst)
		C.wasmtime_component_valflags_new_uninit(f, C.size_t(len(x)))
		names := unsafe.Slice(f.data, len(x))
		for i, name := range x {
			setName(&names[i], name)
		}
	case Resource:
		if !x.Own {
			// wasmtime aborts the process when asked to make a borrow of a
			// host resource outside a call; borrows are never a valid host
			// function result either. A guest export taking borrow<T>
			// accepts an owned handle instead (it is lent for the call).
			return fmt.Errorf("resource type %d rep %d: the host cannot pass a borrow; pass the owned handle", x.Type, x.Rep)
		}
		if ctx == nil {
			// A host call's result: cmHostCall's trampoline converts it.
			dst.kind = kHostResourceMarker
			*of[C.uint64_t](dst) = C.uint64_t(x.Type)<<32 | C.uint64_t(x.Rep)
			return nil
		}
		if err := takeError(C.cm_resource_to_val(ctx, C.bool(x.Own), C.uint32_t(x.Rep), C.uint32_t(x.Type), dst)); err != nil {
			return fmt.Errorf("resource type %d rep %d: %w", x.Type, x.Rep, err)
		}
	default:
		return fmt.Errorf("cannot pass Go value of type %T as a component value", v)
	}
	return nil
}

func seqToC(ctx *C.wasmtime_context_t, xs []Value, alloc func(int) (*C.wasmtime_component_val_t, C.size_t)) error {
	p, n := alloc(len(xs))
	items := vals(p, n)
	for i := range items {
		zero(&items[i])
	}
	for i, x := range xs {
		if err := toC(ctx, x, &items[i]); err != nil {
			return fmt.Errorf("element %d: %w", i, err)
		}
	}
	return nil
}

// boxToC heap-allocates a payload (nil stays nil). On error the box is
// still returned, holding a safe partial value.
func boxToC(ctx *C.wasmtime_context_t, v Value) (*C.wasmtime_component_val_t, error) {
	if v == nil {
		return nil, nil
	}
	// Filled in place: a Go temporary handed to C would escape to the heap.
	p := C.cm_val_box()
	return p, toC(ctx, v, p)
}

// reader reads the C values of one call into Go. The call's strings are
// cut from one shared allocation when together they are short (the common
// case: names, labels, header names), instead of one allocation each. A
// string kept longer keeps that call's text alive, at most maxSharedText.
type reader struct {
	ctx  *C.wasmtime_context_t
	text []byte
	// borrow: a string is a view of the C value's bytes (FuncBorrowing).
	borrow bool
}

const maxSharedText = 4096

// newReader is a reader for the values items, sized for their strings.
func newReader(ctx *C.wasmtime_context_t, items []C.wasmtime_component_val_t) reader {
	rd := reader{ctx: ctx}
	n := 0
	for i := range items {
		if n = textBytes(&items[i], n); n > maxSharedText {
			return rd
		}
	}
	if n > 0 {
		rd.text = make([]byte, 0, n)
	}
	return rd
}

// textBytes adds the bytes of v's strings to n, stopping past maxSharedText.
// Lists of scalars (list<u8> bodies above all) are not walked.
func textBytes(v *C.wasmtime_component_val_t, n int) int {
	switch v.kind {
	case kString:
		return n + int(of[C.wasm_name_t](v).size)
	case kList:
		l := of[C.wasmtime_component_vallist_t](v)
		items := vals(l.data, l.size)
		if len(items) == 0 || !composite(items[0].kind) {
			return n
		}
		for i := range items {
			if n = textBytes(&items[i], n); n > maxSharedText {
				return n
			}
		}
	case kTuple:
		t := of[C.wasmtime_component_valtuple_t](v)
		items := vals(t.data, t.size)
		for i := range items {
			if n = textBytes(&items[i], n); n > maxSharedText {
				return n
			}
		}
	case kRecord:
		r := of[C.wasmtime_component_valrecord_t](v)
		if r.size > 0 {
			entries := unsafe.Slice(r.data, int(r.size))
			for i := range entries {
				if n = textBytes(&entries[i].val, n); n > maxSharedText {
					return n
				}
			}
		}
	case kVariant:
		if p := of[C.wasmtime_component_valvariant_t](v).val; p != nil {
			return textBytes(p, n)
		}
	case kOption:
		if p := *of[*C.wasmtime_component_val_t](v); p != nil {
			return textBytes(p, n)
		}
	case kResult:
		if p := of[C.wasmtime_component_valresult_t](v).val; p != nil {
			return textBytes(p, n)
		}
	}
	return n
}

// composite kinds may hold strings.
func composite(k C.wasmtime_component_valkind_t) bool {
	switch k {
	case kString, kList, kTuple, kRecord, kVariant, kOption, kResult:
		return true
	}
	return false
}

// string reads a string value, from the shared text when it has room.
func (rd *reader) string(n *C.wasm_name_t) string {
	size := int(n.size)
	if rd.borrow && size > 0 {
		return unsafe.String((*byte)(unsafe.Pointer(n.data)), size)
	}
	if size == 0 || size > cap(rd.text)-len(rd.text) {
		return goName(n)
	}
	off := len(rd.text)
	rd.text = append(rd.text, unsafe.Slice((*byte)(unsafe.Pointer(n.data)), size)...)
	return unsafe.String(&rd.text[off], size) // never written again: appends go past it
}

// value reads a C value into Go. It never frees src.
func (rd *reader) value(src *C.wasmtime_component_val_t) (Value, error) {
	ctx := rd.ctx
	switch src.kind {
	case kBool:
		return bool(*of[C.bool](src)), nil
	case kS8:
		return int8(*of[C.int8_t](src)), nil
	case kU8:
		return uint8(*of[C.uint8_t](src)), nil
	case kS16:
		return int16(*of[C.int16_t](src)), nil
	case kU16:
		return uint16(*of[C.uint16_t](src)), nil
	case kS32:
		return int32(*of[C.int32_t](src)), nil
	case kU32:
		return uint32(*of[C.uint32_t](src)), nil
	case kS64:
		return int64(*of[C.int64_t](src)), nil
	case kU64:
		return uint64(*of[C.uint64_t](src)), nil
	case kF32:
		return math.Float32frombits(*of[uint32](src)), nil
	case kF64:
		return math.Float64frombits(*of[uint64](src)), nil
	case kChar:
		return Char(*of[C.uint32_t](src)), nil
	case kString:
		return rd.string(of[C.wasm_name_t](src)), nil
	case kList:
		l := of[C.wasmtime_component_vallist_t](src)
		items := vals(l.data, l.size)
		if b, ok := bytesFromC(items); ok {
			return b, nil
		}
		if len(items) > 0 && items[0].kind == kRecord {
			return rd.records(items)
		}
		xs, err := rd.seq(items)
		return List(xs), err
	case kTuple:
		t := of[C.wasmtime_component_valtuple_t](src)
		xs, err := rd.seq(vals(t.data, t.size))
		return Tuple(xs), err
	case kRecord:
		r := of[C.wasmtime_component_valrecord_t](src)
		if r.size == 0 {
			return Record(nil), nil
		}
		return rd.record(r, make(Record, int(r.size)))
	case kVariant:
		vv := of[C.wasmtime_component_valvariant_t](src)
		v, err := rd.box(vv.val)
		return Variant{Case: typeName(&vv.discriminant), Value: v}, err
	case kEnum:
		return Enum(typeName(of[C.wasm_name_t](src))), nil
	case kOption:
		v, err := rd.box(*of[*C.wasmtime_component_val_t](src))
		return Option{Value: v}, err
	case kResult:
		r := of[C.wasmtime_component_valresult_t](src)
		v, err := rd.box(r.val)
		return Result{Err: !bool(r.is_ok), Value: v}, err
	case kFlags:
		f := of[C.wasmtime_component_valflags_t](src)
		var out Flags
		if f.size > 0 {
			for _, n := range unsafe.Slice(f.data, int(f.size)) {
				out = append(out, typeName(&n))
			}
		}
		return out, nil
	case kResource:
		r := C.cm_resource_from_any(ctx, *of[*C.wasmtime_component_resource_any_t](src))
		if err := takeError(r.err); err != nil {
			return nil, fmt.Errorf("guest-defined resources are not supported by this host: %w", err)
		}
		return Resource{Type: uint32(r.ty), Rep: uint32(r.rep), Own: bool(r.owned)}, nil
	}
	return nil, fmt.Errorf("unknown component value kind %d", src.kind)
}

// record reads r's fields into out, which has r.size of them.
func (rd *reader) record(r *C.wasmtime_component_valrecord_t, out Record) (Value, error) {
	entries := unsafe.Slice(r.data, int(r.size)) // indexed, never copied: see cmHostCall
	for i := range entries {
		v, err := rd.value(&entries[i].val)
		if err != nil {
			return nil, err
		}
		out[i] = Field{Name: typeName(&entries[i].name), Value: v}
	}
	return out, nil
}

// records reads a list of records, their fields in one allocation
// (lists of key-value records are the common shape of host call arguments).
func (rd *reader) records(items []C.wasmtime_component_val_t) (Value, error) {
	n := 0
	for i := range items {
		if items[i].kind == kRecord {
			n += int(of[C.wasmtime_component_valrecord_t](&items[i]).size)
		}
	}
	fields := make([]Field, n)
	out := make(List, len(items))
	for i := range items {
		if items[i].kind != kRecord { // cannot happen in a well-typed list; read it as such
			v, err := rd.value(&items[i])
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			out[i] = v
			continue
		}
		r := of[C.wasmtime_component_valrecord_t](&items[i])
		k := int(r.size)
		if k == 0 {
			out[i] = Record(nil)
			continue
		}
		v, err := rd.record(r, fields[:k:k])
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		out[i], fields = v, fields[k:]
	}
	return out, nil
}

func (rd *reader) seq(items []C.wasmtime_component_val_t) ([]Value, error) {
	if len(items) == 0 {
		return nil, nil
	}
	out := make([]Value, len(items))
	for i := range items {
		v, err := rd.value(&items[i])
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		out[i] = v
	}
	return out, nil
}

func (rd *reader) box(p *C.wasmtime_component_val_t) (Value, error) {
	if p == nil {
		return nil, nil
	}
	return rd.value(p)
}

// bytesFromC reads a list whose elements are all u8 as []byte (checked
// element by element, in C).
func bytesFromC(items []C.wasmtime_component_val_t) ([]byte, bool) {
	if len(items) == 0 || items[0].kind != kU8 {
		return nil, false
	}
	out := make([]byte, len(items))
	if !C.cm_list_to_bytes(&items[0], C.size_t(len(items)), (*C.uint8_t)(&out[0])) {
		return nil, false
	}
	return out, true
}

// Bytes reads a list<u8> value: []byte, or the empty List.
func Bytes(v Value) ([]byte, error) {
	switch x := v.(type) {
	case []byte:
		return x, nil
	case List:
		if len(x) == 0 {
			return nil, nil
		}
	}
	return nil, fmt.Errorf("want list<u8>, got %T", v)
}
