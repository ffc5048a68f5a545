package identity

import (
	"context"
	"net/url"
	"testing"
)

// A restart keeps the signing keys and the clients; a rotated key still
// verifies the tokens it signed before the rotation; revocation and
// introspection answer as RFC 7009 and RFC 7662 say.
func TestRestartRotationRevocation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	env := startIssuer(t, dir, IssuerOptions{})
	secret, err := env.is.RegisterClient(ctx, ClientSpec{ID: "caller", Grants: map[string][]string{CanvasAudience: {"canvas:read"}}})
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "audience": {CanvasAudience}}
	_, body := tokenRequest(t, env.is.URL()+PathToken, "caller", secret, form)
	before, _ := body["access_token"].(string)
	kid := env.is.current().ID

	if err := env.is.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if env.is.current().ID == kid {
		t.Fatal("rotation kept the signing key")
	}
	if _, err := env.is.Verifier().Verify(ctx, before); err != nil {
		t.Fatalf("a token signed before the rotation: %v", err)
	}
	if n := len(env.is.jwks().Keys); n != 2 {
		t.Fatalf("JWKS has %d keys after one rotation, want the old and the new", n)
	}

	revoked := get(t, env, secret, form)
	if status, _ := tokenRequest(t, env.is.URL()+PathRevoke, "caller", secret, url.Values{"token": {revoked}}); status != 200 {
		t.Fatalf("revoke: %d", status)
	}

	// Same store, new process: keys, clients and revocations are back.
	env.stop()
	restarted := startIssuer(t, dir, IssuerOptions{})
	if restarted.is.current().ID == kid || len(restarted.is.jwks().Keys) != 2 {
		t.Fatal("restart lost the signing keys")
	}
	v := restarted.is.Verifier()
	// The issuer URL changed with the test server's port: verify against
	// the old URL's verifier sharing the restored keys.
	old, err := NewVerifier(VerifierOptions{Issuer: env.is.URL(), Audience: CanvasAudience, Keys: restarted.is.publicKeys})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Verify(ctx, before); err != nil {
		t.Fatalf("after restart, a token of the rotated key: %v", err)
	}
	old.opts.Revoked = restarted.is.isRevoked
	if _, err := old.Verify(ctx, revoked); err == nil {
		t.Fatal("after restart, a token revoked before it verified")
	}
	status, body := tokenRequest(t, restarted.is.URL()+PathToken, "caller", secret, form)
	if status != 200 {
		t.Fatalf("the client's secret after restart: %d %v", status, body)
	}
	tok := body["access_token"].(string)
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if status, _ := tokenRequest(t, restarted.is.URL()+PathToken, "caller", "wrong", form); status != 401 {
		t.Fatalf("wrong secret: %d", status)
	}

	introspect := func() bool {
		_, out := tokenRequest(t, restarted.is.URL()+PathIntrospect, "caller", secret, url.Values{"token": {tok}})
		return out["active"] == true
	}
	if !introspect() {
		t.Fatal("introspection: a fresh token is not active")
	}
	if status, _ := tokenRequest(t, restarted.is.URL()+PathRevoke, "caller", secret, url.Values{"token": {tok}}); status != 200 {
		t.Fatalf("revoke: %d", status)
	}
	if _, err := v.Verify(ctx, tok); err == nil {
		t.Fatal("a revoked token verified")
	}
	if introspect() {
		t.Fatal("introspection: a revoked token is active")
	}
}

func get(t *testing.T, env *embeddedEnv, secret string, form url.Values) string {
	t.Helper()
	status, body := tokenRequest(t, env.is.URL()+PathToken, "caller", secret, form)
	tok, _ := body["access_token"].(string)
	if status != 200 || tok == "" {
		t.Fatalf("token: %d %v", status, body)
	}
	return tok
}
