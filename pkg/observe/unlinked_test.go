package observe

import (
	"context"
	"errors"
	"testing"
)

func TestUnlinkedAnswersNotLinked(t *testing.T) {
	t.Parallel()
	ctx, src := context.Background(), Source{Namespace: "components", Component: "shop"}
	var u Recorder = Unlinked{}
	_, spanErr := u.StartSpan(ctx, src, "s", SpanInternal, nil)
	for name, err := range map[string]error{
		"counter-add":      u.CounterAdd(ctx, src, "a_total", 1, nil),
		"gauge-set":        u.GaugeSet(ctx, src, "g", 1, nil),
		"gauge-add":        u.GaugeAdd(ctx, src, "g", 1, nil),
		"histogram-record": u.HistogramRecord(ctx, src, "h", 1, nil),
		"start-span":       spanErr,
		"end-span":         u.EndSpan(ctx, src, Span{}, nil, SpanStatus{}),
		"log":              u.Log(ctx, src, LevelInfo, "m", nil),
	} {
		var oe *Error
		if !errors.As(err, &oe) || oe.Kind != NotLinked {
			t.Errorf("%s = %v, want a not-linked error", name, err)
		}
	}
	if _, ok := u.Current(ctx, src); ok {
		t.Error("Current answered a trace context")
	}
}
