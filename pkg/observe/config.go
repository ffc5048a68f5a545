package observe

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
)

// Config says where OTLP goes. A signal with no URL is off; all are off
// when no OTEL_* variable names an endpoint.
type Config struct {
	ServiceName           string
	Traces, Metrics, Logs Endpoint
}

// Endpoint is one signal's OTLP/HTTP URL and headers. Headers often hold
// credentials: they are passed to the exporter and never logged.
type Endpoint struct {
	URL     string
	Headers map[string]string
}

// On reports whether the signal is exported.
func (e Endpoint) On() bool { return e.URL != "" }

// String shows the URL and the header names, never their values, so an
// Endpoint (or a Config, through %v) is safe to log.
func (e Endpoint) String() string {
	if !e.On() {
		return "off"
	}
	names := slices.Sorted(maps.Keys(e.Headers))
	if len(names) == 0 {
		return e.URL
	}
	return e.URL + " (headers " + strings.Join(names, ", ") + ")"
}

// ConfigFromEnv reads the OpenTelemetry SDK's standard variables through
// getenv: OTEL_SDK_DISABLED, OTEL_SERVICE_NAME (else serviceName),
// OTEL_EXPORTER_OTLP_ENDPOINT and _HEADERS, their per-signal forms
// (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, ...) and OTEL_{TRACES,METRICS,LOGS}_EXPORTER=none.
func ConfigFromEnv(getenv func(string) string, serviceName string) (Config, error) {
	c := Config{ServiceName: serviceName}
	if s := getenv("OTEL_SERVICE_NAME"); s != "" {
		c.ServiceName = s
	}
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return c, nil
	}
	base, err := headers(getenv, "OTEL_EXPORTER_OTLP_HEADERS")
	if err != nil {
		return c, err
	}
	for _, s := range []struct {
		signal, path string
		to           *Endpoint
	}{{"TRACES", "/v1/traces", &c.Traces}, {"METRICS", "/v1/metrics", &c.Metrics}, {"LOGS", "/v1/logs", &c.Logs}} {
		if strings.EqualFold(getenv("OTEL_"+s.signal+"_EXPORTER"), "none") {
			continue
		}
		v := "OTEL_EXPORTER_OTLP_" + s.signal + "_ENDPOINT"
		u := getenv(v)
		if u == "" {
			v = "OTEL_EXPORTER_OTLP_ENDPOINT"
			if u = getenv(v); u != "" {
				u = strings.TrimRight(u, "/") + s.path
			}
		}
		if u == "" {
			continue
		}
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return c, fmt.Errorf("%s: want an http:// or https:// URL with a host", v)
		}
		h, err := headers(getenv, "OTEL_EXPORTER_OTLP_"+s.signal+"_HEADERS")
		if err != nil {
			return c, err
		}
		for k, val := range base {
			if _, ok := h[k]; !ok {
				h[k] = val
			}
		}
		*s.to = Endpoint{URL: u, Headers: h}
	}
	return c, nil
}

// headers parses key1=value1,key2=value2 (values URL-encoded). Errors name
// the variable and the entry's position, never its content.
func headers(getenv func(string) string, v string) (map[string]string, error) {
	h := map[string]string{}
	s := getenv(v)
	if strings.TrimSpace(s) == "" {
		return h, nil
	}
	for i, kv := range strings.Split(s, ",") {
		k, val, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		dec, err := url.PathUnescape(strings.TrimSpace(val))
		if !ok || k == "" || err != nil {
			return nil, fmt.Errorf("%s: entry %d: want key=value (value URL-encoded), entries separated by commas", v, i+1)
		}
		h[k] = dec
	}
	return h, nil
}
