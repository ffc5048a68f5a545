// A real OpenID Provider (npm oidc-provider) for pkg/identity's tests:
// client_credentials with JWT access tokens (resourceIndicators), signed
// with the private JWK the test passes in OIDC_SIGNING_JWK, so the test can
// also forge hostile tokens with the provider's own key. It listens on
// 127.0.0.1 on a port the OS picks and prints {"issuer": URL} on stdout.
import http from 'node:http';
import Provider from 'oidc-provider';

const key = JSON.parse(process.env.OIDC_SIGNING_JWK);
const audience = process.env.OIDC_AUDIENCE;
const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: process.env.OIDC_CLIENT_ID,
      client_secret: process.env.OIDC_CLIENT_SECRET,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    jwks: { keys: [key] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource) => {
          if (resource !== audience) throw new Provider.errors.InvalidTarget();
          return { scope: 'api', audience, accessTokenTTL: 300, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
        },
      },
    },
    extraTokenClaims: () => ({ roles: ['canvas:read'] }),
  });
  server.on('request', provider.callback());
  process.stdout.write(JSON.stringify({ issuer }) + '\n');
});
// The test closes stdin when it is done: exit then, never outlive it.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
