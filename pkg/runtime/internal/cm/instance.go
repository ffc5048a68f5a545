package cm

/*
#include "cm.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"unsafe"
)

// Instance is an instantiated component living in its Store; it is freed
// with the store.
type Instance struct {
	inst  C.wasmtime_component_instance_t
	store *Store
}

// Func is an exported function of an instance.
type Func struct {
	fn       C.wasmtime_component_func_t
	store    *Store
	nresults int
}

// Func looks up an exported function by an index from Component.Export.
func (i *Instance) Func(x *ExportIndex) (*Func, error) {
	var fn C.wasmtime_component_func_t
	if !C.wasmtime_component_instance_get_func(&i.inst, i.store.ctx, x.ptr, &fn) {
		return nil, errors.New("export is not a function")
	}
	ty := C.wasmtime_component_func_type(&fn, i.store.ctx)
	defer C.wasmtime_component_func_type_delete(ty)
	var rt C.wasmtime_component_valtype_t
	n := 0
	if C.wasmtime_component_func_type_result(ty, &rt) {
		n = 1
		C.wasmtime_component_valtype_delete(&rt)
	}
	return &Func{fn: fn, store: i.store, nresults: n}, nil
}

// Call calls the function. A trap comes back as *Trap; running past the
// store's deadline as an error wrapping both ErrDeadline and the *Trap.
func (f *Func) Call(args ...Value) ([]Value, error) {
	s := f.store
	if s.ptr == nil {
		return nil, ErrClosed
	}
	argv := cArray(len(args))
	defer freeArray(argv, len(args))
	for i, a := range args {
		if err := toC(s.ctx, a, &argv[i]); err != nil {
			return nil, fmt.Errorf("argument %d: %w", i, err)
		}
	}
	resv := cArray(f.nresults)
	defer freeArray(resv, f.nresults)
	if t := takeTrap(C.wasmtime_component_func_call(&f.fn, s.ctx, ptrOf(argv), C.size_t(len(argv)), ptrOf(resv), C.size_t(len(resv)))); t != nil {
		if strings.Contains(t.Message, "interrupt") && !s.deadline.IsZero() {
			return nil, fmt.Errorf("%w: %w", ErrDeadline, t)
		}
		return nil, t
	}
	out, convErr := seqFromC(s.ctx, resv)
	if err := takeError(C.wasmtime_component_func_post_return(&f.fn, s.ctx)); err != nil {
		return nil, fmt.Errorf("post-return: %w", err)
	}
	if convErr != nil {
		return nil, fmt.Errorf("results: %w", convErr)
	}
	return out, nil
}

// cArray allocates n zeroed values in C memory: zeroed means "bool false",
// which owns nothing, so wasmtime may overwrite (and drop) it.
func cArray(n int) []C.wasmtime_component_val_t {
	if n == 0 {
		return nil
	}
	p := C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(C.wasmtime_component_val_t{})))
	return unsafe.Slice((*C.wasmtime_component_val_t)(p), n)
}

func freeArray(a []C.wasmtime_component_val_t, n int) {
	if n == 0 {
		return
	}
	for i := range a {
		C.wasmtime_component_val_delete(&a[i])
	}
	C.free(unsafe.Pointer(&a[0]))
}

func ptrOf(a []C.wasmtime_component_val_t) *C.wasmtime_component_val_t {
	if len(a) == 0 {
		return nil
	}
	return &a[0]
}
