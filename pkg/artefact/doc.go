// Package artefact owns reading the Wasm artefacts Components name: which
// files may be read (the allowed roots), how (regular files only, their
// size checked before a byte is read, hashed as they stream in) and what
// is said when one is refused.
//
// Every loader goes through it: the local deployer's file:// artefacts
// today, OCI pulls later (through Read). Its errors name the artefact, its
// size and digest, never its bytes: status, events and logs are read by
// API clients who must not learn the content of files the canvas can
// read, so neither does any error pass on a compiler's text (wasmtime's
// WAT parser echoes the line it stopped at).
package artefact
