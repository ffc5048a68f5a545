// Package observerpc serves wasmcanvas:observe (wit/observe.wit, 0.2.0)
// over wRPC for canvas-bridge: a bridge.Service with one pkg/wrpc handler
// per WIT function on {lattice}.{provider key}, instances
// wasmcanvas:observe/{metrics,tracing,logging}@0.2.0. A handler decodes
// the params exactly per the WIT (pkg/wrpc/wire), then looks the call's
// source-id header up in the bridge's links: no link is the WIT error
// not-linked and nothing is recorded (current, which has no error result,
// fails the call instead); params that do not decode fail the call before
// anything is recorded. The traceparent header becomes the call's trace
// context. Then it calls a pkg/observe Recorder and encodes the result.
//
// Which Component a caller is: the link's target config keys namespace
// and component (and api) when both are set; otherwise the lattice is the
// namespace and the source id the name (translate puts no config on the
// observe link today, and wadm's component ids cannot be split back into
// an ODA namespace and name). Both keys are needed because the bridge
// keeps one link per caller, as wasmCloud providers do, and that may be
// the caller's identity link, whose config has a component key of its own.
//
// The series recorded are served for Prometheus when the provider config
// sets metrics-listen (an address; off when unset): /metrics holds every
// linked Component's series, labelled wasmcanvas_namespace and
// wasmcanvas_component, and the bridge's own wasmcanvas_bridge_calls_total;
// /metrics/{source-id} holds one linked component's Component series and
// its calls. Spans, logs and metrics go to OTLP/HTTP through the
// Observer's service when the host's otel_config turns a signal on, else
// as the OTEL_* variables say (off when none names an endpoint).
//
// It implements no observability itself (pkg/observe does) and keeps no
// link state (pkg/bridge does).
package observerpc
