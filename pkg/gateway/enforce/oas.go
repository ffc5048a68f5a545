package enforce

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/policy"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/problem"
)

// maxDocument bounds an OpenAPI document; maxBody bounds a body the
// validator reads (request or response).
const (
	maxDocument = 16 << 20
	maxBody     = 8 << 20
)

// readDocument reads an OpenAPI document from a file:// URL or an
// absolute path, or fetches it from an http(s) URL (30 s, 16 MiB).
func readDocument(ctx context.Context, location string) ([]byte, error) {
	u, err := url.Parse(location)
	if err != nil {
		return nil, fmt.Errorf("document %q: %w", location, err)
	}
	switch u.Scheme {
	case "", "file":
		f, err := os.Open(u.Path)
		if err != nil {
			return nil, fmt.Errorf("document %s: %w (name a readable copy in the %s annotation)", location, err, policy.AnnotationOpenAPI)
		}
		defer f.Close()
		return readAtMost(f, maxDocument, location)
	case "http", "https":
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, location, nil)
		if err != nil {
			return nil, err
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("document %s: %w (or name a local copy in the %s annotation)", location, err, policy.AnnotationOpenAPI)
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("document %s: %s", location, res.Status)
		}
		return readAtMost(res.Body, maxDocument, location)
	}
	return nil, fmt.Errorf("document %q: scheme %q is not file, http or https", location, u.Scheme)
}

func readAtMost(r io.Reader, n int64, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, n+1))
	if err != nil {
		return nil, fmt.Errorf("document %s: %w", what, err)
	}
	if int64(len(b)) > n {
		return nil, fmt.Errorf("document %s is larger than %d MiB", what, n>>20)
	}
	return b, nil
}

type validator struct {
	log    *zap.Logger
	route  Route
	spec   *policy.OAS
	router routers.Router
	// keyQuery and keyHeader are the API key's variable, allowed even
	// when the document does not name it.
	keyQuery, keyHeader string
}

func (e *Enforcer) openAPI(ctx context.Context, route Route, s *policy.OAS, key *policy.APIKey) (*validator, error) {
	data, err := readDocument(ctx, s.Document)
	if err != nil {
		return nil, err
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("document %s: %w", s.Document, err)
	}
	if err := doc.Validate(ctx, openapi3.DisableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("document %s is not a valid OpenAPI 3 document: %w", s.Document, err)
	}
	// The document's paths are relative to the API's root, which is the
	// route's path here whatever servers it lists.
	doc.Servers = openapi3.Servers{{URL: strings.TrimSuffix(route.Path, "/")}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("document %s: %w", s.Document, err)
	}
	v := &validator{log: e.opts.Logger, route: route, spec: s, router: router}
	if key != nil {
		if key.In != policy.InHeader {
			v.keyQuery = key.Name
		}
		if key.In != policy.InQuery {
			v.keyHeader = http.CanonicalHeaderKey(key.Name)
		}
	}
	return v, nil
}

var validationOptions = &openapi3filter.Options{
	AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc, // the guard and the API key decide who may call
	IncludeResponseStatus: true,
}

func (v *validator) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, params, err := v.router.FindRoute(r)
		if err != nil {
			if !v.spec.Request {
				next.ServeHTTP(w, r)
				return
			}
			status := http.StatusNotFound
			detail := fmt.Sprintf("%s %s is not an operation of the API's OpenAPI document", r.Method, r.URL.Path)
			if errors.Is(err, routers.ErrMethodNotAllowed) {
				status = http.StatusMethodNotAllowed
			}
			problem.Write(w, r, status, detail)
			return
		}
		in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: validationOptions}
		if v.spec.Request {
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = http.MaxBytesReader(w, r.Body, maxBody)
			}
			if detail := v.unspecified(r, route.Operation, route.PathItem); detail != "" {
				problem.Write(w, r, http.StatusBadRequest, detail)
				return
			}
			if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
				problem.Write(w, r, http.StatusBadRequest, requestDetail(err))
				return
			}
		}
		if !v.spec.Response {
			next.ServeHTTP(w, r)
			return
		}
		buf := &bufferedResponse{header: http.Header{}}
		next.ServeHTTP(buf, r)
		if buf.status == 0 {
			buf.status = http.StatusOK
		}
		out := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in, Status: buf.status, Header: buf.header,
			Body: io.NopCloser(bytes.NewReader(buf.body.Bytes())), Options: validationOptions,
		}
		if buf.tooLarge {
			err = fmt.Errorf("response body larger than %d MiB, not validated", maxBody>>20)
		} else {
			err = openapi3filter.ValidateResponse(r.Context(), out)
		}
		if err != nil {
			// The reason and the field, not err: kin-openapi's message
			// quotes the whole body, which does not belong in a log.
			v.log.Warn("gateway: response does not match the OpenAPI document",
				zap.String("app", v.route.App), zap.String("api", v.route.API), zap.String("method", r.Method),
				zap.String("path", r.URL.Path), zap.Int("status", buf.status), zap.String("reason", responseReason(err)))
			problem.Write(w, r, http.StatusBadGateway, "the component's response does not match the API's OpenAPI document")
			return
		}
		h := w.Header()
		for k, vs := range buf.header {
			h[k] = vs
		}
		w.WriteHeader(buf.status)
		_, _ = w.Write(buf.body.Bytes())
	})
}

// requestDetail names what failed: the parameter or body field and why.
func requestDetail(err error) string {
	var re *openapi3filter.RequestError
	if !errors.As(err, &re) {
		return "the request does not match the API's OpenAPI document: " + err.Error()
	}
	where := "request"
	switch {
	case re.Parameter != nil:
		where = fmt.Sprintf("%s parameter %q", re.Parameter.In, re.Parameter.Name)
	case re.RequestBody != nil:
		where = "request body"
	}
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		field := "/" + strings.Join(se.JSONPointer(), "/")
		return fmt.Sprintf("%s at %s: %s", where, field, se.Reason)
	}
	reason := re.Reason
	if reason == "" && re.Err != nil {
		reason = re.Err.Error()
	}
	return where + ": " + reason
}

// responseReason is why a response failed validation, without its body.
func responseReason(err error) string {
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		return fmt.Sprintf("response body at /%s: %s", strings.Join(se.JSONPointer(), "/"), se.Reason)
	}
	var re *openapi3filter.ResponseError
	if errors.As(err, &re) && re.Reason != "" {
		return re.Reason
	}
	return err.Error()
}

// alwaysAllowed are headers a request may carry whatever the document
// names: HTTP's own, credentials, tracing, CORS and proxies.
var alwaysAllowed = []string{
	"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Authorization", "Cache-Control",
	"Connection", "Content-Encoding", "Content-Language", "Content-Length", "Content-Type", "Cookie", "Date", "Expect",
	"Forwarded", "Host", "If-Match", "If-Modified-Since", "If-None-Match", "If-Range", "If-Unmodified-Since",
	"Origin", "Pragma", "Range", "Referer", "Te", "Traceparent", "Tracestate", "Baggage", "Upgrade", "User-Agent", "Via",
	"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Request-Id", "X-Requested-With",
	"Access-Control-Request-Method", "Access-Control-Request-Headers",
}

// unspecified names the first query parameter, header or cookie the
// document does not declare for the operation, unless its allowUnspecified*
// switch lets it through; "" when none.
func (v *validator) unspecified(r *http.Request, op *openapi3.Operation, item *openapi3.PathItem) string {
	declared := map[string]map[string]bool{openapi3.ParameterInQuery: {}, openapi3.ParameterInHeader: {}, openapi3.ParameterInCookie: {}}
	for _, ps := range []openapi3.Parameters{item.Parameters, op.Parameters} {
		for _, p := range ps {
			if p.Value == nil || declared[p.Value.In] == nil {
				continue
			}
			name := p.Value.Name
			if p.Value.In == openapi3.ParameterInHeader {
				name = http.CanonicalHeaderKey(name)
			}
			declared[p.Value.In][name] = true
		}
	}
	if !v.spec.AllowUnspecifiedQueryParams {
		for _, k := range sortedKeys(r.URL.Query()) {
			if !declared[openapi3.ParameterInQuery][k] && k != v.keyQuery {
				return fmt.Sprintf("query parameter %q is not in the API's OpenAPI document", k)
			}
		}
	}
	if !v.spec.AllowUnspecifiedHeaders {
		for _, k := range sortedKeys(r.Header) {
			if declared[openapi3.ParameterInHeader][k] || k == v.keyHeader || slices.Contains(alwaysAllowed, k) ||
				strings.HasPrefix(k, HeaderPrefix) {
				continue
			}
			return fmt.Sprintf("header %q is not in the API's OpenAPI document", k)
		}
	}
	if !v.spec.AllowUnspecifiedCookies {
		for _, c := range r.Cookies() {
			if !declared[openapi3.ParameterInCookie][c.Name] {
				return fmt.Sprintf("cookie %q is not in the API's OpenAPI document", c.Name)
			}
		}
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// bufferedResponse holds a component's response until it is validated.
type bufferedResponse struct {
	header   http.Header
	status   int
	body     bytes.Buffer
	tooLarge bool
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	if b.body.Len()+len(p) > maxBody {
		b.tooLarge = true
		return len(p), nil
	}
	return b.body.Write(p)
}
