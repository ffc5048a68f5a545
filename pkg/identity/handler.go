package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
)

// Endpoint paths, relative to the issuer URL.
const (
	PathJWKS       = "/jwks"
	PathToken      = "/token"
	PathIntrospect = "/introspect"
	PathRevoke     = "/revoke"
)

// maxForm bounds a token, introspection or revocation request body.
const maxForm = 64 << 10

// Metadata is the issuer's discovery document.
func (is *Issuer) Metadata() Metadata {
	u := is.opts.URL
	return Metadata{
		Issuer: u, JWKSURI: u + PathJWKS, TokenEndpoint: u + PathToken,
		IntrospectionEndpoint: u + PathIntrospect, RevocationEndpoint: u + PathRevoke,
		GrantTypesSupported: []string{"client_credentials"},
		SigningAlgs:         []string{"RS256"},
		TokenAuthMethods:    []string{"client_secret_basic", "client_secret_post"},
		ResponseTypes:       []string{"token"},
		SubjectTypes:        []string{"public"},
	}
}

// Handler serves the issuer's endpoints at the path of its URL (mount it
// at that path, e.g. "/oidc/"): discovery, JWKS, token, introspection,
// revocation.
func (is *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	p := is.path
	mux.HandleFunc("GET "+p+DiscoveryPath, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, is.Metadata(), "public, max-age=300")
	})
	mux.HandleFunc("GET "+p+PathJWKS, func(w http.ResponseWriter, r *http.Request) {
		set, err := is.publicKeys(r.Context())
		if err != nil {
			is.log.Warn("JWKS: reading signing keys", zap.Error(err))
			oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "signing keys unavailable; retry")
			return
		}
		writeJSON(w, http.StatusOK, set, "public, max-age=60")
	})
	mux.HandleFunc("POST "+p+PathToken, is.handleToken)
	mux.HandleFunc("POST "+p+PathIntrospect, is.handleIntrospect)
	mux.HandleFunc("POST "+p+PathRevoke, is.handleRevoke)
	mux.HandleFunc(p+"/", func(w http.ResponseWriter, r *http.Request) {
		oauthError(w, http.StatusNotFound, "invalid_request", "no endpoint "+r.Method+" "+r.URL.Path+": see "+p+DiscoveryPath)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any, cache string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", cache)
	if cache == "no-store" {
		w.Header().Set("Pragma", "no-cache")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away
}

// oauthError answers an RFC 6749 §5.2 error.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="wasmcanvas identity"`)
	}
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc}, "no-store")
}

// readForm parses an application/x-www-form-urlencoded body (RFC 6749
// §3.2): parameters may not repeat.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	if ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); strings.TrimSpace(ct) != "application/x-www-form-urlencoded" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "send the parameters as application/x-www-form-urlencoded")
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			oauthError(w, http.StatusRequestEntityTooLarge, "invalid_request", fmt.Sprintf("form body over %d KiB: send only the request's parameters", maxForm>>10))
			return nil, false
		}
		oauthError(w, http.StatusBadRequest, "invalid_request", "form body: "+short(err.Error())+": percent-encode the parameters (RFC 3986), separated by &")
		return nil, false
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			oauthError(w, http.StatusBadRequest, "invalid_request", "parameter "+k+" repeated")
			return nil, false
		}
	}
	return r.PostForm, true
}

// client authenticates the calling client: HTTP Basic (ids and secrets
// form-urlencoded, RFC 6749 §2.3.1) or client_id/client_secret in the
// body, not both. It answers the error itself.
func (is *Issuer) client(w http.ResponseWriter, r *http.Request, form url.Values) *Client {
	id, secret, basic := r.BasicAuth()
	if basic {
		if form.Has("client_secret") {
			oauthError(w, http.StatusBadRequest, "invalid_request", "use one client authentication method, not Basic and client_secret both")
			return nil
		}
		var e1, e2 error
		id, e1 = url.QueryUnescape(id)
		secret, e2 = url.QueryUnescape(secret)
		if e1 != nil || e2 != nil {
			oauthError(w, http.StatusUnauthorized, "invalid_client", "malformed Basic credentials")
			return nil
		}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	c, err := is.authenticate(r.Context(), id, secret)
	if err != nil {
		is.log.Warn("client authentication: reading the client", zap.Error(err))
		oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "client store unavailable; retry")
		return nil
	}
	if c == nil {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret")
	}
	return c
}

func (is *Issuer) handleToken(w http.ResponseWriter, r *http.Request) {
	form, ok := readForm(w, r)
	if !ok {
		return
	}
	if gt := form.Get("grant_type"); gt != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type "+quoteParam(gt)+": this issuer serves client_credentials (no refresh tokens: RFC 6749 §4.4.3)")
		return
	}
	c := is.client(w, r, form)
	if c == nil {
		return
	}
	// The audience: RFC 8707's resource, or the audience parameter most
	// providers read; a client granted roles on one audience only may omit it.
	aud := form.Get("audience")
	if res := form.Get("resource"); res != "" {
		if aud != "" && aud != res {
			oauthError(w, http.StatusBadRequest, "invalid_target", "audience and resource differ")
			return
		}
		aud = res
	}
	if aud == "" && len(c.Grants) == 1 {
		for a := range c.Grants {
			aud = a
		}
	}
	if aud == "" {
		oauthError(w, http.StatusBadRequest, "invalid_target", "name the API with audience=… (or resource=…)")
		return
	}
	known, err := is.knownAudience(r.Context(), aud)
	if err != nil {
		oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "client store unavailable; retry")
		return
	}
	if !known {
		oauthError(w, http.StatusBadRequest, "invalid_target", "audience "+quoteParam(aud)+" is not an API registered with this issuer")
		return
	}
	tok, ttl, err := is.Issue(r.Context(), c, aud)
	if err != nil {
		is.log.Error("issuing a token", zap.String("client", c.ID), zap.Error(err))
		oauthError(w, http.StatusInternalServerError, "server_error", "could not sign the token")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "token_type": "Bearer", "expires_in": int(ttl / time.Second),
	}, "no-store")
}

// handleIntrospect is RFC 7662: any authenticated client may ask; an
// invalid, expired or revoked token is {"active": false}.
func (is *Issuer) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	form, ok := readForm(w, r)
	if !ok {
		return
	}
	if is.client(w, r, form) == nil {
		return
	}
	c, err := is.ver.verify(r.Context(), form.Get("token"), false)
	if err != nil {
		writeJSON(w, http.StatusOK, map[string]any{"active": false}, "no-store")
		return
	}
	client := c.ClientID
	if client == "" {
		client = c.AuthorizedParty
	}
	cl := is.ver.ForAudience(firstOr(c.Audience, "")).claims(c)
	out := map[string]any{
		"active": true, "token_type": "Bearer", "iss": c.Issuer, "sub": c.Subject, "client_id": client,
		"aud": []string(c.Audience), "jti": c.ID, "roles": cl.Roles,
	}
	if c.Expiry != nil {
		out["exp"] = c.Expiry.Time().Unix()
	}
	if c.IssuedAt != nil {
		out["iat"] = c.IssuedAt.Time().Unix()
	}
	writeJSON(w, http.StatusOK, out, "no-store")
}

func firstOr(s []string, d string) string {
	if len(s) > 0 {
		return s[0]
	}
	return d
}

// handleRevoke is RFC 7009: a client revokes its own tokens; an unknown or
// invalid token is answered 200 all the same (§2.2).
func (is *Issuer) handleRevoke(w http.ResponseWriter, r *http.Request) {
	form, ok := readForm(w, r)
	if !ok {
		return
	}
	cl := is.client(w, r, form)
	if cl == nil {
		return
	}
	if h := form.Get("token_type_hint"); h != "" && h != "access_token" && h != "refresh_token" {
		oauthError(w, http.StatusBadRequest, "unsupported_token_type", "token_type_hint "+quoteParam(h))
		return
	}
	c, err := is.ver.verify(r.Context(), form.Get("token"), false)
	var refused *auth.Error
	if err != nil && !errors.As(err, &refused) {
		oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "retry")
		return
	}
	if err == nil && c.ID != "" && c.ClientID == cl.ID && c.Expiry != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := is.revoke(ctx, c.ID, c.Expiry.Time()); err != nil {
			is.log.Warn("revocation", zap.Error(err))
			oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "could not record the revocation; retry")
			return
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// quoteParam keeps a parameter echoed in an error short and printable.
func quoteParam(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return `"` + strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' || r == '\\' {
			return '?'
		}
		return r
	}, s) + `"`
}
