package cm

/*
#include "cm.h"
*/
import "C"

import (
	"fmt"
	"runtime/cgo"
	"sync/atomic"
	"time"
	"unsafe"
)

// HostFunc implements an imported function. args are the call's arguments;
// the function fills results (its length is the WIT result count). A
// returned error traps the guest with the error's text. Both slices are
// the store's and valid only during the call: keep their elements, never
// the slices.
type HostFunc func(s *Store, args []Value, results []Value) error

// hostFunc is what a host function's or resource's cgo handle holds: the
// name profiles report it by, and the Go function.
type hostFunc struct {
	iface, name string // the instance's and the function's (or resource's) names, kept apart: joined only by a profile
	drop        bool   // a resource's destructor
	borrow      bool   // its string arguments are views of wasmtime's copies (FuncBorrowing)
	fn          HostFunc
	dtor        ResourceDestructor
}

// fullName is "iface#name", or "iface#[resource-drop]name".
func (f *hostFunc) fullName() string {
	if f.drop {
		return f.iface + "#[resource-drop]" + f.name
	}
	return f.iface + "#" + f.name
}

// ResourceDestructor runs when the guest drops its last own handle to a host
// resource of the type it was registered for.
type ResourceDestructor func(s *Store, rep uint32) error

// Linker holds the host's definitions of component imports.
//
// # Notes
//
//   - Define during set-up from one goroutine; once set up, Instantiate is
//     safe from many goroutines (each with its own Store).
//   - Close after every store instantiated from it is closed.
type Linker struct {
	ptr *C.wasmtime_component_linker_t
	eng *Engine
}

// NewLinker makes an empty linker.
func NewLinker(e *Engine) *Linker {
	return &Linker{ptr: C.wasmtime_component_linker_new(e.ptr), eng: e}
}

// LinkerInstance is an instance being defined (for example
// "wasi:io/streams@0.2.6"); valid only inside the Define callback.
type LinkerInstance struct {
	ptr     *C.wasmtime_component_linker_instance_t
	name    string
	defined map[string]bool
}

// AllowShadowing lets a later definition replace an earlier one of the same
// name instead of failing.
func (l *Linker) AllowShadowing(allow bool) {
	C.wasmtime_component_linker_allow_shadowing(l.ptr, C.bool(allow))
}

// Define opens the named instance at the root and lets fill add functions
// and resources to it.
func (l *Linker) Define(name string, fill func(*LinkerInstance) error) error {
	root := C.wasmtime_component_linker_root(l.ptr)
	defer C.wasmtime_component_linker_instance_delete(root)
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	var li *C.wasmtime_component_linker_instance_t
	if err := takeError(C.wasmtime_component_linker_instance_add_instance(root, cs, C.size_t(len(name)), &li)); err != nil {
		return fmt.Errorf("define instance %q: %w", name, err)
	}
	defer C.wasmtime_component_linker_instance_delete(li)
	if err := fill(&LinkerInstance{ptr: li, name: name, defined: map[string]bool{}}); err != nil {
		return fmt.Errorf("define instance %q: %w", name, err)
	}
	return nil
}

// Func defines a host function.
func (li *LinkerInstance) Func(name string, fn HostFunc) error {
	return li.addFunc(&hostFunc{iface: li.name, name: name, fn: fn})
}

// FuncBorrowing is Func for a function whose string arguments are not
// copied into Go: each is a view of wasmtime's copy of the guest's bytes,
// valid only until fn returns, so fn must keep neither it nor anything
// sharing its bytes (a 64 KiB stream write is then not copied once more).
func (li *LinkerInstance) FuncBorrowing(name string, fn HostFunc) error {
	return li.addFunc(&hostFunc{iface: li.name, name: name, fn: fn, borrow: true})
}

func (li *LinkerInstance) addFunc(f *hostFunc) error {
	name := f.name
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	// The handle is released by the C finalizer when wasmtime drops the
	// definition (also when the definition fails).
	h := cgo.NewHandle(f)
	if err := takeError(C.cm_linker_add_func(li.ptr, cs, C.size_t(len(name)), C.uintptr_t(h))); err != nil {
		return fmt.Errorf("func %q: %w", name, err)
	}
	li.defined[name] = true
	return nil
}

// Resource defines a host resource type; ty is the host's id for it and
// appears in Resource.Type. dtor may be nil.
func (li *LinkerInstance) Resource(name string, ty uint32, dtor ResourceDestructor) error {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	h := cgo.NewHandle(&hostFunc{iface: li.name, name: name, drop: true, dtor: dtor})
	if err := takeError(C.cm_linker_add_resource(li.ptr, cs, C.size_t(len(name)), C.uint32_t(ty), C.uintptr_t(h))); err != nil {
		return fmt.Errorf("resource %q: %w", name, err)
	}
	li.defined[name] = true
	return nil
}

// DefineUnknownImportsAsTraps makes every import of c the linker does not
// define a function that traps when called, so components that import more
// than they use still instantiate.
func (l *Linker) DefineUnknownImportsAsTraps(c *Component) error {
	if err := takeError(C.wasmtime_component_linker_define_unknown_imports_as_traps(l.ptr, c.ptr)); err != nil {
		return fmt.Errorf("define unknown imports as traps: %w", err)
	}
	return nil
}

// Instantiate creates an instance of c in s.
func (l *Linker) Instantiate(s *Store, c *Component) (*Instance, error) {
	var inst C.wasmtime_component_instance_t
	var t0 time.Time
	if s.prof != nil {
		t0 = time.Now()
		defer func() { s.prof.phase(phaseInstantiate, time.Since(t0)) }()
	}
	if err := takeError(C.wasmtime_component_linker_instantiate(l.ptr, s.ctx, c.ptr, &inst)); err != nil {
		return nil, fmt.Errorf("instantiate component: %w", err)
	}
	return &Instance{inst: inst, store: s}, nil
}

// Close frees the linker.
func (l *Linker) Close() error {
	if l.ptr != nil {
		C.wasmtime_component_linker_delete(l.ptr)
		l.ptr = nil
	}
	return nil
}

// hostCalls and resourceDrops count the calls from wasmtime into Go in this
// process (see HostCalls); each store adds its own counts when it closes, so
// host calls share no counter across cores.
var hostCalls, resourceDrops atomic.Int64

// HostCalls returns how many host function calls guests have made in the
// stores closed so far, and how many host resources they dropped (each drop
// is a call into Go too): with runtime.NumCgoCall they measure the
// crossings a request costs (TestEchoCrossings, BenchmarkEchoBodyBytes).
func HostCalls() (calls, drops int64) { return hostCalls.Load(), resourceDrops.Load() }

//export cmHostCall
func cmHostCall(h, store C.uintptr_t, ctx *C.wasmtime_context_t, args *C.wasmtime_component_val_t, nargs C.size_t,
	results *C.wasmtime_component_val_t, nresults C.size_t, pre *C.cm_host_resource_t, npre C.size_t) (cerr *C.wasmtime_error_t) {
	defer func() {
		if p := recover(); p != nil {
			cerr = newCError(fmt.Sprintf("host function panicked: %v", p))
		}
	}()
	hf := cgo.Handle(h).Value().(*hostFunc)
	s := cgo.Handle(store).Value().(*Store)
	s.hostCalls++
	if s.prof != nil {
		t0 := time.Now()
		defer func() { s.prof.call(hf, time.Since(t0)) }()
	}
	fn := hf.fn
	in, out, reused := s.callBuffers(int(nargs), int(nresults))
	defer s.doneBuffers(in, out, reused)
	converted := unsafe.Slice(pre, int(npre))
	// Index the C array, never copy its values to the Go stack: cgo lays
	// the C union out with Go's (smaller) alignment.
	items := vals(args, nargs)
	rd := newReader(ctx, items)
	rd.borrow = hf.borrow
	for i := range items {
		if i < len(converted) && converted[i].converted {
			// The trampoline read this resource handle already.
			r := &converted[i]
			cerr := r.err
			r.err = nil // taken: the trampoline must not free it too
			if err := takeError(cerr); err != nil {
				return newCError(fmt.Sprintf("host function arguments: element %d: guest-defined resources are not supported by this host: %v", i, err))
			}
			in[i] = Resource{Type: uint32(r.ty), Rep: uint32(r.rep), Own: bool(r.owned)}
			continue
		}
		v, err := rd.value(&items[i])
		if err != nil {
			return newCError(fmt.Sprintf("host function arguments: element %d: %v", i, err))
		}
		in[i] = v
	}
	if err := fn(s, in, out); err != nil {
		return newCError(err.Error())
	}
	// wasmtime pre-fills results with values that own nothing and frees what
	// we write after converting it.
	rs := vals(results, nresults)
	for i := range rs {
		// A nil context leaves owned resources as markers the trampoline
		// converts after we return (one cgo call fewer each).
		if err := toC(nil, out[i], &rs[i]); err != nil {
			return newCError(fmt.Sprintf("host function result %d: %v", i, err))
		}
	}
	return nil
}

//export cmResourceDrop
func cmResourceDrop(h, store C.uintptr_t, rep C.uint32_t) (cerr *C.wasmtime_error_t) {
	defer func() {
		if p := recover(); p != nil {
			cerr = newCError(fmt.Sprintf("resource destructor panicked: %v", p))
		}
	}()
	s := cgo.Handle(store).Value().(*Store)
	s.drops++
	hf := cgo.Handle(h).Value().(*hostFunc)
	if s.prof != nil {
		t0 := time.Now()
		defer func() { s.prof.call(hf, time.Since(t0)) }()
	}
	dtor := hf.dtor
	if dtor == nil {
		return nil
	}
	if err := dtor(s, uint32(rep)); err != nil {
		return newCError(err.Error())
	}
	return nil
}

//export cmReleaseHandle
func cmReleaseHandle(h C.uintptr_t) { cgo.Handle(h).Delete() }
