/**
 * Tessera on MongoDB + Redis as a real process: readiness follows Redis going away and coming
 * back, start-up refuses unreachable stores, SIGTERM drains an in-flight request and exits 0.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mongoose from 'mongoose';
import { recordSecret } from '../support/log-capture.ts';
import { startRedis, type RunningServer } from '../support/servers.ts';
import { runToExit, startTessera, type TesseraProcess } from '../support/tessera-process.ts';
import { mongoUriFor, uniqueName } from '../support/unique.ts';

let redis: RunningServer; // private: this suite stops and restarts it
let mongoUri: string;

beforeAll(async () => {
  redis = await startRedis();
  mongoUri = mongoUriFor(uniqueName('e2e_external'));
});

afterAll(async () => {
  await redis.stop();
  const connection = await mongoose.createConnection(mongoUri).asPromise();
  await connection.dropDatabase();
  await connection.close();
});

async function readiness(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${url}/health/ready`);
  return { status: res.status, body: await res.json() };
}

async function waitForStatus(url: string, status: number, withinMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < withinMs) {
    if ((await readiness(url)).status === status) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`/health/ready did not answer ${status} within ${withinMs} ms`);
}

describe('start on MongoDB and Redis', () => {
  let tessera: TesseraProcess;
  beforeAll(async () => {
    tessera = await startTessera({ MONGODB_URI: mongoUri, REDIS_URL: redis.url, TESSERA_STORE_TIMEOUT_MS: '1500' }, 'external');
  });
  afterAll(async () => {
    await tessera.stop();
  });

  it('uses them: ready names both stores as up, and no embedded warning', async () => {
    expect(await readiness(tessera.url)).toEqual({ status: 200, body: { status: 'ready', stores: 'external', checks: { mongodb: 'up', redis: 'up' } } });
    expect(tessera.output()).not.toContain('EMBEDDED MODE');
    expect(tessera.output()).not.toContain('demo@tessera.local');
    // Every cache's subscription came up: no warning that would train operators to ignore it.
    expect(tessera.output()).not.toContain('bearer events unavailable');
  });

  it('turns not-ready within 5 s of Redis stopping, naming it, and ready again once it is back', async () => {
    await redis.kill('SIGKILL');
    const tookMs = await waitForStatus(tessera.url, 503, 5_000);
    expect(tookMs).toBeLessThan(5_000);
    const down = await readiness(tessera.url);
    expect(down.body).toEqual({ error: { code: 'UNAVAILABLE', message: 'Not ready: redis unreachable' } });

    await redis.restart();
    await waitForStatus(tessera.url, 200, 10_000);
    expect((await readiness(tessera.url)).body).toMatchObject({ checks: { mongodb: 'up', redis: 'up' } });
  });

  it('on SIGTERM finishes the request in flight, then exits 0', async () => {
    // A hung Redis makes readiness take ~1.5 s (the store timeout): a slow request to drain.
    await redis.kill('SIGSTOP');
    try {
      const inFlight = fetch(`${tessera.url}/health/ready`).then(async (r) => ({ status: r.status, body: await r.json() }));
      await new Promise((r) => setTimeout(r, 300));
      tessera.child.kill('SIGTERM');
      // New connections are refused while draining.
      await new Promise((r) => setTimeout(r, 200));
      await expect(fetch(`${tessera.url}/health/alive`)).rejects.toThrow();
      const response = await inFlight;
      expect(response.status).toBe(503);
      expect(response.body).toEqual({ error: { code: 'UNAVAILABLE', message: 'Not ready: redis unreachable' } });
    } finally {
      await redis.kill('SIGCONT');
    }
    expect(await tessera.exited).toBe(0);
    expect(tessera.output()).toContain('shutdown complete');
  });
});

describe('start with unreachable stores', () => {
  it('refuses to start when Redis cannot be reached, saying so', async () => {
    const { code, output } = await runToExit('src/main.ts', [], { MONGODB_URI: mongoUri, REDIS_URL: 'redis://127.0.0.1:1', TESSERA_STORE_TIMEOUT_MS: '1000' }, 'no-redis');
    expect(code).toBe(1);
    expect(output).toContain('tessera: cannot start: Redis at redis://127.0.0.1:1 cannot be reached');
  });

  it('refuses to start when MongoDB cannot be reached, saying so without the password', async () => {
    const { code, output } = await runToExit(
      'src/main.ts',
      [],
      { MONGODB_URI: `mongodb://admin:${recordSecret('s3cret-pw')}@127.0.0.1:1/t`, REDIS_URL: redis.url, TESSERA_STORE_TIMEOUT_MS: '1000' },
      'no-mongo',
    );
    expect(code).toBe(1);
    expect(output).toContain('tessera: cannot start: MongoDB at mongodb://***@127.0.0.1:1/t cannot be reached');
    expect(output).not.toContain('s3cret-pw');
  });

  it('refuses to start when an organization is on a plan the plans file lacks, naming both', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-plans-'));
    const seed = join(dir, 'seed.json');
    writeFileSync(seed, JSON.stringify({ organizations: [{ id: 'o_planned', name: 'Planned', plan: 'team' }] }));
    const env = { MONGODB_URI: mongoUri, REDIS_URL: redis.url };
    expect((await runToExit('src/cli.ts', ['import', seed], env, 'plans-import')).code).toBe(0);
    const plans = join(dir, 'plans.json');
    writeFileSync(plans, JSON.stringify({ free: {}, pro: { rate_limit_per_minute: 100 } }));
    const { code, output } = await runToExit('src/main.ts', [], { ...env, TESSERA_PLANS_FILE: plans }, 'plans-missing');
    expect(code).toBe(1);
    expect(output).toContain(`organizations are on plans that the plans file (${plans}) lacks: team`);
  });
});
