/**
 * The product's API limited, end to end: a real Tessera process (MongoDB + Redis, a plans file,
 * credit balances) and the example leads API (examples/resource-server.ts, which verifies every
 * request) as a second process. Every status a product answers, reached through the example with
 * real bearers made through Tessera's API — both bearer kinds let through with the rate-limit
 * headers; 429 with Retry-After; 402 for the daily spend cap and for the balance; 401 for
 * unknown, revoked and (Tessera's own profile) disabled keys; 403 for a missing scope — and the
 * usage the example's requests made, read back from Tessera's usage API. Last, Tessera started with
 * another product profile (TESSERA_PROFILE=minds, flowestate): the example learns it from Tessera
 * and answers bad bearers in that profile's body and words, as Tessera's own routes do.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mongoose from 'mongoose';
import { DEFAULT_KEY_FORMAT, generateKey } from '../../src/domain/api-key-format.ts';
import { call, kitParties, startExample, type ExampleProcess, type Reply } from '../support/example-process.ts';
import { recordSecret } from '../support/log-capture.ts';
import { authorizeAndSignIn, tokenRequest } from '../support/oauth-browser.ts';
import { startTessera, waitUntilReady, type TesseraProcess } from '../support/tessera-process.ts';
import { mongoUriFor, redisUrl, uniqueName } from '../support/unique.ts';

/** A test that may wait for the next minute first. */
const MINUTE_WAIT_MS = 30_000;
const UNAUTHORIZED_BODY = '{"error":{"code":"UNAUTHORIZED","message":"Invalid or missing API key"}}';
const REDIRECT_URI = 'https://zapier.example/cb';

const { dir, tag, user, connector, resourceServer, newKey } = kitParties('verify');
/** On the "metered" plan: 5 requests a minute and 1000 a day per credential. */
const orgA = `o_va_${tag}`;
/** On the free plan, with no credits. */
const orgB = `o_vb_${tag}`;
/** Imported, so on its plan's 5 a minute (Tessera's own API counts by the same limits): it only makes `ownerA`. */
const seedKeyA = newKey();
const ownerB = newKey();

function expectUnauthorized(reply: Reply): void {
  expect({ status: reply.status, text: reply.text, challenge: reply.headers.get('www-authenticate') }).toEqual({ status: 401, text: UNAUTHORIZED_BODY, challenge: 'Bearer' });
}

function rateLimitOf(reply: Reply): Record<string, string | null> {
  const names = ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'ratelimit-policy'];
  return Object.fromEntries(names.map((n) => [n, reply.headers.get(n)]));
}

describe('the product’s API limited through the kit: the example leads API verifying at a real Tessera', () => {
  const database = uniqueName('e2e_verify');
  let tessera: TesseraProcess;
  let example: ExampleProcess;
  /** Org A's owner key for Tessera's API, with a limit of its own above the plan's. */
  let ownerA: string;

  async function createKey(owner: string, body: Record<string, unknown>): Promise<{ id: string; key: string }> {
    const created = await call(tessera.url, 'POST', '/api/v1/api-keys', owner, { name: uniqueName('key'), ...body });
    expect(created.status).toBe(201);
    return { id: String(created.json().id), key: recordSecret(String(created.json().key)) };
  }

  /** The minute's window must not roll over between a test's requests: start early in a minute (waiting up to 15 s). */
  async function earlyInTheMinute(): Promise<void> {
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 45_000) await new Promise((r) => setTimeout(r, 60_000 - intoMinute + 50));
  }

  beforeAll(async () => {
    const seedFile = join(dir, 'seed.json');
    writeFileSync(
      seedFile,
      JSON.stringify({
        users: [{ id: user.id, email: user.email, password: user.password, name: 'Verify User' }],
        organizations: [
          { id: orgA, name: 'Acme', plan: 'metered' },
          { id: orgB, name: 'Globex' },
        ],
        memberships: [
          { user: user.id, org: orgA, role: 'owner' },
          { user: user.id, org: orgB, role: 'owner' },
        ],
        clients: [
          { client_id: connector.id, client_secret: connector.secret, name: 'Zapier', redirect_uris: [REDIRECT_URI], scopes: ['leads:read', 'leads:write'] },
          { client_id: resourceServer.id, client_secret: resourceServer.secret, name: 'Leads API', type: 'resource_server' },
        ],
        api_keys: [
          { key: seedKeyA, user: user.id, org: orgA, name: 'owner-a' },
          { key: ownerB, user: user.id, org: orgB, name: 'owner-b' },
        ],
      }),
    );
    const plansFile = join(dir, 'plans.json');
    writeFileSync(plansFile, JSON.stringify({ free: {}, metered: { rate_limit_per_minute: 5, rate_limit_per_day: 1000 } }));
    tessera = await startTessera(
      {
        TESSERA_SEED: seedFile,
        TESSERA_PLANS_FILE: plansFile,
        TESSERA_CREDIT_BALANCES: 'true',
        TESSERA_USAGE_FLUSH_MS: '200',
        TESSERA_SCOPES: 'leads:read leads:write',
        MONGODB_URI: mongoUriFor(database),
        REDIS_URL: redisUrl(),
        TESSERA_REDIS_PREFIX: `${uniqueName('verify')}:`,
      },
      'verify-tessera',
    );
    await waitUntilReady(tessera);
    example = await startExample({ TESSERA_URL: tessera.url, TESSERA_CLIENT_ID: resourceServer.id, TESSERA_CLIENT_SECRET: resourceServer.secret }, 'verify-example');
    ownerA = (await createKey(seedKeyA, { limits: { rate_limit_per_minute: 10_000 } })).key;
    const credited = await call(tessera.url, 'POST', '/api/v1/balance/credits', ownerA, { credits: 1_000 });
    expect(credited.status).toBe(200);
  }, 90_000);

  afterAll(async () => {
    await Promise.all([example?.stop(), tessera?.stop()]);
    const connection = await mongoose.createConnection(mongoUriFor(database)).asPromise();
    await connection.dropDatabase();
    await connection.close();
  });

  it('says it verifies every request', async () => {
    expect(example.output()).toContain('verifying every request at Tessera');
    expect((await call(example.url, 'GET', '/health')).json()).toMatchObject({ kit: 'verify' });
  });

  it('lets an API key through with its plan’s windows in the rate-limit headers', async () => {
    await earlyInTheMinute();
    const key = await createKey(ownerA, { scopes: ['leads:read'] });
    const reply = await call(example.url, 'GET', '/leads', key.key);
    expect(reply.status).toBe(200);
    expect(rateLimitOf(reply)).toEqual({
      'x-ratelimit-limit': '5',
      'x-ratelimit-remaining': '4',
      'x-ratelimit-reset': String((Math.floor(Date.now() / 60_000) + 1) * 60),
      'ratelimit-policy': '"minute";q=5;w=60, "day";q=1000;w=86400',
    });
  }, MINUTE_WAIT_MS);

  it('lets an OAuth access token through the same way, its connected app limited by its own setting', async () => {
    await earlyInTheMinute();
    const { browser, verifier, state } = await authorizeAndSignIn(tessera.url, { id: connector.id, redirectUri: REDIRECT_URI }, user, 'leads:read leads:write');
    const done = await browser.consent(orgA);
    expect(done.redirect?.searchParams.get('state')).toBe(state);
    const exchanged = await tokenRequest(tessera.url, connector, { grant_type: 'authorization_code', code: done.redirect!.searchParams.get('code')!, redirect_uri: REDIRECT_URI, code_verifier: verifier });
    expect(exchanged.status).toBe(200);
    const token = recordSecret(String(exchanged.body.access_token));
    const apps = (await call(tessera.url, 'GET', '/api/v1/connected-apps', ownerA)).json() as unknown as Array<{ id: string; client: { id: string } }>;
    const app = apps.find((a) => a.client.id === connector.id)!;
    expect((await call(tessera.url, 'PATCH', `/api/v1/connected-apps/${app.id}`, ownerA, { limits: { rate_limit_per_minute: 1 } })).status).toBe(200);
    const first = await call(example.url, 'GET', '/leads', token);
    expect({ status: first.status, limit: first.headers.get('x-ratelimit-limit'), remaining: first.headers.get('x-ratelimit-remaining') }).toEqual({ status: 200, limit: '1', remaining: '0' });
    const second = await call(example.url, 'GET', '/leads', token);
    expect({ status: second.status, code: second.json().error }).toMatchObject({ status: 429, code: { code: 'RATE_LIMITED' } });
  }, MINUTE_WAIT_MS);

  it('answers 429 RATE_LIMITED with Retry-After once the minute’s window is full', async () => {
    await earlyInTheMinute();
    const key = await createKey(ownerA, { scopes: ['leads:read'], limits: { rate_limit_per_minute: 2 } });
    const statuses = [];
    for (let i = 0; i < 2; i++) statuses.push((await call(example.url, 'GET', '/leads', key.key)).status);
    const refused = await call(example.url, 'GET', '/leads', key.key);
    expect([...statuses, refused.status]).toEqual([200, 200, 429]);
    const wait = Number(refused.headers.get('retry-after'));
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(60);
    expect(refused.json()).toEqual({ error: { code: 'RATE_LIMITED', message: `Rate limit exceeded. Please retry after ${wait} seconds.` } });
    expect(rateLimitOf(refused)).toMatchObject({ 'x-ratelimit-limit': '2', 'x-ratelimit-remaining': '0' });
  }, MINUTE_WAIT_MS);

  it('answers 402 USAGE_EXCEEDED at the key’s daily spend cap, until 00:00 UTC, while free requests go on', async () => {
    await earlyInTheMinute();
    const key = await createKey(ownerA, { limits: { daily_spend_cap: 3 } });
    expect((await call(example.url, 'GET', '/leads?enrich=true', key.key)).status).toBe(200); // 2 credits
    expect((await call(example.url, 'POST', '/leads', key.key, { name: 'Ada' })).status).toBe(201); // 3
    const over = await call(example.url, 'POST', '/leads', key.key, { name: 'Alan' });
    const untilMidnight = Math.ceil(((Math.floor(Date.now() / 86_400_000) + 1) * 86_400_000 - Date.now()) / 1000);
    expect(over.status).toBe(402);
    expect(over.json()).toMatchObject({ error: { code: 'USAGE_EXCEEDED' } });
    expect(Math.abs(Number(over.headers.get('retry-after')) - untilMidnight)).toBeLessThanOrEqual(2);
    expect((await call(example.url, 'GET', '/leads', key.key)).status).toBe(200);
  }, MINUTE_WAIT_MS);

  it('answers 402 when the organization’s balance is spent, and serves again after a top-up', async () => {
    const key = await createKey(ownerB, { scopes: ['leads:read', 'leads:write'] });
    const refused = await call(example.url, 'POST', '/leads', key.key, { name: 'Grace' });
    expect({ status: refused.status, code: refused.json().error, retryAfter: refused.headers.get('retry-after') }).toMatchObject({ status: 402, code: { code: 'USAGE_EXCEEDED' }, retryAfter: null });
    expect((await call(tessera.url, 'POST', '/api/v1/balance/credits', ownerB, { credits: 1 })).status).toBe(200);
    expect((await call(example.url, 'POST', '/leads', key.key, { name: 'Grace' })).status).toBe(201);
    expect((await call(example.url, 'POST', '/leads', key.key, { name: 'Linus' })).status).toBe(402);
  });

  it('answers 401 for no bearer, an unknown one, and a key revoked a moment ago', async () => {
    expectUnauthorized(await call(example.url, 'GET', '/leads'));
    expectUnauthorized(await call(example.url, 'GET', '/leads', generateKey(DEFAULT_KEY_FORMAT, 'live').key));
    const key = await createKey(ownerB, { scopes: ['leads:read'] });
    expect((await call(example.url, 'GET', '/leads', key.key)).status).toBe(200);
    expect((await call(tessera.url, 'DELETE', `/api/v1/api-keys/${key.id}`, ownerB)).status).toBe(204);
    expectUnauthorized(await call(example.url, 'GET', '/leads', key.key));
  });

  it('answers 403 for a missing scope, and for a disabled key what Tessera’s profile says: 401', async () => {
    const key = await createKey(ownerB, { scopes: ['leads:read'] });
    const missing = await call(example.url, 'POST', '/leads', key.key, { name: 'x' });
    expect({ status: missing.status, body: missing.json() }).toEqual({ status: 403, body: { error: { code: 'FORBIDDEN', message: 'This credential lacks the leads:write scope' } } });
    expect((await call(tessera.url, 'PATCH', `/api/v1/api-keys/${key.id}`, ownerB, { active: false })).status).toBe(200);
    expectUnauthorized(await call(example.url, 'GET', '/leads', key.key));
  });

  it('meters what the example let through: requests and credits per key per UTC day, in Tessera’s usage API', async () => {
    const key = await createKey(ownerA, {});
    await call(example.url, 'GET', '/leads', key.key);
    await call(example.url, 'GET', '/leads?enrich=true', key.key);
    await call(example.url, 'POST', '/leads', key.key, { name: 'Metered' });
    const today = new Date().toISOString().slice(0, 10);
    const expected = { data: [{ date: today, requests: 3, credits: 3 }] };
    // Usage is written in batches (TESSERA_USAGE_FLUSH_MS=200 here): wait for the batch, not for a time.
    const deadline = Date.now() + 10_000;
    let usage: unknown;
    do {
      await new Promise((r) => setTimeout(r, 100));
      usage = (await call(tessera.url, 'GET', `/api/v1/api-keys/${key.id}/usage?from=${today}&to=${today}`, ownerA)).json();
    } while (JSON.stringify(usage) !== JSON.stringify(expected) && Date.now() < deadline);
    expect(usage).toEqual(expected);
  });
});

describe('the example answers as the deployment’s product profile says, learned from Tessera', () => {
  /** A Tessera of `profile` (MongoDB + Redis) seeded with `seed`, and the example in front of it in each `modes`. */
  async function startDeployment(profile: string, seed: Record<string, unknown>, modes: Array<'verify' | 'introspect'>) {
    const { dir, resourceServer } = kitParties(profile);
    const database = uniqueName(`e2e_${profile}`);
    const seedFile = join(dir, 'seed.json');
    const clients = [{ client_id: resourceServer.id, client_secret: resourceServer.secret, name: 'Leads API', type: 'resource_server' }];
    writeFileSync(seedFile, JSON.stringify({ ...seed, clients }));
    const tessera = await startTessera(
      { TESSERA_PROFILE: profile, TESSERA_SEED: seedFile, TESSERA_SCOPES: 'leads:read leads:write', MONGODB_URI: mongoUriFor(database), REDIS_URL: redisUrl(), TESSERA_REDIS_PREFIX: `${uniqueName(profile)}:` },
      `${profile}-tessera`,
    );
    await waitUntilReady(tessera);
    const examples = await Promise.all(
      modes.map((mode) =>
        startExample({ KIT_MODE: mode, TESSERA_URL: tessera.url, TESSERA_CLIENT_ID: resourceServer.id, TESSERA_CLIENT_SECRET: resourceServer.secret }, `${profile}-${mode}-example`),
      ),
    );
    return {
      tessera,
      examples,
      stop: async () => {
        await Promise.all([...examples.map((e) => e.stop()), tessera.stop()]);
        const connection = await mongoose.createConnection(mongoUriFor(database)).asPromise();
        await connection.dropDatabase();
        await connection.close();
      },
    };
  }

  const shape = (reply: Reply) => ({ status: reply.status, text: reply.text, challenge: reply.headers.get('www-authenticate') });

  describe('TESSERA_PROFILE=minds: its body {"statusCode","statusMessage","message"}', () => {
    const MINDS_401 = '{"statusCode":401,"statusMessage":"Unauthorized","message":"Invalid or missing API key"}';
    let deployment: Awaited<ReturnType<typeof startDeployment>>;

    beforeAll(async () => {
      deployment = await startDeployment('minds', {}, ['verify', 'introspect']);
    }, 90_000);
    afterAll(async () => {
      await deployment?.stop();
    });

    it('Tessera publishes the profile the kit learns', async () => {
      const document = (await call(deployment.tessera.url, 'GET', '/.well-known/tessera-profile')).json();
      expect(document).toMatchObject({ name: 'minds', errors: { body: { statusCode: '{status}', statusMessage: '{statusText}', message: '{message}' } } });
    });

    it('a missing, malformed or unknown bearer: 401 in the Minds body from the example — verifying or introspecting — as from Tessera’s own API', async () => {
      const unknown = recordSecret(`minds_${randomBytes(24).toString('hex')}`);
      for (const example of deployment.examples) {
        for (const bearer of [undefined, 'not-a-key', unknown]) {
          expect(shape(await call(example.url, 'GET', '/leads', bearer))).toEqual({ status: 401, text: MINDS_401, challenge: 'Bearer' });
        }
      }
      expect(shape(await call(deployment.tessera.url, 'GET', '/api/v1/me', unknown))).toEqual({ status: 401, text: MINDS_401, challenge: 'Bearer' });
    });

    it('the example’s own errors take the same body', async () => {
      const reply = await call(deployment.examples[0]!.url, 'GET', '/nowhere');
      expect({ status: reply.status, body: reply.json() }).toEqual({ status: 404, body: { statusCode: 404, statusMessage: 'Not Found', message: 'Not found' } });
    });
  });

  describe('TESSERA_PROFILE=flowestate: an expired API key is 403 in its words', () => {
    const { tag, user } = kitParties('fe-user');
    const org = `o_fe_${tag}`;
    const feKey = (): string => recordSecret(`fe_k_${randomBytes(16).toString('hex')}`);
    const expired = feKey();
    const reader = feKey();
    let deployment: Awaited<ReturnType<typeof startDeployment>>;

    beforeAll(async () => {
      deployment = await startDeployment(
        'flowestate',
        {
          users: [{ id: user.id, email: user.email, password: user.password, name: 'FlowEstate User' }],
          organizations: [{ id: org, name: 'Estates' }],
          memberships: [{ user: user.id, org, role: 'owner' }],
          api_keys: [
            { key: expired, user: user.id, org, name: 'expired', scopes: ['leads:read'], expires_at: '2020-01-01T00:00:00Z' },
            { key: reader, user: user.id, org, name: 'reader', scopes: ['leads:read'] },
          ],
        },
        ['verify'],
      );
    }, 90_000);
    afterAll(async () => {
      await deployment?.stop();
    });

    it('an expired API key: 403 FORBIDDEN "This API key has expired" from the example, as from Tessera’s own API', async () => {
      const expected = { status: 403, text: '{"error":{"code":"FORBIDDEN","message":"This API key has expired"}}', challenge: null };
      expect(shape(await call(deployment.examples[0]!.url, 'GET', '/leads', expired))).toEqual(expected);
      expect(shape(await call(deployment.tessera.url, 'GET', '/api/v1/me', expired))).toEqual(expected);
    });

    it('no bearer is 401 in its body; a usable key is let through, and refused a scope it lacks', async () => {
      const url = deployment.examples[0]!.url;
      expect(shape(await call(url, 'GET', '/leads'))).toEqual({ status: 401, text: '{"error":{"code":"UNAUTHORIZED","message":"Invalid or missing API key"}}', challenge: 'Bearer' });
      expect((await call(url, 'GET', '/leads', reader)).status).toBe(200);
      const refused = await call(url, 'POST', '/leads', reader, { name: 'x' });
      expect({ status: refused.status, body: refused.json() }).toEqual({ status: 403, body: { error: { code: 'FORBIDDEN', message: 'This credential lacks the leads:write scope' } } });
    });
  });
});
