/**
 * What the token cases need in Tessera, as a seed file (TESSERA_SEED, loaded by the target as
 * src/main.ts loads one): a user who signs in on the OAuth pages, owner of one organization; a
 * connector (a confidential client, client_secret_basic, with the API's scopes) that asks for
 * those scopes and offline_access; and a resource server that introspects the tokens it gets.
 */
import { randomBytes } from 'node:crypto';
import { BENCH_SCOPES } from './seed.ts';

export interface TokenFixture {
  seed: Record<string, unknown>;
  user: { id: string; email: string; password: string };
  orgId: string;
  connector: { id: string; secret: string; redirectUri: string };
  resourceServer: { id: string; secret: string };
  /**
   * What the connector asks for: the API's scopes and a refresh token, no `openid` — a connector
   * (Zapier, Make) calls the API and wants no ID token, so no token response is signed.
   */
  scope: string;
}

export const REDIRECT_URI = 'https://connector.example/callback';

export function tokenFixture(): TokenFixture {
  const secret = (): string => randomBytes(32).toString('base64url');
  const user = { id: 'u_bench_tokens', email: 'bench-tokens@example.com', password: secret() };
  const orgId = 'o_bench_tokens';
  const connector = { id: 'bench_connector', secret: secret(), redirectUri: REDIRECT_URI };
  const resourceServer = { id: 'bench_leads_api', secret: secret() };
  return {
    user,
    orgId,
    connector,
    resourceServer,
    scope: [...BENCH_SCOPES, 'offline_access'].join(' '),
    seed: {
      users: [{ id: user.id, email: user.email, password: user.password, name: 'Bench Tokens' }],
      organizations: [{ id: orgId, name: 'Bench Tokens Org' }],
      memberships: [{ user: user.id, org: orgId, role: 'owner' }],
      clients: [
        { client_id: connector.id, client_secret: connector.secret, name: 'Bench Connector', redirect_uris: [REDIRECT_URI], scopes: BENCH_SCOPES },
        { client_id: resourceServer.id, client_secret: resourceServer.secret, name: 'Leads API', type: 'resource_server' },
      ],
    },
  };
}
