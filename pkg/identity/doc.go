// Package identity owns who a bearer token says its caller is. Verifier is
// the one implementation of auth.Verifier: the algorithm, key, issuer,
// audience and time rules are written once here and used by canvasd's API,
// the gateway and the bridge alike, against the embedded issuer or any
// external OpenID Provider (discovery + JWKS). Issuer is the embedded
// OpenID Provider canvasd serves under /oidc: signing keys with rotation,
// registered clients and revoked token ids in JetStream KV, and the
// discovery, JWKS, token (client_credentials), introspection (RFC 7662)
// and revocation (RFC 7009) endpoints. ComponentClients and KeycloakClients
// register a Component's client; RoleListener adds the roles its
// partyrole / userrolesandpermissions API defines and follows their
// changes through that API's hub. It never logs or returns a private key
// or a client secret it stores.
package identity
