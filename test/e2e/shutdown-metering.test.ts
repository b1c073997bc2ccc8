/**
 * SIGTERM loses no metered usage: a real Tessera process (MongoDB + Redis) meters verifications in
 * memory and writes them in batches (src/services/limits/usage-meter.ts); here the batch interval
 * is as long as it may be (TESSERA_USAGE_FLUSH_MS=300000), so that nothing is written before the
 * signal — which the test checks in the store first — and all of it must be written on the way
 * out: the process exits 0 and the store of record holds exactly the requests and credits that
 * were let through. Also with requests still in flight when the signal comes (some held open
 * across it for sure, a burst besides): every one answered VALID is metered, and nothing else.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
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

const DAY_MS = 86_400_000;
const rs = { id: 'rs_shutdown', secret: recordSecret(randomBytes(32).toString('base64url')) };
const basic = recordSecret(`Basic ${Buffer.from(`${rs.id}:${rs.secret}`).toString('base64')}`);

function writeSeed(bootstrap: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'tessera-shutdown-')), 'seed.json');
  writeFileSync(
    path,
    JSON.stringify({
      users: [{ id: 'u_owner', email: 'owner@example.com', name: 'Owner' }],
      organizations: [{ id: 'o_metered', name: 'Metered' }],
      memberships: [{ user: 'u_owner', org: 'o_metered', role: 'owner' }],
      clients: [{ client_id: rs.id, client_secret: rs.secret, name: 'Shutdown RS', type: 'resource_server' }],
      api_keys: [{ key: bootstrap, user: 'u_owner', org: 'o_metered', name: 'bootstrap' }],
    }),
  );
  return path;
}

/** Tessera's API with a bearer, its answers read as JSON objects. */
const api = (...call: Parameters<typeof apiCall>) => apiCall<Record<string, unknown>>(...call);

const verify = (base: string, body: Record<string, unknown>): Promise<VerifyAnswer> => verifyCall(base, basic, body);

/**
 * A verification whose headers Tessera has read — it answered 100 Continue, so it is handling the
 * request — and whose body is held back until finish().
 */
async function heldVerify(base: string, body: { token: string; cost: number }): Promise<{ cost: number; finish(): Promise<{ status: number; connection: string | undefined; body: string }> }> {
  const text = JSON.stringify(body);
  const req = request(new URL('/v1/verify', base), {
    method: 'POST',
    agent: false,
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), authorization: basic, expect: '100-continue' },
  });
  const response = new Promise<{ status: number; connection: string | undefined; body: string }>((resolve, reject) => {
    req.once('response', (res) => {
      let received = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (received += chunk));
      res.once('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, body: received }));
      res.once('error', reject);
    });
    req.once('error', reject);
  });
  response.catch(() => undefined); // awaited by finish()
  await new Promise<void>((resolve, reject) => {
    req.once('continue', () => resolve());
    req.once('error', reject);
    req.flushHeaders();
  });
  req.write(text.slice(0, 5));
  return {
    cost: body.cost,
    finish: () => {
      req.end(text.slice(5));
      return response;
    },
  };
}

/** Waits until `condition` holds; fails after `withinMs`. */
async function until(what: string, condition: () => Promise<boolean>, withinMs = 15_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what}: not so within ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits for the next UTC day unless at least `marginMs` of this one is left: one day's document counts the test. */
async function wellInsideTheDay(marginMs: number): Promise<void> {
  const left = DAY_MS - (Date.now() % DAY_MS);
  if (left < marginMs) await new Promise((r) => setTimeout(r, left + 100));
}

const today = (): string => new Date().toISOString().slice(0, 10);
const sum = (values: number[]): number => values.reduce((s, v) => s + v, 0);

describe('SIGTERM and metered usage', () => {
  const mongoUri = mongoUriFor(uniqueName('e2e_shutdown'));
  const bootstrap = recordSecret(generateKey(DEFAULT_KEY_FORMAT, 'live').key);
  let env: Record<string, string>;
  let running: TesseraProcess | undefined;
  let connection: mongoose.Connection;

  /** The usage documents of a key as the store of record holds them: [day, requests, credits]. */
  async function stored(keyId: string): Promise<Array<{ day: string; requests: number; credits: number }>> {
    const docs = await connection.collection('usage_daily').find({ kind: 'api_key', credentialId: keyId }).toArray();
    return docs.map((d) => ({ day: d.day as string, requests: d.requests as number, credits: d.credits as number }));
  }

  async function start(label: string): Promise<TesseraProcess> {
    running = await startTessera(env, label);
    await waitUntilReady(running);
    return running;
  }

  /** SIGTERM; the process must exit 0, having said it shut down. */
  async function terminate(tessera: TesseraProcess): Promise<void> {
    const code = await tessera.stop('SIGTERM');
    expect({ code, complete: tessera.output().includes('"msg":"shutdown complete"') }).toEqual({ code: 0, complete: true });
    running = undefined;
  }

  beforeAll(async () => {
    env = {
      MONGODB_URI: mongoUri,
      REDIS_URL: redisUrl(),
      TESSERA_REDIS_PREFIX: `${uniqueName('shutdown')}:`,
      TESSERA_SEED: writeSeed(bootstrap),
      TESSERA_USAGE_FLUSH_MS: '300000',
      TESSERA_SHUTDOWN_TIMEOUT_MS: '30000',
    };
    connection = await mongoose.createConnection(mongoUri).asPromise();
  }, 30_000);

  afterAll(async () => {
    await running?.stop('SIGKILL');
    await connection?.dropDatabase();
    await connection?.close();
  }, 30_000);

  it('everything let through before the signal is written on the way out, exactly', async () => {
    const tessera = await start('shutdown-metering');
    const plain = (await api(tessera.url, 'POST', '/api/v1/api-keys', bootstrap, { name: 'plain' })).body;
    const capped = (await api(tessera.url, 'POST', '/api/v1/api-keys', bootstrap, { name: 'capped', limits: { daily_spend_cap: 20 } })).body;
    const plainKey = recordSecret(String(plain.key));
    const cappedKey = recordSecret(String(capped.key));
    await wellInsideTheDay(120_000);
    const day = today();

    // One after the other, costs of every size (0 is a request that spends nothing) …
    const costs = [0, 1, 2, 3, 5, 8, 13, 0, 21, 34];
    for (const cost of costs) expect((await verify(tessera.url, { token: plainKey, cost })).code).toBe('VALID');
    // … many at once …
    const together = await Promise.all(Array.from({ length: 40 }, (_, i) => verify(tessera.url, { token: plainKey, cost: i % 4 })));
    expect(together.every((a) => a.code === 'VALID')).toBe(true);
    // … and some refused, which are not metered: 20 credits a day, 6 requests of 4.
    const cappedCodes = [];
    for (let i = 0; i < 6; i++) cappedCodes.push((await verify(tessera.url, { token: cappedKey, cost: 4 })).code);
    expect(cappedCodes).toEqual(['VALID', 'VALID', 'VALID', 'VALID', 'VALID', 'USAGE_EXCEEDED']);

    const expected = {
      plain: { day, requests: costs.length + 40, credits: sum(costs) + sum(Array.from({ length: 40 }, (_, i) => i % 4)) },
      capped: { day, requests: 5, credits: 20 },
    };
    // Nothing written yet: what the store will hold comes from the shutdown alone.
    expect({ plain: await stored(String(plain.id)), capped: await stored(String(capped.id)) }).toEqual({ plain: [], capped: [] });
    // The running process shows it (its own pending usage) …
    const shown = await api(tessera.url, 'GET', `/api/v1/api-keys/${String(plain.id)}/usage?from=${day}&to=${day}`, bootstrap);
    expect(shown.body).toEqual({ data: [{ date: day, requests: expected.plain.requests, credits: expected.plain.credits }] });

    await terminate(tessera);

    // … and the store of record holds it once the process is gone.
    expect({ plain: await stored(String(plain.id)), capped: await stored(String(capped.id)) }).toEqual({ plain: [expected.plain], capped: [expected.capped] });
    // So does a new process, which counted nothing itself.
    const next = await start('shutdown-metering-next');
    for (const [id, usage] of [
      [String(plain.id), expected.plain],
      [String(capped.id), expected.capped],
    ] as const) {
      const res = await api(next.url, 'GET', `/api/v1/api-keys/${id}/usage?from=${day}&to=${day}`, bootstrap);
      expect({ id, body: res.body }).toEqual({ id, body: { data: [{ date: day, requests: usage.requests, credits: usage.credits }] } });
    }
    await terminate(next);
  }, 120_000);

  it('with requests in flight at the signal: every one answered VALID is metered, and no other', async () => {
    const tessera = await start('shutdown-metering-inflight');
    const created = (await api(tessera.url, 'POST', '/api/v1/api-keys', bootstrap, { name: 'in flight' })).body;
    const key = recordSecret(String(created.key));
    const id = String(created.id);
    await wellInsideTheDay(120_000);
    const day = today();

    // Requests surely in flight: Tessera has read their headers (it said 100 Continue), not yet their bodies.
    const held = await Promise.all([5, 6, 7].map((cost) => heldVerify(tessera.url, { token: key, cost })));
    // And a burst, during which the signal goes out while most of it is still on its way.
    const REQUESTS = 300;
    let answered = 0;
    let signalled: Promise<void> | null = null;
    const outcomes = await Promise.all(
      Array.from({ length: REQUESTS }, async (_, i) => {
        const cost = i % 7;
        try {
          const answer = await verify(tessera.url, { token: key, cost });
          if (++answered === 10) {
            signalled = terminate(tessera);
            signalled.catch(() => undefined); // awaited below
          }
          return { cost, code: answer.code as string };
        } catch (error) {
          // Refused at the connection (the server no longer takes any): never counted.
          return { cost, code: `failed: ${((error as Error).cause as Error | undefined)?.message ?? (error as Error).message}` };
        }
      }),
    );
    expect(signalled).not.toBeNull();
    // The server is draining once it refuses new connections; the held requests are answered then.
    await until('new connections are refused', () => fetch(`${tessera.url}/health/alive`).then((r) => r.text().then(() => false), () => true));
    const late = await Promise.all(held.map((h) => h.finish()));
    expect(late.map((r) => [r.status, r.connection, (JSON.parse(r.body) as VerifyAnswer).code])).toEqual(Array(3).fill([200, 'close', 'VALID']));
    await signalled;

    const valid = [...outcomes.filter((o) => o.code === 'VALID'), ...held.map((h) => ({ cost: h.cost }))];
    const failed = outcomes.filter((o) => o.code !== 'VALID');
    // Every answer was VALID; what was not answered failed at the connection.
    expect(failed.filter((o) => !o.code.startsWith('failed: '))).toEqual([]);
    const why = [...new Set(failed.map((o) => o.code.slice('failed: '.length)))].join(', ');
    console.log(`[shutdown-metering] ${valid.length - held.length} of ${REQUESTS} answered before the process closed; ${failed.length} refused at the connection (${why || 'none'})`);
    expect(await stored(id)).toEqual([{ day, requests: valid.length, credits: sum(valid.map((o) => o.cost)) }]);
  }, 120_000);
});
