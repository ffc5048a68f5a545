// Package wasihttp serves wasi:http (0.2.0 through 0.2.x) incoming-handler
// components from Go's net/http: per request it instantiates the component
// in a fresh store, hands it an incoming-request and a response-outparam,
// calls handle, and streams the response body to the client while the guest
// writes it. It implements wasi:http/types in Go on top of package wasi.
//
// A guest's writes are gathered, up to 64 KiB, and its flush asks for the
// network write, which happens at the guest's next wait (poll, a body read
// that may block), its return, or 1 ms later, whichever comes first. A
// small response written just before handle returns then leaves in one
// write with a Content-Length; a guest that streams still has every flush
// on the wire before it waits, and one writing 4 KiB at a time makes one
// network write (and wakes the reader on the other end once) per 64 KiB,
// not per chunk (lazyFlusher).
//
// Failures never reach the client in detail: a trap, a missing response or
// a guest error code becomes a 500 (504 when the per-request deadline
// interrupted the guest) whose body is the gateway's problem JSON with a
// fixed detail (package gateway/problem), and the cause is logged with
// zap. Once the status
// line is out, a failure aborts the connection instead, so a client never
// mistakes a truncated body for a whole one.
//
// wasi:http/outgoing-handler goes through a Go http.Client to the
// authorities of a per-component allow-list (others get
// HTTP-request-denied); its goroutines and response bodies belong to the
// incoming request and end with it. request-options' connect and
// first-byte timeouts bound the wait for response headers;
// between-bytes-timeout is recorded but not enforced (the request's
// deadline bounds body reads).
//
// It must not choose what to run or how it is configured (pkg/runtime
// does).
package wasihttp
