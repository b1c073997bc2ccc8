/**
 * What a principal-cache miss costs: the store calls Tessera makes to resolve a bearer
 * (Authenticator.resolve), one by one and whole, against the same throwaway MongoDB-wire server
 * and Redis that `npm run bench` uses, one at a time and 50 at once, with the CPU time this
 * process (Tessera's side: driver, mongoose, BSON) spends per call. A diagnostic companion to
 * bench/run.ts, not part of it.
 *
 *   node --disable-warning=ExperimentalWarning bench/store-latency.ts [--ops 400]
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createServices, openExternalStores } from '../src/app.ts';
import { loadConfig } from '../src/config/index.ts';
import { generateSigningKey } from '../src/config/load-config.ts';
import { hashKey } from '../src/domain/key-hash.ts';
import { startMongo, startRedis } from '../test/support/servers.ts';
import { BENCH_SCOPES, seedTessera } from './lib/seed.ts';
import { TMP_DIR } from './lib/targets.ts';

const { values } = parseArgs({ options: { ops: { type: 'string', default: '400' } } });
const OPS = Number(values.ops);

async function time(name: string, concurrency: number, op: (i: number) => Promise<unknown>): Promise<void> {
  const latencies: number[] = [];
  let next = 0;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < OPS) {
        const i = next++;
        const t = performance.now();
        await op(i);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const wall = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  latencies.sort((a, b) => a - b);
  const at = (p: number): string => latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)]!.toFixed(2).padStart(8);
  console.log(`  ${name.padEnd(44)} ${String(Math.round((OPS / wall) * 1000)).padStart(7)} /s   p50 ${at(0.5)} ms   p99 ${at(0.99)} ms   Tessera CPU ${String(Math.round((cpu.user + cpu.system) / OPS)).padStart(5)} µs/op`);
}

const [mongo, redis] = await Promise.all([startMongo(), startRedis()]);
try {
  const tag = randomBytes(4).toString('hex');
  const env = {
    NODE_ENV: 'production',
    BASE_URL: 'http://127.0.0.1:3000',
    MONGODB_URI: `${mongo.url}/latency_${tag}`,
    REDIS_URL: redis.url,
    TESSERA_REDIS_PREFIX: `latency:${tag}:`,
    TESSERA_COOKIE_KEYS: randomBytes(32).toString('base64url'),
    TESSERA_OAUTH_JWKS: JSON.stringify({ keys: [generateSigningKey()] }),
    TESSERA_SCOPES: BENCH_SCOPES.join(' '),
  };
  const seed = await seedTessera(env, 100, join(TMP_DIR, 'store-latency-seed.log'));
  const config = loadConfig(env);
  const stores = await openExternalStores(config);
  // No cache: every resolve reads the stores, as a cache miss does.
  const { resolver } = createServices(stores, { ...config, principalCacheMaxAgeMs: 0 });
  const hashes = seed.apiKeys.map(hashKey);
  console.log(`${mongo.kind} at ${mongo.url}, Redis at ${redis.url}; ${OPS} operations per line`);
  for (const concurrency of [1, 50]) {
    console.log(`\nconcurrency ${concurrency}:`);
    await time('apiKeys.findByHash (a key)', concurrency, (i) => stores.apiKeys.findByHash(hashes[i % 100]!));
    await time('apiKeys.findByHash (no such key)', concurrency, (i) => stores.apiKeys.findByHash(hashKey(seed.unknownTokens[i % 100]!)));
    await time('users.findById', concurrency, () => stores.users.findById(seed.userId));
    await time('memberships.find', concurrency, () => stores.memberships.find(seed.userId, seed.orgId));
    await time('organizations.findById', concurrency, () => stores.organizations.findById(seed.orgId));
    await time('connectedApps.findById', concurrency, () => stores.connectedApps.findById('no-such-grant'));
    await time('clients.findById', concurrency, () => stores.clients.findById(seed.connectorId));
    await time("oauth.find('AccessToken') (a token)", concurrency, (i) => stores.oauth.find('AccessToken', seed.accessTokens[i % 100]!));
    await time("oauth.find('AccessToken') (no such token)", concurrency, (i) => stores.oauth.find('AccessToken', seed.unknownTokens[i % 100]!));
    await time('Redis GET (ephemeral.get)', concurrency, (i) => stores.ephemeral.get(`probe:${i}`));
    await time('resolve: API key (whole miss)', concurrency, (i) => resolver.resolve(seed.apiKeys[i % 100]!));
    await time('resolve: OAuth access token (whole miss)', concurrency, (i) => resolver.resolve(seed.accessTokens[i % 100]!));
    await time('resolve: unknown token (whole miss)', concurrency, (i) => resolver.resolve(seed.unknownTokens[i % 100]!));
  }
  await stores.close();
} finally {
  await Promise.all([mongo.stop(), redis.stop()]);
}
