package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// DiscoveryPath is where an OpenID Provider publishes its metadata,
// relative to its issuer URL (OpenID Connect Discovery 1.0 §4).
const DiscoveryPath = "/.well-known/openid-configuration"

// maxDocument bounds a discovery document or key set read from an issuer.
const maxDocument = 1 << 20

// fetchTimeout bounds each request to an issuer.
const fetchTimeout = 10 * time.Second

// Metadata is the part of an OpenID Provider's discovery document the
// canvas uses.
type Metadata struct {
	Issuer                string   `json:"issuer"`
	JWKSURI               string   `json:"jwks_uri"`
	TokenEndpoint         string   `json:"token_endpoint,omitempty"`
	IntrospectionEndpoint string   `json:"introspection_endpoint,omitempty"`
	RevocationEndpoint    string   `json:"revocation_endpoint,omitempty"`
	GrantTypesSupported   []string `json:"grant_types_supported,omitempty"`
	SigningAlgs           []string `json:"id_token_signing_alg_values_supported,omitempty"`
	TokenAuthMethods      []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	ResponseTypes         []string `json:"response_types_supported"`
	SubjectTypes          []string `json:"subject_types_supported"`
}

// Discover reads issuer's discovery document; its issuer must be issuer
// exactly (OpenID Connect Discovery 1.0 §4.3). hc nil means a client with
// a 10 s timeout.
func Discover(ctx context.Context, hc *http.Client, issuer string) (Metadata, error) {
	var md Metadata
	if hc == nil {
		hc = &http.Client{Timeout: fetchTimeout}
	}
	if err := getJSON(ctx, hc, strings.TrimRight(issuer, "/")+DiscoveryPath, &md); err != nil {
		return md, err
	}
	if md.Issuer != issuer {
		return md, fmt.Errorf("discovery document of %s names issuer %q: the issuer URL must match exactly", issuer, md.Issuer)
	}
	if md.JWKSURI == "" {
		return md, fmt.Errorf("discovery document of %s has no jwks_uri", issuer)
	}
	if strings.HasPrefix(issuer, "https://") && !strings.HasPrefix(md.JWKSURI, "https://") {
		return md, fmt.Errorf("discovery document of %s names jwks_uri %q: an https issuer's keys must come over https (OpenID Connect Discovery 1.0 §3), or anyone on the path could replace them", issuer, md.JWKSURI)
	}
	return md, nil
}

// RemoteKeys fetches an external issuer's key set: discovery, then its
// jwks_uri (both each time it is called; the Verifier caches the keys).
// hc nil means a client with a 10 s timeout.
func RemoteKeys(issuer string, hc *http.Client) KeySetFunc {
	if hc == nil {
		hc = &http.Client{Timeout: fetchTimeout}
	}
	return func(ctx context.Context) (jose.JSONWebKeySet, error) {
		var set jose.JSONWebKeySet
		md, err := Discover(ctx, hc, issuer)
		if err != nil {
			return set, err
		}
		err = getJSON(ctx, hc, md.JWKSURI, &set)
		return set, err
	}
}

// httpsStays is hc refusing a redirect from https to anything else: what
// came over https (discovery, keys) may not be swapped on the way by a
// redirect to plain http.
func httpsStays(hc *http.Client) *http.Client {
	c := *hc
	next := hc.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
			return fmt.Errorf("redirected from %s to %s: refused, what an https issuer serves must stay on https", via[0].URL, req.URL)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &c
}

func getJSON(ctx context.Context, hc *http.Client, url string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := httpsStays(hc).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	body, err := readBounded(resp.Body, maxDocument)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}
