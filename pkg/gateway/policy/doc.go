// Package policy owns what an exposed API's ODA gatewayConfiguration and
// its Component's securityFunction mean for the gateway: a Spec per API
// (guard, apiKeyVerification, rateLimit, quota, OASValidation, CORS) with
// the CRD's defaults filled in and every value checked, named by its ODA
// field path. translate writes a route's Spec into the ingress link's
// config (so a manifest says what is enforced); the embedded gateway reads
// it back and enforces it (pkg/gateway/enforce). It is pure: data in, data
// out; it fetches no OpenAPI document and keeps no counter.
package policy
