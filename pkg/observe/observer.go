package observe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/service"
	"github.com/wasmcanvas/wasmcanvas/pkg/version"
)

// scope is the instrumentation scope of everything the canvas exports.
const scope = "github.com/wasmcanvas/wasmcanvas/pkg/observe"

// Options configure an Observer; the zero value reads the process's
// environment and logs nowhere.
type Options struct {
	ServiceName string              // service.name unless OTEL_SERVICE_NAME says otherwise (default "wasmcanvas")
	Logger      *zap.Logger         // component logs go to its "component" child
	Getenv      func(string) string // default os.Getenv
	Config      *Config             // when set, used instead of the environment (canvas-bridge's otel_config)
	Limits      Limits
}

// Observer is the canvas's Recorder: per-component Prometheus registries,
// spans and logs to OTLP when configured, logs to zap. Run it as the
// service Service returns; Recorder calls are valid after its Start.
type Observer struct {
	opts Options
	log  *zap.Logger
	cfg  Config

	// Set by Start, read-only after it.
	tr     trace.Tracer
	logger otellog.Logger // nil when OTLP logs are off
	stop   []func(context.Context) error

	mu         sync.Mutex
	components map[oda.Key]*Metrics
}

// New makes an Observer; nothing runs until its service starts.
func New(opts Options) *Observer {
	if opts.ServiceName == "" {
		opts.ServiceName = "wasmcanvas"
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	return &Observer{opts: opts, log: opts.Logger.Named("component"), tr: noop.NewTracerProvider().Tracer(scope), components: map[oda.Key]*Metrics{}}
}

// Config is what Provision settled on.
func (o *Observer) Config() Config { return o.cfg }

// Service is the Observer's lifecycle: Provision reads the OTEL_*
// settings, Start builds the exporters of the signals that are on, Stop
// flushes and shuts them down within ctx.
func (o *Observer) Service() service.Service {
	return service.New("observability", service.Funcs{
		Provision: func(context.Context) error {
			if o.opts.Config != nil {
				o.cfg = *o.opts.Config
				return nil
			}
			c, err := ConfigFromEnv(o.opts.Getenv, o.opts.ServiceName)
			o.cfg = c
			return err
		},
		Start: o.start,
		Stop:  o.shutdown,
	})
}

func (o *Observer) start(ctx context.Context) error {
	c := o.cfg
	if !c.Traces.On() && !c.Metrics.On() && !c.Logs.On() {
		return nil
	}
	o.opts.Logger.Info("OTLP export", zap.String("service", c.ServiceName),
		zap.Stringer("traces", c.Traces), zap.Stringer("metrics", c.Metrics), zap.Stringer("logs", c.Logs))
	// The SDK reports failed exports here; say so once per failure in our log.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { o.opts.Logger.Warn("OTLP export failed", zap.Error(err)) }))
	res := resource.NewSchemaless(
		attribute.String("service.name", o.cfg.ServiceName),
		attribute.String("service.version", version.Version))
	if e := o.cfg.Traces; e.On() {
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(e.URL), otlptracehttp.WithHeaders(e.Headers))
		if err != nil {
			return o.failed(ctx, fmt.Errorf("OTLP traces exporter: %w", err))
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithBatcher(exp), sdktrace.WithIDGenerator(idGenerator{}))
		o.tr = tp.Tracer(scope)
		o.stop = append(o.stop, tp.Shutdown)
	}
	if e := o.cfg.Metrics; e.On() {
		exp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(e.URL), otlpmetrichttp.WithHeaders(e.Headers))
		if err != nil {
			return o.failed(ctx, fmt.Errorf("OTLP metrics exporter: %w", err))
		}
		reader := sdkmetric.NewPeriodicReader(exp, sdkmetric.WithProducer(componentProducer{o}))
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(reader))
		o.stop = append(o.stop, mp.Shutdown)
	}
	if e := o.cfg.Logs; e.On() {
		exp, err := otlploghttp.New(ctx, otlploghttp.WithEndpointURL(e.URL), otlploghttp.WithHeaders(e.Headers))
		if err != nil {
			return o.failed(ctx, fmt.Errorf("OTLP logs exporter: %w", err))
		}
		lp := sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(sdklog.NewBatchProcessor(exp)))
		o.logger = lp.Logger(scope)
		o.stop = append(o.stop, lp.Shutdown)
	}
	return nil
}

// failed undoes a partial start, so a failed Start leaves nothing running.
func (o *Observer) failed(ctx context.Context, err error) error {
	return errors.Join(err, o.shutdown(ctx))
}

// shutdown flushes and stops the providers, last started first.
func (o *Observer) shutdown(ctx context.Context) error {
	var errs []error
	for i := len(o.stop) - 1; i >= 0; i-- {
		if err := o.stop[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	o.stop = nil
	return errors.Join(errs...)
}

func (o *Observer) tracer() trace.Tracer { return o.tr }

// Metrics is src's Component's registry, made on first use. The gateway
// serves its Handler and calls its request hooks.
func (o *Observer) Metrics(src Source) (*Metrics, error) {
	k, err := src.Key()
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	m, ok := o.components[k]
	if !ok {
		m = NewMetrics(k, o.opts.Limits)
		o.components[k] = m
	}
	return m, nil
}

// Forget drops the registry of a deleted Component, so churn does not grow
// memory; its series are gone from the next scrape.
func (o *Observer) Forget(k oda.Key) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.components, k)
}

// registries lists the component registries, for the OTLP metrics producer.
func (o *Observer) registries() map[oda.Key]*Metrics {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[oda.Key]*Metrics, len(o.components))
	for k, m := range o.components {
		out[k] = m
	}
	return out
}

// CounterAdd, GaugeSet, GaugeAdd and HistogramRecord are the WIT metrics
// functions, recorded in src's Component's registry.
func (o *Observer) CounterAdd(_ context.Context, src Source, name string, delta uint64, labels []KeyValue) error {
	return o.inRegistry(src, func(m *Metrics) error { return m.CounterAdd(name, delta, labels) })
}

func (o *Observer) GaugeSet(_ context.Context, src Source, name string, value float64, labels []KeyValue) error {
	return o.inRegistry(src, func(m *Metrics) error { return m.GaugeSet(name, value, labels) })
}

func (o *Observer) GaugeAdd(_ context.Context, src Source, name string, delta float64, labels []KeyValue) error {
	return o.inRegistry(src, func(m *Metrics) error { return m.GaugeAdd(name, delta, labels) })
}

func (o *Observer) HistogramRecord(_ context.Context, src Source, name string, value float64, labels []KeyValue) error {
	return o.inRegistry(src, func(m *Metrics) error { return m.HistogramRecord(name, value, labels) })
}

func (o *Observer) inRegistry(src Source, record func(*Metrics) error) error {
	m, err := o.Metrics(src)
	if err != nil {
		return err
	}
	return record(m)
}

// Log is the WIT function: the record goes to zap with the component's
// identity and, when OTLP logs are on, to OTLP with ctx's trace context.
func (o *Observer) Log(ctx context.Context, src Source, level Level, message string, fields []KeyValue) error {
	if _, err := src.Key(); err != nil {
		return err
	}
	if level < LevelTrace || level > LevelCritical {
		return errorf(InvalidArgument, "log level %d is not one of %v", level, levels)
	}
	attrs, err := checkKeyValues("field", fields)
	if err != nil {
		return err
	}
	message = truncate(message, maxMessage)
	ident := src.attributes()

	if ce := o.log.Check(zapLevels[level], message); ce != nil {
		zf := make([]zap.Field, 0, len(ident)+len(attrs)+3)
		for _, a := range ident {
			zf = append(zf, zap.String(string(a.Key), a.Value.AsString()))
		}
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			zf = append(zf, zap.Stringer("trace_id", sc.TraceID()), zap.Stringer("span_id", sc.SpanID()))
		}
		zf = append(zf, zap.Namespace("fields")) // the component's keys cannot shadow ours
		for _, a := range attrs {
			zf = append(zf, zap.String(string(a.Key), a.Value.AsString()))
		}
		ce.Write(zf...)
	}

	if o.logger != nil {
		var r otellog.Record
		r.SetTimestamp(time.Now())
		r.SetSeverity(otelSeverities[level])
		r.SetSeverityText(level.String())
		r.SetBody(attribute.StringValue(message))
		r.AddAttributes(ident...)
		r.AddAttributes(attrs...)
		o.logger.Emit(ctx, r)
	}
	return nil
}

// ZapLevel is the zap level l is logged at (the runtime logs an unlinked
// component's wasi:logging records at it too).
func (l Level) ZapLevel() zapcore.Level {
	if l < LevelTrace || l > LevelCritical {
		return zap.InfoLevel
	}
	return zapLevels[l]
}

// zapLevels: zap's DPanic, Panic and Fatal end the process, so critical is
// an error there (OTLP keeps it as fatal severity).
var zapLevels = [...]zapcore.Level{
	LevelTrace: zap.DebugLevel, LevelDebug: zap.DebugLevel, LevelInfo: zap.InfoLevel,
	LevelWarn: zap.WarnLevel, LevelError: zap.ErrorLevel, LevelCritical: zap.ErrorLevel,
}

var otelSeverities = [...]otellog.Severity{
	LevelTrace: otellog.SeverityTrace, LevelDebug: otellog.SeverityDebug, LevelInfo: otellog.SeverityInfo,
	LevelWarn: otellog.SeverityWarn, LevelError: otellog.SeverityError, LevelCritical: otellog.SeverityFatal,
}
var _ Recorder = (*Observer)(nil)
