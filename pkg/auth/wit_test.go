package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// countingVerifier accepts every token and counts the calls.
type countingVerifier struct{ calls int }

func (v *countingVerifier) Verify(context.Context, string) (Claims, error) {
	v.calls++
	return Claims{Subject: "s"}, nil
}

func TestTokensBoundsBeforeTheVerifier(t *testing.T) {
	t.Parallel()
	v := &countingVerifier{}
	tk := Tokens{Verifier: v}
	for _, tc := range []struct {
		name, token string
		code        string // "" for accepted
	}{
		{"at the limit", strings.Repeat("a", MaxTokenBytes), ""},
		{"one over", strings.Repeat("a", MaxTokenBytes+1), "invalid_token"},
		{"empty", "", "invalid_request"},
	} {
		before := v.calls
		_, err := tk.Verify(t.Context(), tc.token)
		var e *Error
		switch {
		case tc.code == "" && (err != nil || v.calls != before+1):
			t.Errorf("%s: %v, verifier called %d times", tc.name, err, v.calls-before)
		case tc.code != "" && (!errors.As(err, &e) || e.Code != tc.code || v.calls != before):
			t.Errorf("%s: %v (verifier called %d times), want %s before the verifier", tc.name, err, v.calls-before, tc.code)
		}
	}
	if _, err := tk.AccessToken(t.Context(), "billing"); err == nil || !strings.Contains(err.Error(), "no issuer configured") {
		t.Errorf("access-token with no TokenSource: %v", err)
	}
	if _, err := (Tokens{}).Verify(t.Context(), "x"); !errors.Is(err, ErrNotLinked) {
		t.Errorf("zero Tokens: %v, want ErrNotLinked", err)
	}
}

func TestTokensError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		err           error
		kind, message string
		logged        bool
	}{
		{"refused", Invalid("token expired"), TokensInvalid, "token expired", false},
		{"wrapped refusal", errors.Join(errors.New("verify"), Invalid("bad kid")), TokensInvalid, "bad kid", false},
		{"not linked", ErrNotLinked, TokensUnavailable, "securityFunction", false},
		{"not served", Tokens{Verifier: &countingVerifier{}}.notLinked("access-token"), TokensUnavailable, "no issuer configured", false},
		{"issuer down", errors.New("dial tcp 10.0.0.1:443: refused"), TokensUnavailable, "could not be reached", true},
	} {
		kind, msg, logged := TokensError(tc.err)
		if kind != tc.kind || !strings.Contains(msg, tc.message) || logged != tc.logged || strings.Contains(msg, "10.0.0.1") {
			t.Errorf("%s: %s %q logged=%v, want %s containing %q logged=%v", tc.name, kind, msg, logged, tc.kind, tc.message, tc.logged)
		}
	}
}
