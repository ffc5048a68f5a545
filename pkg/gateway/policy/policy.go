package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// AnnotationOpenAPI names local copies of exposed APIs' OpenAPI documents,
// as a JSON object from API name to an absolute file:// URL or path:
// {"productcatalogmanagement": "file:///srv/oas/TMF620.json"}. It wins over
// specification[].url, so OASValidation needs no network.
const AnnotationOpenAPI = "wasmcanvas.io/openapi"

// Spec is what the gateway enforces on one exposed API. The zero Spec
// enforces nothing.
type Spec struct {
	Guard     *Guard     `json:"guard,omitempty"`
	APIKey    *APIKey    `json:"apiKey,omitempty"`
	RateLimit *RateLimit `json:"rateLimit,omitempty"`
	Quota     *Quota     `json:"quota,omitempty"`
	OAS       *OAS       `json:"oas,omitempty"`
	CORS      *CORS      `json:"cors,omitempty"`
}

// Empty reports whether s enforces nothing.
func (s Spec) Empty() bool { return s == Spec{} }

// Guard requires a bearer token (a Component with a securityFunction).
// The caller must hold at least one of Roles: the Component's
// componentRole names and its canvasSystemRole. A securityFunction that
// declares no role at all lets no caller in (403): the rule is never
// widened to "any token".
type Guard struct {
	Roles []string `json:"roles"`
}

// Allows reports whether a caller holding roles passes the guard.
func (g *Guard) Allows(roles []string) bool {
	return slices.ContainsFunc(roles, func(r string) bool { return slices.Contains(g.Roles, r) })
}

// Where an API key is read from.
const (
	InHeader = "header"
	InQuery  = "query"
)

// DefaultAPIKeyName is the variable an API key is read from when location
// is empty (Kong's key-auth default).
const DefaultAPIKeyName = "apikey"

// APIKey requires a key made with `canvas apikey create` for the API's
// Component. location names the variable the key is expected in: "NAME"
// (a header or a query parameter of that name, header first),
// "header:NAME" or "query:NAME". The reference example's bare "header"
// and "query" mean the default name in that place.
type APIKey struct {
	Name string `json:"name"`
	// In is InHeader, InQuery or "" (either).
	In string `json:"in,omitempty"`
}

// Identifier kinds: what a rate limit or quota counts by.
const (
	ByIP       = "ip"
	ByHeader   = "header"
	ByConsumer = "consumer"
)

// Identifier says whose requests a counter counts. ODA's identifier is
// "IP" (the client address, the default), "consumer" (the API key's
// consumer, else the verified token's subject, else the client address) or
// "header:NAME" (the value of that request header, the client address
// when absent).
type Identifier struct {
	Kind   string `json:"kind"`
	Header string `json:"header,omitempty"`
}

// RateLimit allows Limit requests per Interval (one second or one minute)
// and identifier, counted in fixed windows.
type RateLimit struct {
	By       Identifier    `json:"by"`
	Limit    int64         `json:"limit"`
	Interval time.Duration `json:"interval"`
}

// Quota allows Limit requests in all per identifier, counted persistently.
type Quota struct {
	By    Identifier `json:"by"`
	Limit int64      `json:"limit"`
}

// OAS validates requests (and responses) against the API's OpenAPI
// document.
type OAS struct {
	// Document is where the document is: a file:// URL, an absolute path
	// or an http(s) URL (fetched once when the route is set).
	Document                    string `json:"document"`
	Request                     bool   `json:"request,omitempty"`
	Response                    bool   `json:"response,omitempty"`
	AllowUnspecifiedHeaders     bool   `json:"allowUnspecifiedHeaders,omitempty"`
	AllowUnspecifiedQueryParams bool   `json:"allowUnspecifiedQueryParams,omitempty"`
	AllowUnspecifiedCookies     bool   `json:"allowUnspecifiedCookies,omitempty"`
}

// CORS answers cross-origin requests.
type CORS struct {
	// AllowOrigins lists the origins allowed; ["*"] allows any.
	AllowOrigins     []string `json:"allowOrigins"`
	AllowCredentials bool     `json:"allowCredentials,omitempty"`
	// Preflight is nil when the gateway leaves OPTIONS to the component.
	Preflight *Preflight `json:"preflight,omitempty"`
}

// Preflight is how the gateway answers a CORS preflight request.
type Preflight struct {
	AllowHeaders []string `json:"allowHeaders"`
	AllowMethods []string `json:"allowMethods"`
	MaxAge       int      `json:"maxAge"`
}

// The CRD's CORS defaults.
var (
	DefaultAllowHeaders = []string{"Origin", "Accept", "X-Requested-With", "Content-Type", "Access-Control-Request-Method", "Access-Control-Request-Headers"}
	DefaultAllowMethods = []string{"GET", "POST", "HEAD", "OPTIONS"}
)

// DefaultMaxAge is the CRD's default preflight maxAge, in seconds.
const DefaultMaxAge = 1800

// Allowed reports whether origin may make cross-origin requests.
func (c *CORS) Allowed(origin string) bool {
	return slices.Contains(c.AllowOrigins, "*") || slices.Contains(c.AllowOrigins, origin)
}

// ForAPI is the Spec of the exposed API e of c, found at path (its ODA
// field path, e.g. spec.coreFunction.exposedAPIs[0]). Errors name the
// field and the fix.
func ForAPI(c *oda.Component, e *oda.ExposedAPI, path string) (Spec, error) {
	var s Spec
	var errs oda.ErrorList
	// A metrics API is scraped without a token, as the reference canvas's
	// ServiceMonitor scrapes the pod, not the API gateway.
	if sec := c.Spec.SecurityFunction; sec != nil && !e.Metrics() {
		s.Guard = guard(sec)
	}
	gc, gcPath := e.GatewayConfiguration, path+".gatewayConfiguration"
	if gc == nil && len(e.Specification) > 0 {
		gc, gcPath = e.Specification[0].GatewayConfiguration, path+".specification[0].gatewayConfiguration"
	}
	if gc == nil {
		return s, nil
	}
	fail := func(field, msg, fix string) {
		errs = append(errs, oda.FieldError{Path: gcPath + "." + field, Msg: msg, Fix: fix})
	}
	if k := gc.APIKeyVerification; k != nil && isTrue(k.Enabled) {
		s.APIKey = apiKey(deref(k.Location))
	}
	if rl := gc.RateLimit; rl != nil && isTrue(rl.Enabled) {
		r := &RateLimit{}
		var err error
		if r.By, err = identifier(deref(rl.Identifier)); err != nil {
			fail("rateLimit.identifier", err.Error(), `write "IP", "consumer" or "header:NAME"`)
		}
		if r.Limit, err = count(deref(rl.Limit)); err != nil {
			fail("rateLimit.limit", err.Error(), `write a positive whole number of requests, e.g. "10"`)
		}
		switch iv := strings.ToLower(strings.TrimSpace(deref(rl.Interval))); iv {
		case "", "ps":
			r.Interval = time.Second
		case "pm":
			r.Interval = time.Minute
		default:
			fail("rateLimit.interval", fmt.Sprintf("interval %q is neither ps nor pm", iv), `write "ps" (per second, the default) or "pm" (per minute)`)
		}
		s.RateLimit = r
	}
	// quota has no enabled switch: a limit turns it on.
	if q := gc.Quota; q != nil && strings.TrimSpace(deref(q.Limit)) != "" {
		r := &Quota{}
		var err error
		if r.By, err = identifier(deref(q.Identifier)); err != nil {
			fail("quota.identifier", err.Error(), `write "IP", "consumer" or "header:NAME"`)
		}
		if r.Limit, err = count(deref(q.Limit)); err != nil {
			fail("quota.limit", err.Error(), `write a positive whole number of requests, e.g. "1000", or leave it empty for no quota`)
		}
		s.Quota = r
	}
	if v := gc.OASValidation; v != nil && (isTrue(v.RequestEnabled) || isTrue(v.ResponseEnabled)) {
		o := &OAS{
			Request: isTrue(v.RequestEnabled), Response: isTrue(v.ResponseEnabled),
			AllowUnspecifiedHeaders:     isTrue(v.AllowUnspecifiedHeaders),
			AllowUnspecifiedQueryParams: isTrue(v.AllowUnspecifiedQueryParams),
			AllowUnspecifiedCookies:     isTrue(v.AllowUnspecifiedCookies),
		}
		doc, err := document(c, e)
		if err != nil {
			fail("OASValidation", err.Error(), fmt.Sprintf(`give %s a specification[0].url, or name a local copy in the %s annotation: {%q: "file:///path/to/openapi.json"}`, e.Name, AnnotationOpenAPI, e.Name))
		}
		o.Document = doc
		s.OAS = o
	}
	if cc := gc.CORS; cc != nil && isTrue(cc.Enabled) {
		o := &CORS{AllowOrigins: csv(deref(cc.AllowOrigins)), AllowCredentials: isTrue(cc.AllowCredentials)}
		if len(o.AllowOrigins) == 0 {
			o.AllowOrigins = []string{"*"}
		}
		if o.AllowCredentials && slices.Contains(o.AllowOrigins, "*") {
			// Browsers refuse credentials with a wildcard origin; the
			// gateway answers with the request's origin instead, which
			// would let every site call with the user's cookies.
			fail("CORS.allowCredentials", "allowCredentials with allowOrigins * lets every site send credentials", "list the origins allowed in allowOrigins")
		}
		hp := cc.HandlePreflightRequests
		if hp == nil || hp.Enabled == nil || *hp.Enabled {
			p := &Preflight{AllowHeaders: DefaultAllowHeaders, AllowMethods: DefaultAllowMethods, MaxAge: DefaultMaxAge}
			if hp != nil {
				if h := csv(deref(hp.AllowHeaders)); len(h) > 0 {
					p.AllowHeaders = h
				}
				if m := csv(deref(hp.AllowMethods)); len(m) > 0 {
					p.AllowMethods = m
				}
				if hp.MaxAge != nil {
					p.MaxAge = *hp.MaxAge
				}
			}
			if p.MaxAge < 0 {
				fail("CORS.handlePreflightRequests.maxAge", fmt.Sprintf("maxAge %d is negative", p.MaxAge), "write seconds, e.g. 1800")
			}
			o.Preflight = p
		}
		s.CORS = o
	}
	if len(errs) > 0 {
		return Spec{}, errs
	}
	return s, nil
}

func guard(sec *oda.SecurityFunction) *Guard {
	g := &Guard{Roles: []string{}}
	seen := make(map[string]bool, len(sec.ComponentRole)+1) // a set: slices.Contains made it quadratic in the roles
	add := func(r string) {
		if r != "" && !seen[r] {
			seen[r] = true
			g.Roles = append(g.Roles, r)
		}
	}
	for _, r := range sec.ComponentRole {
		add(r.Name)
	}
	add(sec.CanvasSystemRole)
	return g
}

func apiKey(loc string) *APIKey {
	loc = strings.TrimSpace(loc)
	in, name, ok := strings.Cut(loc, ":")
	switch {
	case ok && strings.EqualFold(in, InHeader):
		return &APIKey{In: InHeader, Name: orDefault(strings.TrimSpace(name))}
	case ok && strings.EqualFold(in, InQuery):
		return &APIKey{In: InQuery, Name: orDefault(strings.TrimSpace(name))}
	case strings.EqualFold(loc, InHeader):
		return &APIKey{In: InHeader, Name: DefaultAPIKeyName}
	case strings.EqualFold(loc, InQuery):
		return &APIKey{In: InQuery, Name: DefaultAPIKeyName}
	}
	return &APIKey{Name: orDefault(loc)}
}

func orDefault(name string) string {
	if name == "" {
		return DefaultAPIKeyName
	}
	return name
}

func identifier(s string) (Identifier, error) {
	s = strings.TrimSpace(s)
	if kind, name, ok := strings.Cut(s, ":"); ok && strings.EqualFold(kind, ByHeader) {
		name = strings.TrimSpace(name)
		if name == "" {
			return Identifier{}, fmt.Errorf("identifier %q names no header", s)
		}
		return Identifier{Kind: ByHeader, Header: textproto.CanonicalMIMEHeaderKey(name)}, nil
	}
	switch strings.ToLower(s) {
	case "", "ip", "client-ip", "remote_addr":
		return Identifier{Kind: ByIP}, nil
	case "consumer", "credential":
		return Identifier{Kind: ByConsumer}, nil
	}
	return Identifier{}, fmt.Errorf("identifier %q is not IP, consumer or header:NAME", s)
}

func count(s string) (int64, error) {
	s = strings.TrimSpace(s)
	n, err := strconv.ParseInt(s, 10, 64)
	if errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("limit %q is over %d", s, int64(math.MaxInt64))
	}
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("limit %q is not a positive whole number", s)
	}
	return n, nil
}

// document is where the OpenAPI document of e is: the annotation's local
// copy, else specification[0].url.
func document(c *oda.Component, e *oda.ExposedAPI) (string, error) {
	if a := c.Metadata.Annotations[AnnotationOpenAPI]; a != "" {
		var m map[string]string
		if err := json.Unmarshal([]byte(a), &m); err != nil {
			return "", fmt.Errorf("annotation %s is not a JSON object of API name to file: %v", AnnotationOpenAPI, err)
		}
		if d := m[e.Name]; d != "" {
			if !strings.HasPrefix(d, "file:///") && !strings.HasPrefix(d, "/") {
				return "", fmt.Errorf("annotation %s names %q for %s: write an absolute file:// URL or path", AnnotationOpenAPI, d, e.Name)
			}
			return d, nil
		}
	}
	for _, sp := range e.Specification {
		if sp.URL != "" {
			return sp.URL, nil
		}
	}
	return "", fmt.Errorf("OASValidation is enabled but no OpenAPI document is named for %s", e.Name)
}

func csv(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func isTrue(b *bool) bool { return b != nil && *b }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Encode is s as the compact JSON a route's config carries.
func (s Spec) Encode() string {
	b, err := json.Marshal(s)
	if err != nil {
		// Only strings, bools, ints and slices of them: cannot fail.
		panic(err)
	}
	return string(b)
}

// Decode reads a Spec written by Encode; unknown fields are refused, so a
// policy this gateway does not know is never silently dropped.
func Decode(s string) (Spec, error) {
	var out Spec
	d := json.NewDecoder(strings.NewReader(s))
	d.DisallowUnknownFields()
	if err := d.Decode(&out); err != nil {
		return Spec{}, fmt.Errorf("route policy: %w", err)
	}
	if err := out.Validate(); err != nil {
		return Spec{}, fmt.Errorf("route policy: %w", err)
	}
	return out, nil
}

// Validate refuses what ForAPI never makes and the gateway cannot
// enforce (a zero interval, an unknown identifier, no document).
func (s Spec) Validate() error {
	var errs []error
	if k := s.APIKey; k != nil && (k.Name == "" || (k.In != "" && k.In != InHeader && k.In != InQuery)) {
		errs = append(errs, fmt.Errorf("apiKey: name %q in %q", k.Name, k.In))
	}
	if r := s.RateLimit; r != nil {
		if r.Limit <= 0 || (r.Interval != time.Second && r.Interval != time.Minute) {
			errs = append(errs, fmt.Errorf("rateLimit: %d per %v: want a positive limit per second or minute", r.Limit, r.Interval))
		}
		errs = append(errs, r.By.check("rateLimit"))
	}
	if q := s.Quota; q != nil {
		if q.Limit <= 0 {
			errs = append(errs, fmt.Errorf("quota: limit %d is not positive", q.Limit))
		}
		errs = append(errs, q.By.check("quota"))
	}
	if o := s.OAS; o != nil && o.Document == "" {
		errs = append(errs, errors.New("oas: no document"))
	}
	if c := s.CORS; c != nil && c.Preflight != nil && c.Preflight.MaxAge < 0 {
		errs = append(errs, fmt.Errorf("cors: maxAge %d is negative", c.Preflight.MaxAge))
	}
	return errors.Join(errs...)
}

func (id Identifier) check(where string) error {
	switch {
	case id.Kind == ByIP || id.Kind == ByConsumer:
		return nil
	case id.Kind == ByHeader && id.Header != "":
		return nil
	}
	return fmt.Errorf("%s: identifier %+v", where, id)
}
