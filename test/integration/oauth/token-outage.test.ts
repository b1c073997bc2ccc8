/**
 * A connector refreshing while a store is down must be told to retry (503 with Retry-After and an
 * RFC 6749 body), never refused with a 4xx: Zapier disconnects the user on a 4xx. Once the store
 * is back, the same refresh token works — the failed attempt consumed nothing — also when the
 * connector's workers retry at once. Tessera in this process on a MongoDB and a Redis of this
 * suite's own, which it freezes, kills and restarts.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { UnavailableError } from '../../../src/errors/index.ts';
import type { OAuthModelStore } from '../../../src/ports.ts';
import { apiCall, connectAndExchange, startOAuthApp, tokenRequest, type OAuthApp, type TokenReply } from '../../support/oauth-browser.ts';
import { startMongo, startRedis, type RunningServer } from '../../support/servers.ts';

let mongo: RunningServer;
let redis: RunningServer;
let app: OAuthApp;

beforeAll(async () => {
  [mongo, redis] = await Promise.all([startMongo(), startRedis()]);
  app = await startOAuthApp('external', {
    mongodbUri: mongo.url,
    redisUrl: redis.url,
    env: { TESSERA_STORE_TIMEOUT_MS: '1000' },
    label: 'token-outage',
  });
}, 60_000);

afterAll(async () => {
  await app?.close();
  await Promise.all([mongo?.stop(), redis?.stop()]);
}, 30_000);

const refresh = (refreshToken: string): Promise<TokenReply> =>
  tokenRequest(app.url, app.fixture.connector, { grant_type: 'refresh_token', refresh_token: refreshToken });

function expectRetryLater(reply: TokenReply): void {
  expect({ status: reply.status, error: reply.body.error }).toEqual({ status: 503, error: 'temporarily_unavailable' });
  expect(reply.headers.get('retry-after')).toMatch(/^\d+$/);
  expect(reply.body.access_token).toBeUndefined();
  expect(typeof reply.body.error_description).toBe('string');
}

/**
 * Retries a refresh as a connector does (every 503 is "retry later") until it succeeds; every
 * answer meanwhile must be 503, never a 4xx. Returns the success and how many 503s came first.
 */
async function refreshUntilOk(refreshToken: string, withinMs: number): Promise<{ reply: TokenReply; retries: number }> {
  const deadline = Date.now() + withinMs;
  for (let retries = 0; ; retries++) {
    const reply = await refresh(refreshToken);
    if (reply.status === 200) return { reply, retries };
    expectRetryLater(reply);
    if (Date.now() > deadline) throw new Error(`the refresh still answered 503 after ${withinMs} ms (${retries + 1} attempts)`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function waitUntilReady(withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    const res = await fetch(`${app.url}/health/ready`).catch(() => null);
    if (res?.status === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Tessera was not ready within ${withinMs} ms`);
}

/** The grant works: its successor access token at the API, and it is still a connected app. */
async function expectGrantIntact(accessToken: string): Promise<void> {
  const me = await apiCall(app.url, 'GET', '/api/v1/me', accessToken);
  expect(me.status).toBe(200);
  const grantId = (me.body as { grant_id: string }).grant_id;
  const list = await apiCall(app.url, 'GET', '/api/v1/connected-apps', app.fixture.keys.org2);
  expect(list.status).toBe(200);
  expect((list.body as Array<{ id: string }>).map((a) => a.id)).toContain(grantId);
}

describe('the token endpoint while Redis is down', () => {
  it('Redis frozen (SIGSTOP): a refresh answers 503 with Retry-After; thawed, the same refresh token works', async () => {
    const tokens = await connectAndExchange(app.url, app.fixture);
    await redis.kill('SIGSTOP');
    let during: TokenReply;
    try {
      during = await refresh(tokens.refresh_token);
    } finally {
      await redis.kill('SIGCONT');
    }
    expectRetryLater(during);

    await waitUntilReady(10_000);
    const thawed = Date.now();
    const { reply, retries } = await refreshUntilOk(tokens.refresh_token, 40_000);
    console.log(`[token-outage] after SIGCONT the refresh succeeded after ${retries} answers of 503, ${Date.now() - thawed} ms`);
    expect(reply.body.refresh_token).not.toBe(tokens.refresh_token);
    await expectGrantIntact(reply.body.access_token as string);
  }, 60_000);

  it('Redis killed: a refresh answers 503 with Retry-After; restarted (empty), the same refresh token works at once', async () => {
    const tokens = await connectAndExchange(app.url, app.fixture);
    await redis.kill('SIGKILL');
    try {
      expectRetryLater(await refresh(tokens.refresh_token));
      expectRetryLater(await refresh(tokens.refresh_token));
    } finally {
      await redis.restart();
    }
    await waitUntilReady(10_000);
    const { reply, retries } = await refreshUntilOk(tokens.refresh_token, 20_000);
    expect(retries).toBe(0);
    expect(reply.body.refresh_token).not.toBe(tokens.refresh_token);
    await expectGrantIntact(reply.body.access_token as string);
  }, 60_000);
});

describe('the token endpoint while MongoDB is down', () => {
  it('MongoDB killed: a refresh answers 503 with Retry-After; restarted, the same refresh token works (nothing was consumed)', async () => {
    const tokens = await connectAndExchange(app.url, app.fixture);
    await mongo.kill('SIGKILL');
    try {
      expectRetryLater(await refresh(tokens.refresh_token));
    } finally {
      await mongo.restart();
    }
    await waitUntilReady(30_000);
    const { reply } = await refreshUntilOk(tokens.refresh_token, 40_000);
    expect(reply.body.refresh_token).not.toBe(tokens.refresh_token);
    await expectGrantIntact(reply.body.access_token as string);
  }, 90_000);

  it('after the outage, two workers retrying the same refresh token at once both get the same new pair', async () => {
    const tokens = await connectAndExchange(app.url, app.fixture);
    await mongo.kill('SIGKILL');
    try {
      expectRetryLater(await refresh(tokens.refresh_token));
    } finally {
      await mongo.restart();
    }
    await waitUntilReady(30_000);
    // Both workers saw the 503 and retry together, as they do when MongoDB is healthy.
    const [a, b] = await Promise.all([refresh(tokens.refresh_token), refresh(tokens.refresh_token)]);
    expect([a.status, b.status, a.body.error, b.body.error]).toEqual([200, 200, undefined, undefined]);
    expect(a.body.access_token).toBe(b.body.access_token);
    expect(a.body.refresh_token).toBe(b.body.refresh_token);
    await expectGrantIntact(a.body.access_token as string);
  }, 90_000);
});

describe('a store failure in the middle of a refresh', () => {
  it('MongoDB lost after the refresh began: 503; then two workers retrying at once both get the same new pair', async () => {
    const tokens = await connectAndExchange(app.url, app.fixture);
    // MongoDB goes away just as the provider reads the refresh token (after Tessera's own checks
    // passed): the one read fails as mongoCall reports a lost server.
    // (The adapter reads a refresh token with find or peek: whichever reads it first fails.)
    const store = app.tessera.stores.oauth as OAuthModelStore;
    const { find, peek } = { find: store.find.bind(store), peek: store.peek.bind(store) };
    let failures = 0;
    const failFirst = <R>(read: (model: string, id: string) => Promise<R>) => async (model: string, id: string): Promise<R> => {
      if (model === 'RefreshToken' && failures === 0) {
        failures++;
        throw new UnavailableError('The store of record is unreachable');
      }
      return read(model, id);
    };
    store.find = failFirst(find);
    store.peek = failFirst(peek);
    try {
      expectRetryLater(await refresh(tokens.refresh_token));
    } finally {
      store.find = find;
      store.peek = peek;
    }
    expect(failures).toBe(1);

    const [a, b] = await Promise.all([refresh(tokens.refresh_token), refresh(tokens.refresh_token)]);
    expect([a.status, b.status, a.body.error, b.body.error]).toEqual([200, 200, undefined, undefined]);
    expect(a.body.access_token).toBe(b.body.access_token);
    expect(a.body.refresh_token).toBe(b.body.refresh_token);
    await expectGrantIntact(a.body.access_token as string);
  }, 60_000);
});
