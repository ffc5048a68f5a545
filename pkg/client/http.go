package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// DefaultTimeout bounds each request except watches.
const DefaultTimeout = 30 * time.Second

// watchIdle ends a watch that heard nothing for this long, not even
// canvasd's keep-alive (sent every 15 s): a stalled server or proxy would
// otherwise hold it until ctx ends, while changes go unseen.
const watchIdle = time.Minute

// maxReplySize bounds a reply the client reads: a list of thousands of
// Components with their status, far more than any one Component.
const maxReplySize = 64 << 20

// HTTP is a Client over the HTTP API.
type HTTP struct {
	token string // bearer credential, "" for none
	base  *url.URL
	hc    *http.Client // requests
	watch *http.Client // watches: no overall timeout, ctx ends them
	// maxReply and idle are maxReplySize and watchIdle, smaller in tests.
	maxReply int64
	idle     time.Duration
}

// Option configures an HTTP client.
type Option func(*HTTP)

// WithToken sends token as the bearer credential of every request: the
// local admin credential (auth.ReadAdminToken) or an issuer's token.
func WithToken(token string) Option { return func(c *HTTP) { c.token = token } }

// NewHTTP returns a client of the API at base (e.g. http://127.0.0.1:7443).
func NewHTTP(base string, opts ...Option) (*HTTP, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http://HOST:PORT, e.g. http://127.0.0.1:7443", base)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = DefaultTimeout
	c := &HTTP{base: u, hc: &http.Client{Timeout: DefaultTimeout, Transport: tr}, watch: &http.Client{Transport: tr}, maxReply: maxReplySize, idle: watchIdle}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

func (c *HTTP) authorize(req *http.Request) {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
}

func (c *HTTP) url(path string, q url.Values) string {
	u := *c.base
	u.Path += path
	u.RawQuery = q.Encode()
	return u.String()
}

func componentPath(namespace, name string) string {
	if namespace == "" {
		namespace = oda.DefaultNamespace
	}
	return wire.PathComponents + "/" + url.PathEscape(namespace) + "/" + url.PathEscape(name)
}

// do sends a request and decodes a 2xx JSON reply into out; any other
// status becomes a *wire.Problem error.
func (c *HTTP) do(ctx context.Context, method, u string, body []byte, hdr http.Header, out any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Accept", wire.ContentTypeJSON)
	c.authorize(req)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, unreachable(c.base.String(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return resp, readProblem(resp)
	}
	if out != nil {
		// A broken server or a wrong --server may answer without end.
		body := &io.LimitedReader{R: resp.Body, N: c.maxReply + 1}
		if err := json.NewDecoder(body).Decode(out); err != nil {
			if body.N == 0 {
				return resp, fmt.Errorf("%s %s: the reply is larger than %d bytes: check that the server is a canvasd (a list this large: list one namespace at a time)", method, u, c.maxReply)
			}
			return resp, fmt.Errorf("%s %s: reading the reply: %w", method, u, err)
		}
	}
	return resp, nil
}

func unreachable(server string, err error) error {
	return fmt.Errorf("cannot reach canvasd at %s: %w (is canvasd running? pick another with --server or --context)", server, err)
}

// readProblem decodes an RFC 9457 body, or makes a Problem of whatever
// else came back (a proxy's HTML page, say).
func readProblem(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var p wire.Problem
	if json.Unmarshal(data, &p) == nil && p.Status != 0 {
		return &p
	}
	detail := strings.TrimSpace(string(data))
	if len(detail) > 200 {
		detail = detail[:200] + "…"
	}
	return &wire.Problem{Status: resp.StatusCode, Title: http.StatusText(resp.StatusCode), Detail: fmt.Sprintf("%s: %s", resp.Status, detail)}
}

// Get implements Client.
func (c *HTTP) Get(ctx context.Context, namespace, name string) (*oda.Component, error) {
	var out oda.Component
	if _, err := c.do(ctx, http.MethodGet, c.url(componentPath(namespace, name), nil), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// List implements Client.
func (c *HTTP) List(ctx context.Context, namespace string) ([]*oda.Component, error) {
	q := url.Values{}
	if namespace != "" {
		q.Set("namespace", namespace)
	}
	var out wire.ComponentList
	if _, err := c.do(ctx, http.MethodGet, c.url(wire.PathComponents, q), nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}

// Apply implements Client.
func (c *HTTP) Apply(ctx context.Context, file string, body []byte) (*oda.Component, bool, error) {
	return c.apply(ctx, file, body, nil)
}

// DryApply implements Client.
func (c *HTTP) DryApply(ctx context.Context, file string, body []byte) (*oda.Component, bool, error) {
	return c.apply(ctx, file, body, url.Values{wire.QueryDryRun: {wire.DryRunAll}})
}

func (c *HTTP) apply(ctx context.Context, file string, body []byte, q url.Values) (*oda.Component, bool, error) {
	hdr := http.Header{}
	hdr.Set("Content-Type", wire.ContentTypeYAML)
	if file != "" {
		hdr.Set(wire.HeaderFileName, file)
	}
	var out oda.Component
	resp, err := c.do(ctx, http.MethodPost, c.url(wire.PathComponents, q), body, hdr, &out)
	if err != nil {
		return nil, false, err
	}
	return &out, resp.StatusCode == http.StatusCreated, nil
}

// Delete implements Client.
func (c *HTTP) Delete(ctx context.Context, namespace, name, resourceVersion string) (*oda.Component, error) {
	q := url.Values{}
	if resourceVersion != "" {
		q.Set("resourceVersion", resourceVersion)
	}
	var out oda.Component
	if _, err := c.do(ctx, http.MethodDelete, c.url(componentPath(namespace, name), q), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Status implements Client.
func (c *HTTP) Status(ctx context.Context, namespace, name string) (*oda.ComponentStatus, error) {
	var out oda.ComponentStatus
	if _, err := c.do(ctx, http.MethodGet, c.url(componentPath(namespace, name)+"/status", nil), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Events implements Client.
func (c *HTTP) Events(ctx context.Context, namespace, name string) ([]wire.Event, error) {
	var out wire.EventList
	if _, err := c.do(ctx, http.MethodGet, c.url(componentPath(namespace, name)+"/events", nil), nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}

// Watch implements Client over server-sent events.
func (c *HTTP) Watch(ctx context.Context, namespace, name string, fn func(wire.WatchEvent) error) error {
	parent := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	errIdle := fmt.Errorf("%w: nothing from the server for %s, not even a keep-alive", ErrWatchEnded, c.idle)
	idle := time.AfterFunc(c.idle, func() { cancel(errIdle) })
	defer idle.Stop()
	q := url.Values{"watch": {"1"}}
	if namespace != "" {
		q.Set("namespace", namespace)
	}
	if name != "" {
		q.Set("name", name)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(wire.PathComponents, q), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", wire.ContentTypeSSE)
	c.authorize(req)
	resp, err := c.watch.Do(req)
	if err != nil {
		if parent.Err() != nil {
			return parent.Err()
		}
		return unreachable(c.base.String(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return readProblem(resp)
	}
	// Any bytes are a sign of life; fn's own time is not the server's.
	body := &aliveReader{r: resp.Body, alive: func() { idle.Reset(c.idle) }}
	err = readSSE(body, func(ev wire.WatchEvent) error {
		idle.Stop()
		defer idle.Reset(c.idle)
		return fn(ev)
	})
	switch {
	case parent.Err() != nil:
		return parent.Err()
	case context.Cause(ctx) == errIdle:
		return errIdle
	}
	return err
}

// aliveReader calls alive whenever a read returns bytes.
type aliveReader struct {
	r     io.Reader
	alive func()
}

func (a *aliveReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if n > 0 {
		a.alive()
	}
	return n, err
}

// maxEventSize bounds one server-sent event (its data lines together):
// a watch event is one Component with its status.
const maxEventSize = 2 * wire.MaxBodySize

// readSSE parses an event stream: "data:" lines up to a blank line form
// one event; comment lines (":") are keep-alives.
func readSSE(r io.Reader, fn func(wire.WatchEvent) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxEventSize)
	tooLarge := fmt.Errorf("watch: an event of more than %d bytes: canvasd sends one Component per event; check that --server names a canvasd", maxEventSize)
	var data []byte
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			if len(data) == 0 {
				continue
			}
			var ev wire.WatchEvent
			if err := json.Unmarshal(data, &ev); err != nil {
				return fmt.Errorf("watch: undecodable event: %w", err)
			}
			data = data[:0]
			if err := fn(ev); err != nil {
				return err
			}
		case bytes.HasPrefix(line, []byte("data:")):
			if len(data)+len(line) > maxEventSize {
				return tooLarge
			}
			if len(data) > 0 {
				data = append(data, '\n') // SSE joins the data lines of one event with newlines
			}
			data = append(data, bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("data:")), []byte(" "))...)
		}
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return tooLarge // watching again would read the same
	}
	if err := sc.Err(); err != nil && !errors.Is(err, context.Canceled) {
		// A broken stream ended like a closed one: watch again.
		return fmt.Errorf("%w: reading the stream: %w", ErrWatchEnded, err)
	}
	return ErrWatchEnded
}

// Close implements Client.
func (c *HTTP) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}

var _ Client = (*HTTP)(nil)

// CreateAPIKey makes an API key for the Component's APIs held by
// consumer; the answer's Key is its plaintext, shown this once.
func (c *HTTP) CreateAPIKey(ctx context.Context, namespace, name, consumer string) (*wire.APIKey, error) {
	body, err := json.Marshal(wire.APIKeyRequest{Consumer: consumer})
	if err != nil {
		return nil, err
	}
	var out wire.APIKey
	hdr := http.Header{"Content-Type": {wire.ContentTypeJSON}}
	if _, err := c.do(ctx, http.MethodPost, c.url(componentPath(namespace, name)+wire.PathAPIKeys, nil), body, hdr, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// APIKeys lists the Component's API keys (never their plaintext).
func (c *HTTP) APIKeys(ctx context.Context, namespace, name string) ([]wire.APIKey, error) {
	var out wire.APIKeyList
	if _, err := c.do(ctx, http.MethodGet, c.url(componentPath(namespace, name)+wire.PathAPIKeys, nil), nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}

// RevokeAPIKey revokes the Component's key id; gateways refuse it at once.
func (c *HTTP) RevokeAPIKey(ctx context.Context, namespace, name, id string) (*wire.APIKey, error) {
	var out wire.APIKey
	if _, err := c.do(ctx, http.MethodDelete, c.url(componentPath(namespace, name)+wire.PathAPIKeys+"/"+url.PathEscape(id), nil), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateClient registers an OAuth client with the canvas's embedded
// issuer; the answer's Secret is shown this once.
func (c *HTTP) CreateClient(ctx context.Context, req wire.ClientRequest) (*wire.Client, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var out wire.Client
	hdr := http.Header{"Content-Type": {wire.ContentTypeJSON}}
	if _, err := c.do(ctx, http.MethodPost, c.url(wire.PathClients, nil), body, hdr, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Clients lists the embedded issuer's clients (never their secrets).
func (c *HTTP) Clients(ctx context.Context) ([]wire.Client, error) {
	var out wire.ClientList
	if _, err := c.do(ctx, http.MethodGet, c.url(wire.PathClients, nil), nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}

// GrantClient adds roles on an audience to client id.
func (c *HTTP) GrantClient(ctx context.Context, id string, req wire.GrantRequest) (*wire.Client, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var out wire.Client
	hdr := http.Header{"Content-Type": {wire.ContentTypeJSON}}
	if _, err := c.do(ctx, http.MethodPost, c.url(wire.PathClients+"/"+url.PathEscape(id)+"/grants", nil), body, hdr, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteClient removes client id; its tokens live until they expire.
func (c *HTTP) DeleteClient(ctx context.Context, id string) (*wire.Client, error) {
	var out wire.Client
	if _, err := c.do(ctx, http.MethodDelete, c.url(wire.PathClients+"/"+url.PathEscape(id), nil), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
