// Package oda owns the TM Forum ODA Component resource (oda.tmforum.org
// v1, v1beta4, v1beta3) for wasmcanvas: the Go types of the v1 hub version
// and of the status the canvas writes (in the reference canvas's shape),
// strict decoding of YAML/JSON files into them with errors that name file,
// line and field path, validation against the upstream CRD's schema (the
// JSON Schemas in package manifests) plus the semantic checks a schema
// cannot express, the canvas's annotations on a Component (where its
// implementations come from, and where they run: Placement), and
// conversion between the served versions (see CONVERSION.md).
//
// It does no I/O: callers hand it bytes and get values or an ErrorList. It
// must not know about wadm, NATS or the runtime; translating a Component into
// a deployment is package translate's job.
package oda
