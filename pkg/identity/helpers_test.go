package identity

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
)

// countingClient counts the requests it sends whose path ends in suffix.
func countingClient(suffix string, n *atomic.Int64) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
		if strings.HasSuffix(r.URL.Path, suffix) {
			n.Add(1)
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// embeddedIssuer starts NATS, an issuer and an HTTP server serving it on
// 127.0.0.1; storeDir keeps JetStream across calls (restart tests).
type embeddedEnv struct {
	is  *Issuer
	srv *httptest.Server
	js  jetstream.JetStream
	// stop ends the server, the connection and NATS (a restart).
	stop func()
}

func startIssuer(t *testing.T, storeDir string, opts IssuerOptions) *embeddedEnv {
	t.Helper()
	ns := testkit.NATS(t, embedded.Config{StoreDir: storeDir})
	nc := testkit.Connect(t, ns.ClientURL())
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var h atomic.Pointer[http.Handler]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*h.Load()).ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	opts.URL = srv.URL + "/oidc"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	is, err := NewIssuer(ctx, js, opts)
	if err != nil {
		t.Fatal(err)
	}
	handler := is.Handler()
	h.Store(&handler)
	return &embeddedEnv{is: is, srv: srv, js: js, stop: func() {
		srv.Close()
		nc.Close()
		ns.Shutdown()
		ns.WaitForShutdown()
	}}
}

// tokenRequest posts a client_credentials request with Basic auth.
func tokenRequest(t *testing.T, tokenURL, id, secret string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func newRSAJWK(t testing.TB, kid string) jose.JSONWebKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return jose.JSONWebKey{Key: k, KeyID: kid, Algorithm: "RS256", Use: "sig"}
}
