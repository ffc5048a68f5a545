// Package wrpc is the wRPC transport over NATS as wasmCloud 1.x speaks it
// (wrpc-transport-nats 0.29, protocol wrpc.0.0.1; shared reference
// WRPC.md): a Client that invokes functions of a component or provider, and
// a Server that serves them, such as canvas-bridge serving
// wasmcanvas:observe to the components of a lattice.
//
// No Go wRPC module is reachable from this build's module proxy, so the
// transport is written here from the upstream notes and the wrpc sources,
// and tested byte for byte against the worked examples of WRPC.md.
//
// A call is: the invocation on {prefix}.wrpc.0.0.1.{instance}.{func} with
// the first params bytes and a reply inbox R; the server's empty accept on
// R with its own inbox S; the rest of the params, then an empty message, on
// S.params; the results, then an empty message, on R.results. Each peer
// demultiplexes all its calls from one subscription on its inbox. Values
// are encoded by package wire; subjects come from pkg/lattice/subject.
//
//	c, _ := wrpc.NewClient(nc, subject.WRPCPrefix("default", "canvas-bridge"))
//	var p wire.Encoder
//	p.Str("offerings_created_total") // counter-add(name, delta, labels)
//	p.U64(1)
//	p.ListLen(0)
//	res, err := c.Invoke(ctx, "wasmcanvas:observe/metrics@0.1.0", "counter-add", p.Bytes(),
//		nats.Header{wrpc.HeaderSourceID: {"productcatalog"}})
//
// and on the other side Server.Handle with a Handler that decodes the
// params, reads wrpc.Header(ctx).Get(wrpc.HeaderSourceID) and encodes the
// results.
//
// Failures: wRPC reports a failed call only by closing the results early,
// so the transport adds one header, HeaderError, on the closing message of
// a failed call (a handler's error or panic, or params it could not
// decode); the client returns it as a *RemoteError. Upstream peers ignore
// it. Errors a caller should act on belong in the WIT as result<_, E>.
//
// Not done: async values (futures and streams on indexed channels, §4):
// no canvas interface has one, so a call here uses the root channels only.
// The package does no link or config bookkeeping; that is the provider's.
package wrpc
