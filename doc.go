// Package wasmcanvas is the root of the wasmcanvas module: a wasmCloud-native
// ODA canvas. The code lives in cmd/ (binaries) and pkg/ (libraries); this
// package only holds repository-wide tests.
package wasmcanvas
