// Package identityrpc serves wasmcanvas:identity (wit/identity.wit,
// 0.1.0) over wRPC for canvas-bridge: a bridge.Service with one pkg/wrpc
// handler per WIT function on {lattice}.{provider key}, instance
// wasmcanvas:identity/tokens@0.1.0. A handler decodes the params exactly
// per the WIT (pkg/wrpc/wire; params that do not decode fail the call),
// then looks the call's source-id header up in the bridge's links: no
// link answers the WIT error unavailable, saying so. Then it calls the
// auth.Tokens that Options.Tokens gives for the caller's ODA Component
// (verify goes to its auth.Verifier, access-token to its
// auth.TokenSource; pkg/identity builds the real ones) and encodes the
// result: an *auth.Error is the case invalid, any other failure
// unavailable with a fixed message, its details logged (auth.TokensError);
// a token is never logged.
//
// Which Component a caller is: the link's target config keys namespace
// and component when both are set (translate.IdentityConfigNamespace and
// IdentityConfigComponent, which translate writes on the identity link); otherwise the lattice is the namespace and the source id the
// name, as pkg/bridge/observerpc does, because the bridge keeps one link
// per caller and that may be the caller's observe link.
//
// With Options.TokenService, access-token for a Component whose Tokens
// have no TokenSource goes to canvasd's token service on the lattice
// (RemoteTokenSource; a NATS request on subject.BridgeTokens): canvasd
// (ServeTokenService, with pkg/daemon's issuer) issues the Component's
// client-credentials token in-process, so the bridge holds no secret.
//
// It verifies and issues nothing itself and keeps no link state
// (pkg/bridge does).
package identityrpc
