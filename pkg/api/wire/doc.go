// Package wire owns the JSON shapes of the canvasd API that are not ODA
// resources themselves: lists, watch events, reconcile events, problem
// details (RFC 9457) and the NATS micro request bodies. Both the server
// (package api) and the client (package client) use it, so the two cannot
// drift apart.
//
// It holds types and constants only: no I/O, no HTTP or NATS code.
package wire
