package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The token endpoint answers RFC 6749 §5.2 errors and takes
// client_secret_post as well as Basic.
func TestTokenEndpointErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := startIssuer(t, "", IssuerOptions{})
	secret, err := env.is.RegisterClient(ctx, ClientSpec{ID: "c", Grants: map[string][]string{CanvasAudience: {"r"}, "other": {"x"}}})
	if err != nil {
		t.Fatal(err)
	}
	post := func(body string, basic bool, ctype string) (int, map[string]any, http.Header) {
		req, _ := http.NewRequest(http.MethodPost, env.is.URL()+PathToken, strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		if basic {
			req.SetBasicAuth("c", secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out, resp.Header
	}
	form := "application/x-www-form-urlencoded"
	cc := "grant_type=client_credentials&audience=" + CanvasAudience
	// What an error_description must name, beyond its code.
	says := map[string]string{"body over 64 KiB": "over 64 KiB", "bad percent-encoding": `"%zz"`}
	for _, tc := range []struct {
		name, body, ctype string
		basic             bool
		status            int
		errCode           string
	}{
		{"basic", cc, form, true, 200, ""},
		{"client_secret_post", cc + "&client_id=c&client_secret=" + url.QueryEscape(secret), form + "; charset=utf-8", false, 200, ""},
		{"both methods", cc + "&client_secret=" + url.QueryEscape(secret), form, true, 400, "invalid_request"},
		{"no client", cc, form, false, 401, "invalid_client"},
		{"refresh_token grant", "grant_type=refresh_token&refresh_token=x", form, true, 400, "unsupported_grant_type"},
		{"no audience with two grants", "grant_type=client_credentials", form, true, 400, "invalid_target"},
		{"unknown audience", "grant_type=client_credentials&audience=nope", form, true, 400, "invalid_target"},
		{"audience and resource differ", cc + "&resource=other", form, true, 400, "invalid_target"},
		{"repeated parameter", cc + "&grant_type=client_credentials", form, true, 400, "invalid_request"},
		{"JSON body", `{"grant_type":"client_credentials"}`, "application/json", true, 400, "invalid_request"},
		{"body over 64 KiB", cc + "&pad=" + strings.Repeat("a", maxForm), form, true, 413, "invalid_request"},
		{"bad percent-encoding", cc + "&client_id=%zz", form, true, 400, "invalid_request"},
	} {
		status, out, h := post(tc.body, tc.basic, tc.ctype)
		if status != tc.status || (tc.errCode != "" && out["error"] != tc.errCode) {
			t.Errorf("%s: %d %v, want %d %s", tc.name, status, out, tc.status, tc.errCode)
		}
		if want := says[tc.name]; want != "" && !strings.Contains(fmt.Sprint(out["error_description"]), want) {
			t.Errorf("%s: error_description %q, want it to say %q", tc.name, out["error_description"], want)
		}
		if h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", tc.name, h.Get("Cache-Control"))
		}
		if status == 401 && h.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without a challenge", tc.name)
		}
	}
	resp, err := http.Get(env.is.URL() + PathToken)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed && resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET token endpoint: %d", resp.StatusCode)
	}
}

// A client id or audience of any size is only an unknown one: it is never
// sent to KV as a key, whose subject would be over NATS's control line
// limit and make the server drop the issuer's connection for everyone.
func TestHugeClientIDsAreUnknownClients(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := startIssuer(t, "", IssuerOptions{})
	secret, err := env.is.RegisterClient(ctx, ClientSpec{ID: "c", Grants: map[string][]string{CanvasAudience: {"r"}}})
	if err != nil {
		t.Fatal(err)
	}
	huge := strings.Repeat("a", 8<<10)
	cc := url.Values{"grant_type": {"client_credentials"}}
	if status, out := tokenRequest(t, env.is.URL()+PathToken, huge, "x", cc); status != http.StatusUnauthorized || out["error"] != "invalid_client" {
		t.Errorf("huge Basic client id: %d %v, want 401 invalid_client", status, out)
	}
	post := url.Values{"grant_type": {"client_credentials"}, "client_id": {huge}, "client_secret": {"x"}}
	if status, out := tokenRequest(t, env.is.URL()+PathToken, "", "", post); status != http.StatusUnauthorized || out["error"] != "invalid_client" {
		t.Errorf("huge client_id: %d %v, want 401 invalid_client", status, out)
	}
	aud := url.Values{"grant_type": {"client_credentials"}, "audience": {huge}}
	if status, out := tokenRequest(t, env.is.URL()+PathToken, "c", secret, aud); status != http.StatusBadRequest || out["error"] != "invalid_target" {
		t.Errorf("huge audience: %d %v, want 400 invalid_target", status, out)
	}
	if err := env.is.DeleteClient(ctx, huge); err != nil {
		t.Errorf("deleting a client no id can name: %v", err)
	}
	if status, out := tokenRequest(t, env.is.URL()+PathToken, "c", secret, cc); status != http.StatusOK {
		t.Errorf("a good request after them: %d %v, want 200", status, out)
	}
}
