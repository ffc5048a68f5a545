package observe_test

import (
	"context"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
)

func TestLogToZap(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.DebugLevel)
	o := observe.New(observe.Options{Logger: zap.New(core)})
	ctx := context.Background()
	must(t, o.Log(ctx, catalog, observe.LevelCritical, "catalog store lost", []observe.KeyValue{
		{Key: "component", Value: "spoofed"}, {Key: "Client-Secret", Value: "s3cret"}, {Key: "offering", Value: "42"},
	}))
	must(t, o.Log(ctx, catalog, observe.LevelTrace, "detail", nil))
	if err := o.Log(ctx, catalog, observe.Level(9), "x", nil); !isKind(err, observe.InvalidArgument) {
		t.Errorf("unknown level: err = %v", err)
	}
	if err := o.Log(ctx, observe.Source{}, observe.LevelInfo, "x", nil); !isKind(err, observe.NotLinked) {
		t.Errorf("no source: err = %v", err)
	}

	entries := logs.All()
	if len(entries) != 2 {
		t.Fatalf("%d entries, want 2 (refused calls log nothing)", len(entries))
	}
	e := entries[0]
	if e.Level != zapcore.ErrorLevel || e.Message != "catalog store lost" || e.LoggerName != "component" {
		t.Errorf("entry %v %q %q: want critical as error (zap's higher levels end the process)", e.Level, e.Message, e.LoggerName)
	}
	m := e.ContextMap()
	fields, _ := m["fields"].(map[string]any)
	if m["oda.component.name"] != "productcatalog" || m["oda.component.namespace"] != "components" || m["oda.api"] != "productcatalogmanagement" {
		t.Errorf("identity fields %v", m)
	}
	if fields["component"] != "spoofed" || fields["offering"] != "42" || fields["Client-Secret"] != "[redacted]" {
		t.Errorf("the component's fields %v: want them under fields, the secret redacted", fields)
	}
	if entries[1].Level != zapcore.DebugLevel {
		t.Errorf("trace logged at %v, want debug", entries[1].Level)
	}
}
