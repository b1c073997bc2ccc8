/**
 * POST /v1/verify and Tessera's own /api/v1 while Redis is unreachable: Tessera in this process on
 * the shared MongoDB-wire server and a Redis of this suite's own, which it stops (SIGTERM, kept for
 * a restart) and restarts.
 *
 * What Redis being away changes, as the code stands:
 * - authentication: nothing in the answers — every bearer is resolved from the store of record
 *   (the principal cache serves nothing while its subscription is down, the revocation markers
 *   say "not known" and MongoDB is asked), so a usable key is VALID, a revoked one REVOKED, a
 *   disabled one DISABLED, an unknown one NOT_FOUND, and resource servers authenticate as before;
 * - limits: counted in this process (WindowCounter's fallback), never unlimited: a key of 3 a
 *   minute is let through exactly 3 times, on /v1/verify and on /api/v1 (X-RateLimit-* still
 *   sent); spend caps and balances hold too (a balance's spent total is loaded from MongoDB).
 * Once Redis is back, counting is shared through it again. And when Redis comes back empty, a
 * balance's and a spend cap's totals are loaded again from MongoDB, with what this instance has
 * not written yet.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { windowAt } from '../../../src/domain/limits.ts';
import type { IssuedKey } from '../../../src/services/keys/api-key-service.ts';
import { operatorActor } from '../../../src/services/accounts/operator-actor.ts';
import type { VerifyAnswer } from '../../../src/services/authentication/verification-service.ts';
import { startApi, type ApiHarness, type Member } from '../../support/api-harness.ts';
import { recordSecret } from '../../support/log-capture.ts';
import { startRedis, type RunningServer } from '../../support/servers.ts';
import { startTcpProxy, type TcpProxy } from '../../support/tcp-proxy.ts';
import { uniqueName } from '../../support/unique.ts';

interface Client {
  id: string;
  secret: string;
}

let redis: RunningServer;
/** Tessera reaches Redis through it: cut, Redis is unreachable and keeps its data. */
let proxy: TcpProxy;
let h: ApiHarness;
let rs: Client;

const basic = (c: Client): string => recordSecret(`Basic ${Buffer.from(`${c.id}:${c.secret}`).toString('base64')}`);

async function verify(body: Record<string, unknown>, caller: Client = rs): Promise<{ status: number; body: VerifyAnswer }> {
  const res = await fetch(`${h.url}/v1/verify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: basic(caller) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as VerifyAnswer };
}

/** Sequential answers, so that their order is the order of admission. */
async function verifyInTurn(times: number, body: Record<string, unknown>): Promise<VerifyAnswer[]> {
  const answers: VerifyAnswer[] = [];
  for (let i = 0; i < times; i++) {
    const { status, body: answer } = await verify(body);
    expect(status).toBe(200);
    answers.push(answer);
  }
  return answers;
}

/** Waits (without a deadline assertion on how long) until `condition` holds; fails after `withinMs`. */
async function until(what: string, condition: () => boolean | Promise<boolean>, withinMs = 15_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what}: not so within ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const ready = async (): Promise<number> => {
  const res = await fetch(`${h.url}/health/ready`);
  await res.text();
  return res.status;
};

/** A second organization, whose balance is its own. */
async function prepaidOrg(): Promise<{ orgId: string; member: Member }> {
  const { accounts } = h.tessera.services;
  const org = await accounts.createOrganization({ name: 'Prepaid' });
  const user = await accounts.createUser({ email: `${uniqueName('prepaid')}@example.com` });
  await accounts.setMembership(user.id, org.id, 'owner');
  return { orgId: org.id, member: { userId: user.id, role: 'owner' } };
}

beforeAll(async () => {
  redis = await startRedis();
  proxy = await startTcpProxy(redis.port);
  h = await startApi('external', {
    REDIS_URL: proxy.url,
    TESSERA_STORE_TIMEOUT_MS: '1000',
    TESSERA_CREDIT_BALANCES: 'true',
    TESSERA_AUTH_FAILURES_PER_MINUTE: '100000',
  });
  const issued = await h.tessera.services.clients.create({ name: `rs ${uniqueName('c')}`, type: 'resource_server', redirectUris: [], scopes: ['leads:read'] });
  rs = { id: issued.client.id, secret: recordSecret(issued.secret) };
}, 60_000);

afterAll(async () => {
  await h?.close();
  await proxy?.close();
  await redis?.stop();
}, 30_000);

describe('Redis stopped', () => {
  // Made while Redis is up: some used (and so cached), one revoked, each with its own limits.
  let used: IssuedKey;
  let changedUnderneath: IssuedKey;
  let revokedBefore: IssuedKey;
  let revokedDuring: IssuedKey;
  let perMinute: IssuedKey;
  let perMinuteParallel: IssuedKey;
  let perMinuteApi: IssuedKey;
  let capped: IssuedKey;
  let prepaid: IssuedKey;

  beforeAll(async () => {
    const owner = await operatorActor(h.tessera.stores, h.tessera.services.catalog, h.members.owner.userId, h.orgA);
    used = await h.keyFor(h.members.owner);
    changedUnderneath = await h.keyFor(h.members.owner);
    revokedBefore = await h.keyFor(h.members.owner);
    revokedDuring = await h.keyFor(h.members.owner);
    perMinute = await h.keyFor(h.members.owner, { limits: { rateLimitPerMinute: 3 } });
    perMinuteParallel = await h.keyFor(h.members.owner, { limits: { rateLimitPerMinute: 3 } });
    perMinuteApi = await h.keyFor(h.members.owner, { limits: { rateLimitPerMinute: 3 } });
    capped = await h.keyFor(h.members.owner, { limits: { dailySpendCap: 5 } });
    await h.tessera.services.balances.credit(owner, 1_000);
    const other = await prepaidOrg();
    prepaid = await h.keyFor(other.member, {}, other.orgId);
    await h.tessera.services.balances.credit(await operatorActor(h.tessera.stores, h.tessera.services.catalog, other.member.userId, other.orgId), 3);
    await h.tessera.services.apiKeys.revoke(owner, revokedBefore.record.id);
    // Answered (and cached) while Redis is up.
    for (const key of [used, changedUnderneath, revokedDuring]) expect((await verify({ token: key.secret })).body.code).toBe('VALID');
    expect((await verify({ token: revokedBefore.secret })).body.code).toBe('REVOKED');
    expect(h.tessera.stores.ephemeral.subscriptionState().healthy).toBe(true);

    await redis.kill('SIGTERM');
    // Tessera has noticed: its subscription is down and readiness says so.
    await until('the bearer-event subscription is down', () => !h.tessera.stores.ephemeral.subscriptionState().healthy);
    await until('readiness answers 503', async () => (await ready()) === 503);
  }, 60_000);

  describe('authentication is answered from the store of record', () => {
    it('a usable key is VALID with its principal; an unknown one NOT_FOUND; one revoked before the outage REVOKED', async () => {
      expect(await verify({ token: used.secret })).toMatchObject({ status: 200, body: { valid: true, code: 'VALID', principal: { active: true, kind: 'api_key', key_id: used.record.id, org_id: h.orgA } } });
      expect((await verify({ token: recordSecret(`tsr_live_${'Q'.repeat(38)}`) })).body).toEqual({ valid: false, code: 'NOT_FOUND', reason: 'malformed', bearer_kind: 'api_key' });
      expect((await verify({ token: revokedBefore.secret })).body).toEqual({ valid: false, code: 'REVOKED', reason: 'revoked', bearer_kind: 'api_key' });
    });

    it('nothing is served from the principal cache: a key disabled in the store without any event is DISABLED at once', async () => {
      // Cached as VALID before the outage; the change reaches no cache (no event is published).
      const updated = await h.tessera.stores.apiKeys.update(changedUnderneath.record.id, { active: false });
      expect(updated?.active).toBe(false);
      expect((await verify({ token: changedUnderneath.secret })).body).toMatchObject({ valid: false, code: 'DISABLED' });
    });

    it('a key revoked during the outage (the event and marker are lost) is REVOKED on the very next request', async () => {
      const owner = await operatorActor(h.tessera.stores, h.tessera.services.catalog, h.members.owner.userId, h.orgA);
      await h.tessera.services.apiKeys.revoke(owner, revokedDuring.record.id);
      expect((await verify({ token: revokedDuring.secret })).body).toEqual({ valid: false, code: 'REVOKED', reason: 'revoked', bearer_kind: 'api_key' });
    });

    it('resource servers authenticate as before: the right secret is answered, a wrong one is 401 invalid_client', async () => {
      expect((await verify({ token: used.secret })).status).toBe(200);
      const wrong = await verify({ token: used.secret }, { id: rs.id, secret: 'wrong-secret-0123456789abcdef' });
      expect(wrong).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    });

    it('/api/v1: a usable key is 200, an unknown one 401', async () => {
      const me = await h.request('GET', '/api/v1/me', { key: used.secret });
      expect(me).toMatchObject({ status: 200, body: { key_id: used.record.id, org_id: h.orgA } });
      const unknown = await h.request('GET', '/api/v1/me', { key: recordSecret(`tsr_live_${'Z'.repeat(38)}`) });
      expect(unknown.status).toBe(401);
    });
  });

  describe('limits are counted in this process, never unlimited', () => {
    it('3 a minute on /v1/verify: exactly 3 VALID, then RATE_LIMITED with when to retry', async () => {
      const answers = await verifyInTurn(5, { token: perMinute.secret });
      expect(answers.map((a) => a.code)).toEqual(['VALID', 'VALID', 'VALID', 'RATE_LIMITED', 'RATE_LIMITED']);
      expect(answers.map((a) => a.ratelimit?.remaining)).toEqual([2, 1, 0, 0, 0]);
      const now = h.clock.now().getTime();
      const minuteEnd = windowAt('minute', now).end;
      expect(answers[3]).toMatchObject({ valid: false, ratelimit: { limit: 3, reset: minuteEnd / 1000 }, retry_after: Math.ceil((minuteEnd - now) / 1000) });
    });

    it('3 a minute, 30 requests at once: exactly 3 VALID', async () => {
      const answers = await Promise.all(Array.from({ length: 30 }, () => verify({ token: perMinuteParallel.secret })));
      expect(answers.map((a) => a.status)).toEqual(Array(30).fill(200));
      const codes = answers.map((a) => a.body.code);
      expect({ VALID: codes.filter((c) => c === 'VALID').length, RATE_LIMITED: codes.filter((c) => c === 'RATE_LIMITED').length }).toEqual({ VALID: 3, RATE_LIMITED: 27 });
      const remaining = answers.filter((a) => a.body.valid).map((a) => a.body.ratelimit?.remaining);
      expect(remaining.sort()).toEqual([0, 1, 2]);
    });

    it('3 a minute on /api/v1: 200 three times with X-RateLimit-* headers, then 429 with Retry-After', async () => {
      const replies = [];
      for (let i = 0; i < 4; i++) replies.push(await h.request('GET', '/api/v1/api-keys', { key: perMinuteApi.secret }));
      expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 429]);
      const minuteEnd = String(windowAt('minute', h.clock.now().getTime()).end / 1000);
      expect(replies.map((r) => [r.headers.get('x-ratelimit-limit'), r.headers.get('x-ratelimit-remaining'), r.headers.get('x-ratelimit-reset')])).toEqual([
        ['3', '2', minuteEnd],
        ['3', '1', minuteEnd],
        ['3', '0', minuteEnd],
        ['3', '0', minuteEnd],
      ]);
      expect(replies.map((r) => r.headers.get('ratelimit-policy'))).toEqual(Array(4).fill('"minute";q=3;w=60'));
      expect(replies[3]!.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
      expect(replies[3]!.body).toMatchObject({ error: { code: 'RATE_LIMITED' } });
    });

    it('a daily spend cap still holds: 5 credits, costs of 2 → VALID, VALID, USAGE_EXCEEDED; 1 more fits', async () => {
      const answers = await verifyInTurn(3, { token: capped.secret, cost: 2 });
      expect(answers.map((a) => [a.code, a.spend?.spent, a.spend?.cap])).toEqual([
        ['VALID', 2, 5],
        ['VALID', 4, 5],
        ['USAGE_EXCEEDED', 4, 5],
      ]);
      expect((await verify({ token: capped.secret, cost: 1 })).body).toMatchObject({ code: 'VALID', spend: { spent: 5, remaining: 0 } });
      expect((await verify({ token: capped.secret, cost: 1 })).body.code).toBe('USAGE_EXCEEDED');
    });

    it('an organization’s balance still holds: 3 credits → 2 VALID, 2 USAGE_EXCEEDED, 1 VALID, 1 USAGE_EXCEEDED', async () => {
      const codes = [];
      for (const cost of [2, 2, 1, 1]) codes.push(await verify({ token: prepaid.secret, cost }));
      expect(codes.map((c) => [c.body.code, c.body.spend?.balance])).toEqual([
        ['VALID', 1],
        ['USAGE_EXCEEDED', 1],
        ['VALID', 0],
        ['USAGE_EXCEEDED', 0],
      ]);
    });
  });

  describe('Redis back', () => {
    it('counting is shared through Redis again', async () => {
      await redis.restart();
      await until('readiness answers 200', async () => (await ready()) === 200);
      await until('the bearer-event subscription is up', () => h.tessera.stores.ephemeral.subscriptionState().healthy);
      const key = await h.keyFor(h.members.owner, { limits: { rateLimitPerMinute: 3 } });
      const answers = await verifyInTurn(4, { token: key.secret });
      expect(answers.map((a) => a.code)).toEqual(['VALID', 'VALID', 'VALID', 'RATE_LIMITED']);
      // The count is Redis's, where every instance sees it.
      const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await client.connect();
        const start = windowAt('minute', h.clock.now().getTime()).start;
        expect(await client.get(`${h.tessera.config.redisKeyPrefix}rl:api_key:${key.record.id}:minute:${start}`)).toBe('3');
      } finally {
        client.disconnect();
      }
    }, 30_000);
  });
});

describe('two outages', () => {
  /** A fresh organization credited 3, and a key of its that spends 1 a request: [code, balance left]. */
  async function prepaidKey(): Promise<{ spend: () => Promise<[string, number | null | undefined]>; balance: () => Promise<unknown> }> {
    const other = await prepaidOrg();
    const actor = await operatorActor(h.tessera.stores, h.tessera.services.catalog, other.member.userId, other.orgId);
    await h.tessera.services.balances.credit(actor, 3);
    const key = await h.keyFor(other.member, {}, other.orgId);
    return {
      spend: async () => {
        const { body } = await verify({ token: key.secret, cost: 1 });
        return [body.code, body.spend?.balance];
      },
      balance: async () => {
        await h.tessera.services.meter.flush();
        const { credited, spent, available } = await h.tessera.services.balances.read(actor);
        return { credited, spent, available };
      },
    };
  }

  it('Redis unreachable (it keeps its data), then back: what was spent meanwhile is not spent again', async () => {
    const { spend, balance } = await prepaidKey();
    expect(await spend()).toEqual(['VALID', 2]);
    proxy.cut();
    try {
      await until('readiness answers 503', async () => (await ready()) === 503);
      expect(await spend()).toEqual(['VALID', 1]);
    } finally {
      proxy.restore();
    }
    await until('readiness answers 200', async () => (await ready()) === 200);
    expect([await spend(), await spend()]).toEqual([
      ['VALID', 0],
      ['USAGE_EXCEEDED', 0],
    ]);
    expect(await balance()).toEqual({ credited: 3, spent: 3, available: 0 });
  }, 60_000);

  it('Redis stopped twice: what was spent between the outages counts in the second', async () => {
    const { spend, balance } = await prepaidKey();
    const down = async (): Promise<void> => {
      await redis.kill('SIGTERM');
      await until('readiness answers 503', async () => (await ready()) === 503);
    };
    const up = async (): Promise<void> => {
      await redis.restart();
      await until('readiness answers 200', async () => (await ready()) === 200);
    };

    await down();
    try {
      expect(await spend()).toEqual(['VALID', 2]);
    } finally {
      await up();
    }
    // Redis came back empty: the total is loaded again, with what was spent in the outage.
    expect([await spend(), await spend(), await spend()]).toEqual([
      ['VALID', 1],
      ['VALID', 0],
      ['USAGE_EXCEEDED', 0],
    ]);
    await down();
    try {
      expect(await spend()).toEqual(['USAGE_EXCEEDED', 0]);
    } finally {
      await up();
    }
    expect(await spend()).toEqual(['USAGE_EXCEEDED', 0]);
    expect(await balance()).toEqual({ credited: 3, spent: 3, available: 0 });
  }, 60_000);
});

describe('Redis loses its data', () => {
  /** Redis emptied under Tessera (a restart without persistence, an eviction), as seen by a client of its own. */
  async function flushRedis(): Promise<void> {
    const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    try {
      await client.flushall();
    } finally {
      client.disconnect();
    }
  }

  it.each([
    ['written to MongoDB', true],
    ['not yet written by this instance', false],
  ])('a daily spend cap holds: what the day spent (%s) is loaded again, never taken to be zero', async (_, written) => {
    await until('readiness answers 200', async () => (await ready()) === 200);
    const key = await h.keyFor(h.members.owner, { limits: { dailySpendCap: 10 } });
    const spend = async (cost: number): Promise<[string, number | undefined]> => {
      const { body } = await verify({ token: key.secret, cost });
      return [body.code, body.spend?.spent];
    };
    expect(await spend(6)).toEqual(['VALID', 6]);
    if (written) await h.tessera.services.meter.flush();
    await flushRedis();
    expect([await spend(5), await spend(4), await spend(1)]).toEqual([
      ['USAGE_EXCEEDED', 6],
      ['VALID', 10],
      ['USAGE_EXCEEDED', 10],
    ]);
  }, 30_000);
});
