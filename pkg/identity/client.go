package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
)

// ClientCredentials gets access tokens from an issuer's token endpoint
// with the client_credentials grant (RFC 6749 §4.4), authenticating with
// HTTP Basic (client_secret_basic). It is an auth.TokenSource; it does not
// cache (wrap it, or use Issuer.TokenSource in-process).
type ClientCredentials struct {
	TokenURL, ClientID, Secret string
	// HTTPClient nil means one with a 10 s timeout.
	HTTPClient *http.Client
}

var _ auth.TokenSource = ClientCredentials{}

// TokenResponse is a successful token response (RFC 6749 §5.1).
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in,omitempty"`
}

// AccessToken implements auth.TokenSource.
func (c ClientCredentials) AccessToken(ctx context.Context, audience string) (string, error) {
	t, err := c.Token(ctx, audience)
	return t.AccessToken, err
}

// Token requests a token for audience ("" lets the issuer pick): sent as
// audience, and also as RFC 8707's resource when it is an absolute URI.
func (c ClientCredentials) Token(ctx context.Context, audience string) (TokenResponse, error) {
	var out TokenResponse
	form := url.Values{"grant_type": {"client_credentials"}}
	if audience != "" {
		form.Set("audience", audience)
		if u, err := url.Parse(audience); err == nil && u.IsAbs() {
			form.Set("resource", audience)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return out, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(c.ClientID), url.QueryEscape(c.Secret))
	hc := c.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: fetchTimeout}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return out, fmt.Errorf("token endpoint %s: %w", c.TokenURL, err)
	}
	defer resp.Body.Close()
	body, err := readBounded(resp.Body, maxDocument)
	if err != nil {
		return out, fmt.Errorf("token endpoint %s: %w", c.TokenURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(body, &e)
		return out, fmt.Errorf("token endpoint %s: %s: %s %s", c.TokenURL, resp.Status, e.Error, e.Description)
	}
	if err := json.Unmarshal(body, &out); err != nil || out.AccessToken == "" {
		return out, fmt.Errorf("token endpoint %s: no access_token in the reply", c.TokenURL)
	}
	return out, nil
}
