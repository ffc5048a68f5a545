package identity

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
)

// issuerUnderTest is one issuer the hostile-token table runs against: a
// verifier reaching it by discovery + JWKS over HTTP, the issuer's own
// signing key (to forge tokens it would sign) and a token it issued.
type issuerUnderTest struct {
	issuer, audience string
	verifier         *Verifier
	jwksFetches      *atomic.Int64
	key              jose.JSONWebKey
	valid            string
}

func forge(t *testing.T, key jose.JSONWebKey, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(key.Algorithm), Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func b64json(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hmacWithPublicKey is the algorithm-confusion attack: HS256 keyed with
// the issuer's RSA public key in PEM, which anyone can fetch.
func hmacWithPublicKey(t *testing.T, key jose.JSONWebKey, claims map[string]any) string {
	der, err := x509.MarshalPKIXPublicKey(key.Public().Key.(*rsa.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	in := b64json(map[string]string{"alg": "HS256", "typ": "JWT", "kid": key.KeyID}) + "." + b64json(claims)
	m := hmac.New(sha256.New, pemKey)
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// runHostileTable sends each token through auth.Require guarded by the
// issuer's verifier: every hostile one gets 401 with an invalid_token
// challenge naming why, the valid ones 200.
func runHostileTable(t *testing.T, iu issuerUnderTest) {
	now := time.Now()
	base := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"iss": iu.issuer, "aud": iu.audience, "sub": "hostile", "client_id": "hostile",
			"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	stranger := newRSAJWK(t, "not-the-issuers")
	big := base(func(c map[string]any) { c["pad"] = strings.Repeat("x", 20<<10) })
	tests := []struct {
		name, token string
		status      int
		reason      string
	}{
		{"valid token the issuer issued", iu.valid, 200, ""},
		{"forged with the issuer's key (control)", forge(t, iu.key, base(nil)), 200, ""},
		{"alg none", b64json(map[string]string{"alg": "none", "typ": "JWT"}) + "." + b64json(base(nil)) + ".", 401, "not a JWS"},
		{"HS256 signed with the RSA public key", hmacWithPublicKey(t, iu.key, base(nil)), 401, "not a JWS"},
		{"wrong issuer", forge(t, iu.key, base(func(c map[string]any) { c["iss"] = "https://evil.example" })), 401, "not the trusted issuer"},
		{"wrong audience", forge(t, iu.key, base(func(c map[string]any) { c["aud"] = "some-other-api" })), 401, "audience"},
		{"expired", forge(t, iu.key, base(func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() })), 401, "expired"},
		{"nbf in the future", forge(t, iu.key, base(func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() })), 401, "not valid before"},
		{"iat in the future", forge(t, iu.key, base(func(c map[string]any) { c["iat"] = now.Add(time.Hour).Unix() })), 401, "issued in the future"},
		{"no exp", forge(t, iu.key, base(func(c map[string]any) { delete(c, "exp") })), 401, "no exp"},
		{"unknown kid", forge(t, stranger, base(nil)), 401, "unknown key id"},
		{"20 KiB token", forge(t, iu.key, big), 401, "over the limit"},
		{"truncated signature", iu.valid[:len(iu.valid)-12], 401, "signature"},
		{"garbage", "this-is-not-a-token", 401, "not a JWS"},
		{"three garbage parts", "e30.e30.e30", 401, "not a JWS"},
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		_, _ = io.WriteString(w, p.Subject)
	})
	h := auth.Require(auth.Bearer(iu.verifier), "canvas", "", ok)
	for _, tc := range tests {
		req := httptest.NewRequest(http.MethodGet, "/v1/components", nil)
		req.Header.Set("Authorization", "Bearer "+tc.token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, rec.Code, tc.status, rec.Body)
			continue
		}
		if tc.status == 401 {
			ch := rec.Header().Get("WWW-Authenticate")
			if !strings.Contains(ch, `error="invalid_token"`) || !strings.Contains(ch, tc.reason) {
				t.Errorf("%s: challenge %q, want invalid_token naming %q", tc.name, ch, tc.reason)
			}
		}
	}
	// The unknown kid caused at most one JWKS refresh beyond the first
	// fetch; send it again: no further fetch (rate-limited).
	unknown := forge(t, stranger, base(nil))
	for range 5 {
		if _, err := iu.verifier.Verify(context.Background(), unknown); err == nil {
			t.Fatal("unknown kid accepted")
		}
	}
	if n := iu.jwksFetches.Load(); n < 1 || n > 2 {
		t.Errorf("JWKS fetched %d times for the whole table: want the first fetch and at most one refresh", n)
	}
}

func TestHostileTokensEmbeddedIssuer(t *testing.T) {
	t.Parallel()
	env := startIssuer(t, "", IssuerOptions{})
	ctx := context.Background()
	const aud = "productcatalog"
	if _, err := env.is.RegisterClient(ctx, ClientSpec{ID: aud, Roles: []string{"reader"}}); err != nil {
		t.Fatal(err)
	}
	secret, err := env.is.RegisterClient(ctx, ClientSpec{ID: "caller", Grants: map[string][]string{aud: {"reader"}}})
	if err != nil || secret == "" {
		t.Fatalf("register: %q %v", secret, err)
	}
	status, body := tokenRequest(t, env.is.URL()+PathToken, "caller", secret, url.Values{"grant_type": {"client_credentials"}, "audience": {aud}})
	if status != 200 {
		t.Fatalf("token endpoint: %d %v", status, body)
	}
	var fetches atomic.Int64
	v, err := NewVerifier(VerifierOptions{Issuer: env.is.URL(), Audience: aud, Keys: RemoteKeys(env.is.URL(), countingClient(PathJWKS, &fetches))})
	if err != nil {
		t.Fatal(err)
	}
	runHostileTable(t, issuerUnderTest{
		issuer: env.is.URL(), audience: aud, verifier: v, jwksFetches: &fetches,
		key: env.is.current().jwk, valid: body["access_token"].(string),
	})
	c, err := v.Verify(ctx, body["access_token"].(string))
	if err != nil || c.Client != "caller" || len(c.Roles) != 1 || c.Roles[0] != "reader" {
		t.Fatalf("claims %+v %v", c, err)
	}
}

// oidcProviderDir holds the npm oidc-provider fixture (make identity-deps).
var oidcProviderDir = filepath.Join("testdata", "oidc-provider")

func TestHostileTokensOIDCProvider(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed: the oidc-provider half of the hostile-token table needs node and npm")
	}
	if _, err := os.Stat(filepath.Join(oidcProviderDir, "node_modules", "oidc-provider", "package.json")); errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("node is installed but %s has no node_modules/oidc-provider: the npm install failed or was not run; run `make identity-deps`", oidcProviderDir)
	}
	key := newRSAJWK(t, "op-key-1")
	priv, err := key.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	const aud, clientID, secret = "urn:wasmcanvas:test-api", "hostile-table", "a-test-secret-of-no-value"
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, "node", "server.mjs")
	cmd.Dir = oidcProviderDir
	cmd.Env = append(os.Environ(), "OIDC_SIGNING_JWK="+string(priv), "OIDC_AUDIENCE="+aud, "OIDC_CLIENT_ID="+clientID, "OIDC_CLIENT_SECRET="+secret)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close() // the script exits when stdin ends
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cancel()
			<-done
		}
	})
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- l
		_, _ = io.Copy(io.Discard, stdout)
	}()
	var started struct{ Issuer string }
	select {
	case l := <-line:
		if err := json.Unmarshal([]byte(l), &started); err != nil || started.Issuer == "" {
			t.Fatalf("oidc-provider did not start: %q %v; stderr: %s", l, err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("oidc-provider did not start within 30s; stderr: %s", stderr.String())
	}
	status, body := tokenRequest(t, started.Issuer+"/token", clientID, secret, url.Values{"grant_type": {"client_credentials"}, "resource": {aud}})
	if status != 200 {
		t.Fatalf("oidc-provider token endpoint: %d %v", status, body)
	}
	var fetches atomic.Int64
	v, err := NewVerifier(VerifierOptions{Issuer: started.Issuer, Audience: aud, Keys: RemoteKeys(started.Issuer, countingClient("/jwks", &fetches))})
	if err != nil {
		t.Fatal(err)
	}
	runHostileTable(t, issuerUnderTest{
		issuer: started.Issuer, audience: aud, verifier: v, jwksFetches: &fetches, key: key, valid: body["access_token"].(string),
	})
	c, err := v.Verify(ctx, body["access_token"].(string))
	if err != nil || c.Client != clientID || len(c.Roles) != 1 || c.Roles[0] != auth.RoleRead {
		t.Fatalf("claims %+v %v", c, err)
	}
}
