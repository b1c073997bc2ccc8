/**
 * Case (b): a plain oidc-provider 9 with its own built-in introspection endpoint
 * (POST /token/introspection), its default in-memory adapter and a static client list: one
 * resource server (client_secret_basic, no grants) and one connector. It mints opaque access
 * tokens of the same kind Tessera's connectors hold — each bound to a saved grant, with the API
 * as audience and the API's scopes — and hands them to the parent with its port.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';
import { failTarget, serveTarget } from './ipc.ts';

const TOKENS = Number(process.env['BENCH_TOKENS'] ?? '100');
const ISSUER = 'http://127.0.0.1';
const RESOURCE = `${ISSUER}/api`;
const SCOPE = 'leads:read leads:write';

try {
  const rsSecret = randomBytes(32).toString('base64url');
  const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const provider = new Provider(ISSUER, {
    clients: [
      { client_id: 'resource-server', client_secret: rsSecret, grant_types: [], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic' },
      {
        client_id: 'connector',
        client_secret: randomBytes(32).toString('base64url'),
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: ['https://connector.example/callback'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [{ ...signingKey, use: 'sig', alg: 'RS256', kid: 'bench' }] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    features: {
      devInteractions: { enabled: false },
      // Any authenticated client may introspect (the default policy also would, for a confidential
      // client, but warns that it should be changed).
      introspection: { enabled: true, allowedPolicy: async () => true },
    },
  });

  const connector = await provider.Client.find('connector');
  if (!connector) throw new Error('the connector client is not registered');
  const tokens: string[] = [];
  for (let i = 0; i < TOKENS; i++) {
    const accountId = `user-${i % 10}`;
    const grant = new provider.Grant({ accountId, clientId: 'connector' });
    grant.addResourceScope(RESOURCE, SCOPE);
    const grantId = await grant.save();
    const token = new provider.AccessToken({ accountId, client: connector, grantId, scope: SCOPE, gty: 'authorization_code', expiresIn: 3600 });
    token.setAudience(RESOURCE);
    tokens.push(await token.save());
  }

  const server = createServer(provider.callback());
  await serveTarget(server, undefined, undefined, { tokens, clientId: 'resource-server', clientSecret: rsSecret, path: '/token/introspection' });
} catch (error) {
  failTarget(error);
}
