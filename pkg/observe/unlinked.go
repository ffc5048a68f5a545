package observe

import "context"

// Unlinked is the Recorder of a component that imports wasmcanvas:observe
// without a link to the canvas's observability (its Component has no
// managementFunction): every call answers the WIT error not-linked and
// records nothing, as canvas-bridge answers a caller with no link, so the
// component behaves the same in-process and on a lattice. Current answers
// none.
type Unlinked struct{}

var _ Recorder = Unlinked{}

func (Unlinked) notLinked(src Source) error {
	return errorf(NotLinked, "component %.80q/%.80q has no link to the canvas's observability: give its ODA Component a managementFunction", src.Namespace, src.Component)
}

// CounterAdd implements Recorder.
func (u Unlinked) CounterAdd(_ context.Context, src Source, _ string, _ uint64, _ []KeyValue) error {
	return u.notLinked(src)
}

// GaugeSet implements Recorder.
func (u Unlinked) GaugeSet(_ context.Context, src Source, _ string, _ float64, _ []KeyValue) error {
	return u.notLinked(src)
}

// GaugeAdd implements Recorder.
func (u Unlinked) GaugeAdd(_ context.Context, src Source, _ string, _ float64, _ []KeyValue) error {
	return u.notLinked(src)
}

// HistogramRecord implements Recorder.
func (u Unlinked) HistogramRecord(_ context.Context, src Source, _ string, _ float64, _ []KeyValue) error {
	return u.notLinked(src)
}

// Current implements Recorder: none.
func (Unlinked) Current(context.Context, Source) (TraceContext, bool) { return TraceContext{}, false }

// StartSpan implements Recorder.
func (u Unlinked) StartSpan(_ context.Context, src Source, _ string, _ SpanKind, _ *TraceContext) (Span, error) {
	return Span{}, u.notLinked(src)
}

// EndSpan implements Recorder.
func (u Unlinked) EndSpan(_ context.Context, src Source, _ Span, _ []KeyValue, _ SpanStatus) error {
	return u.notLinked(src)
}

// Log implements Recorder.
func (u Unlinked) Log(_ context.Context, src Source, _ Level, _ string, _ []KeyValue) error {
	return u.notLinked(src)
}
