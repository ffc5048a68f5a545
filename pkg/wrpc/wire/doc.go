// Package wire owns the wRPC value encoding: the component-model value
// definition encoding as wRPC 0.0.1 puts it on the wire (shared reference
// WRPC.md §3, wasm-tokio 0.6 and wrpc-transport 0.28). An Encoder appends
// values; a Decoder reads them from one buffer or from a stream that is
// refilled on demand, so a transport can decode params before they have all
// arrived.
//
// A WIT value maps onto calls in declaration order: a record or tuple is its
// fields one after another, option<T> is Option then T when some,
// result<T, E> is Result then the side's payload, a variant is Case then the
// case's payload, an enum is Case, list<T> is ListLen then the elements
// (ByteList for list<u8>), flags is Flags.
//
// The Decoder treats its input as hostile: every length is checked against
// the bytes that can still arrive before anything is allocated, so a
// five-byte input that claims a 4 GiB list fails at once. Lists of
// zero-sized elements (empty records or tuples) are therefore refused when
// their count exceeds the bytes left; no canvas interface has one.
//
// It is pure: no NATS, no I/O (a deptest rule keeps it so). Futures,
// streams and resources, which travel on their own async channels, are not
// modelled: no canvas interface uses them.
package wire
