/**
 * Limits are exact across instances: two Tessera processes on one MongoDB database and one Redis
 * (same key prefix), as the replicas of docker-compose.yml, answer 100 verifications at once for
 * one key, half each — and let through exactly as many as its limit allows, whichever instance
 * each lands on: a request window, a daily spend cap, an organization's credit balance. What was
 * let through is metered exactly, read back through the usage API once both have stopped.
 *
 * The processes run on the real clock: a burst starts well inside its minute (and its UTC day),
 * waiting for the next one when too close to the end, so that one window counts all of it; every
 * answer then names the same window's reset, which the test checks.
 *
 * Usage is flushed only at shutdown (TESSERA_USAGE_FLUSH_MS at its maximum, 300 s), and the two
 * processes are stopped one after the other: FerretDB applies `$inc` as a read and a rewrite
 * (src/stores/mongo/ferret-write-queue.ts), so two processes flushing one day's document at the
 * same moment could lose one's write — MongoDB, as deployed, does not.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mongoose from 'mongoose';
import { DEFAULT_KEY_FORMAT, generateKey } from '../../src/domain/api-key-format.ts';
import { verifyCall } from '../support/verify-call.ts';
import type { VerifyAnswer } from '../../src/services/authentication/verification-service.ts';
import { recordSecret } from '../support/log-capture.ts';
import { startTessera, waitUntilReady, type TesseraProcess } from '../support/tessera-process.ts';
import { mongoUriFor, redisUrl, uniqueName } from '../support/unique.ts';
import { apiCall } from '../support/oauth-browser.ts';

const BURST = 100;
const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

const rs = { id: 'rs_limits_two', secret: recordSecret(randomBytes(32).toString('base64url')) };
const basic = recordSecret(`Basic ${Buffer.from(`${rs.id}:${rs.secret}`).toString('base64')}`);

/** One owner of two organizations, a bootstrap key in each, and a resource server. */
function writeSeed(bootstrap: { capped: string; prepaid: string }): string {
  const path = join(mkdtempSync(join(tmpdir(), 'tessera-limits-two-')), 'seed.json');
  writeFileSync(
    path,
    JSON.stringify({
      users: [{ id: 'u_owner', email: 'owner@example.com', name: 'Owner' }],
      organizations: [
        { id: 'o_capped', name: 'Capped' },
        { id: 'o_prepaid', name: 'Prepaid' },
      ],
      memberships: [
        { user: 'u_owner', org: 'o_capped', role: 'owner' },
        { user: 'u_owner', org: 'o_prepaid', role: 'owner' },
      ],
      clients: [{ client_id: rs.id, client_secret: rs.secret, name: 'Limits RS', type: 'resource_server' }],
      api_keys: [
        { key: bootstrap.capped, user: 'u_owner', org: 'o_capped', name: 'bootstrap' },
        { key: bootstrap.prepaid, user: 'u_owner', org: 'o_prepaid', name: 'bootstrap' },
      ],
    }),
  );
  return path;
}

/** Tessera's API with a bearer, its answers read as JSON objects. */
const api = (...call: Parameters<typeof apiCall>) => apiCall<Record<string, unknown>>(...call);

async function createKey(base: string, bootstrap: string, name: string, limits: Record<string, number>): Promise<{ id: string; key: string }> {
  const created = await api(base, 'POST', '/api/v1/api-keys', bootstrap, { name, limits });
  expect(created.status).toBe(201);
  return { id: String(created.body.id), key: recordSecret(String(created.body.key)) };
}

const verify = (base: string, body: Record<string, unknown>): Promise<VerifyAnswer> => verifyCall(base, basic, body);

/** BURST verifications at once, alternately to each instance. */
function burst(instances: TesseraProcess[], body: Record<string, unknown>): Promise<VerifyAnswer[]> {
  return Promise.all(Array.from({ length: BURST }, (_, i) => verify(instances[i % instances.length]!.url, body)));
}

/** Waits for the next period (minute, UTC day) unless at least `marginMs` of this one is left. */
async function wellInside(periodMs: number, marginMs: number): Promise<void> {
  const left = periodMs - (Date.now() % periodMs);
  if (left < marginMs) await new Promise((r) => setTimeout(r, left + 100));
}

const today = (): string => new Date().toISOString().slice(0, 10);

function tally(answers: VerifyAnswer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const a of answers) counts[a.code] = (counts[a.code] ?? 0) + 1;
  return counts;
}

describe('limits counted across two processes', () => {
  const mongoUri = mongoUriFor(uniqueName('e2e_limits_two'));
  const bootstrap = { capped: recordSecret(generateKey(DEFAULT_KEY_FORMAT, 'live').key), prepaid: recordSecret(generateKey(DEFAULT_KEY_FORMAT, 'live').key) };
  let env: Record<string, string>;
  let a: TesseraProcess;
  let b: TesseraProcess;
  let c: TesseraProcess | undefined;
  /** What each burst let through, per key id, for the metering check (and the key that may read it). */
  const admitted = new Map<string, { day: string; requests: number; credits: number; reader: string }>();

  beforeAll(async () => {
    env = {
      MONGODB_URI: mongoUri,
      REDIS_URL: redisUrl(),
      TESSERA_REDIS_PREFIX: `${uniqueName('limits_two')}:`,
      TESSERA_SEED: writeSeed(bootstrap),
      TESSERA_CREDIT_BALANCES: 'true',
      TESSERA_USAGE_FLUSH_MS: '300000',
      TESSERA_SHUTDOWN_TIMEOUT_MS: '30000',
    };
    a = await startTessera(env, 'limits-two-a');
    await waitUntilReady(a);
    b = await startTessera(env, 'limits-two-b');
    await waitUntilReady(b);
  }, 90_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
    const connection = await mongoose.createConnection(mongoUri).asPromise();
    await connection.dropDatabase();
    await connection.close();
  }, 60_000);

  it(`rate_limit_per_minute 10, ${BURST} requests at once on both: exactly 10 VALID and ${BURST - 10} RATE_LIMITED`, async () => {
    const key = await createKey(a.url, bootstrap.capped, 'ten a minute', { rate_limit_per_minute: 10 });
    await wellInside(DAY_MS, 120_000);
    await wellInside(MINUTE_MS, 20_000);
    const day = today();
    const answers = await burst([a, b], { token: key.key });

    expect(tally(answers)).toEqual({ VALID: 10, RATE_LIMITED: BURST - 10 });
    // One window counted every request: the same reset in every answer.
    const resets = new Set(answers.map((x) => x.ratelimit?.reset));
    expect(resets.size).toBe(1);
    const reset = [...resets][0]!;
    expect(reset % 60).toBe(0);
    // Each admission saw a count of its own: what was left after each is 9, 8 … 0, once each.
    const valid = answers.filter((x) => x.valid);
    expect(valid.map((x) => x.ratelimit!.remaining).sort((p, q) => p - q)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(valid.every((x) => x.principal?.key_id === key.id)).toBe(true);
    for (const refused of answers.filter((x) => !x.valid)) {
      expect(refused).toMatchObject({ code: 'RATE_LIMITED', ratelimit: { limit: 10, remaining: 0, reset } });
      expect(refused.retry_after).toBeGreaterThanOrEqual(1);
      expect(refused.retry_after).toBeLessThanOrEqual(60);
    }
    admitted.set(key.id, { day, requests: 10, credits: 0, reader: bootstrap.capped });
  }, 120_000);

  it(`daily_spend_cap 10, ${BURST} requests of cost 1 at once on both: exactly 10 VALID and ${BURST - 10} USAGE_EXCEEDED`, async () => {
    // A balance far beyond the cap: the cap is what refuses.
    expect((await api(a.url, 'POST', '/api/v1/balance/credits', bootstrap.capped, { credits: 1_000_000 })).status).toBe(200);
    const key = await createKey(b.url, bootstrap.capped, 'ten credits a day', { daily_spend_cap: 10 });
    await wellInside(DAY_MS, 120_000);
    const day = today();
    const answers = await burst([a, b], { token: key.key, cost: 1 });

    expect(tally(answers)).toEqual({ VALID: 10, USAGE_EXCEEDED: BURST - 10 });
    const valid = answers.filter((x) => x.valid);
    expect(valid.map((x) => x.spend!.spent).sort((p, q) => p - q)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const refused of answers.filter((x) => !x.valid)) {
      expect(refused).toMatchObject({ code: 'USAGE_EXCEEDED', spend: { cost: 1, cap: 10, spent: 10, remaining: 0 } });
    }
    admitted.set(key.id, { day, requests: 10, credits: 10, reader: bootstrap.capped });
  }, 120_000);

  it(`an organization credited 10, ${BURST} requests of cost 1 at once on both: exactly 10 VALID and ${BURST - 10} USAGE_EXCEEDED`, async () => {
    expect((await api(b.url, 'POST', '/api/v1/balance/credits', bootstrap.prepaid, { credits: 10 })).body).toMatchObject({ org_id: 'o_prepaid', credited: 10, available: 10 });
    const key = await createKey(a.url, bootstrap.prepaid, 'prepaid', {});
    await wellInside(DAY_MS, 120_000);
    const day = today();
    const answers = await burst([a, b], { token: key.key, cost: 1 });

    expect(tally(answers)).toEqual({ VALID: 10, USAGE_EXCEEDED: BURST - 10 });
    const valid = answers.filter((x) => x.valid);
    expect(valid.map((x) => x.spend!.balance).sort((p, q) => p! - q!)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const refused of answers.filter((x) => !x.valid)) {
      expect(refused).toMatchObject({ code: 'USAGE_EXCEEDED', spend: { cost: 1, cap: null, balance: 0 } });
      expect(refused.retry_after).toBeUndefined();
    }
    admitted.set(key.id, { day, requests: 10, credits: 10, reader: bootstrap.prepaid });
  }, 120_000);

  it('meters exactly what was let through: read back once both processes have stopped', async () => {
    expect(admitted.size).toBe(3);
    const usage = async (base: string, id: string, day: string, reader: string): Promise<unknown> => {
      const res = await api(base, 'GET', `/api/v1/api-keys/${id}/usage?from=${day}&to=${day}`, reader);
      expect(res.status).toBe(200);
      return res.body;
    };

    // A stops and writes what it counted; B still holds its part, and shows the sum of both.
    expect(await a.stop()).toBe(0);
    for (const [id, { day, requests, credits, reader }] of admitted) {
      expect({ id, usage: await usage(b.url, id, day, reader) }).toEqual({ id, usage: { data: [{ date: day, requests, credits }] } });
    }
    expect((await api(b.url, 'GET', '/api/v1/balance', bootstrap.prepaid)).body).toEqual({ org_id: 'o_prepaid', credited: 10, spent: 10, available: 0 });
    expect(await b.stop()).toBe(0);

    // A fresh process counted nothing: what it shows is the store of record's alone.
    c = await startTessera(env, 'limits-two-c');
    await waitUntilReady(c);
    for (const [id, { day, requests, credits, reader }] of admitted) {
      expect({ id, usage: await usage(c.url, id, day, reader) }).toEqual({ id, usage: { data: [{ date: day, requests, credits }] } });
    }
    expect((await api(c.url, 'GET', '/api/v1/balance', bootstrap.prepaid)).body).toEqual({ org_id: 'o_prepaid', credited: 10, spent: 10, available: 0 });
  }, 120_000);
});
