/**
 * A running Tessera (in this process, on a loopback port) with a fixture of two organizations and
 * a member of every role, for API suites that run the same cases on the memory stores (unit) and
 * on MongoDB + Redis (integration).
 */
import { randomBytes } from 'node:crypto';
import mongoose from 'mongoose';
import { createTessera, type Tessera } from '../../src/app.ts';
import type { Role } from '../../src/domain/accounts.ts';
import type { IssuedKey, CreateKeyInput } from '../../src/services/keys/api-key-service.ts';
import { operatorActor } from '../../src/services/accounts/operator-actor.ts';
import { FrozenClock } from './frozen-clock.ts';
import { serve, type RunningApp } from './http-client.ts';
import { recordSecret } from './log-capture.ts';
import { testConfig, testLogger } from './test-config.ts';
import { mongoUriFor, redisUrl, uniqueName } from './unique.ts';

export type StoreMode = 'memory' | 'external';

export interface ApiResponse {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON body (undefined when empty). */
  body: unknown;
}

export interface RequestOptions {
  key?: string;
  /** A raw Authorization header value (overrides `key`). */
  authorization?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Member {
  userId: string;
  role: Role;
}

export interface ApiHarness {
  url: string;
  clock: FrozenClock;
  tessera: Tessera;
  orgA: string;
  orgB: string;
  /** Members of org A by role; org B has an owner. */
  members: Record<Role, Member> & { ownerB: Member };
  /** A key for a member, made through the service as an operator would; recorded for the log scan. */
  keyFor(member: Member, input?: CreateKeyInput, orgId?: string): Promise<IssuedKey>;
  /**
   * A connected app of `member` for the connector `clientId`, recorded as the consent page records
   * it, with an access token stored as the authorization server stores one (recorded for the scan).
   */
  connectApp(member: Member, clientId: string, options?: { scopes?: string[]; orgId?: string; ttlSeconds?: number }): Promise<ConnectedToken>;
  request(method: string, path: string, options?: RequestOptions): Promise<ApiResponse>;
  close(): Promise<void>;
}

export interface ConnectedToken {
  token: string;
  grantId: string;
  /** Issued at and expiry, in epoch seconds. */
  iat: number;
  exp: number;
}

/** An API key as the API shows it (src/http/presenters.ts); `key` only in the answer that creates it. */
export interface KeyView {
  id: string;
  name: string | null;
  key?: string;
  start: string;
  scopes: string[];
  env: string;
  active: boolean;
  createdAt: string;
  lastUsedAt: string | null;
  lastUsedFrom: string | null;
  expiresAt: string | null;
  limits: { rate_limit_per_minute: number | null; rate_limit_per_day: number | null; daily_spend_cap: number | null };
  userId: string;
  rotatedFrom: string | null;
}

export const RESOURCE_SCOPES = ['leads:read', 'leads:write'];

export async function startApi(mode: StoreMode, env: Record<string, string> = {}): Promise<ApiHarness> {
  const clock = new FrozenClock(new Date());
  const database = uniqueName('api');
  const storeEnv: Record<string, string> =
    mode === 'external' ? { MONGODB_URI: mongoUriFor(database), REDIS_URL: redisUrl(), TESSERA_REDIS_PREFIX: `${database}:` } : {};
  const config = testConfig({ TESSERA_SCOPES: RESOURCE_SCOPES.join(' '), ...storeEnv, ...env }, `api-${mode}`);
  const tessera = await createTessera(config, { logger: testLogger(config), clock });
  const running: RunningApp = await serve(tessera.handler);
  const { accounts } = tessera.services;

  const orgA = (await accounts.createOrganization({ name: 'Acme' })).id;
  const orgB = (await accounts.createOrganization({ name: 'Globex' })).id;
  const member = async (role: Role, orgId: string): Promise<Member> => {
    const user = await accounts.createUser({ email: `${uniqueName(role)}@example.com`, name: role });
    await accounts.setMembership(user.id, orgId, role);
    return { userId: user.id, role };
  };
  const members = {
    owner: await member('owner', orgA),
    admin: await member('admin', orgA),
    editor: await member('editor', orgA),
    viewer: await member('viewer', orgA),
    ownerB: await member('owner', orgB),
  };

  return {
    url: running.url,
    clock,
    tessera,
    orgA,
    orgB,
    members,
    keyFor: async (m, input = {}, orgId) => {
      const org = orgId ?? (m === members.ownerB ? orgB : orgA);
      const actor = await operatorActor(tessera.stores, tessera.services.catalog, m.userId, org);
      // Viewers create no keys through the API; theirs arrive by import. The fixture makes one as
      // an operator would, with no more than the viewer's own scopes.
      const viewer = actor.role === 'viewer';
      const catalog = tessera.services.catalog;
      const issued = await tessera.services.apiKeys.create(
        viewer ? { ...actor, role: 'editor', scopes: catalog.allowedFor('editor') } : actor,
        viewer ? { scopes: catalog.allowedFor('viewer'), ...input } : input,
      );
      recordSecret(issued.secret);
      return issued;
    },
    connectApp: async (m, clientId, options = {}) => {
      const { scopes = ['leads:read'], orgId = m === members.ownerB ? orgB : orgA, ttlSeconds = 3600 } = options;
      const grantId = uniqueName('grant');
      const actor = await operatorActor(tessera.stores, tessera.services.catalog, m.userId, orgId);
      await tessera.services.connectedApps.recordConsent({ grantId, userId: m.userId, orgId, clientId, scopes }, actor);
      // An opaque token of the provider's shape (43 base64url characters).
      const token = recordSecret(randomBytes(32).toString('base64url'));
      const iat = Math.floor(clock.now().getTime() / 1000);
      const exp = iat + ttlSeconds;
      const payload = { accountId: m.userId, clientId, grantId, scope: scopes.join(' '), iat, exp, kind: 'AccessToken', jti: token };
      await tessera.stores.oauth.upsert('AccessToken', token, payload, new Date(exp * 1000));
      return { token, grantId, iat, exp };
    },
    request: async (method, path, options = {}) => {
      const headers: Record<string, string> = { ...options.headers };
      const authorization = options.authorization ?? (options.key !== undefined ? `Bearer ${options.key}` : undefined);
      if (authorization !== undefined) headers.authorization = recordSecret(authorization);
      let body: string | undefined;
      if (options.body !== undefined) {
        body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await fetch(`${running.url}${path}`, { method, headers, body });
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const secret = (parsed as { key?: unknown } | undefined)?.key;
      if (typeof secret === 'string') recordSecret(secret);
      return { status: res.status, headers: res.headers, text, body: parsed };
    },
    close: async () => {
      await running.close();
      await tessera.close();
      if (mode === 'external') {
        const connection = await mongoose.createConnection(mongoUriFor(database)).asPromise();
        await connection.dropDatabase();
        await connection.close();
      }
    },
  };
}

export const UNAUTHORIZED_BODY = '{"error":{"code":"UNAUTHORIZED","message":"Invalid or missing API key"}}';
