package cm

/*
#include "cm.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// WATToBinary encodes WebAssembly text, a module or a component, as its
// binary form: what a file:// artefact must hold (the canvas refuses text).
func WATToBinary(wat []byte) ([]byte, error) {
	if len(wat) == 0 {
		return nil, errors.New("wat to binary: empty input")
	}
	var out C.wasm_byte_vec_t
	if err := takeError(C.wasmtime_wat2wasm((*C.char)(unsafe.Pointer(&wat[0])), C.size_t(len(wat)), &out)); err != nil {
		return nil, fmt.Errorf("wat to binary: %w", err)
	}
	defer C.wasm_byte_vec_delete(&out)
	return C.GoBytes(unsafe.Pointer(out.data), C.int(out.size)), nil
}
