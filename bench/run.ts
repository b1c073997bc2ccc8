/**
 * `npm run bench`: introspection, verification and token endpoint throughput and latency, side by
 * side, in one run on loopback.
 *
 *   (a) bare node:http answering a fixed principal — the ceiling
 *   (b) oidc-provider's built-in introspection endpoint, opaque access tokens
 *   (c) Tessera POST /oauth/introspect with API keys
 *   (d) … with OAuth access tokens
 *   (e) … with unknown tokens
 *   (f) Tessera POST /v1/verify with API keys limited per minute and per day, never reached
 *   (g) … with OAuth access tokens whose connected apps are limited likewise
 *   (h) … with API keys whose limit is spent: every answer RATE_LIMITED
 *   (r0) plain oidc-provider's token endpoint, chained refresh_token grants (bench/lib/token-cases.ts)
 *   (r1) Tessera POST /oauth/token, chained refresh_token grants, embedded memory stores
 *   (r2) … on FerretDB (or mongod) and Redis
 *   (x)  … authorization_code grants, on FerretDB and Redis
 *   — each token case at 1 and at 20 connections (not --connections).
 *
 * Prints req/s and p50/p99 per case, the ratios c/a, d/a, c/b, d/b, f/c, g/c and whether the
 * targets are met, and writes bench/results.md and bench/results.svg. A benchmark, not a test.
 *
 * Options (after `npm run bench --`):
 *   --duration <s>      measured seconds per case (10)
 *   --warmup <s>        discarded warm-up seconds per case (10: V8 is still optimising after 3)
 *   --connections <n>   concurrent connections (50)
 *   --tokens <n>        tokens per case (100)
 *   --no-warn-variant   skip the reference run of (c)(d)(e) at LOG_LEVEL=warn
 *   --profile           run the Tessera target under --cpu-prof (profiles in bench/tmp/profiles;
 *                       summarise with bench/profile-summary.ts); its numbers are then lower
 *   --only <ids>        run only these cases, e.g. --only c,d or --only r0,r1,r2,x (a and b are
 *                       kept for the ratios only when listed)
 *   --grants <n>        existing grants seeded into the stores of (r1)(r2)(x) (1000); (r2) and
 *                       (x) are compared with the last run at another count (bench/tmp/token-growth.json)
 *   --grants <n>,<m>    (r2) and (x) against each count, a database each, their runs alternating
 *                       --rounds times (2), compared within this run by their medians; (r1): <n>
 *   --token-connections <list>  the connection counts of each token case (1,20)
 *   --no-write          print only; leave bench/results.md and results.svg alone (the figures
 *                       of every run are also kept in bench/tmp/last-run.json)
 *   --tessera-target <file>  another entry for the Tessera target (path relative to bench/targets/
 *                       or absolute), for what-if experiments; noted in results.md
 *   --replot <file>     write results.md/results.svg again from a saved run, measuring nothing
 *   --retries <n>       measure a case again, up to n times, when other processes were busy
 *                       during its run (2); the least disturbed run is kept
 *   --set NAME=VALUE    extra Tessera setting for a diagnostic run, e.g.
 *                       --set TESSERA_CACHE_MAX_AGE_MS=300000 (repeatable; noted in results.md)
 *   --loader <name>     the load generator: wrk (the default; apt-get install wrk) or autocannon
 *   --quiet-wait <s>    before each case, wait up to this long for processes outside the
 *                       benchmark to go quiet (< 20 % of a core) (180); their CPU during each
 *                       run is reported as "other CPU"
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { generateSigningKey } from '../src/config/load-config.ts';
import { startMongo, startRedis, type RunningServer } from '../test/support/servers.ts';
import { basicAuth } from './lib/basic-auth.ts';
import { runLoad, type Loader, type LoadRequest, type LoadResult } from './lib/load.ts';
import type { Measurable } from './lib/case.ts';
import { describeMachine, type Machine } from './lib/machine.ts';
import { createMeasurer } from './lib/measure.ts';
import { redisStats, type RedisStats } from './lib/redis-stats.ts';
import { consoleRatios, consoleTable, cpuPerRequest, evaluate, isTokenCase, markdown, svgChart, TARGET_VERIFY_P99_MS, type CaseGroup, type CaseResult, type Settings } from './lib/report.ts';
import { BENCH_SCOPES, seedTessera, type TesseraSeed } from './lib/seed.ts';
import { BENCH_DIR, TMP_DIR, killAllTargetsNow, startTarget, stopAllTargets, type Target } from './lib/targets.ts';
import { runTokenCases, TOKEN_CASE_IDS, TOKEN_CONNECTIONS, type TokenCaseDeps } from './lib/token-cases.ts';
import { commitOf, readGrowth, recordGrowth, tokenConsoleTable, tokenConsoleVerdicts, tokenMarkdown, tokenVerdicts, type TokenRunInfo } from './lib/token-report.ts';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    tokens: { type: 'string', default: '100' },
    'no-warn-variant': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    only: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
    'quiet-wait': { type: 'string', default: '180' },
    set: { type: 'string', multiple: true, default: [] },
    retries: { type: 'string', default: '2' },
    replot: { type: 'string' },
    'tessera-target': { type: 'string', default: 'tessera.ts' },
    loader: { type: 'string', default: 'wrk' },
    grants: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '2' },
    'token-connections': { type: 'string', default: TOKEN_CONNECTIONS.join(',') },
  },
  strict: true,
});

if (args.loader !== 'wrk' && args.loader !== 'autocannon') throw new Error(`--loader: expected wrk or autocannon, got "${args.loader}"`);
const LOADER: Loader = args.loader;
const DURATION = positive(args.duration, 'duration');
const WARMUP = positive(args.warmup, 'warmup', true);
const CONNECTIONS = positive(args.connections, 'connections');
const TOKENS = positive(args.tokens, 'tokens');
const GRANT_COUNTS = args.grants.split(',').map((n) => positive(n.trim(), 'grants', true));
const GRANTS = GRANT_COUNTS[0]!;
const ROUNDS = positive(args.rounds, 'rounds');
const TOKEN_CONNECTION_COUNTS = args['token-connections'].split(',').map((n) => positive(n.trim(), 'token-connections'));
/** Every result, as each case finishes: a later failure still prints and saves them. */
const results: CaseResult[] = [];
const ONLY = args.only ? new Set(args.only.split(',').map((s) => s.trim())) : null;
const wanted = (id: string): boolean => ONLY === null || ONLY.has(id);
const CORES = describeMachine().cores;
/** Before each case, wait for other processes to use less than this (% of one core)… */
const QUIET_PERCENT = 20;
/** …for at most this long. */
const QUIET_WAIT_MS = positive(args['quiet-wait'], 'quiet-wait', true) * 1000;
/** Measured runs disturbed by other processes are repeated this many times at most. */
const RETRIES = positive(args.retries, 'retries', true);

function positive(raw: string, name: string, zeroOk = false): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || (!zeroOk && n === 0)) throw new Error(`--${name}: expected a positive number, got "${raw}"`);
  return n;
}

/** Everything started here, stopped in reverse order whatever happens. */
const cleanups: Array<() => Promise<void>> = [];
let cleaningUp: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaningUp ??= (async () => {
    await stopAllTargets().catch(() => undefined);
    for (const step of cleanups.reverse()) await step().catch(() => undefined);
  })();
  return cleaningUp;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\nbench: ${signal}: stopping every server`);
    void cleanup().finally(() => process.exit(130));
  });
}
process.once('exit', killAllTargetsNow);

function requestsFor(path: string, authorization: string, tokens: string[]): LoadRequest[] {
  return tokens.map((token) => ({
    method: 'POST',
    path,
    headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }).toString(),
  }));
}

/** POST /v1/verify as a resource server calls it for a free request that needs one scope. */
function verifyRequestsFor(authorization: string, tokens: string[]): LoadRequest[] {
  return tokens.map((token) => ({
    method: 'POST',
    path: '/v1/verify',
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ token, cost: 0, required_scopes: ['leads:read'] }),
  }));
}

interface Case {
  id: string;
  label: string;
  group: CaseGroup;
  target: Target;
  requests: LoadRequest[];
  /** Checks one answer; returns what is wrong, or null. */
  check: (status: number, body: Record<string, unknown>) => string | null;
  /** Each token makes its one allowed request before the answers are checked (spent limits). */
  spendFirst?: boolean;
}

/** Makes each token's allowed request; the answer is VALID, or RATE_LIMITED once already spent. */
async function spend(c: Case): Promise<void> {
  const url = `http://127.0.0.1:${c.target.port}`;
  for (const request of c.requests) {
    const res = await fetch(`${url}${request.path}`, { method: request.method, headers: request.headers, body: request.body });
    const text = await res.text();
    const code = res.status === 200 ? (JSON.parse(text) as Record<string, unknown>)['code'] : undefined;
    if (code !== 'VALID' && code !== 'RATE_LIMITED') throw new Error(`(${c.id}) ${c.label}: spending the limit: expected VALID or RATE_LIMITED (HTTP ${res.status}):\n${text.slice(0, 500)}`);
  }
}

async function verify(c: Case): Promise<string> {
  const url = `http://127.0.0.1:${c.target.port}`;
  // Every token of the case, not just one: a misconfigured token set must not slip through.
  let first = '';
  for (const request of c.requests) {
    const res = await fetch(`${url}${request.path}`, { method: request.method, headers: request.headers, body: request.body });
    const text = await res.text();
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new Error(`(${c.id}) ${c.label}: answer is not JSON (HTTP ${res.status}): ${text.slice(0, 300)}`);
    }
    const problem = c.check(res.status, body);
    if (problem) throw new Error(`(${c.id}) ${c.label}: wrong answer (HTTP ${res.status}): ${problem}\n${text.slice(0, 500)}`);
    first ||= text;
  }
  return first;
}

const activeAs = (kind?: string) => (status: number, body: Record<string, unknown>): string | null => {
  if (status !== 200) return 'expected HTTP 200';
  if (body['active'] !== true) return 'expected active: true';
  if (kind !== undefined && body['kind'] !== kind) return `expected kind: ${kind}`;
  if (typeof body['sub'] !== 'string') return 'expected a sub';
  return null;
};
const inactive = (status: number, body: Record<string, unknown>): string | null =>
  status === 200 && body['active'] === false && Object.keys(body).length === 1 ? null : 'expected exactly {"active":false}';

/** A verification answer with this code, for a bearer of this kind, with its two request windows. */
const verifiedAs = (code: 'VALID' | 'RATE_LIMITED', kind: string) => (status: number, body: Record<string, unknown>): string | null => {
  if (status !== 200) return 'expected HTTP 200';
  if (body['code'] !== code || body['valid'] !== (code === 'VALID')) return `expected code: ${code}, valid: ${code === 'VALID'}`;
  const principal = body['principal'] as Record<string, unknown> | undefined;
  if (principal?.['kind'] !== kind || typeof principal['sub'] !== 'string') return `expected a principal of kind ${kind}`;
  const ratelimit = body['ratelimit'] as { remaining?: unknown; policies?: unknown[] } | undefined;
  if (ratelimit?.policies?.length !== 2) return 'expected two request windows (ratelimit.policies)';
  if (code === 'VALID' && !(typeof ratelimit.remaining === 'number' && ratelimit.remaining > 0)) return 'expected requests remaining';
  if (code === 'RATE_LIMITED' && typeof body['retry_after'] !== 'number') return 'expected retry_after';
  return null;
};

/** The benchmark's Redis, whose counters are read around the measured run of each case that uses it. */
let redisCounters: RedisStats | undefined;

const measure = createMeasurer({
  cores: CORES,
  warmupSeconds: WARMUP,
  durationSeconds: DURATION,
  quietPercent: QUIET_PERCENT,
  quietWaitMs: QUIET_WAIT_MS,
  retries: RETRIES,
  redis: () => redisCounters,
});

/** An introspection or verification case, measured as any other: --connections cycling through its requests. */
function measurable(c: Case): Measurable {
  const url = `http://127.0.0.1:${c.target.port}`;
  const load = (seconds: number): Promise<LoadResult> => runLoad({ loader: LOADER, url, requests: c.requests, connections: CONNECTIONS, durationSeconds: seconds });
  return {
    id: c.id,
    label: c.label,
    group: c.group,
    target: c.target,
    connections: CONNECTIONS,
    // Only Tessera uses MongoDB and Redis; for the other cases their (idle) CPU is not shown.
    usesStores: c.group === 'tessera' || c.group === 'tessera-warn',
    warmUp: load,
    prepare: async () => undefined,
    run: load,
    ...(args.profile && (c.group === 'tessera' || c.group === 'tessera-warn') ? { profileFile: `tessera-${c.group === 'tessera' ? 'info' : 'warn'}.cpuprofile` } : {}),
  };
}

/** --set NAME=VALUE overrides of the Tessera environment. */
const OVERRIDES: Record<string, string> = Object.fromEntries(
  (args.set ?? []).map((pair) => {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--set: expected NAME=VALUE, got "${pair}"`);
    return [pair.slice(0, eq), pair.slice(eq + 1)];
  }),
);

function tesseraEnv(mongo: RunningServer, redis: RunningServer, tag: string): Record<string, string> {
  const mongoUri = new URL(mongo.url);
  mongoUri.pathname = `/bench_${tag}`;
  return {
    NODE_ENV: 'production',
    BASE_URL: 'http://127.0.0.1:3000',
    MONGODB_URI: mongoUri.toString(),
    REDIS_URL: redis.url,
    TESSERA_REDIS_PREFIX: `bench:${tag}:`,
    TESSERA_COOKIE_KEYS: randomBytes(32).toString('base64url'),
    TESSERA_OAUTH_JWKS: JSON.stringify({ keys: [generateSigningKey()] }),
    TESSERA_SCOPES: BENCH_SCOPES.join(' '),
    ...OVERRIDES,
  };
}

/** Tessera on its embedded memory stores: NODE_ENV=development, the one mode that allows them. */
function embeddedEnv(): Record<string, string> {
  return {
    NODE_ENV: 'development',
    TESSERA_COOKIE_KEYS: randomBytes(32).toString('base64url'),
    TESSERA_OAUTH_JWKS: JSON.stringify({ keys: [generateSigningKey()] }),
    TESSERA_SCOPES: BENCH_SCOPES.join(' '),
    ...OVERRIDES,
  };
}

/** The MongoDB-wire server and Redis, started once, for whichever cases need them first. */
let servers: Promise<{ mongo: RunningServer; redis: RunningServer }> | undefined;
let settingsMongo = 'not used';
function stores(): Promise<{ mongo: RunningServer; redis: RunningServer }> {
  servers ??= (async () => {
    console.log('bench: starting MongoDB-compatible server and Redis…');
    const [mongo, redis] = await Promise.all([startMongo(), startRedis()]);
    cleanups.push(() => mongo.stop(), () => redis.stop());
    const counters = await redisStats(redis.url);
    redisCounters = counters;
    cleanups.push(() => counters.close());
    settingsMongo = mongo.kind === 'ferretdb' ? 'FerretDB (SQLite backend), the test suites’ MongoDB-wire server' : 'mongod (one-member replica set)';
    return { mongo, redis };
  })();
  return servers;
}

/** Names the databases and Redis prefixes of this run. */
const RUN_TAG = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;

async function startTessera(base: Record<string, string>, logLevel: string, logFile: string): Promise<Target> {
  rmSync(logFile, { force: true });
  if (args.profile) rmSync(join(TMP_DIR, 'profiles', `tessera-${logLevel}.cpuprofile`), { force: true });
  return startTarget(`tessera-${logLevel}`, args['tessera-target'], {
    env: { BENCH_TESSERA_ENV: JSON.stringify({ ...base, LOG_LEVEL: logLevel, TESSERA_LOG_FILE: logFile }) },
    nodeFlags: args.profile ? ['--cpu-prof', `--cpu-prof-dir=${join(TMP_DIR, 'profiles')}`, `--cpu-prof-name=tessera-${logLevel}.cpuprofile`] : [],
  });
}

function tesseraCases(target: Target, seed: TesseraSeed, group: CaseGroup): Case[] {
  const auth = basicAuth(seed.resourceServer.id, seed.resourceServer.secret);
  const suffix = group === 'tessera-warn' ? '-warn' : '';
  const note = group === 'tessera-warn' ? ', LOG_LEVEL=warn' : '';
  return [
    { id: `c${suffix}`, label: `Tessera, API keys${note}`, group, target, requests: requestsFor('/oauth/introspect', auth, seed.apiKeys), check: activeAs('api_key') },
    { id: `d${suffix}`, label: `Tessera, OAuth access tokens${note}`, group, target, requests: requestsFor('/oauth/introspect', auth, seed.accessTokens), check: activeAs('oauth') },
    { id: `e${suffix}`, label: `Tessera, unknown tokens${note}`, group, target, requests: requestsFor('/oauth/introspect', auth, seed.unknownTokens), check: inactive },
    { id: `f${suffix}`, label: `Tessera verify, API keys, 2 windows${note}`, group, target, requests: verifyRequestsFor(auth, seed.limitedKeys), check: verifiedAs('VALID', 'api_key') },
    { id: `g${suffix}`, label: `Tessera verify, OAuth access tokens, 2 windows${note}`, group, target, requests: verifyRequestsFor(auth, seed.limitedAccessTokens), check: verifiedAs('VALID', 'oauth') },
    { id: `h${suffix}`, label: `Tessera verify, API keys, limit spent${note}`, group, target, requests: verifyRequestsFor(auth, seed.spentKeys), check: verifiedAs('RATE_LIMITED', 'api_key'), spendFirst: true },
  ].filter((c) => wanted(c.id.replace('-warn', '')));
}

async function main(): Promise<void> {
  const machine = describeMachine();
  const commit = commitOf();
  mkdirSync(TMP_DIR, { recursive: true });
  console.log(`bench: ${machine.model}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}`);
  console.log(`bench: ${CONNECTIONS} connections, ${WARMUP} s warm-up + ${DURATION} s per case, ${TOKENS} tokens per case, load from ${LOADER}${args.profile ? ', Tessera under --cpu-prof' : ''}`);

  const needTessera = ['a', 'c', 'd', 'e', 'f', 'g', 'h'].some(wanted);
  const logFile = join(TMP_DIR, 'tessera-info.log');
  let cacheMaxAgeMs = 0;

  let seed: TesseraSeed | undefined;
  let base: Record<string, string> | undefined;
  let tessera: Target | undefined;
  let principalJson = '';
  if (needTessera) {
    const { mongo, redis } = await stores();
    base = tesseraEnv(mongo, redis, RUN_TAG);
    process.stdout.write(`bench: seeding ${TOKENS} API keys and ${TOKENS} OAuth access tokens, and as many again with limits (and ${TOKENS} keys with a spent one) for verification… `);
    const started = Date.now();
    seed = await seedTessera(base, TOKENS, join(TMP_DIR, 'seed.log'));
    console.log(`${((Date.now() - started) / 1000).toFixed(1)} s`);
    tessera = await startTessera(base, 'info', logFile);
    cacheMaxAgeMs = Number(tessera.info['cacheMaxAgeMs'] ?? 0);
    // (a) answers exactly the bytes Tessera answers for an API key.
    const auth = basicAuth(seed.resourceServer.id, seed.resourceServer.secret);
    principalJson = await verify({ id: 'c', label: 'Tessera, API keys', group: 'tessera', target: tessera, requests: requestsFor('/oauth/introspect', auth, seed.apiKeys.slice(0, 1)), check: activeAs('api_key') });
  }

  if (wanted('a')) {
    const bare = await startTarget('bare', 'bare.ts', { env: { BENCH_BODY: principalJson } });
    const tokens = seed!.apiKeys;
    const c: Case = { id: 'a', label: 'bare node:http, fixed principal', group: 'ceiling', target: bare, requests: requestsFor('/oauth/introspect', basicAuth('resource-server', 'x'), tokens), check: activeAs('api_key') };
    await verify(c);
    results.push(await measure(measurable(c)));
    await bare.stop();
  }

  if (wanted('b')) {
    const provider = await startTarget('oidc-provider', 'oidc-provider.ts', { env: { BENCH_TOKENS: String(TOKENS) } });
    const info = provider.info as { tokens: string[]; clientId: string; clientSecret: string; path: string };
    const c: Case = { id: 'b', label: 'oidc-provider built-in introspection', group: 'provider', target: provider, requests: requestsFor(info.path, basicAuth(info.clientId, info.clientSecret), info.tokens), check: activeAs() };
    await verify(c);
    results.push(await measure(measurable(c)));
    await provider.stop();
  }

  if (tessera && seed && base) {
    for (const c of tesseraCases(tessera, seed, 'tessera')) {
      if (c.spendFirst) await spend(c);
      await verify(c);
      results.push(await measure(measurable(c)));
    }
    await tessera.stop();
    if (!args['no-warn-variant']) {
      const warn = await startTessera(base, 'warn', join(TMP_DIR, 'tessera-warn.log'));
      for (const c of tesseraCases(warn, seed, 'tessera-warn')) {
        if (c.spendFirst) await spend(c);
        await verify(c);
        results.push(await measure(measurable(c)));
      }
      await warn.stop();
    }
  }

  let tokens: TokenRunInfo | undefined;
  if (TOKEN_CASE_IDS.some(wanted)) {
    if (LOADER !== 'wrk') throw new Error('the token cases (r0 r1 r2 x) need wrk: they keep their tokens in a wrk Lua script');
    const deps: TokenCaseDeps = {
      wanted,
      measure,
      tesseraEnv: async (mode, tag) => {
        if (mode === 'embedded') return embeddedEnv();
        const { mongo, redis } = await stores();
        return tesseraEnv(mongo, redis, `${tag}_${RUN_TAG}`);
      },
      mongoLabel: () => settingsMongo,
      grants: GRANTS,
      grantCounts: GRANT_COUNTS,
      rounds: ROUNDS,
      connections: TOKEN_CONNECTION_COUNTS,
      profile: args.profile,
      tmpDir: TMP_DIR,
      tesseraTarget: args['tessera-target'],
    };
    tokens = await runTokenCases(deps, results);
  }

  await cleanup();
  if (args.profile) {
    console.log(`\nbench: CPU profiles of the Tessera targets are in ${relative(process.cwd(), join(TMP_DIR, 'profiles'))}/; the measured runs:`);
    for (const r of results.filter((x) => x.profileFile !== undefined)) {
      console.log(`  (${r.id}) node --disable-warning=ExperimentalWarning bench/profile-summary.ts bench/tmp/profiles/${r.profileFile} ${r.load.total} --window ${r.window.fromUs}:${r.window.toUs}`);
    }
  }

  // Only plain runs go into the growth comparison: a profiled, --set or what-if run measures something else.
  const plain = !args.profile && Object.keys(OVERRIDES).length === 0 && args['tessera-target'] === 'tessera.ts';
  // A run of several counts compares them itself (token-report.ts, withinRunGrowthVerdicts).
  const growth = GRANT_COUNTS.length > 1 ? {} : tokens && plain ? recordGrowth(GROWTH_FILE, results, GRANTS, machine.date, commit, { warmupSeconds: WARMUP, durationSeconds: DURATION }) : readGrowth(GROWTH_FILE);
  printResults(results, growth);

  const settings: Settings = {
    connections: CONNECTIONS,
    warmupSeconds: WARMUP,
    durationSeconds: DURATION,
    tokens: TOKENS,
    cacheMaxAgeMs,
    mongo: settingsMongo,
    logFile: relative(join(BENCH_DIR, '..'), logFile),
    profiled: args.profile,
    overrides: OVERRIDES,
    tesseraTarget: args['tessera-target'],
    loader: LOADER,
  };
  const run: SavedRun = { machine, settings, results, ...(tokens ? { tokens } : {}) };
  writeFileSync(join(TMP_DIR, 'last-run.json'), `${JSON.stringify(run, null, 2)}\n`);
  if (!args['no-write']) writeReport(run, growth);
}

/** The token cases' (r2)(x) figures per --grants count, across runs (token-report.ts). */
const GROWTH_FILE = join(TMP_DIR, 'token-growth.json');

function printResults(results: CaseResult[], growth: ReturnType<typeof readGrowth>): void {
  const classic = results.filter((r) => !isTokenCase(r));
  if (classic.length > 0) {
    const { ratios, verdicts } = evaluate(new Map(classic.map((r) => [r.id, r])));
    console.log(`\n${consoleTable(classic)}\n\n${consoleRatios(ratios, verdicts)}\n`);
  }
  if (results.some(isTokenCase)) {
    console.log(`\nToken endpoint:\n${tokenConsoleTable(results)}\n\n${tokenConsoleVerdicts(tokenVerdicts(results, growth))}\n`);
  }
}

interface SavedRun {
  machine: Machine;
  settings: Settings;
  results: CaseResult[];
  /** The token cases' seeding, when they ran. */
  tokens?: TokenRunInfo;
}

/** What the figures of a run say beyond the table, computed from them. */
function notesOf({ settings, results }: SavedRun): string[] {
  const notes: string[] = [];
  const rps = (r: CaseResult): string => Math.round(r.load.requestsPerSecond).toLocaleString('en-US');
  for (const id of ['c', 'd', 'e', 'f', 'g', 'h']) {
    const info = results.find((r) => r.id === id);
    const warn = results.find((r) => r.id === `${id}-warn`);
    if (!info || !warn) continue;
    notes.push(
      `(${id}) at LOG_LEVEL=info vs warn: ${rps(info)} vs ${rps(warn)} req/s, ${cpuPerRequest(info)?.toFixed(0)} vs ${cpuPerRequest(warn)?.toFixed(0)} µs of server CPU per request — ` +
        'the access log (one line per request) is the only configured difference (the warn cases run later, in a fresh process: see the drift caveat above).',
    );
  }
  // A closed loop that keeps the server's one core busy: a request waits for the server's pass
  // over every connection's request, and for a second one when it arrives just after a pass began.
  const passes = results.filter((r) => ['a', 'c', 'd', 'f', 'g'].includes(r.id) && cpuPerRequest(r) !== null);
  if (passes.length > 0) {
    notes.push(
      `Latency follows CPU per request: with every connection waiting on one busy core, a request waits one to two passes over all ${settings.connections} connections, so p99 ≈ 2 × ${settings.connections} × server CPU per request — ` +
        passes.map((r) => `(${r.id}) 2 × ${settings.connections} × ${cpuPerRequest(r)!.toFixed(0)} µs = ${((2 * settings.connections * cpuPerRequest(r)!) / 1000).toFixed(1)} ms, measured ${r.load.p99.toFixed(1)} ms`).join('; ') +
        `. A p99 of 10 ms at 50 connections needs about 100 µs of CPU per request or less; ${TARGET_VERIFY_P99_MS} ms at ${settings.connections}, about ${((TARGET_VERIFY_P99_MS * 1000) / (2 * settings.connections)).toFixed(0)} µs.`,
    );
  }
  const verifying = results.filter((r) => ['f', 'g', 'h'].includes(r.id));
  const c = results.find((r) => r.id === 'c');
  if (verifying.length > 0 && c) {
    const cost = (r: CaseResult): string => (cpuPerRequest(r) === null || cpuPerRequest(c) === null ? '' : `, ${(cpuPerRequest(r)! - cpuPerRequest(c)!).toFixed(0)} µs more CPU per request`);
    notes.push(
      'Verification against introspection of API keys (c): ' +
        verifying.map((r) => `(${r.id}) ${((r.load.requestsPerSecond / c.load.requestsPerSecond) * 100).toFixed(0)} % of its req/s${cost(r)}`).join('; ') +
        '. A verification also parses and validates a JSON body, decides and counts its windows in Redis (awaited, in a script call it shares with the requests that arrived with it), and answers the principal with its windows.',
    );
  }
  const counted = verifying.filter((r) => r.redis && r.redis.roundTrips > 0);
  if (counted.length > 0) {
    notes.push(
      'Redis per request, from its counters around the measured run: ' +
        counted
          .map((r) => `(${r.id}) ${r.redis!.scriptCalls.toFixed(3)} script calls, ${r.redis!.commands.toFixed(2)} commands (those the script runs included), ${r.redis!.roundTrips.toFixed(3)} round trips — ${(1 / r.redis!.roundTrips).toFixed(1)} requests a round trip`)
          .join('; ') +
        '. One script call decides the admissions of the requests that arrived together (up to 16), each atomically.',
    );
  }
  const cached = results.filter((r) => r.cache && r.cache.lookups > 0);
  if (cached.length > 0) {
    notes.push(
      `Principal cache (entries trusted for at most ${settings.cacheMaxAgeMs} ms): store resolutions during the measured runs — ` +
        cached.map((r) => `(${r.id}) ${r.cache!.resolves} (${(r.cache!.resolves / r.load.durationSeconds).toFixed(0)}/s for ${settings.tokens} tokens)`).join(', ') +
        '. Each one reads MongoDB; the "MongoDB server CPU" column is what that server spent meanwhile, on the same cores.',
    );
  }
  const noisy = results.filter((r) => (r.otherCpu ?? 0) > QUIET_PERCENT);
  if (noisy.length > 0) {
    notes.push(`**Other processes were busy during ${noisy.map((r) => `(${r.id})`).join(', ')}** (the "other CPU" column): those figures are lower than this machine can do.`);
  }
  if (settings.tesseraTarget !== undefined && settings.tesseraTarget !== 'tessera.ts') {
    notes.push(`**What-if run:** the Tessera target was \`${settings.tesseraTarget}\`, not bench/targets/tessera.ts.`);
  }
  const overrides = Object.entries(settings.overrides ?? {});
  if (overrides.length > 0) notes.push(`**Diagnostic run:** Tessera ran with ${overrides.map(([k, v]) => `\`${k}=${v}\``).join(', ')} (not its defaults).`);
  return notes;
}

/** bench/results.md and bench/results.svg (introspection and verification only) from one run's figures. */
function writeReport(run: SavedRun, growth: ReturnType<typeof readGrowth>): void {
  const { machine, settings, results } = run;
  const classic = results.filter((r) => !isTokenCase(r));
  const notes = notesOf(run);
  const { ratios, verdicts } = evaluate(new Map(classic.map((r) => [r.id, r])));
  const tokenSection = run.tokens ? tokenMarkdown(results, tokenVerdicts(results, growth), run.tokens, settings) : '';
  if (classic.length > 0) writeFileSync(join(BENCH_DIR, 'results.svg'), svgChart(classic, `POST introspection and verification on loopback, ${settings.connections} connections — ${machine.cores} × ${machine.model}`));
  writeFileSync(join(BENCH_DIR, 'results.md'), markdown(machine, settings, results, ratios, verdicts, notes, tokenSection));
  console.log(`bench: wrote bench/results.md${classic.length > 0 ? ' and bench/results.svg' : ''}`);
}

try {
  if (args.replot) {
    // Re-render the report of a saved run (bench/tmp/last-run.json) without measuring anything.
    const run = JSON.parse(readFileSync(args.replot, 'utf8')) as SavedRun;
    const growth = readGrowth(GROWTH_FILE);
    printResults(run.results, growth);
    writeReport(run, growth);
  } else {
    await main();
  }
} catch (error) {
  console.error(`\nbench: FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  await cleanup();
  if (results.length > 0) {
    // What was measured before the failure is still worth seeing (not written to results.md).
    console.log('\nbench: the cases measured before the failure:');
    printResults(results, readGrowth(GROWTH_FILE));
    writeFileSync(join(TMP_DIR, 'failed-run.json'), `${JSON.stringify({ machine: describeMachine(), results }, null, 2)}\n`);
  }
  process.exitCode = 1;
}
