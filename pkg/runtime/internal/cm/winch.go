package cm

/*
#include "cm.h"
*/
import "C"

import "strings"

// Compilers an Engine compiles with (Engine.Compiler).
const (
	CompilerCranelift = "cranelift"
	CompilerWinch     = "winch"
)

// selectWinch asks wasmtime for Winch in conf (see cm_config_winch): true
// when conf now selects it. The caller confirms it with isWinch once the
// engine exists.
func selectWinch(conf *C.wasm_config_t) bool { return bool(C.cm_config_winch(conf)) }

// tailCallProbe is a component whose core module makes a tail call:
// Cranelift compiles it, and Winch, which has no tail calls, refuses it
// (wasmtime takes the proposal out of a Winch engine's features).
const tailCallProbe = `(component (core module (func $f (return_call $f))))`

// isWinch reports whether e compiles with Winch: it refuses tailCallProbe
// for want of tail calls, where Cranelift compiles it.
func (e *Engine) isWinch() bool {
	c, err := Compile(e, []byte(tailCallProbe))
	if err == nil {
		c.Close()
		return false
	}
	return strings.Contains(err.Error(), "tail call")
}
