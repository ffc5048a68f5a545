package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/problem"
)

// staticTokens accepts the tokens it maps to principals.
func staticTokens(m map[string]Principal) Authenticator {
	return AuthenticatorFunc(func(r *http.Request) (Principal, error) {
		tok, err := BearerToken(r)
		if err != nil {
			return Principal{}, err
		}
		p, ok := m[tok]
		if !ok {
			return Principal{}, Invalid("unknown token")
		}
		return p, nil
	})
}

func TestRequire(t *testing.T) {
	t.Parallel()
	a := staticTokens(map[string]Principal{
		"w": {Subject: "writer", Roles: []string{RoleWrite}},
		"r": {Subject: "reader", Roles: []string{RoleRead}},
	})
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := FromContext(r.Context())
		_, _ = w.Write([]byte(p.Subject))
	})
	tests := []struct {
		name, header, role string
		status             int
		body, challenge    string
	}{
		{"no header", "", RoleRead, 401, "authentication required", `Bearer realm="canvas"`},
		{"basic scheme", "Basic dTpw", RoleRead, 401, "authentication required", `Bearer realm="canvas"`},
		{"empty bearer", "Bearer ", RoleRead, 401, "empty bearer token", `error="invalid_request"`},
		{"unknown token", "Bearer nope", RoleRead, 401, "unknown token", `error="invalid_token"`},
		{"reader reads", "Bearer r", RoleRead, 200, "reader", ""},
		{"writer reads", "bearer w", RoleRead, 200, "writer", ""},
		{"reader writes", "Bearer r", RoleWrite, 403, "lacks the role", `error="insufficient_scope"`},
		{"any role", "Bearer r", "", 200, "reader", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest("GET", "/v1/components", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			rec := httptest.NewRecorder()
			Require(a, "canvas", tc.role, ok).ServeHTTP(rec, req)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.body) {
				t.Fatalf("got %d %q, want %d containing %q", rec.Code, rec.Body, tc.status, tc.body)
			}
			if got := rec.Header().Get("WWW-Authenticate"); !strings.Contains(got, tc.challenge) || (tc.challenge == "") != (got == "") {
				t.Fatalf("WWW-Authenticate %q, want it to contain %q", got, tc.challenge)
			}
			if tc.status != 200 {
				var d problem.Details
				if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil || d.Status != tc.status {
					t.Fatalf("not a problem body: %s (%v)", rec.Body, err)
				}
			}
		})
	}
}

func TestChain(t *testing.T) {
	t.Parallel()
	first := staticTokens(map[string]Principal{"a": {Subject: "a"}})
	never := AuthenticatorFunc(func(*http.Request) (Principal, error) { return Principal{}, ErrNoCredentials })
	c := Chain(never, first)
	req := httptest.NewRequest("GET", "/", nil)
	if _, err := c.Authenticate(req); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("no header: %v", err)
	}
	req.Header.Set("Authorization", "Bearer a")
	if p, err := c.Authenticate(req); err != nil || p.Subject != "a" {
		t.Fatalf("got %v %v", p, err)
	}
	// The first authenticator that reads the credentials decides: a
	// refusal is not passed on to the next one.
	req.Header.Set("Authorization", "Bearer b")
	accepting := AuthenticatorFunc(func(*http.Request) (Principal, error) { return Principal{Subject: "x"}, nil })
	if _, err := Chain(first, accepting).Authenticate(req); err == nil {
		t.Fatal("a refused token reached the next authenticator")
	}
}

func TestChallengeStaysOneQuotedString(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	Deny(rec, httptest.NewRequest("GET", "/", nil), `x"y`, &Error{Code: "invalid_token", Reason: "bad \"kid\"\r\nSet-Cookie: a"})
	h := rec.Header().Get("WWW-Authenticate")
	if strings.Count(h, `"`) != 6 || strings.ContainsAny(h, "\r\n\\") {
		t.Fatalf("challenge not well formed: %q", h)
	}
}

func TestVerifierFailureIsNotAVerdict(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	Deny(rec, httptest.NewRequest("GET", "/", nil), "canvas", errors.New("dial tcp 10.0.0.1:443: secret detail"))
	if rec.Code != 401 || strings.Contains(rec.Body.String(), "10.0.0.1") {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
}

func TestHas(t *testing.T) {
	t.Parallel()
	if !(Principal{Roles: []string{RoleWrite}}).Has(RoleRead) {
		t.Fatal("write implies read")
	}
	if (Principal{Roles: []string{RoleRead}}).Has(RoleWrite) {
		t.Fatal("read does not imply write")
	}
}

type verifierFunc func(ctx context.Context, tok string) (Claims, error)

func (f verifierFunc) Verify(ctx context.Context, tok string) (Claims, error) { return f(ctx, tok) }

func TestBearer(t *testing.T) {
	t.Parallel()
	v := verifierFunc(func(_ context.Context, tok string) (Claims, error) {
		if tok != "good" {
			return Claims{}, Invalid("signature")
		}
		return Claims{Subject: "s", Client: "c", Roles: []string{"r"}}, nil
	})
	req := httptest.NewRequest("GET", "/", nil)
	if _, err := Bearer(v).Authenticate(req); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("no header: %v", err)
	}
	req.Header.Set("Authorization", "Bearer bad")
	var e *Error
	if _, err := Bearer(v).Authenticate(req); !errors.As(err, &e) {
		t.Fatalf("bad token: %v", err)
	}
	req.Header.Set("Authorization", "Bearer good")
	if p, err := Bearer(v).Authenticate(req); err != nil || p.Subject != "s" || p.Client != "c" || !p.Has("r") {
		t.Fatalf("got %+v %v", p, err)
	}
}

func TestAdminToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tok, err := EnsureAdminToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, AdminTokenFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", fi.Mode(), err)
	}
	again, err := EnsureAdminToken(dir)
	if err != nil || again != tok {
		t.Fatalf("second call made a new credential: %v", err)
	}
	a := Chain(LocalAdmin(tok), staticTokens(map[string]Principal{"jwt": {Subject: "j"}}))
	for _, tc := range []struct {
		tok, sub string
		ok       bool
	}{{tok, "admin", true}, {tok[:len(tok)-1] + "x", "", false}, {"jwt", "j", true}} {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", "Bearer "+tc.tok)
		p, err := a.Authenticate(req)
		if (err == nil) != tc.ok || p.Subject != tc.sub {
			t.Fatalf("%q: %+v %v", tc.tok, p, err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, AdminTokenFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadAdminToken(dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable credential was accepted: %v", err)
	}
}
