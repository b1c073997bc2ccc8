/**
 * Two Tessera processes on one MongoDB database and one Redis (same key prefix), as the two
 * replicas of docker-compose.yml: a key created, revoked, disabled or rotated through one is
 * answered accordingly by the other on the very next request. And one process losing its Redis:
 * a revocation is still never followed by the key being accepted (fail closed).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mongoose from 'mongoose';
import { DEFAULT_KEY_FORMAT, generateKey } from '../../src/domain/api-key-format.ts';
import { recordSecret } from '../support/log-capture.ts';
import { startRedis, type RunningServer } from '../support/servers.ts';
import { startTessera, waitUntilReady, type TesseraProcess } from '../support/tessera-process.ts';
import { mongoUriFor, redisUrl, uniqueName } from '../support/unique.ts';

const UNAUTHORIZED_BODY = JSON.stringify({ error: { code: 'UNAUTHORIZED', message: 'Invalid or missing API key' } });
const KEY_PATTERN = /^tsr_live_[0-9A-Za-z]{38}$/;

const dir = mkdtempSync(join(tmpdir(), 'tessera-two-'));

/** A seed file with one owner, one organization and one bootstrap API key given in plaintext. */
function writeSeed(name: string, bootstrapKey: string): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    JSON.stringify({
      users: [{ id: 'u_owner', email: 'owner@example.com', name: 'Owner' }],
      organizations: [{ id: 'o_two', name: 'Two' }],
      memberships: [{ user: 'u_owner', org: 'o_two', role: 'owner' }],
      api_keys: [{ key: bootstrapKey, user: 'u_owner', org: 'o_two', name: 'bootstrap' }],
    }),
  );
  return path;
}

interface Reply {
  status: number;
  text: string;
  headers: Headers;
  json(): Record<string, unknown>;
}

async function call(base: string, method: string, path: string, key: string, body?: unknown): Promise<Reply> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { Authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, text, headers: res.headers, json: () => JSON.parse(text) as Record<string, unknown> };
}

/** Creates a key through `base` and records it; returns its id and the key. */
async function createKey(base: string, bootstrap: string, name: string): Promise<{ id: string; key: string }> {
  const created = await call(base, 'POST', '/api/v1/api-keys', bootstrap, { name });
  expect(created.status).toBe(201);
  const body = created.json();
  const key = recordSecret(String(body.key));
  expect(key).toMatch(KEY_PATTERN);
  expect(body).toMatchObject({ name, active: true, env: 'live', userId: 'u_owner' });
  return { id: String(body.id), key };
}

function expectUnauthorized(reply: Reply): void {
  expect({ status: reply.status, text: reply.text, challenge: reply.headers.get('www-authenticate') }).toEqual({
    status: 401,
    text: UNAUTHORIZED_BODY,
    challenge: 'Bearer',
  });
}

describe('two processes sharing MongoDB and Redis', () => {
  const mongoUri = mongoUriFor(uniqueName('e2e_two'));
  const bootstrap = recordSecret(generateKey(DEFAULT_KEY_FORMAT, 'live').key);
  let a: TesseraProcess;
  let b: TesseraProcess;

  beforeAll(async () => {
    const env = {
      MONGODB_URI: mongoUri,
      REDIS_URL: redisUrl(),
      TESSERA_REDIS_PREFIX: `${uniqueName('two')}:`,
      TESSERA_SEED: writeSeed('two.json', bootstrap),
    };
    a = await startTessera(env, 'two-process-a');
    await waitUntilReady(a);
    b = await startTessera(env, 'two-process-b');
    await waitUntilReady(b);
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    const connection = await mongoose.createConnection(mongoUri).asPromise();
    await connection.dropDatabase();
    await connection.close();
  });

  it('both loaded the same seed file: A created it, B found it unchanged', () => {
    expect(a.output()).toContain('"api_keys":{"created":1,"updated":0,"unchanged":0}');
    expect(b.output()).toContain('"api_keys":{"created":0,"updated":0,"unchanged":1}');
  });

  it('a key created on A works on B; deleted on A, it is refused by B on the very next request, and by A', async () => {
    const k = await createKey(a.url, bootstrap, 'K');

    const me = await call(b.url, 'GET', '/api/v1/me', k.key);
    expect(me.status).toBe(200);
    expect(me.json()).toMatchObject({ id: 'u_owner', org_id: 'o_two', key_id: k.id, kind: 'api_key', env: 'live' });

    const deleted = await call(a.url, 'DELETE', `/api/v1/api-keys/${k.id}`, bootstrap);
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');

    expectUnauthorized(await call(b.url, 'GET', '/api/v1/me', k.key));
    expectUnauthorized(await call(a.url, 'GET', '/api/v1/me', k.key));
    // Gone from the list on either instance; the bootstrap key still works on both.
    const list = await call(b.url, 'GET', '/api/v1/api-keys', bootstrap);
    expect(list.status).toBe(200);
    expect((list.json() as unknown as { id: string }[]).map((key) => key.id)).not.toContain(k.id);
    expect((await call(a.url, 'GET', '/api/v1/me', bootstrap)).status).toBe(200);
  });

  it('a key disabled on B is refused on A at once, and accepted again once re-enabled', async () => {
    const k2 = await createKey(a.url, bootstrap, 'K2');
    expect((await call(a.url, 'GET', '/api/v1/me', k2.key)).status).toBe(200);

    const disabled = await call(b.url, 'PATCH', `/api/v1/api-keys/${k2.id}`, bootstrap, { active: false });
    expect(disabled.status).toBe(200);
    expect(disabled.json()).toMatchObject({ id: k2.id, active: false });
    expectUnauthorized(await call(a.url, 'GET', '/api/v1/me', k2.key));

    const enabled = await call(b.url, 'PATCH', `/api/v1/api-keys/${k2.id}`, bootstrap, { active: true });
    expect(enabled.status).toBe(200);
    const me = await call(a.url, 'GET', '/api/v1/me', k2.key);
    expect(me.status).toBe(200);
    expect(me.json()).toMatchObject({ key_id: k2.id });
  });

  it('a key rotated on A without grace: the old one is refused on B, the new one accepted on B', async () => {
    const k3 = await createKey(b.url, bootstrap, 'K3');
    expect((await call(b.url, 'GET', '/api/v1/me', k3.key)).status).toBe(200);

    const rotated = await call(a.url, 'POST', `/api/v1/api-keys/${k3.id}/rotate`, bootstrap, {});
    expect(rotated.status).toBe(201);
    const body = rotated.json();
    const next = { id: String(body.id), key: recordSecret(String(body.key)) };
    expect(next.key).toMatch(KEY_PATTERN);
    expect(next.key).not.toBe(k3.key);
    expect(next.id).not.toBe(k3.id);
    expect(body).toMatchObject({ name: 'K3', rotatedFrom: k3.id, active: true });

    expectUnauthorized(await call(b.url, 'GET', '/api/v1/me', k3.key));
    const me = await call(b.url, 'GET', '/api/v1/me', next.key);
    expect(me.status).toBe(200);
    expect(me.json()).toMatchObject({ id: 'u_owner', org_id: 'o_two', key_id: next.id });
  });

  it('lastUsedAt of a key used on B shows in the list fetched from A', async () => {
    const k4 = await createKey(a.url, bootstrap, 'K4');
    const lastUsedOf = async (): Promise<unknown> => {
      const list = await call(a.url, 'GET', '/api/v1/api-keys', bootstrap);
      expect(list.status).toBe(200);
      return (list.json() as unknown as { id: string; lastUsedAt: unknown }[]).find((key) => key.id === k4.id)?.lastUsedAt;
    };
    expect(await lastUsedOf()).toBeNull();

    const before = Date.now();
    expect((await call(b.url, 'GET', '/api/v1/me', k4.key)).status).toBe(200);
    const after = Date.now();

    // The write is off the request path: give it a moment to land.
    let lastUsedAt = await lastUsedOf();
    for (let i = 0; i < 50 && lastUsedAt === null; i++) {
      await new Promise((r) => setTimeout(r, 100));
      lastUsedAt = await lastUsedOf();
    }
    expect(typeof lastUsedAt).toBe('string');
    const at = new Date(lastUsedAt as string).getTime();
    // MongoDB keeps milliseconds; allow for the clock reading inside the request.
    expect(at).toBeGreaterThanOrEqual(before - 5);
    expect(at).toBeLessThanOrEqual(after + 5);
  });
});

describe('one process whose Redis dies', () => {
  const mongoUri = mongoUriFor(uniqueName('e2e_two_outage'));
  const bootstrap = recordSecret(generateKey(DEFAULT_KEY_FORMAT, 'live').key);
  let redis: RunningServer; // private: this suite kills and restarts it
  let tessera: TesseraProcess;

  beforeAll(async () => {
    redis = await startRedis();
    tessera = await startTessera(
      {
        MONGODB_URI: mongoUri,
        REDIS_URL: redis.url,
        TESSERA_REDIS_PREFIX: `${uniqueName('outage')}:`,
        TESSERA_SEED: writeSeed('outage.json', bootstrap),
        TESSERA_STORE_TIMEOUT_MS: '1500',
      },
      'two-process-outage',
    );
    await waitUntilReady(tessera);
  });

  afterAll(async () => {
    await tessera?.stop();
    await redis?.stop();
    const connection = await mongoose.createConnection(mongoUri).asPromise();
    await connection.dropDatabase();
    await connection.close();
  });

  it('a key deleted while Redis is down is never accepted afterwards (204 and refused, or 503)', async () => {
    const k = await createKey(tessera.url, bootstrap, 'outage');
    expect((await call(tessera.url, 'GET', '/api/v1/me', k.key)).status).toBe(200);

    await redis.kill('SIGKILL');
    const deleted = await call(tessera.url, 'DELETE', `/api/v1/api-keys/${k.id}`, bootstrap);
    expect([204, 503]).toContain(deleted.status);
    if (deleted.status === 204) {
      expect(deleted.text).toBe('');
      expectUnauthorized(await call(tessera.url, 'GET', '/api/v1/me', k.key));
    } else {
      expect(deleted.json()).toMatchObject({ error: { code: 'UNAVAILABLE' } });
      expect(deleted.headers.get('retry-after')).toMatch(/^\d+$/);
    }

    // Redis comes back empty: that must not revive the key (MongoDB is the store of record).
    await redis.restart();
    await waitUntilReady(tessera);
    if (deleted.status === 503) {
      // The deletion did not happen; it does now that Redis is back.
      expect((await call(tessera.url, 'DELETE', `/api/v1/api-keys/${k.id}`, bootstrap)).status).toBe(204);
    }
    expectUnauthorized(await call(tessera.url, 'GET', '/api/v1/me', k.key));
    expect((await call(tessera.url, 'GET', '/api/v1/me', bootstrap)).status).toBe(200);
  });
});
