// Package enforce turns an exposed API's policy.Spec into the handler
// chain the gateway serves it through, in this order: CORS (preflight
// answered here, allowed origins marked on every answer), the guard (a
// bearer token through the configured auth.Authenticator and one of the
// Component's roles; the caller's subject, client, issuer and roles reach
// the component as X-Wasmcanvas-* headers), the API key, the rate limit,
// the quota, then OpenAPI request validation, the component, and OpenAPI
// response validation. Every refusal is an RFC 9457 problem.
//
// Counters and keys live behind small interfaces (Counter, KeyLookup):
// in memory by default, in JetStream KV (pkg/gateway/policykv) when the
// process configures it. It reads an OpenAPI document once per Compile and
// must not know what serves the API.
package enforce
