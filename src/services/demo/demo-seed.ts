import { randomBase62 } from '../../domain/ids.ts';
import type { ScopeCatalog } from '../../domain/scopes.ts';
import type { MembershipStore, UserStore } from '../../ports.ts';
import type { AccountService } from '../accounts/account-service.ts';
import { operatorActor } from '../accounts/operator-actor.ts';
import type { ApiKeyService } from '../keys/api-key-service.ts';
import type { ClientService } from '../oauth-apps/client-service.ts';

export const DEMO_EMAIL = 'demo@tessera.local';
export const DEMO_ORG_ID = 'org_demo';
export const DEMO_CONNECTOR_ID = 'demo-connector';
export const DEMO_RESOURCE_SERVER_ID = 'demo-resource-server';
/**
 * Where the demo connector's authorization ends: a loopback address (RFC 8252 §7.3), which
 * `npm run tessera -- demo` listens on, and whose address bar shows the code when nothing does.
 */
export const DEMO_REDIRECT_URI = 'http://127.0.0.1:8085/callback';

export interface DemoSeed {
  email: string;
  password: string;
  orgId: string;
  userId: string;
  /** An API key of the demo owner. */
  key: string;
  connector: { id: string; secret: string; redirectUri: string; scopes: string[] };
  resourceServer: { id: string; secret: string };
}

export interface DemoSeedDeps {
  accounts: AccountService;
  apiKeys: ApiKeyService;
  clients: ClientService;
  catalog: ScopeCatalog;
  stores: { users: UserStore; memberships: MembershipStore };
}

/**
 * The embedded default's demo: an organization and its owner, an API key, a connector (an app
 * such as Zapier, asking for every scope but the audit log's) and a resource server that may
 * introspect. Every secret is random per start and shown once on the terminal, like any
 * credential at its creation.
 */
export async function seedDemo(deps: DemoSeedDeps): Promise<DemoSeed> {
  const password = randomBase62(20);
  const org = await deps.accounts.createOrganization({ id: DEMO_ORG_ID, name: 'Demo Organization', plan: 'free' });
  const user = await deps.accounts.createUser({ email: DEMO_EMAIL, password, name: 'Demo Owner' });
  await deps.accounts.setMembership(user.id, org.id, 'owner');
  const actor = await operatorActor(deps.stores, deps.catalog, user.id, org.id);
  const key = await deps.apiKeys.create(actor, { name: 'demo' });
  const scopes = deps.catalog.all.filter((s) => s !== 'audit:read');
  const connector = await deps.clients.create({ id: DEMO_CONNECTOR_ID, name: 'Demo Connector', redirectUris: [DEMO_REDIRECT_URI], scopes });
  const resourceServer = await deps.clients.create({ id: DEMO_RESOURCE_SERVER_ID, name: 'Demo Resource Server', type: 'resource_server' });
  return {
    email: DEMO_EMAIL,
    password,
    orgId: org.id,
    userId: user.id,
    key: key.secret,
    connector: { id: connector.client.id, secret: connector.secret, redirectUri: DEMO_REDIRECT_URI, scopes },
    resourceServer: { id: resourceServer.client.id, secret: resourceServer.secret },
  };
}
