package cm

/*
#include "cm.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"time"
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
	n := x.results(&fn, i.store.ctx)
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
	for i, a := range args {
		// A nil context leaves owned resources as markers cm_func_call
		// converts (one cgo call fewer each).
		if err := toC(nil, a, &argv[i]); err != nil {
			C.cm_vals_discard(&argv[0], C.size_t(len(argv)))
			return nil, fmt.Errorf("argument %d: %w", i, err)
		}
	}
	resv := cArray(f.nresults)
	defer freeArray(resv, f.nresults)
	if s.prof != nil {
		t0 := time.Now()
		defer func() { s.prof.phase(phaseCall, time.Since(t0)) }()
	}
	// cm_func_call takes argv, and runs post-return after a successful call.
	r := C.cm_func_call(&f.fn, s.ctx, ptrOf(argv), C.size_t(len(argv)), ptrOf(resv), C.size_t(len(resv)))
	if err := takeError(r.args); err != nil {
		return nil, fmt.Errorf("arguments: %w", err)
	}
	if t := takeTrap(r.call); t != nil {
		if strings.Contains(t.Message, "interrupt") && !s.deadline.IsZero() {
			return nil, fmt.Errorf("%w: %w", ErrDeadline, t)
		}
		return nil, t
	}
	rd := newReader(s.ctx, resv)
	out, convErr := rd.seq(resv)
	if err := takeError(r.post_return); err != nil {
		return nil, fmt.Errorf("post-return: %w", err)
	}
	if convErr != nil {
		return nil, fmt.Errorf("results: %w", convErr)
	}
	return out, nil
}

// cArray allocates n zeroed values in C memory (see cm_vals_new).
func cArray(n int) []C.wasmtime_component_val_t {
	if n == 0 {
		return nil
	}
	return unsafe.Slice(C.cm_vals_new(C.size_t(n)), n)
}

// freeArray deletes the values of a and frees it.
func freeArray(a []C.wasmtime_component_val_t, n int) {
	if n == 0 {
		return
	}
	C.cm_vals_delete(&a[0], C.size_t(n))
}

func ptrOf(a []C.wasmtime_component_val_t) *C.wasmtime_component_val_t {
	if len(a) == 0 {
		return nil
	}
	return &a[0]
}
