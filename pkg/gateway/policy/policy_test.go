package policy_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/policy"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

func ptr[T any](v T) *T { return &v }

func TestForAPIDefaultsAndErrors(t *testing.T) {
	t.Parallel()
	const path = "spec.coreFunction.exposedAPIs[0]"
	tests := []struct {
		name    string
		sec     *oda.SecurityFunction
		ann     string
		apiType string
		gc      *oda.GatewayConfiguration
		want    policy.Spec
		wantErr string
	}{
		{name: "nothing", want: policy.Spec{}},
		{name: "all disabled as in the reference example", gc: &oda.GatewayConfiguration{
			APIKeyVerification: &oda.APIKeyVerification{Enabled: ptr(false), Location: ptr("header")},
			RateLimit:          &oda.RateLimit{Enabled: ptr(false), Identifier: ptr("IP"), Interval: ptr("pm"), Limit: ptr("6")},
			Quota:              &oda.Quota{Identifier: ptr(""), Limit: ptr("")},
			OASValidation:      &oda.OASValidation{RequestEnabled: ptr(false)},
			CORS:               &oda.CORS{Enabled: ptr(false)},
		}, want: policy.Spec{}},
		{name: "guard roles", sec: &oda.SecurityFunction{CanvasSystemRole: "Admin", ComponentRole: []oda.ComponentRole{{Name: "reader"}, {Name: "Admin"}}},
			want: policy.Spec{Guard: &policy.Guard{Roles: []string{"reader", "Admin"}}}},
		// Scrapers carry no token (the reference canvas scrapes the pod).
		{name: "metrics API unguarded", sec: &oda.SecurityFunction{ComponentRole: []oda.ComponentRole{{Name: "reader"}}},
			apiType: "Prometheus", want: policy.Spec{}},
		{name: "defaults", gc: &oda.GatewayConfiguration{
			APIKeyVerification: &oda.APIKeyVerification{Enabled: ptr(true)},
			RateLimit:          &oda.RateLimit{Enabled: ptr(true), Limit: ptr("10")},
			Quota:              &oda.Quota{Limit: ptr("100")},
			CORS:               &oda.CORS{Enabled: ptr(true)},
		}, want: policy.Spec{
			APIKey:    &policy.APIKey{Name: "apikey"},
			RateLimit: &policy.RateLimit{By: policy.Identifier{Kind: policy.ByIP}, Limit: 10, Interval: time.Second},
			Quota:     &policy.Quota{By: policy.Identifier{Kind: policy.ByIP}, Limit: 100},
			CORS: &policy.CORS{AllowOrigins: []string{"*"}, Preflight: &policy.Preflight{
				AllowHeaders: policy.DefaultAllowHeaders, AllowMethods: policy.DefaultAllowMethods, MaxAge: 1800}},
		}},
		{name: "explicit", ann: `{"api": "file:///srv/oas.json"}`, gc: &oda.GatewayConfiguration{
			APIKeyVerification: &oda.APIKeyVerification{Enabled: ptr(true), Location: ptr("query:key")},
			RateLimit:          &oda.RateLimit{Enabled: ptr(true), Identifier: ptr("header:x-tenant"), Limit: ptr("6"), Interval: ptr("pm")},
			Quota:              &oda.Quota{Identifier: ptr("consumer"), Limit: ptr("5")},
			OASValidation:      &oda.OASValidation{RequestEnabled: ptr(true), AllowUnspecifiedCookies: ptr(true)},
			CORS: &oda.CORS{Enabled: ptr(true), AllowOrigins: ptr("https://a.example, https://b.example"), AllowCredentials: ptr(true),
				HandlePreflightRequests: &oda.HandlePreflightRequests{Enabled: ptr(false)}},
		}, want: policy.Spec{
			APIKey:    &policy.APIKey{In: policy.InQuery, Name: "key"},
			RateLimit: &policy.RateLimit{By: policy.Identifier{Kind: policy.ByHeader, Header: "X-Tenant"}, Limit: 6, Interval: time.Minute},
			Quota:     &policy.Quota{By: policy.Identifier{Kind: policy.ByConsumer}, Limit: 5},
			OAS:       &policy.OAS{Document: "file:///srv/oas.json", Request: true, AllowUnspecifiedCookies: true},
			CORS:      &policy.CORS{AllowOrigins: []string{"https://a.example", "https://b.example"}, AllowCredentials: true},
		}},
		{name: "bad values", gc: &oda.GatewayConfiguration{
			RateLimit:     &oda.RateLimit{Enabled: ptr(true), Identifier: ptr("cookie"), Limit: ptr("ten"), Interval: ptr("ph")},
			Quota:         &oda.Quota{Limit: ptr("-1")},
			OASValidation: &oda.OASValidation{RequestEnabled: ptr(true)},
			CORS:          &oda.CORS{Enabled: ptr(true), AllowCredentials: ptr(true)},
		}, wantErr: path + ".gatewayConfiguration.rateLimit.identifier|rateLimit.limit|rateLimit.interval|quota.limit|OASValidation|CORS.allowCredentials"},
		// A limit too large for the counters says so, not "not a whole number".
		{name: "limits over int64", gc: &oda.GatewayConfiguration{
			RateLimit: &oda.RateLimit{Enabled: ptr(true), Limit: ptr("99999999999999999999")},
			Quota:     &oda.Quota{Limit: ptr("9223372036854775808")},
		}, wantErr: `rateLimit.limit: limit "99999999999999999999" is over 9223372036854775807|quota.limit: limit "9223372036854775808" is over`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &oda.Component{Spec: oda.ComponentSpec{SecurityFunction: tt.sec}}
			if tt.ann != "" {
				c.Metadata.Annotations = map[string]string{policy.AnnotationOpenAPI: tt.ann}
			}
			e := &oda.ExposedAPI{Name: "api", APIType: tt.apiType, GatewayConfiguration: tt.gc}
			got, err := policy.ForAPI(c, e, path)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("no error, want one naming %s", tt.wantErr)
				}
				for _, w := range strings.Split(tt.wantErr, "|") {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not name %s", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %s\nwant %s", got.Encode(), tt.want.Encode())
			}
			back, err := policy.Decode(got.Encode())
			if err != nil || !reflect.DeepEqual(back, got) {
				t.Errorf("Decode(Encode) = %+v, %v", back, err)
			}
		})
	}
}

func TestDecodeRefusesUnknownPolicies(t *testing.T) {
	t.Parallel()
	if _, err := policy.Decode(`{"jwtPlugin":{}}`); err == nil {
		t.Fatal("an unknown policy decoded: a newer manifest's policy would be dropped silently")
	}
	for _, bad := range []string{
		`{"rateLimit":{"by":{"kind":"ip"},"limit":10,"interval":0}}`,
		`{"rateLimit":{"by":{"kind":"cookie"},"limit":10,"interval":1000000000}}`,
		`{"quota":{"by":{"kind":"header"},"limit":5}}`,
		`{"apiKey":{"name":""}}`,
		`{"oas":{"request":true}}`,
	} {
		if _, err := policy.Decode(bad); err == nil {
			t.Errorf("Decode(%s) accepted a policy the gateway cannot enforce", bad)
		}
	}
}

func TestGuardRule(t *testing.T) {
	t.Parallel()
	g := &policy.Guard{Roles: []string{"pcadmin", "Admin"}}
	for _, tt := range []struct {
		roles []string
		want  bool
	}{{nil, false}, {[]string{"other"}, false}, {[]string{"other", "Admin"}, true}, {[]string{"pcadmin"}, true}} {
		if got := g.Allows(tt.roles); got != tt.want {
			t.Errorf("Allows(%v) = %v", tt.roles, got)
		}
	}
	if (&policy.Guard{Roles: []string{}}).Allows([]string{"Admin"}) {
		t.Error("a guard without roles let a caller in")
	}
}
