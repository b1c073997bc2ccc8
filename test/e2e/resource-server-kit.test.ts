/**
 * The resource-server kit's introspection end to end: a real Tessera process (MongoDB + Redis)
 * and the example leads API (examples/resource-server.ts, KIT_MODE=introspect) as a second
 * process using the kit, on the same Redis prefix. Both bearer kinds — an API key made through Tessera's API and an OAuth access token
 * obtained through the real authorization-code flow — get the leads of their own organization
 * only; scopes are enforced (403 naming leads:write), a missing bearer is the exact 401; and a
 * key revoked or a connected app disconnected at Tessera is refused by the example within 1 s
 * although its cache keeps answers 5 s: the Redis invalidation is what refuses it. Last, the
 * kit's subscription across a Redis restart (a private Redis): short TTL and an emptied cache
 * while it is down, invalidations arriving again once it is back.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import mongoose from 'mongoose';
import { createIntrospector, hashToken } from '../../kit/index.ts';
import { DEFAULT_KEY_FORMAT, generateKey } from '../../src/domain/api-key-format.ts';
import { recordSecret } from '../support/log-capture.ts';
import { authorizeAndSignIn, tokenRequest } from '../support/oauth-browser.ts';
import { call, kitParties, startExample, type ExampleProcess, type Reply } from '../support/example-process.ts';
import { startRedis } from '../support/servers.ts';
import { startTessera, waitUntilReady, type TesseraProcess } from '../support/tessera-process.ts';
import { mongoUriFor, redisUrl, uniqueName } from '../support/unique.ts';

const UNAUTHORIZED_BODY = '{"error":{"code":"UNAUTHORIZED","message":"Invalid or missing API key"}}';
const FORBIDDEN_WRITE_BODY = '{"error":{"code":"FORBIDDEN","message":"This credential lacks the leads:write scope"}}';
const REDIRECT_URI = 'https://zapier.example/cb';
/** How soon a revocation must be honoured by the example (its cache TTL is 5 s). */
const REVOCATION_BUDGET_MS = 1_000;

const { dir, tag, user, connector, resourceServer, newKey } = kitParties('kit');
const orgA = `o_a_${tag}`;
const orgB = `o_b_${tag}`;
/** The user's key in org A (owner, every scope): creates and revokes keys. */
const bootstrap = newKey();
/** The user's key in org B (editor): lists and revokes its connected apps. */
const appsKeyB = newKey();

const LEADS = {
  [orgA]: [{ name: 'Ada (A)', email: 'ada@a.example' }, { name: 'Alan (A)' }],
  [orgB]: [{ name: 'Grace (B)', email: 'grace@b.example' }],
};

function expectUnauthorized(reply: Reply): void {
  expect({ status: reply.status, text: reply.text, challenge: reply.headers.get('www-authenticate') }).toEqual({ status: 401, text: UNAUTHORIZED_BODY, challenge: 'Bearer' });
}

interface Health {
  invalidation: string;
  cache: { ttl_ms: number; entries: number; hits: number; misses: number; introspections: number };
}

describe('the resource-server kit: the example leads API in front of a real Tessera', () => {
  const database = uniqueName('e2e_kit');
  const prefix = `${uniqueName('kit')}:`;
  let tessera: TesseraProcess;
  let example: ExampleProcess;
  let readKey: { id: string; key: string };
  let accessToken: string;

  const health = async (): Promise<Health> => (await call(example.url, 'GET', '/health')).json() as unknown as Health;

  /** A key of the user in org A with `scopes`, created through Tessera's API with the bootstrap key. */
  async function createKey(name: string, scopes: string[]): Promise<{ id: string; key: string }> {
    const created = await call(tessera.url, 'POST', '/api/v1/api-keys', bootstrap, { name, scopes });
    expect(created.status).toBe(201);
    const body = created.json();
    expect(body).toMatchObject({ name, scopes, active: true });
    return { id: String(body.id), key: recordSecret(String(body.key)) };
  }

  /** The real flow: authorize with PKCE, sign in, consent for org B, exchange the code. */
  async function connectApp(): Promise<string> {
    const { browser, verifier, state } = await authorizeAndSignIn(tessera.url, { id: connector.id, redirectUri: REDIRECT_URI }, user, 'leads:read leads:write');
    const done = await browser.consent(orgB);
    expect(done.redirect?.origin + (done.redirect?.pathname ?? '')).toBe(REDIRECT_URI);
    expect(done.redirect?.searchParams.get('state')).toBe(state);
    const code = done.redirect!.searchParams.get('code')!;
    const exchanged = await tokenRequest(tessera.url, connector, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier });
    expect(exchanged.status).toBe(200);
    expect(exchanged.body).toMatchObject({ token_type: 'Bearer', scope: 'leads:read leads:write' });
    return recordSecret(String(exchanged.body.access_token));
  }

  /** Tessera's own answer for a bearer, asked as the resource server (for the grant id of a token). */
  async function introspectAtTessera(token: string): Promise<Record<string, unknown>> {
    const res = await fetch(`${tessera.url}/oauth/introspect`, {
      method: 'POST',
      headers: {
        authorization: recordSecret(`Basic ${Buffer.from(`${resourceServer.id}:${resourceServer.secret}`).toString('base64')}`),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token }).toString(),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as Record<string, unknown>;
  }

  /**
   * Makes `bearer` a fresh cache entry at the example (a miss, then a hit that made no call to
   * Tessera) and returns when the entry was stored. The entry would live until at least
   * storedAt + 5 s without an invalidation.
   */
  async function primeCache(bearer: string): Promise<number> {
    const before = await health();
    expect({ invalidation: before.invalidation, ttl: before.cache.ttl_ms }).toEqual({ invalidation: 'redis', ttl: 5_000 });
    const storedAt = Date.now();
    expect((await call(example.url, 'GET', '/leads', bearer)).status).toBe(200);
    const afterMiss = await health();
    expect(afterMiss.cache.introspections).toBe(before.cache.introspections + 1);
    expect((await call(example.url, 'GET', '/leads', bearer)).status).toBe(200);
    const afterHit = await health();
    expect(afterHit.cache.introspections).toBe(afterMiss.cache.introspections);
    expect(afterHit.cache.hits).toBe(afterMiss.cache.hits + 1);
    return storedAt;
  }

  /**
   * Runs `revoke` (which must answer 204 at Tessera) and then calls the example with `bearer`
   * until it is refused; returns the milliseconds from the 204 to the refusal.
   */
  async function timeUntilRefused(bearer: string, revoke: () => Promise<Reply>): Promise<{ elapsedMs: number; revokedAt: number }> {
    const revoked = await revoke();
    expect(revoked.status).toBe(204);
    const revokedAt = Date.now();
    for (;;) {
      const reply = await call(example.url, 'GET', '/leads', bearer);
      const elapsedMs = Date.now() - revokedAt;
      if (reply.status !== 200) {
        expectUnauthorized(reply);
        return { elapsedMs, revokedAt };
      }
      if (elapsedMs > 6_000) throw new Error('the example kept accepting a revoked bearer for 6 s');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  beforeAll(async () => {
    const seedFile = join(dir, 'seed.json');
    writeFileSync(
      seedFile,
      JSON.stringify({
        users: [{ id: user.id, email: user.email, password: user.password, name: 'Kit User' }],
        organizations: [
          { id: orgA, name: 'Acme' },
          { id: orgB, name: 'Globex' },
        ],
        memberships: [
          { user: user.id, org: orgA, role: 'owner' },
          { user: user.id, org: orgB, role: 'editor' },
        ],
        clients: [
          { client_id: connector.id, client_secret: connector.secret, name: 'Zapier', redirect_uris: [REDIRECT_URI], scopes: ['leads:read', 'leads:write'] },
          { client_id: resourceServer.id, client_secret: resourceServer.secret, name: 'Leads API', type: 'resource_server' },
        ],
        api_keys: [
          { key: bootstrap, user: user.id, org: orgA, name: 'bootstrap' },
          { key: appsKeyB, user: user.id, org: orgB, name: 'apps-b', scopes: ['apps:read', 'apps:write'] },
        ],
      }),
    );
    const leadsFile = join(dir, 'leads.json');
    writeFileSync(leadsFile, JSON.stringify(LEADS));

    const redis = redisUrl();
    tessera = await startTessera(
      { TESSERA_SEED: seedFile, TESSERA_SCOPES: 'leads:read leads:write', MONGODB_URI: mongoUriFor(database), REDIS_URL: redis, TESSERA_REDIS_PREFIX: prefix },
      'kit-tessera',
    );
    await waitUntilReady(tessera);
    example = await startExample({
      KIT_MODE: 'introspect',
      TESSERA_URL: tessera.url,
      TESSERA_CLIENT_ID: resourceServer.id,
      TESSERA_CLIENT_SECRET: resourceServer.secret,
      REDIS_URL: redis,
      TESSERA_REDIS_PREFIX: prefix,
      LEADS_FILE: leadsFile,
    });

    readKey = await createKey('leads reader', ['leads:read']);
    accessToken = await connectApp();
  }, 90_000);

  afterAll(async () => {
    await Promise.all([example?.stop(), tessera?.stop()]);
    const connection = await mongoose.createConnection(mongoUriFor(database)).asPromise();
    await connection.dropDatabase();
    await connection.close();
  });

  it('the example is subscribed to Tessera’s bearer events, with a 5 s cache', async () => {
    expect(example.output()).toContain('bearer invalidations: subscribed through Redis');
    expect(await health()).toMatchObject({ invalidation: 'redis', cache: { ttl_ms: 5_000 } });
  });

  it('GET /leads with the API key: 200 with org A’s leads only', async () => {
    const reply = await call(example.url, 'GET', '/leads', readKey.key);
    expect(reply.status).toBe(200);
    const leads = reply.json().data as Array<{ org_id: string; name: string }>;
    expect(leads.map((l) => l.name).sort()).toEqual(['Ada (A)', 'Alan (A)']);
    expect(new Set(leads.map((l) => l.org_id))).toEqual(new Set([orgA]));
  });

  it('GET /leads with the OAuth access token (consented for org B): 200 with org B’s leads only', async () => {
    const reply = await call(example.url, 'GET', '/leads', accessToken);
    expect(reply.status).toBe(200);
    const leads = reply.json().data as Array<{ org_id: string; name: string }>;
    expect(leads.map((l) => l.name)).toEqual(['Grace (B)']);
    expect(leads.every((l) => l.org_id === orgB)).toBe(true);
  });

  it('POST /leads with the read-only key: 403 naming leads:write', async () => {
    const reply = await call(example.url, 'POST', '/leads', readKey.key, { name: 'Not allowed' });
    expect({ status: reply.status, text: reply.text }).toEqual({ status: 403, text: FORBIDDEN_WRITE_BODY });
  });

  it('POST /leads with the OAuth token: 201 in org B, seen by org B only', async () => {
    const reply = await call(example.url, 'POST', '/leads', accessToken, { name: 'Linus (B)', email: 'linus@b.example' });
    expect(reply.status).toBe(201);
    expect(reply.json()).toMatchObject({ name: 'Linus (B)', email: 'linus@b.example', org_id: orgB, created_by: user.id });
    const b = (await call(example.url, 'GET', '/leads', accessToken)).json().data as Array<{ name: string }>;
    expect(b.map((l) => l.name)).toEqual(['Grace (B)', 'Linus (B)']);
    const a = (await call(example.url, 'GET', '/leads', readKey.key)).json().data as Array<{ name: string }>;
    expect(a.map((l) => l.name)).not.toContain('Linus (B)');
  });

  it('no bearer, or one Tessera does not know: 401 with the exact body and WWW-Authenticate: Bearer', async () => {
    expectUnauthorized(await call(example.url, 'GET', '/leads'));
    expectUnauthorized(await call(example.url, 'POST', '/leads', undefined, { name: 'x' }));
    expectUnauthorized(await call(example.url, 'GET', '/leads', generateKey(DEFAULT_KEY_FORMAT, 'live').key));
  });

  it('an API key revoked at Tessera is refused by the example within 1 s (Redis invalidation, not the 5 s TTL)', async () => {
    const doomed = await createKey('doomed', ['leads:read']);
    const storedAt = await primeCache(doomed.key);
    const { elapsedMs, revokedAt } = await timeUntilRefused(doomed.key, () => call(tessera.url, 'DELETE', `/api/v1/api-keys/${doomed.id}`, bootstrap));
    expect(elapsedMs).toBeLessThan(REVOCATION_BUDGET_MS);
    // Without the invalidation the entry would have lived until storedAt + 5 s; the refusal came
    // well before that, so the cache TTL cannot be what refused it.
    expect(revokedAt + elapsedMs).toBeLessThan(storedAt + 4_000);
    // Other bearers are still served.
    expect((await call(example.url, 'GET', '/leads', readKey.key)).status).toBe(200);
  }, 30_000);

  it('a connected app revoked at Tessera is refused by the example within 1 s (Redis invalidation, not the 5 s TTL)', async () => {
    const token = await connectApp();
    const answer = await introspectAtTessera(token);
    expect(answer).toMatchObject({ active: true, kind: 'oauth', org_id: orgB, client_id: connector.id });
    const grantId = String(answer.grant_id);
    const storedAt = await primeCache(token);
    const { elapsedMs, revokedAt } = await timeUntilRefused(token, () => call(tessera.url, 'DELETE', `/api/v1/connected-apps/${grantId}`, appsKeyB));
    expect(elapsedMs).toBeLessThan(REVOCATION_BUDGET_MS);
    expect(revokedAt + elapsedMs).toBeLessThan(storedAt + 4_000);
    expect(await introspectAtTessera(token)).toEqual({ active: false });
  }, 30_000);

  it('the kit’s subscription survives a Redis restart: short TTL and an emptied cache while down, invalidations again once back', async () => {
    const redis = await startRedis(); // private: this test kills and restarts it
    const publisher = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    publisher.on('error', () => undefined);
    const changes: boolean[] = [];
    const kit = createIntrospector({
      url: tessera.url,
      clientId: resourceServer.id,
      clientSecret: resourceServer.secret,
      redis: { url: redis.url, prefix },
      onSubscriptionChange: (subscribed) => changes.push(subscribed),
    });
    const publish = (key: string) => publisher.publish(`${prefix}bearer-events`, JSON.stringify({ kind: 'api_key', hash: hashToken(key), id: readKey.id }));
    const until = async (condition: () => boolean, what: string): Promise<void> => {
      const deadline = Date.now() + 10_000;
      while (!condition()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      expect(await kit.waitForSubscription(5_000)).toBe(true);
      expect(kit.status().ttlMs).toBe(5_000);
      expect(await kit.introspect(readKey.key)).toMatchObject({ key_id: readKey.id, org_id: orgA });
      expect(kit.status().entries).toBe(1);

      await redis.kill('SIGKILL');
      await until(() => !kit.status().subscribed, 'the subscription to drop');
      expect(kit.status()).toMatchObject({ subscribed: false, ttlMs: 1_000, entries: 0 });

      await redis.restart();
      expect(await kit.waitForSubscription(10_000)).toBe(true);
      expect(kit.status()).toMatchObject({ subscribed: true, ttlMs: 5_000 });
      await kit.introspect(readKey.key);
      expect(kit.status().entries).toBe(1);
      await publisher.connect();
      expect(await publish(readKey.key)).toBe(1); // one subscriber: the kit's
      await until(() => kit.status().entries === 0, 'the invalidation after the restart');
      expect(changes).toEqual([true, false, true]);
    } finally {
      publisher.disconnect();
      await kit.close();
      await redis.stop();
    }
  }, 40_000);
});
