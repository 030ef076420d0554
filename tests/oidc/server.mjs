// node-oidc-provider (OpenID Certified) as a third-party authorization server for the e2e
// tests (issue 13 part C). Started by tests/src/oidc.rs; configured by one JSON argument; binds
// 127.0.0.1:0 and prints one line `{"port": N, "issuer": "..."}` once it accepts connections.
//
// Options (all optional):
//   issuerSlash: true        issuer "http://127.0.0.1:PORT/" (Auth0's trailing-slash form)
//   issuerPath: "/realms/acme"  issuer with a path (Keycloak realm / Entra tenant form): the
//                            provider is mounted there, its metadata path-appended
//                            (/realms/acme/.well-known/openid-configuration)
//   openidOnly: true         no RFC 8414 document: /.well-known/oauth-authorization-server 404s
//                            (Entra ID, older Keycloak)
//   profile: "generic"       plain JWT access tokens: typ JWT, azp instead of client_id, no
//                            jti, scopes in an `scp` array (Auth0 / Okta / Entra style)
//   defaultResource: "api://x" the resource (and audience) of tokens requested without an RFC 8707
//                            `resource` parameter (Entra ID v2 style: the audience comes from
//                            the provider's configuration, not from the request)
//   restrictRegistrationScopes: true
//                            the provider knows only openid/offline_access as scopes, so a
//                            registration naming MCP scopes is refused (invalid_client_metadata)
//
// Fixed behaviour: open dynamic client registration, PKCE (S256), resource indicators with a
// JWT access token for any absolute-URI resource (aud = the resource), refresh tokens only when
// offline_access was granted (the provider's default), login and consent auto-approved in
// one interaction as the account "alice" (three redirects from /auth to the redirect URI), client_credentials for the pre-registered clients below (tests mint
// narrower, foreign-audience and expired tokens with them).
import { createServer } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import Provider, { errors } from 'oidc-provider';

const opts = JSON.parse(process.argv[2] || '{}');
const MCP_SCOPES = ['mcp', 'mcp:tools:read', 'mcp:tools:call', 'mcp:resources:read', 'mcp:prompts:read'];

function jwk(type, options, alg, kid) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), alg, kid, use: 'sig' };
}

let handler = null;
const server = createServer((req, res) => handler(req, res));
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}${opts.issuerPath || ''}${opts.issuerSlash ? '/' : ''}`;
  const provider = new Provider(issuer, {
    jwks: {
      keys: [
        jwk('ec', { namedCurve: 'P-256' }, 'ES256', 'es-1'),
        jwk('rsa', { modulusLength: 2048 }, 'RS256', 'rs-1'),
      ],
    },
    cookies: { keys: ['oidc-test-cookie-key-not-a-secret'] },
    scopes: opts.restrictRegistrationScopes
      ? ['openid', 'offline_access']
      : ['openid', 'offline_access', ...MCP_SCOPES],
    clients: [
      {
        client_id: 'svc',
        client_secret: 'svc-secret-for-tests',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      },
      {
        client_id: 'svc-expired',
        client_secret: 'svc-secret-for-tests',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      },
    ],
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: true },
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf ?? opts.defaultResource,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, indicator) => {
          if (!/^[a-z][a-z0-9+.-]*:/i.test(indicator)) throw new errors.InvalidTarget();
          return {
            scope: MCP_SCOPES.join(' '),
            audience: indicator,
            accessTokenFormat: 'jwt',
            accessTokenTTL: 3600,
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
    },
    formats: {
      customizers: {
        jwt: async (_ctx, token, jwt) => {
          if (token.clientId === 'svc-expired') {
            const now = Math.floor(Date.now() / 1000);
            jwt.payload.iat = now - 7200;
            jwt.payload.exp = now - 3600;
          }
          if (opts.profile === 'generic') {
            jwt.header = { ...jwt.header, typ: 'JWT' };
            delete jwt.payload.jti;
            jwt.payload.azp = jwt.payload.client_id;
            delete jwt.payload.client_id;
            if (jwt.payload.scope !== undefined) {
              jwt.payload.scp = jwt.payload.scope.split(' ');
              delete jwt.payload.scope;
            }
          }
          return jwt;
        },
      },
    },
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  });

  provider.on('server_error', (_ctx, err) => console.error('server_error', err));
  const app = provider.callback();
  handler = async (req, res) => {
    try {
      if (opts.issuerPath && !req.url.startsWith('/interaction/')) {
        // Mounted under the issuer's path: everything else is not found.
        if (!req.url.startsWith(`${opts.issuerPath}/`)) {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end('{"error":"not_found"}');
          return;
        }
        req.originalUrl = req.url;
        req.url = req.url.slice(opts.issuerPath.length);
      }
      if (opts.openidOnly && req.url.startsWith('/.well-known/oauth-authorization-server')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"error":"not_found"}');
        return;
      }
      if (req.method === 'GET' && req.url.startsWith('/interaction/')) {
        // Auto-approve login and consent in one step: a grant for what was asked for.
        const details = await provider.interactionDetails(req, res);
        if (process.env.OIDC_DEBUG) console.error(JSON.stringify({ prompt: details.prompt, params: details.params, grantId: details.grantId }));
        const grant = details.grantId
          ? await provider.Grant.find(details.grantId)
          : new provider.Grant({ accountId: 'alice', clientId: details.params.client_id });
        const requested = (details.params.scope || '').split(' ').filter(Boolean);
        // The provider's static scopes (its `scopes` list) are granted as "OIDC" scopes, the
        // MCP scopes also for each requested resource.
        grant.addOIDCScope(requested.join(' '));
        const resources = [details.params.resource || opts.defaultResource || []].flat();
        for (const indicator of resources) {
          grant.addResourceScope(indicator, requested.filter((s) => MCP_SCOPES.includes(s)).join(' '));
        }
        const result = { login: { accountId: 'alice' }, consent: { grantId: await grant.save() } };
        await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
        return;
      }
      app(req, res);
    } catch (e) {
      console.error(e);
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(e));
    }
  };
  process.stdout.write(`${JSON.stringify({ port, issuer })}\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
