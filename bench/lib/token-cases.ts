/**
 * The token endpoint's cases, each at 1 and at 20 connections:
 *
 *   (r0) plain oidc-provider 9, refresh_token grants, in-memory adapter (bench/targets/oidc-provider-tokens.ts)
 *   (r1) Tessera POST /oauth/token, refresh_token grants, embedded memory stores
 *   (r2) … on FerretDB (or mongod) and Redis
 *   (x)  … authorization_code grants, on FerretDB and Redis
 *
 * Refresh tokens are chained (bench/lib/wrk-token-queue.lua): each is presented once, and the
 * answer's refresh token is the next of its chain. Every run gets fresh chains — those in flight
 * when a run ends are lost with it, since their answers were never read — two per connection, or
 * MEMORY_CHAINS for the memory cases.
 * Tessera's chains are copies of a real connection (made through its pages, then a code exchange)
 * written straight into its stores (bench/lib/grant-growth.ts), (r0)'s are made with its own
 * models; (x)'s codes are copies of a real one (bench/lib/code-clones.ts). Copies, because the
 * pages cost ~80 ms a code on FerretDB (FerretDB's SQLite backend scans for every lookup by _id,
 * so more as collections fill), too slow for 40 chains a run or for codes enough for a run. Each chain's first refresh and a few codes are checked over HTTP before
 * every run (bench/lib/token-checks.ts): the measured requests meet only records that answered.
 *
 * `--grants N` existing grants are seeded into (r1)'s memory stores and (r2)(x)'s database first,
 * copies of the same real grant; how long that takes is reported.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Measurable } from './case.ts';
import { basicAuth } from './basic-auth.ts';
import { cloneCodesInMongo, readCodeTemplate, type CodeTemplate } from './code-clones.ts';
import { cloneGrantsInMongo, type Cloned, type CloneRequest, type TemplateIds } from './grant-growth.ts';
import type { LoadResult } from './load.ts';
import { runTokenQueue, type TokenLoadResult, type TokenQueue } from './load-tokens.ts';
import { assertClean } from './measure.ts';
import { OAuthBrowser, codeExchangeBody, mintCode, type MintedCode } from './oauth-pages.ts';
import type { CaseGroup, CaseResult } from './report.ts';
import { startTarget, type Target } from './targets.ts';
import { REFRESH_PREFIX, checkedFirstRefreshes, checkedTokenRequest, type TokenEndpoint } from './token-checks.ts';
import { tokenFixture, type TokenFixture } from './token-fixture.ts';
import type { TokenRunInfo } from './token-report.ts';

export const TOKEN_CASE_IDS = ['r0', 'r1', 'r2', 'x'] as const;
/** Each token case runs at each of these connection counts (--token-connections). */
export const TOKEN_CONNECTIONS = [1, 20];
/**
 * Chains per run of the memory cases (r0)(r1), at least. oidc-provider's in-memory adapter bounds
 * them both ways (lib/adapters/memory_adapter.js):
 * - long chains measure the adapter, not the refresh: it keeps every token of a grant in one map
 *   and walks it on every write (setGrantMembers). With 2 chains at 1,500 refreshes/s a grant holds
 *   thousands of tokens within seconds and (r0) spent 65 % of its time there (a connector refreshing
 *   hourly leaves ~1,440 refresh tokens on its grant in 60 days);
 * - it is an LRU of 1,000 entries: with 256 chains a chain's grant was evicted between two of its
 *   refreshes (invalid_grant, grant not found).
 * 64 chains keep ~200 entries live and a run's chains to a few hundred refreshes each. The FerretDB
 * cases keep two per connection: at tens of refreshes a second their chains stay short, and every
 * copy more is a document FerretDB scans.
 */
const MEMORY_CHAINS = 64;
/** Codes live 60 s (src/oauth/provider.ts ttl.AuthorizationCode): a measured run of (x) must end well before. */
const CODE_RUN_MAX_S = 45;
/** Codes exchanged and checked out of each batch before its run. */
const CODES_CHECKED = 3;

export interface TokenCaseDeps {
  wanted(id: string): boolean;
  measure(m: Measurable): Promise<CaseResult>;
  /** Tessera's environment: on the benchmark's MongoDB-wire server and Redis (database bench_<tag>), or embedded. */
  tesseraEnv(stores: 'external' | 'embedded', tag: string): Promise<Record<string, string>>;
  /** The label of the MongoDB-wire server, for the report. */
  mongoLabel(): string;
  grants: number;
  /**
   * The grant counts (r2) and (x) run against: `grants` alone, or several — each in a database
   * of its own, seeded first — whose cases then alternate, `rounds` times, so that the counts are
   * compared within one run (the machine's speed drifts between runs).
   */
  grantCounts?: number[];
  rounds?: number;
  connections: number[];
  profile: boolean;
  tmpDir: string;
  tesseraTarget: string;
}

interface CaseBase {
  id: string;
  label: string;
  group: CaseGroup;
  target: Target;
  usesStores: boolean;
  profileFile?: string;
  grants?: number;
}

/** Runs the wanted token cases, adding each result to `results` as it comes (a later failure keeps them). */
export async function runTokenCases(deps: TokenCaseDeps, results: CaseResult[]): Promise<TokenRunInfo> {
  const info: TokenRunInfo = { grants: deps.grants, connections: deps.connections, seedSeconds: { mongo: null, memory: null }, mongo: deps.mongoLabel() };
  const each = async (make: (connections: number) => Measurable): Promise<void> => {
    for (const connections of deps.connections) results.push(await deps.measure(make(connections)));
  };

  if (deps.wanted('r0')) {
    const target = await startTarget('oidc-provider-tokens', 'oidc-provider-tokens.ts');
    const i = target.info as { connector: { id: string; secret: string }; resourceServer: { id: string; secret: string }; tokenPath: string; introspectionPath: string };
    const endpoint: TokenEndpoint = { url: `http://127.0.0.1:${target.port}`, tokenPath: i.tokenPath, introspectionPath: i.introspectionPath, connectorAuth: basicAuth(i.connector.id, i.connector.secret), introspectorAuth: basicAuth(i.resourceServer.id, i.resourceServer.secret) };
    const mint = async (count: number): Promise<string[]> => checkedFirstRefreshes(endpoint, await target.command<string[]>('mint-chains', { count }), '(r0)');
    await each((connections) => chainCase({ id: `r0/${connections}`, label: 'oidc-provider refresh, in-memory', group: 'token-provider', target, usesStores: false }, endpoint, connections, MEMORY_CHAINS, mint, deps.tmpDir));
    await target.stop();
  }

  if (deps.wanted('r1')) {
    const tessera = await startTokenTessera(deps, 'embedded', 'r1');
    process.stdout.write(`bench: seeding ${deps.grants.toLocaleString('en-US')} grants into (r1)'s memory stores (through their ports)… `);
    const started = Date.now();
    const written = await tessera.clone({ count: deps.grants, kind: 'growth' });
    info.seedSeconds.memory = (Date.now() - started) / 1000;
    console.log(`${info.seedSeconds.memory.toFixed(2)} s (${describe(written)})`);
    const base = { label: 'Tessera refresh, memory stores', group: 'token-tessera' as const, target: tessera.target, usesStores: false, grants: deps.grants, ...tessera.profile };
    await each((connections) => chainCase({ ...base, id: `r1/${connections}` }, tessera.endpoint, connections, MEMORY_CHAINS, (count) => tesseraChains(tessera, count), deps.tmpDir));
    await tessera.target.stop();
  }

  if (deps.wanted('r2') || deps.wanted('x')) {
    const counts = deps.grantCounts ?? [deps.grants];
    const several = counts.length > 1;
    if (several) info.grantCounts = counts;
    const stages: Array<{ tessera: TokenTessera; codeTemplate: CodeTemplate | null; base: Omit<CaseBase, 'id' | 'label'>; suffix: string }> = [];
    for (const grants of counts) {
      const tessera = await startTokenTessera(deps, 'external', several ? `r2x${grants}` : 'r2x');
      // The code's template first: on FerretDB the pages slow down as the collections grow.
      const codeTemplate = deps.wanted('x') ? await templateCode(tessera) : null;
      process.stdout.write(`bench: seeding ${grants.toLocaleString('en-US')} grants into FerretDB/MongoDB (bulk inserts)… `);
      const started = Date.now();
      const written = await tessera.clone({ count: grants, kind: 'growth' });
      const seconds = (Date.now() - started) / 1000;
      info.seedSeconds.mongo = (info.seedSeconds.mongo ?? 0) + seconds;
      console.log(`${seconds.toFixed(1)} s (${describe(written)})`);
      info.pages = await timePages(tessera);
      console.log(`bench: the pages with ${grants.toLocaleString('en-US')} grants stored: sign-in and consent ${info.pages.firstMs.toFixed(0)} ms, then ${info.pages.consents} consents ${info.pages.consentMs.toFixed(1)} ms each (median; ${info.pages.consentP90Ms.toFixed(1)} ms p90)`);
      stages.push({ tessera, codeTemplate, base: { group: 'token-tessera' as const, target: tessera.target, usesStores: true, grants, ...tessera.profile }, suffix: several ? `@${grants}` : '' });
    }
    const rounds = several ? (deps.rounds ?? 1) : 1;
    for (let round = 0; round < rounds; round++) {
      for (const connections of deps.connections) {
        for (const { tessera, base, suffix } of stages) {
          if (deps.wanted('r2')) results.push(await deps.measure(chainCase({ ...base, id: `r2/${connections}${suffix}`, label: 'Tessera refresh, FerretDB + Redis' }, tessera.endpoint, connections, 0, (count) => tesseraChains(tessera, count), deps.tmpDir)));
        }
      }
      for (const connections of deps.connections) {
        for (const { tessera, codeTemplate, base, suffix } of stages) {
          if (codeTemplate) results.push(await deps.measure(codeCase({ ...base, id: `x/${connections}${suffix}`, label: 'Tessera code exchange, FerretDB + Redis' }, tessera, codeTemplate, connections, deps.tmpDir)));
        }
      }
    }
    for (const { tessera } of stages) await tessera.target.stop();
  }
  info.mongo = deps.mongoLabel();
  return info;
}

// ---------------------------------------------------------------------------------------------
// Tessera for the token cases

const describe = (cloned: Cloned): string => Object.entries(cloned.written).map(([what, n]) => `${n.toLocaleString('en-US')} ${what}`).join(', ');

interface TokenTessera {
  target: Target;
  env: Record<string, string>;
  baseUrl: string;
  fixture: TokenFixture;
  endpoint: TokenEndpoint;
  /** The browser that made the templates (signed in once). */
  browser: OAuthBrowser;
  /** Copies of the template grant (a real connection) into the stores. */
  clone(request: CloneRequest): Promise<Cloned>;
  profile: { profileFile?: string };
}

async function startTokenTessera(deps: TokenCaseDeps, stores: 'external' | 'embedded', name: string): Promise<TokenTessera> {
  const fixture = tokenFixture();
  const seedFile = join(deps.tmpDir, `tokens-seed-${name}.json`);
  writeFileSync(seedFile, JSON.stringify(fixture.seed));
  const env: Record<string, string> = { ...(await deps.tesseraEnv(stores, `tok_${name}`)), BASE_URL: 'auto', TESSERA_SEED: seedFile, LOG_LEVEL: 'info', TESSERA_LOG_FILE: join(deps.tmpDir, `tessera-tokens-${name}.log`) };
  const profileFile = deps.profile ? `tessera-${name}.cpuprofile` : undefined;
  const target = await startTarget(`tessera-tokens-${name}`, deps.tesseraTarget, {
    env: { BENCH_TESSERA_ENV: JSON.stringify(env) },
    nodeFlags: profileFile ? ['--cpu-prof', `--cpu-prof-dir=${join(deps.tmpDir, 'profiles')}`, `--cpu-prof-name=${profileFile}`] : [],
  });
  const baseUrl = String(target.info['baseUrl']);
  const endpoint: TokenEndpoint = {
    url: baseUrl,
    tokenPath: '/oauth/token',
    introspectionPath: '/oauth/introspect',
    connectorAuth: basicAuth(fixture.connector.id, fixture.connector.secret),
    introspectorAuth: basicAuth(fixture.resourceServer.id, fixture.resourceServer.secret),
  };
  const browser = new OAuthBrowser();
  const template = await templateGrant(browser, baseUrl, fixture, endpoint);
  return {
    target,
    env,
    baseUrl,
    fixture,
    endpoint,
    browser,
    clone: (request) => (stores === 'embedded' ? target.command<Cloned>('clone-grants', { template, request }) : cloneGrantsInMongo(env['MONGODB_URI']!, template, request)),
    profile: profileFile ? { profileFile } : {},
  };
}

const PAGE_CONSENTS = 20;

/**
 * How long a person takes through the pages with the grants stored: a new browser's first
 * connection (authorize, sign in, consent: the sign-in is an argon2id verification), then
 * PAGE_CONSENTS more on its session (authorize, consent page, confirm — a grant and a connected
 * app recorded —, resume), one at a time. Their codes are left to expire.
 */
async function timePages(tessera: TokenTessera): Promise<NonNullable<TokenRunInfo['pages']>> {
  const browser = new OAuthBrowser();
  let started = performance.now();
  await mintCode(browser, tessera.baseUrl, tessera.fixture);
  const firstMs = performance.now() - started;
  const each: number[] = [];
  for (let i = 0; i < PAGE_CONSENTS; i++) {
    started = performance.now();
    await mintCode(browser, tessera.baseUrl, tessera.fixture);
    each.push(performance.now() - started);
  }
  each.sort((a, b) => a - b);
  return { firstMs, consents: PAGE_CONSENTS, consentMs: each[Math.floor(each.length / 2)]!, consentP90Ms: each[Math.floor(each.length * 0.9)]! };
}

/** `count` new chains, copies of the template connection, each one's first refresh checked; their next refresh tokens. */
async function tesseraChains(tessera: TokenTessera, count: number): Promise<string[]> {
  const { refreshTokens } = await tessera.clone({ count, kind: 'chains' });
  return checkedFirstRefreshes(tessera.endpoint, refreshTokens, 'Tessera');
}

/**
 * One real connection — authorization, sign-in and consent on the pages, the code exchanged —
 * whose records the copies repeat. Its refresh token is never presented (a copy's must not be
 * consumed); its access token is introspected (the connected app's last use is recorded).
 */
async function templateGrant(browser: OAuthBrowser, baseUrl: string, fixture: TokenFixture, endpoint: TokenEndpoint): Promise<TemplateIds> {
  const code = await mintCode(browser, baseUrl, fixture);
  const tokens = await checkedTokenRequest(endpoint, codeExchangeBody(code, fixture), 'Tessera: the template connection');
  const res = await fetch(`${baseUrl}/oauth/introspect`, { method: 'POST', headers: { authorization: endpoint.introspectorAuth, 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${tokens.access_token}` });
  const { grant_id: grantId } = (await res.json()) as { grant_id?: string };
  if (typeof grantId !== 'string') throw new Error('introspection of the template connection named no grant_id');
  return { grantId, refreshToken: tokens.refresh_token, accessToken: tokens.access_token };
}

/** One real code (through the pages), read back before it is redeemed; then redeemed and checked. */
async function templateCode(tessera: TokenTessera): Promise<CodeTemplate> {
  const code = await mintCode(tessera.browser, tessera.baseUrl, tessera.fixture);
  const template = await readCodeTemplate(tessera.env['MONGODB_URI']!, code.code);
  await checkedTokenRequest(tessera.endpoint, codeExchangeBody(code, tessera.fixture), 'Tessera: the template code');
  return template;
}

// ---------------------------------------------------------------------------------------------
// The two kinds of case

/** Refresh chains: fresh ones for the warm-up and for the measured run, two per connection or `minChains`. */
function chainCase(base: CaseBase, endpoint: TokenEndpoint, connections: number, minChains: number, mint: (count: number) => Promise<string[]>, tmpDir: string): Measurable {
  const chains = Math.max(2 * connections, minChains);
  let measured: string[] = [];
  const run = async (heads: string[], seconds: number): Promise<LoadResult> => {
    const queue: TokenQueue = { path: endpoint.tokenPath, authorization: endpoint.connectorAuth, mode: { kind: 'chain', prefix: REFRESH_PREFIX }, bodies: heads.map((h) => `${REFRESH_PREFIX}${h}`) };
    return assertAnswers(base, await runTokenQueue(endpoint.url, queue, connections, seconds, tmpDir), true);
  };
  return {
    ...base,
    label: `${base.label}, ${connections} connection${connections === 1 ? '' : 's'}`,
    connections,
    warmUp: async (seconds) => run(await mint(chains), seconds),
    prepare: async () => {
      measured = await mint(chains);
    },
    run: (seconds) => run(measured, seconds),
  };
}

/**
 * Codes, each exchanged once. The warm-up goes in rounds until it has been busy its seconds: the
 * first is small (a few codes per connection), the next follow the rate measured — codes minted
 * and never used would stay in the collection until swept, and on FerretDB every document stored
 * slows every lookup. The measured run gets 1.3× what the warm-up's rate says it needs, and ends
 * early (rate over its busy time) if they run out.
 */
function codeCase(base: CaseBase, tessera: TokenTessera, template: CodeTemplate, connections: number, tmpDir: string): Measurable {
  let rate: number | null = null;
  let measured: MintedCode[] = [];
  const mongoUri = tessera.env['MONGODB_URI']!;
  const mint = async (count: number): Promise<MintedCode[]> => {
    const codes = await cloneCodesInMongo(mongoUri, template, count + CODES_CHECKED);
    for (const code of codes.slice(0, CODES_CHECKED)) await checkedTokenRequest(tessera.endpoint, codeExchangeBody(code, tessera.fixture), `(${base.id}) a copied code's exchange`);
    return codes.slice(CODES_CHECKED);
  };
  const run = async (codes: MintedCode[], seconds: number): Promise<TokenLoadResult> => {
    const queue: TokenQueue = { path: '/oauth/token', authorization: tessera.endpoint.connectorAuth, mode: { kind: 'once' }, bodies: codes.map((c) => codeExchangeBody(c, tessera.fixture)) };
    const load = await runTokenQueue(tessera.baseUrl, queue, connections, Math.max(1, Math.ceil(seconds)), tmpDir);
    rate = load.requestsPerSecond;
    return assertAnswers(base, load, false);
  };
  const needed = (seconds: number): number => (rate === null ? 4 * connections + 10 : Math.ceil(rate * seconds * 1.3) + 2 * connections);
  return {
    ...base,
    label: `${base.label}, ${connections} connection${connections === 1 ? '' : 's'}`,
    connections,
    warmUp: async (seconds) => {
      let busy = 0;
      let last: TokenLoadResult | undefined;
      for (let round = 0; round < 8 && busy < seconds - 0.5; round++) {
        last = await run(await mint(needed(seconds - busy)), seconds - busy);
        assertClean(base, last, 'warm-up');
        busy += last.durationSeconds;
      }
      return last!;
    },
    prepare: async (seconds) => {
      if (seconds > CODE_RUN_MAX_S) throw new Error(`(${base.id}): codes live 60 s, so a measured run of (x) may last ${CODE_RUN_MAX_S} s at most (--duration)`);
      measured = await mint(needed(seconds));
    },
    run: (seconds) => run(measured, seconds),
  };
}

/** What the Lua queue saw: every 200 a Bearer answer with a new refresh token; chains never lost. */
function assertAnswers(base: CaseBase, load: TokenLoadResult, chained: boolean): TokenLoadResult {
  const lost = chained && load.exhausted;
  if (load.malformed > 0 || load.repeated > 0 || lost) {
    throw new Error(`(${base.id}) ${base.label}: wrong answers during the run — ${load.malformed} without token_type Bearer or a refresh token, ${load.repeated} with a refresh token seen before${lost ? ', and the chains ran out (a chain is lost when its answer has no new refresh token)' : ''}`);
  }
  return load;
}
