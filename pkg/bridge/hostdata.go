package bridge

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"go.uber.org/zap/zapcore"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
)

// MaxHostData bounds the host data line: it carries every link of the
// provider at start-up with their configs and sealed secrets, which is
// far below this.
const MaxHostData = 16 << 20

// DefaultRPCURL is the NATS URL a provider uses when the host data gives
// none (wasmCloud's default).
const DefaultRPCURL = "127.0.0.1:4222"

// HostData is what a wasmCloud 1.x host writes on a provider's stdin
// (PROVIDER.md, section 1), field for field. Fields this package does not
// use are kept so they can be logged and passed on.
type HostData struct {
	HostID                 string                 `json:"host_id"`
	LatticeRPCPrefix       string                 `json:"lattice_rpc_prefix"`
	LinkName               string                 `json:"link_name"`
	LatticeRPCUserJWT      string                 `json:"lattice_rpc_user_jwt"`
	LatticeRPCUserSeed     string                 `json:"lattice_rpc_user_seed"`
	LatticeRPCURL          string                 `json:"lattice_rpc_url"`
	ProviderKey            string                 `json:"provider_key"`
	EnvValues              map[string]string      `json:"env_values"`
	InstanceID             string                 `json:"instance_id"`
	LinkDefinitions        []LinkDefinition       `json:"link_definitions"`
	ClusterIssuers         []string               `json:"cluster_issuers"`
	Config                 map[string]string      `json:"config"`
	Secrets                map[string]SecretValue `json:"secrets"`
	HostXKeyPublicKey      string                 `json:"host_xkey_public_key"`
	ProviderXKeyPrivateKey string                 `json:"provider_xkey_private_key"`
	DefaultRPCTimeoutMS    *uint64                `json:"default_rpc_timeout_ms"`
	StructuredLogging      bool                   `json:"structured_logging"`
	LogLevel               *string                `json:"log_level"`
	OtelConfig             OtelConfig             `json:"otel_config"`
}

// String hides the NATS seed and the xkey seed: host data ends up in
// logs and errors.
func (h HostData) String() string {
	return fmt.Sprintf("host %s, lattice %s, provider %s, instance %s, NATS %s, %d links",
		h.HostID, h.LatticeRPCPrefix, h.ProviderKey, h.InstanceID, h.RPCURL(), len(h.LinkDefinitions))
}

// GoString is String, so %#v shows no seed either.
func (h HostData) GoString() string { return h.String() }

// RPCURL is LatticeRPCURL, or DefaultRPCURL when empty.
func (h HostData) RPCURL() string {
	if h.LatticeRPCURL == "" {
		return DefaultRPCURL
	}
	return h.LatticeRPCURL
}

// OtelConfig is the provider's own OpenTelemetry settings from the host
// (wasmCloud's OtelConfig). The bridge parses and exposes them; exporting
// its own telemetry is pkg/observe's job.
type OtelConfig struct {
	EnableObservability   bool     `json:"enable_observability"`
	EnableTraces          *bool    `json:"enable_traces"`
	EnableMetrics         *bool    `json:"enable_metrics"`
	EnableLogs            *bool    `json:"enable_logs"`
	ObservabilityEndpoint *string  `json:"observability_endpoint"`
	TracesEndpoint        *string  `json:"traces_endpoint"`
	MetricsEndpoint       *string  `json:"metrics_endpoint"`
	LogsEndpoint          *string  `json:"logs_endpoint"`
	Protocol              string   `json:"protocol"`
	AdditionalCAPaths     []string `json:"additional_ca_paths"`
	TraceLevel            string   `json:"trace_level"`
	TracesSampler         *string  `json:"traces_sampler"`
	TracesSamplerArg      *string  `json:"traces_sampler_arg"`
	MaxBatchQueueSize     *uint64  `json:"max_batch_queue_size"`
	ConcurrentExports     *uint64  `json:"concurrent_exports"`
}

// OTLP protocols, as Protocol names them once normalised.
const (
	OTLPHTTP = "http"
	OTLPGRPC = "grpc"
)

// OTLPProtocol is Protocol normalised: OTLPHTTP (also when empty, the
// upstream default) or OTLPGRPC.
func (o OtelConfig) OTLPProtocol() string {
	if strings.EqualFold(o.Protocol, OTLPGRPC) {
		return OTLPGRPC
	}
	return OTLPHTTP
}

// Signal says whether one telemetry signal is on and where it goes, as
// wasmCloud resolves it: the signal's own switch and endpoint win over
// the general ones; the general endpoint loses its path for gRPC and gains
// /v1/{signal} for HTTP when it has no path.
type Signal struct {
	Enabled  bool
	Endpoint string // "" means the exporter's default for the protocol
}

// Traces, Metrics and Logs resolve each signal's settings.
func (o OtelConfig) Traces() Signal  { return o.signal("traces", o.EnableTraces, o.TracesEndpoint) }
func (o OtelConfig) Metrics() Signal { return o.signal("metrics", o.EnableMetrics, o.MetricsEndpoint) }
func (o OtelConfig) Logs() Signal    { return o.signal("logs", o.EnableLogs, o.LogsEndpoint) }

func (o OtelConfig) signal(name string, enabled *bool, endpoint *string) Signal {
	s := Signal{Enabled: o.EnableObservability}
	if enabled != nil {
		s.Enabled = *enabled
	}
	switch {
	case endpoint != nil:
		s.Endpoint = *endpoint
	case o.ObservabilityEndpoint != nil:
		s.Endpoint = *o.ObservabilityEndpoint
		u, err := url.Parse(s.Endpoint)
		if err != nil || u.Host == "" {
			break // used as given, as upstream does
		}
		if o.OTLPProtocol() == OTLPGRPC {
			u.Path, u.RawPath = "", ""
			s.Endpoint = strings.TrimSuffix(u.String(), "/")
		} else if u.Path == "" || u.Path == "/" {
			s.Endpoint = strings.TrimSuffix(u.String(), "/") + "/v1/" + name
		}
	}
	return s
}

// SecretValue is a secret as wasmCloud encodes it: {"kind":"String",
// "value":"..."} or {"kind":"Bytes","value":[...]}. String hides it.
type SecretValue struct {
	String *string
	Bytes  []byte
}

// Format prints no secret, whatever the verb.
func (s SecretValue) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, "<secret hidden>")
}

// UnmarshalJSON decodes the tagged form.
func (s *SecretValue) UnmarshalJSON(b []byte) error {
	var raw struct {
		Kind  string          `json:"kind"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	switch raw.Kind {
	case "String":
		var v string
		if err := json.Unmarshal(raw.Value, &v); err != nil {
			return fmt.Errorf("secret of kind String: value: %w", err)
		}
		*s = SecretValue{String: &v}
	case "Bytes":
		var v []int
		if err := json.Unmarshal(raw.Value, &v); err != nil {
			return fmt.Errorf("secret of kind Bytes: value is not a list of bytes: %w", err)
		}
		out := make([]byte, len(v))
		for i, n := range v {
			if n < 0 || n > 255 {
				return fmt.Errorf("secret of kind Bytes: value[%d] = %d is not a byte", i, n)
			}
			out[i] = byte(n)
		}
		*s = SecretValue{Bytes: out}
	default:
		return fmt.Errorf("secret kind %q: want String or Bytes", raw.Kind)
	}
	return nil
}

// MarshalJSON encodes the tagged form (tests and hosts in tests seal it).
func (s SecretValue) MarshalJSON() ([]byte, error) {
	if s.String != nil {
		return json.Marshal(map[string]any{"kind": "String", "value": *s.String})
	}
	v := make([]int, len(s.Bytes))
	for i, b := range s.Bytes {
		v[i] = int(b)
	}
	return json.Marshal(map[string]any{"kind": "Bytes", "value": v})
}

// ReadHostData reads the host data from r as a host writes it: one line of
// standard base64 (with padding) of a JSON document. Anything else is an
// error that says what was wrong without echoing the line, which holds
// credentials. Fields newer hosts add are ignored, as upstream providers
// ignore them; a field of the wrong type is an error.
func ReadHostData(r io.Reader) (HostData, error) {
	var hd HostData
	br := bufio.NewReaderSize(io.LimitReader(r, MaxHostData+1), 64<<10)
	line, err := br.ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return hd, fmt.Errorf("host data: reading stdin: %w", err)
	}
	if len(line) > MaxHostData {
		return hd, fmt.Errorf("host data: the line on stdin is longer than %d bytes", MaxHostData)
	}
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return hd, errors.New("host data: stdin is empty: a wasmCloud host writes one base64 line of host data there; start canvas-bridge through a host (wash, wadm) or pipe the line in")
	}
	raw := make([]byte, base64.StdEncoding.DecodedLen(len(line)))
	n, err := base64.StdEncoding.Decode(raw, line)
	if err != nil {
		return hd, fmt.Errorf("host data: the line on stdin is not standard base64: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw[:n]))
	if err := dec.Decode(&hd); err != nil {
		return hd, fmt.Errorf("host data: the decoded line is not the host data JSON: %w", jsonError(err))
	}
	if dec.More() {
		return hd, errors.New("host data: more than one JSON document in the decoded line")
	}
	if err := hd.Validate(); err != nil {
		return hd, fmt.Errorf("host data: %w", err)
	}
	return hd, nil
}

// jsonError keeps the field and the type of a type error and drops the
// value, which could be a secret.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("field %s: want %s, got a JSON %s", te.Field, te.Type, te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("JSON syntax error at offset %d", se.Offset)
	}
	return err
}

// Validate checks what the bridge needs from the host data, every
// problem at once, each naming its field.
func (h HostData) Validate() error {
	var errs []error
	if h.HostID == "" {
		errs = append(errs, errors.New("host_id is empty: the bridge answers shutdown only for its own host"))
	}
	if err := subject.ValidateLattice(h.LatticeRPCPrefix); err != nil {
		errs = append(errs, fmt.Errorf("lattice_rpc_prefix: %w", err))
	}
	if err := subject.ValidateToken("provider_key", h.ProviderKey); err != nil {
		errs = append(errs, err)
	}
	if h.LinkName != "" {
		if err := subject.ValidateToken("link_name", h.LinkName); err != nil {
			errs = append(errs, err)
		}
	}
	if (h.LatticeRPCUserJWT == "") != (h.LatticeRPCUserSeed == "") {
		errs = append(errs, errors.New("lattice_rpc_user_jwt and lattice_rpc_user_seed go together: give both or neither"))
	}
	if (h.HostXKeyPublicKey == "") != (h.ProviderXKeyPrivateKey == "") {
		errs = append(errs, errors.New("host_xkey_public_key and provider_xkey_private_key go together: give both or neither"))
	}
	if h.ProviderXKeyPrivateKey != "" {
		if _, err := providerXKey(h); err != nil {
			errs = append(errs, err)
		}
	}
	switch strings.ToLower(h.OtelConfig.Protocol) {
	case "", OTLPHTTP, OTLPGRPC:
	default:
		errs = append(errs, fmt.Errorf("otel_config.protocol %q: want Http or Grpc", h.OtelConfig.Protocol))
	}
	for i, l := range h.LinkDefinitions {
		if err := l.validate(); err != nil {
			errs = append(errs, fmt.Errorf("link_definitions[%d]: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// ZapLevel maps log_level to a zap level: trace is debug, critical is
// error; unset or unknown is info.
func (h HostData) ZapLevel() zapcore.Level {
	if h.LogLevel == nil {
		return zapcore.InfoLevel
	}
	switch strings.ToLower(*h.LogLevel) {
	case "trace", "debug":
		return zapcore.DebugLevel
	case "warn":
		return zapcore.WarnLevel
	case "error", "critical":
		return zapcore.ErrorLevel
	}
	return zapcore.InfoLevel
}
