package identity

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
)

// FuzzVerify: any input is refused with an *auth.Error (never a panic,
// never accepted, never "could not decide") by a verifier whose key set
// is at hand. The corpus is in testdata/fuzz/FuzzVerify.
func FuzzVerify(f *testing.F) {
	key := newRSAJWK(f, "k")
	good := forgeF(f, key)
	f.Add(good)
	f.Add(good[:len(good)-5])
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	f.Add("")
	v, err := NewVerifier(VerifierOptions{Issuer: "https://issuer.test", Audience: "api",
		Keys: func(context.Context) (jose.JSONWebKeySet, error) {
			return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{key.Public()}}, nil
		}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := v.Verify(context.Background(), tok)
		if err == nil {
			if tok != good {
				t.Fatalf("accepted %q as %+v", tok, c)
			}
			return
		}
		var e *auth.Error
		if !errors.As(err, &e) {
			t.Fatalf("%q: not a refusal: %v", tok, err)
		}
	})
}

func forgeF(f *testing.F, key jose.JSONWebKey) string {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, nil)
	if err != nil {
		f.Fatal(err)
	}
	payload := []byte(`{"iss":"https://issuer.test","aud":"api","sub":"s","exp":` + strconv.FormatInt(time.Now().Add(24*time.Hour).Unix(), 10) + `}`)
	jws, err := s.Sign(payload)
	if err != nil {
		f.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		f.Fatal(err)
	}
	return out
}

// FuzzParseRoleAnswers: whatever a Component's role API answers (a role
// list) or its hub posts (an event), the parsers refuse it or yield only
// roles validRoleName accepts: at most maxRoles, none twice.
func FuzzParseRoleAnswers(f *testing.F) {
	f.Add(`[{"name":"admin"},{"name":"reader"},{"name":"admin"}]`)
	f.Add(`[{"name":" admin"},{"id":"1"}]`)
	f.Add(`{"eventType":"PartyRoleCreateEvent","event":{"partyRole":{"name":"auditor","@baseType":"PartyRole"}}}`)
	f.Add(`{"eventType":"PermissionSpecificationSetAttributeValueChangeEvent","event":{"permissionSpecificationSet":{}}}`)
	f.Fuzz(func(t *testing.T, body string) {
		if roles, err := parseRoleList([]byte(body)); err == nil {
			if len(roles) > maxRoles {
				t.Fatalf("%d roles accepted", len(roles))
			}
			seen := map[string]bool{}
			for _, r := range roles {
				if err := validRoleName(r); err != nil || seen[r] {
					t.Fatalf("role %q accepted (repeated=%v): %v", r, seen[r], err)
				}
				seen[r] = true
			}
		}
		for _, kind := range []roleAPI{partyRoleAPI, permissionAPI} {
			ev, err := parseRoleEvent(kind, []byte(body))
			if err == nil && !ev.resync && validRoleName(ev.name) != nil {
				t.Fatalf("%s event with role %q accepted", kind.resource, ev.name)
			}
		}
	})
}
