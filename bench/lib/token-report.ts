/**
 * The token endpoint's part of the output: its table (per case and connection count: req/s,
 * latency, CPU per request of the server and of each store process), its targets, and the
 * comparison of (r2) and (x) between runs with different --grants, kept across runs in
 * bench/tmp/token-growth.json (a run at 1,000 grants and one at 100,000 are compared, whichever
 * came first).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpuPerRequest, isTokenCase, rate, type CaseResult, type Verdict } from './report.ts';

export const TARGET_R1_SHARE_OF_R0 = 0.8;
export const TARGET_REFRESH_CPU_US = 2_000;
export const TARGET_R2_P99_MS = 1_000;
/** (r2) and (x) at the fewest vs the most grants: throughput and store CPU per request within this. */
export const TARGET_GROWTH_CHANGE = 0.2;

/** What the report says about the run's seeding. */
export interface TokenRunInfo {
  grants: number;
  /** The counts (r2) and (x) ran against, a database each, when several (`--grants n,m`). */
  grantCounts?: number[];
  /** The connection counts each case ran at (absent in runs saved before they were recorded). */
  connections?: number[];
  /** Seconds the bulk seeding of --grants took on FerretDB, every count's together (and through the memory store ports), null when not done. */
  seedSeconds: { mongo: number | null; memory: number | null };
  mongo: string;
  /** The pages on FerretDB after seeding (bench/lib/token-cases.ts timePages): a first connection with sign-in, then consents; of the last count, when several. */
  pages?: { firstMs: number; consents: number; consentMs: number; consentP90Ms: number };
}

const storeUs = (r: CaseResult): number | null => {
  const s = r.storeUsPerRequest;
  return !s || (s.mongo === null && s.redis === null) ? null : (s.mongo ?? 0) + (s.redis ?? 0);
};
const int = (v: number): string => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '–');
const ms = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : '–');
const us = (v: number | null | undefined): string => (v === null || v === undefined ? '–' : Math.round(v).toLocaleString('en-US'));
const pct = (v: number): string => `${(v * 100).toFixed(1)} %`;

const HEADER = ['case', 'what', 'conns', 'grants', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'requests', 'server CPU µs/req', '… system', 'FerretDB/mongod µs/req', 'Redis µs/req', 'stores µs/req', 'server CPU', 'other CPU', 'note'];

function rows(results: CaseResult[]): string[][] {
  return results.filter(isTokenCase).map((r) => [
    `(${r.id})`,
    r.label,
    String(r.connections ?? '–'),
    r.grants === undefined ? '–' : int(r.grants),
    rate(r.load.requestsPerSecond),
    ms(r.load.p50),
    ms(r.load.p99),
    ms(r.load.max),
    int(r.load.total),
    us(cpuPerRequest(r)),
    us(r.serverSystemUsPerRequest),
    us(r.storeUsPerRequest?.mongo),
    us(r.storeUsPerRequest?.redis),
    us(storeUs(r)),
    r.serverCpu === null ? '–' : `${r.serverCpu.toFixed(0)} %`,
    r.otherCpu === null ? '–' : `${r.otherCpu.toFixed(0)} %`,
    r.load.exhausted ? `codes used up after ${r.load.durationSeconds.toFixed(1)} s` : '',
  ]);
}

export function tokenConsoleTable(results: CaseResult[]): string {
  const body = rows(results);
  if (body.length === 0) return '';
  const widths = HEADER.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i <= 1 || i === HEADER.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(HEADER), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Targets (printed, not enforced)

interface GrowthEntry {
  date: string;
  /** The commit measured, `+` when src/ had changes not committed: runs of different code are not comparable. */
  commit?: string;
  /** Warm-up and measured seconds: a short run on FerretDB meets fewer of its own writes. */
  seconds?: string;
  cases: Record<string, { rps: number; storeUs: number | null; serverUs: number | null }>;
}
export type GrowthFile = Record<string, GrowthEntry>;

export function readGrowth(file: string): GrowthFile {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as GrowthFile) : {};
}

/**
 * Records this run's (r2) and (x) figures under its grant count; returns every run's. `commit`:
 * what commitOf() said when the run started — the targets import src/ as it is when each case
 * starts, so a run during which it changed is marked `start→end`.
 */
export function recordGrowth(file: string, results: CaseResult[], grants: number, date: string, commit: string, seconds: { warmupSeconds: number; durationSeconds: number }): GrowthFile {
  const all = readGrowth(file);
  const growing = results.filter((r) => /^(r2|x)\//.test(r.id));
  if (growing.length === 0) return all;
  const entry: GrowthEntry = all[String(grants)] ?? { date, cases: {} };
  entry.date = date;
  const now = commitOf();
  entry.commit = now === commit ? now : `${commit}→${now}`;
  entry.seconds = `${seconds.warmupSeconds}+${seconds.durationSeconds} s`;
  for (const r of growing) entry.cases[r.id] = { rps: r.load.requestsPerSecond, storeUs: storeUs(r), serverUs: cpuPerRequest(r) };
  all[String(grants)] = entry;
  writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`);
  return all;
}

export function tokenVerdicts(results: CaseResult[], growth: GrowthFile): Verdict[] {
  const byId = new Map(results.filter(isTokenCase).map((r) => [r.id, r]));
  const verdicts: Verdict[] = [];
  for (const [id, r1] of byId) {
    if (!id.startsWith('r1/')) continue;
    const r0 = byId.get(id.replace('r1/', 'r0/'));
    if (!r0) continue;
    const share = r1.load.requestsPerSecond / r0.load.requestsPerSecond;
    verdicts.push({ what: `(${id}) ≥ ${TARGET_R1_SHARE_OF_R0 * 100} % of (r0)'s req/s at ${r1.connections} connection(s)`, met: share >= TARGET_R1_SHARE_OF_R0, detail: `${pct(share)} (${rate(r1.load.requestsPerSecond)} vs ${rate(r0.load.requestsPerSecond)} req/s)` });
  }
  // A case run several times (--grants n,m --rounds k) is judged by its median, every run shown.
  const runsOf = new Map<string, CaseResult[]>();
  for (const r of results.filter(isTokenCase)) runsOf.set(r.id, [...(runsOf.get(r.id) ?? []), r]);
  for (const [id, runs] of runsOf) {
    if (!id.startsWith('r2/')) continue;
    const cpus = runs.map(cpuPerRequest).filter((v): v is number => v !== null);
    if (cpus.length > 0) {
      const cpu = median(cpus);
      const each = cpus.length > 1 ? ` (median of ${cpus.map((v) => (v / 1000).toFixed(2)).join(', ')})` : '';
      verdicts.push({ what: `(${id}) Tessera's CPU per refresh ≤ ${TARGET_REFRESH_CPU_US / 1000} ms`, met: cpu <= TARGET_REFRESH_CPU_US, detail: `${(cpu / 1000).toFixed(2)} ms${each}` });
    }
    if (runs[0]!.connections === 20) {
      const worst = runs.reduce((a, b) => (b.load.p99 > a.load.p99 ? b : a));
      const non2xx = runs.reduce((sum, r) => sum + r.load.non2xx, 0);
      verdicts.push({ what: `(${id}) no 5xx and p99 < ${TARGET_R2_P99_MS / 1000} s`, met: non2xx === 0 && runs.every((r) => r.load.p99 < TARGET_R2_P99_MS), detail: `${non2xx} non-2xx, p99 ${ms(worst.load.p99)} ms${runs.length > 1 ? ` (the highest of ${runs.length} runs)` : ''}` });
    }
  }
  const within = withinRunGrowthVerdicts(results);
  verdicts.push(...(within.length > 0 ? within : growthVerdicts(growth)));
  return verdicts;
}

/**
 * (r2) and (x) at the fewest vs the most grants of one run (`--grants n,m`, ids `r2/1@n`): the
 * medians of each count's runs, which alternated, against each other.
 */
export function withinRunGrowthVerdicts(results: CaseResult[]): Verdict[] {
  const groups = new Map<string, Map<number, CaseResult[]>>();
  for (const r of results) {
    const match = /^((?:r2|x)\/\d+)@(\d+)$/.exec(r.id);
    if (!match) continue;
    const byCount = groups.get(match[1]!) ?? new Map<number, CaseResult[]>();
    groups.set(match[1]!, byCount);
    const count = Number(match[2]);
    byCount.set(count, [...(byCount.get(count) ?? []), r]);
  }
  const verdicts: Verdict[] = [];
  for (const [id, byCount] of groups) {
    const counts = [...byCount.keys()].sort((a, b) => a - b);
    if (counts.length < 2) continue;
    const [low, high] = [byCount.get(counts[0]!)!, byCount.get(counts.at(-1)!)!];
    const medians = (runs: CaseResult[]): GrowthFigures => ({ rps: median(runs.map((r) => r.load.requestsPerSecond)), storeUs: medianOrNull(runs.map(storeUs)) });
    verdicts.push(growthVerdict(id, [counts[0]!, counts.at(-1)!], medians(low), medians(high), (change) => `medians of ${low.length} and ${high.length} alternating runs: ${change}`));
  }
  return verdicts;
}

interface GrowthFigures {
  rps: number;
  storeUs: number | null;
}

/** The growth target for one case: requests/s and the stores' CPU a request, at the fewest against the most grants. */
function growthVerdict(id: string, [fewest, most]: [number, number], a: GrowthFigures, b: GrowthFigures, detail: (change: string) => string): Verdict {
  const rps = b.rps / a.rps - 1;
  const store = a.storeUs !== null && b.storeUs !== null ? b.storeUs / a.storeUs - 1 : null;
  return {
    what: `(${id}) at ${int(fewest)} vs ${int(most)} grants: req/s and store CPU/req within ${TARGET_GROWTH_CHANGE * 100} %`,
    met: Math.abs(rps) < TARGET_GROWTH_CHANGE && (store === null || Math.abs(store) < TARGET_GROWTH_CHANGE),
    detail: detail(`req/s ${signed(rps)} (${rate(a.rps)} → ${rate(b.rps)}), store CPU/req ${store === null ? '–' : `${signed(store)} (${us(a.storeUs)} → ${us(b.storeUs)} µs)`}`),
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function medianOrNull(values: Array<number | null>): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length === values.length && known.length > 0 ? median(known) : null;
}

/** (r2) and (x) at the fewest vs the most grants recorded (two runs with different --grants). */
export function growthVerdicts(growth: GrowthFile): Verdict[] {
  const counts = Object.keys(growth).map(Number).sort((a, b) => a - b);
  if (counts.length < 2) return [];
  const [low, high] = [growth[String(counts[0])]!, growth[String(counts.at(-1))]!];
  const verdicts: Verdict[] = [];
  for (const [id, a] of Object.entries(low.cases)) {
    const b = high.cases[id];
    if (!b) continue;
    const runs = `runs of ${low.date.slice(0, 16)} (${low.commit ?? '?'}, ${low.seconds ?? '?'}) and ${high.date.slice(0, 16)} (${high.commit ?? '?'}, ${high.seconds ?? '?'})${low.commit !== high.commit ? ' — different code' : ''}${low.seconds !== high.seconds ? ' — different run lengths' : ''}`;
    verdicts.push(growthVerdict(id, [counts[0]!, counts.at(-1)!], a, b, (change) => `${change}; ${runs}`));
  }
  return verdicts;
}

/** HEAD's short hash, with `+` when src/ has uncommitted changes (others may be editing it mid-run). */
export function commitOf(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { encoding: 'utf8' }).trim() !== '';
    return `${head}${dirty ? '+' : ''}`;
  } catch {
    return 'unknown';
  }
}

const signed = (v: number): string => `${v >= 0 ? '+' : '−'}${Math.abs(v * 100).toFixed(1)} %`;

export function tokenConsoleVerdicts(verdicts: Verdict[]): string {
  return verdicts.map((v) => `  ${v.met ? 'MET   ' : 'MISSED'}  ${v.what}: ${v.detail}`).join('\n');
}

// ---------------------------------------------------------------------------------------------
// bench/results.md

export function tokenMarkdown(results: CaseResult[], verdicts: Verdict[], info: TokenRunInfo, settings: { warmupSeconds: number; durationSeconds: number }): string {
  const body = rows(results);
  if (body.length === 0) return '';
  const seeded = [
    info.seedSeconds.mongo === null ? null : `${info.seedSeconds.mongo.toFixed(1)} s into FerretDB/MongoDB (bulk inserts)`,
    info.seedSeconds.memory === null ? null : `${info.seedSeconds.memory.toFixed(1)} s into the memory stores (through their ports)`,
  ].filter((s): s is string => s !== null);
  const ferret = info.mongo.startsWith('FerretDB');
  const connections = info.connections ?? [1, 20]; // runs saved before the counts were recorded
  const existing = info.grantCounts && info.grantCounts.length > 1 ? `${info.grantCounts.map(int).join(' and ')} (for (r1) ${int(info.grants)})` : int(info.grants);
  return `## Token endpoint

- **(r0)** a plain oidc-provider 9, its own \`POST /token\`, default in-memory adapter, configured as Tessera's provider
  (rotated refresh tokens, resource indicators with opaque access tokens, PKCE, the same lifetimes), a confidential
  connector (client_secret_basic); its chains start from refresh tokens made with the provider's Grant and RefreshToken models.
- **(r1)** Tessera \`POST /oauth/token\`, refresh_token grants, on its embedded memory stores (NODE_ENV=development,
  the only mode that allows them); **(r2)** the same on the MongoDB-wire server and Redis; **(x)** authorization_code
  grants on the MongoDB-wire server and Redis — ${info.mongo}. Tessera as \`src/main.ts\` builds it, logging one line
  per request at LOG_LEVEL=info. The connector asks for the API's scopes and offline_access (no openid: no ID token).
- Refresh tokens are chained: every token is presented exactly once and the answer's new refresh token is the one the
  next request of its chain presents (a wrk Lua queue, bench/lib/wrk-token-queue.lua; 2 chains per connection, at least
  64 for (r0)(r1), fresh ones for every run). Tessera's chains and codes are copies of one real connection, made through its authorization
  endpoint, sign-in and consent pages and code exchange over HTTP, written straight into its stores with new ids (each
  chain a new grant of the same user, each code one more consent with its own PKCE challenge, minted just before its
  run with 60 s to live). A run of codes ends early when they are used up; its rate is then taken over the time it was busy.
- Before each run every chain's first refresh and three codes' exchanges are checked: HTTP 200, token_type Bearer, a
  new refresh token unlike the presented one, the new access token active at the introspection endpoint. During the
  run every answer must be a 200 with token_type Bearer and a refresh token never seen before.
- ${settings.warmupSeconds} s warm-up, ${settings.durationSeconds} s measured, at ${connections.join(' and ')} connection${connections.length === 1 && connections[0] === 1 ? '' : 's'}. Server CPU per request is the server process's own
  ("… system": its kernel share); the stores' is each process's user + system time from /proc/<pid>/stat before and
  after the run (FerretDB's SQLite backend runs inside its process; Redis is redis-server), divided by the answers.
- ${existing} existing grants (Grant, live refresh and access tokens, connected app, last use) were in the stores of
  ${info.grantCounts && info.grantCounts.length > 1 ? '(r2)(x) — a database each, their runs alternating —' : '(r1)(r2)(x)'} beside the cases' own${seeded.length > 0 ? `, seeded in ${seeded.join(' and ')}` : ''}.${
    ferret
      ? `
- FerretDB's SQLite backend finds a document by \`_id\` by scanning its collection in insertion order (SQLite's plan:
  SCAN), ~1–2.6 µs of its CPU per document before the one sought; Tessera's OAuth store spreads its records over 4,096
  collections there, 256 to a database (a lookup scans one), yet (r2) and (x) still slow down as the stores fill — with \`--grants\`, and
  with the run's own writes (each refresh or exchange stores a new refresh and access token).`
      : ''
  }

| ${HEADER.join(' | ')} |
|${HEADER.map((_, i) => (i <= 1 || i === HEADER.length - 1 ? ' --- ' : ' ---: ')).join('|')}|
${body.map((row) => `| ${row.join(' | ')} |`).join('\n')}

| target | result | |
| --- | --- | --- |
${verdicts.map((v) => `| ${v.what} | ${v.detail} | ${v.met ? 'met' : '**missed**'} |`).join('\n')}
`;
}
