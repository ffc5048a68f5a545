package identity

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
)

// An issuer that cannot be reached is not a verdict on the token: a plain
// error, which auth.Require answers 401 without details.
func TestUnreachableIssuerIsNotAVerdict(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	v, err := NewVerifier(VerifierOptions{Issuer: dead, Audience: "api"})
	if err != nil {
		t.Fatal(err)
	}
	tok := forge(t, newRSAJWK(t, "k"), map[string]any{"iss": dead, "aud": "api", "exp": 1 << 40})
	_, err = v.Verify(context.Background(), tok)
	var refused *auth.Error
	if err == nil || errors.As(err, &refused) {
		t.Fatalf("unreachable issuer: %v", err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	auth.Require(auth.Bearer(v), "api", "", http.NotFoundHandler()).ServeHTTP(rec, req)
	if rec.Code != 401 || strings.Contains(rec.Body.String(), ln.Addr().String()) {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
}

// A verifier that cached the key set before a rotation accepts a token of
// the new key after one refresh, and keeps accepting the old key's.
func TestRotationSeenByARemoteVerifier(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := startIssuer(t, "", IssuerOptions{})
	secret, err := env.is.RegisterClient(ctx, ClientSpec{ID: "c", Grants: map[string][]string{CanvasAudience: {"r"}}})
	if err != nil {
		t.Fatal(err)
	}
	get := func() string {
		_, body := tokenRequest(t, env.is.URL()+PathToken, "c", secret, url.Values{"grant_type": {"client_credentials"}})
		tok, _ := body["access_token"].(string)
		return tok
	}
	var fetches atomic.Int64
	v, err := NewVerifier(VerifierOptions{Issuer: env.is.URL(), Audience: CanvasAudience, Keys: RemoteKeys(env.is.URL(), countingClient(PathJWKS, &fetches))})
	if err != nil {
		t.Fatal(err)
	}
	old := get()
	if _, err := v.Verify(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := env.is.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	fresh := get()
	for _, tok := range []string{fresh, old, fresh} {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatalf("after rotation: %v", err)
		}
	}
	if n := fetches.Load(); n != 2 {
		t.Fatalf("JWKS fetched %d times, want 2 (first use, the new kid)", n)
	}
}

// A caller that goes away while the key set is being fetched fails alone:
// the fetch it started goes on for the callers waiting on it, and its
// cancellation is not remembered as the issuer's failure.
func TestKeyFetchOutlivesTheCallerThatStartedIt(t *testing.T) {
	t.Parallel()
	key := newRSAJWK(t, "k")
	now := time.Now()
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	v, err := NewVerifier(VerifierOptions{Issuer: "https://issuer.test", Audience: "api", Now: func() time.Time { return now },
		Keys: func(ctx context.Context) (jose.JSONWebKeySet, error) {
			once.Do(func() { close(started) })
			select { // as getJSON: the request ends with its context
			case <-release:
			case <-ctx.Done():
			}
			if err := ctx.Err(); err != nil {
				return jose.JSONWebKeySet{}, err
			}
			return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{key.Public()}}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	tok := forge(t, key, map[string]any{"iss": "https://issuer.test", "aud": "api", "exp": now.Add(time.Hour).Unix()})
	first, leave := context.WithCancel(context.Background())
	firstDone := make(chan error, 1)
	go func() {
		_, err := v.Verify(first, tok)
		firstDone <- err
	}()
	<-started
	leave()
	second := make(chan error, 1)
	go func() {
		_, err := v.Verify(context.Background(), tok)
		second <- err
	}()
	close(release)
	if err := <-second; err != nil {
		t.Fatalf("a caller waiting on a fetch whose starter left: %v", err)
	}
	<-firstDone
}

// An https issuer's key set is never fetched in the clear: not when its
// discovery document names an http jwks_uri, nor when a redirect moves
// the keys to plain http.
func TestHTTPSIssuerKeysComeOverHTTPS(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		redirect bool // the https jwks_uri redirects to the plain server
		want     string
	}{
		{"http jwks_uri", false, "must come over https"},
		{"redirect to http", true, "must stay on https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			key := newRSAJWK(t, "k")
			var plainFetches atomic.Int64
			plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				plainFetches.Add(1)
				_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{key.Public()}})
			}))
			t.Cleanup(plain.Close)
			var issuer string
			tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.URL.Path == "/jwks":
					http.Redirect(w, r, plain.URL+"/jwks", http.StatusFound)
				case tc.redirect:
					_ = json.NewEncoder(w).Encode(Metadata{Issuer: issuer, JWKSURI: issuer + "/jwks"})
				default:
					_ = json.NewEncoder(w).Encode(Metadata{Issuer: issuer, JWKSURI: plain.URL + "/jwks"})
				}
			}))
			t.Cleanup(tlsSrv.Close)
			issuer = tlsSrv.URL
			v, err := NewVerifier(VerifierOptions{Issuer: issuer, Audience: "api", Keys: RemoteKeys(issuer, tlsSrv.Client())})
			if err != nil {
				t.Fatal(err)
			}
			tok := forge(t, key, map[string]any{"iss": issuer, "aud": "api", "exp": time.Now().Add(time.Hour).Unix()})
			_, err = v.Verify(context.Background(), tok)
			if err == nil || plainFetches.Load() != 0 || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v, %d plain fetches; want %q and none", err, plainFetches.Load(), tc.want)
			}
		})
	}
}
