package bridge

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func line(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(b) + "\n"
}

// A host's host data, as wasmCloud 1.x writes it (field names from
// PROVIDER.md), with every field set.
const fullHostData = `{"host_id":"NHOST","lattice_rpc_prefix":"default","link_name":"default",
"lattice_rpc_user_jwt":"","lattice_rpc_user_seed":"","lattice_rpc_url":"nats://127.0.0.1:4222",
"provider_key":"wasmcanvas-canvas-bridge","env_values":{"A":"1"},"instance_id":"7c1e",
"link_definitions":[{"source_id":"shop-api","target":"wasmcanvas-canvas-bridge","name":"default",
 "wit_namespace":"wasmcanvas","wit_package":"observe","interfaces":["metrics","tracing"],
 "source_config":{},"target_config":{"k":"v"},"source_secrets":null,"target_secrets":null}],
"cluster_issuers":["CABC"],"config":{"site":"edge-1"},
"secrets":{"token":{"kind":"String","value":"s3cret"},"raw":{"kind":"Bytes","value":[1,2,255]}},
"host_xkey_public_key":"","provider_xkey_private_key":"","default_rpc_timeout_ms":2000,
"structured_logging":true,"log_level":"debug",
"otel_config":{"enable_observability":true,"enable_metrics":false,"observability_endpoint":"http://otel:4318",
 "traces_endpoint":"http://tempo:4318/v1/traces","protocol":"Grpc","additional_ca_paths":[],"trace_level":"info",
 "max_batch_queue_size":2048},
"a_field_a_newer_host_adds":true}`

func TestReadHostData(t *testing.T) {
	t.Parallel()
	var raw map[string]any
	if err := json.Unmarshal([]byte(fullHostData), &raw); err != nil {
		t.Fatal(err)
	}
	raw["lattice_rpc_user_jwt"], raw["lattice_rpc_user_seed"] = "eyJ.jwt", "SUAMYSEED"
	hd, err := ReadHostData(strings.NewReader(line(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if hd.HostID != "NHOST" || hd.LatticeRPCPrefix != "default" || hd.ProviderKey != "wasmcanvas-canvas-bridge" ||
		hd.RPCURL() != "nats://127.0.0.1:4222" || hd.Config["site"] != "edge-1" || len(hd.LinkDefinitions) != 1 ||
		hd.LinkDefinitions[0].TargetConfig["k"] != "v" || *hd.DefaultRPCTimeoutMS != 2000 || !hd.StructuredLogging {
		t.Errorf("host data read as %+v", hd)
	}
	if s := hd.Secrets["token"]; s.String == nil || *s.String != "s3cret" {
		t.Errorf("secret token = %v", hd.Secrets["token"])
	}
	if s := hd.Secrets["raw"]; string(s.Bytes) != "\x01\x02\xff" {
		t.Errorf("secret raw = %v", s.Bytes)
	}
	o := hd.OtelConfig
	if o.OTLPProtocol() != OTLPGRPC || o.Traces() != (Signal{true, "http://tempo:4318/v1/traces"}) ||
		o.Metrics() != (Signal{false, "http://otel:4318"}) || o.Logs() != (Signal{true, "http://otel:4318"}) || *o.MaxBatchQueueSize != 2048 {
		t.Errorf("otel config %+v: traces %+v metrics %+v logs %+v", o, o.Traces(), o.Metrics(), o.Logs())
	}
	if hd.ZapLevel().String() != "debug" {
		t.Errorf("log level %s, want debug", hd.ZapLevel())
	}
	// Neither the String of the host data nor a printed secret shows a secret.
	for _, verb := range []string{"%v", "%s", "%+v", "%#v"} {
		if got := fmt.Sprintf(verb, hd.Secrets) + fmt.Sprintf(verb, hd); strings.Contains(got, "s3cret") || strings.Contains(got, "SUAMYSEED") {
			t.Errorf("%s of the secrets shows one: %s", verb, got)
		}
	}
}

// Endpoints resolve as wasmCloud's OtelConfig resolves them.
func TestOtelEndpoints(t *testing.T) {
	t.Parallel()
	ep := func(s string) *string { return &s }
	for _, tt := range []struct {
		name         string
		o            OtelConfig
		traces, logs string
	}{
		{"nothing set: the exporter's defaults", OtelConfig{}, "", ""},
		{"http: the signal path is added", OtelConfig{ObservabilityEndpoint: ep("https://example.com:4318")},
			"https://example.com:4318/v1/traces", "https://example.com:4318/v1/logs"},
		{"http: a path is kept", OtelConfig{ObservabilityEndpoint: ep("https://example.com:4318/otlp")},
			"https://example.com:4318/otlp", "https://example.com:4318/otlp"},
		{"grpc: the path is dropped", OtelConfig{Protocol: "Grpc", ObservabilityEndpoint: ep("https://example.com:4317/a/b")},
			"https://example.com:4317", "https://example.com:4317"},
		{"a signal's own endpoint is used as given", OtelConfig{Protocol: "grpc", TracesEndpoint: ep("https://t.example/x"), ObservabilityEndpoint: ep("https://o.example")},
			"https://t.example/x", "https://o.example"},
	} {
		if got := tt.o.Traces().Endpoint; got != tt.traces {
			t.Errorf("%s: traces endpoint %q, want %q", tt.name, got, tt.traces)
		}
		if got := tt.o.Logs().Endpoint; got != tt.logs {
			t.Errorf("%s: logs endpoint %q, want %q", tt.name, got, tt.logs)
		}
	}
}

func TestReadHostDataRefusesMalformed(t *testing.T) {
	t.Parallel()
	valid := map[string]any{"host_id": "NHOST", "lattice_rpc_prefix": "default", "provider_key": "canvas-bridge"}
	with := func(k string, v any) string {
		m := map[string]any{}
		for kk, vv := range valid {
			m[kk] = vv
		}
		m[k] = v
		return line(m)
	}
	for _, tt := range []struct {
		name, in, want string
	}{
		{"empty stdin", "", "stdin is empty"},
		{"blank line", "  \n", "stdin is empty"},
		{"not base64", "{not base64}\n", "not standard base64"},
		{"base64 of not JSON", base64.StdEncoding.EncodeToString([]byte("host_id=N")) + "\n", "not the host data JSON"},
		{"wrong type names the field", with("host_id", 7), "field host_id: want string"},
		{"two documents", base64.StdEncoding.EncodeToString([]byte(`{} {}`)) + "\n", "more than one JSON document"},
		{"no host id", with("host_id", ""), "host_id is empty"},
		{"bad lattice", with("lattice_rpc_prefix", "a.b"), "lattice_rpc_prefix"},
		{"provider key not a token", with("provider_key", "a b"), "provider_key"},
		{"jwt without seed", with("lattice_rpc_user_jwt", "eyJ"), "go together"},
		{"half the xkeys", with("host_xkey_public_key", "XABC"), "go together"},
		{"bad secret kind", with("secrets", map[string]any{"s": map[string]any{"kind": "Number", "value": 1}}), "secret kind"},
		{"link without source", with("link_definitions", []any{map[string]any{"target": "canvas-bridge", "wit_namespace": "a", "wit_package": "b"}}), "link_definitions[0]: source_id is empty"},
		{"bad protocol", with("otel_config", map[string]any{"protocol": "udp"}), "otel_config.protocol"},
		{"secret byte out of range", with("link_definitions", []any{map[string]any{"source_id": "a", "target": "canvas-bridge", "wit_namespace": "a", "wit_package": "b", "target_secrets": []int{256}}}), "is not a byte"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ReadHostData(strings.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ReadHostData = %v, want an error containing %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "host data: ") {
				t.Errorf("error %q does not say it is about the host data", err)
			}
		})
	}
}

// A type error must not quote the value: host data holds credentials.
func TestReadHostDataErrorsQuoteNoValue(t *testing.T) {
	t.Parallel()
	_, err := ReadHostData(strings.NewReader(line(map[string]any{"host_id": "N", "lattice_rpc_prefix": "default",
		"provider_key": "p", "lattice_rpc_user_seed": []string{"SUAMYSEED"}})))
	if err == nil || strings.Contains(err.Error(), "SUAMYSEED") {
		t.Fatalf("error %v: want one that does not quote the seed", err)
	}
}

func FuzzReadHostData(f *testing.F) {
	f.Add(line(json.RawMessage(fullHostData)))
	f.Add("e30=\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		hd, err := ReadHostData(strings.NewReader(in))
		if err == nil && hd.Validate() != nil {
			t.Fatal("ReadHostData accepted host data Validate refuses")
		}
	})
}
