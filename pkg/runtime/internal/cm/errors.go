package cm

/*
#include "cm.h"
*/
import "C"

import (
	"errors"
	"strings"
	"unsafe"
)

// ErrDeadline reports that a call ran past its store's epoch deadline and was
// interrupted.
var ErrDeadline = errors.New("wasm call interrupted: epoch deadline exceeded")

// ErrClosed reports use of an object after its Close.
var ErrClosed = errors.New("wasmtime object already closed")

// Error is a failure reported by wasmtime outside a call (compile,
// link, instantiate).
type Error struct{ Message string }

func (e *Error) Error() string { return e.Message }

// Trap is an error raised inside wasm (or by a host function) during a call.
// Message is wasmtime's text, including the wasm backtrace.
type Trap struct {
	Message string
	// Exit is set when the guest called wasi:cli/exit; Code is its status.
	Exit bool
	Code int
}

func (t *Trap) Error() string { return "wasm trap: " + t.Message }

// takeError converts and frees a wasmtime error; nil stays nil.
func takeError(err *C.wasmtime_error_t) error {
	t := takeTrap(err)
	if t == nil {
		return nil
	}
	return &Error{Message: t.Message}
}

// takeTrap is takeError for errors of a call.
func takeTrap(err *C.wasmtime_error_t) *Trap {
	if err == nil {
		return nil
	}
	defer C.wasmtime_error_delete(err)
	var msg C.wasm_name_t
	C.wasmtime_error_message(err, &msg)
	text := C.GoStringN((*C.char)(unsafe.Pointer(msg.data)), C.int(msg.size))
	C.wasm_byte_vec_delete(&msg)
	// The native backtrace wasmtime appends says nothing useful from Go.
	text, _, _ = strings.Cut(text, "Stack backtrace:")
	t := &Trap{Message: strings.TrimSpace(text)}
	var status C.int
	if C.wasmtime_error_exit_status(err, &status) {
		t.Exit, t.Code = true, int(status)
	}
	return t
}

// newCError makes a wasmtime error that wasmtime takes ownership of.
func newCError(msg string) *C.wasmtime_error_t {
	cs := C.CString(msg)
	defer C.free(unsafe.Pointer(cs))
	return C.wasmtime_error_new(cs)
}
