/**
 * The benchmark's output: a console table, the ratios and target verdicts, bench/results.md and
 * the bar chart bench/results.svg (hand-written SVG, no dependencies).
 */
import type { LoadResult } from './load.ts';
import type { Machine } from './machine.ts';
import type { RedisPerRequest } from './redis-stats.ts';

export type CaseGroup = 'ceiling' | 'provider' | 'tessera' | 'tessera-warn' | 'token-provider' | 'token-tessera';

/** The token endpoint's cases (bench/lib/token-cases.ts), reported in their own table (token-report.ts). */
export const isTokenCase = (r: Pick<CaseResult, 'group'>): boolean => r.group === 'token-provider' || r.group === 'token-tessera';

export interface CaseResult {
  id: string;
  label: string;
  group: CaseGroup;
  /** Concurrent connections of the run (absent in runs saved before cases had their own: Settings.connections). */
  connections?: number;
  /** Grants seeded beside the case's own (token cases, --grants). */
  grants?: number;
  load: LoadResult;
  /** CPU time of the server process over the measured run, in % of one core. */
  serverCpu: number | null;
  /** The server process's CPU time per answered request, in µs (absent in older saved runs)… */
  serverUsPerRequest?: number;
  /** …of which in the kernel (system time). */
  serverSystemUsPerRequest?: number;
  /** CPU per answered request of the MongoDB-wire server's and Redis's processes, in µs, from /proc/<pid>/stat. */
  storeUsPerRequest?: { mongo: number | null; redis: number | null };
  /** The server's CPU profile (--profile), to cut to `window`. */
  profileFile?: string;
  /** Event-loop utilisation of the server process over the measured run (0–1). */
  serverElu: number | null;
  /** CPU of the load generator (wrk, or autocannon in this process), in % of one core. */
  loaderCpu: number;
  /** All cores of the machine, in % of one core (200 % = both of 2 cores). */
  machineBusy: number | null;
  /** What processes outside the benchmark used meanwhile, in % of one core. */
  otherCpu: number | null;
  /** The MongoDB-wire server's and Redis's CPU meanwhile (Tessera cases), in % of one core. */
  mongoServerCpu?: number | null;
  redisCpu?: number | null;
  /** Tessera only: bearer lookups and store resolutions (cache misses) during the measured run. */
  cache?: { lookups: number; resolves: number };
  /** Tessera only: what its Redis did per request during the measured run (redis-stats.ts). */
  redis?: RedisPerRequest | null;
  /** The measured run on the server's monotonic clock (µs), to cut its CPU profile to it. */
  window: { fromUs: number; toUs: number };
}

export interface Settings {
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
  tokens: number;
  cacheMaxAgeMs: number;
  mongo: string;
  logFile: string;
  profiled: boolean;
  /** --set NAME=VALUE overrides of Tessera's settings (diagnostic runs). */
  overrides?: Record<string, string>;
  /** The Tessera target entry, when not bench/targets/tessera.ts (what-if runs). */
  tesseraTarget?: string;
  /** The load generator (absent in runs saved before there was a choice: autocannon). */
  loader?: 'wrk' | 'autocannon';
}

export interface Ratio {
  name: string;
  value: number;
  target: number;
  met: boolean;
}

export interface Verdict {
  what: string;
  met: boolean;
  detail: string;
}

export const TARGET_SHARE_OF_CEILING = 0.4;
export const TARGET_TIMES_PROVIDER = 2;
export const TARGET_P99_MS = 10;
/** Verification (f, g): its share of the requests/s of introspection with API keys (c), and its own p99. */
export const TARGET_VERIFY_SHARE_OF_C = 0.6;
export const TARGET_VERIFY_P99_MS = 15;

/** Server CPU time per answered request, in µs: robust to other load on the machine. */
export function cpuPerRequest(r: CaseResult): number | null {
  if (r.serverUsPerRequest !== undefined) return r.serverUsPerRequest;
  return r.serverCpu === null || r.load.requestsPerSecond === 0 ? null : (r.serverCpu / 100) * 1e6 / (r.load.total / r.load.durationSeconds);
}

export function hitRatio(result: CaseResult): number | null {
  if (!result.cache || result.cache.lookups === 0) return null;
  return 1 - result.cache.resolves / result.cache.lookups;
}

export function evaluate(results: Map<string, CaseResult>): { ratios: Ratio[]; verdicts: Verdict[] } {
  const rps = (id: string): number => results.get(id)?.load.requestsPerSecond ?? Number.NaN;
  const ratios: Ratio[] = [];
  const ratio = (name: string, top: string, bottom: string, target: number): void => {
    if (!results.has(top) || !results.has(bottom)) return;
    const value = rps(top) / rps(bottom);
    ratios.push({ name, value, target, met: value >= target });
  };
  ratio('c/a', 'c', 'a', TARGET_SHARE_OF_CEILING);
  ratio('d/a', 'd', 'a', TARGET_SHARE_OF_CEILING);
  ratio('c/b', 'c', 'b', TARGET_TIMES_PROVIDER);
  ratio('d/b', 'd', 'b', TARGET_TIMES_PROVIDER);
  ratio('f/c', 'f', 'c', TARGET_VERIFY_SHARE_OF_C);
  ratio('g/c', 'g', 'c', TARGET_VERIFY_SHARE_OF_C);
  const verdicts: Verdict[] = [];
  for (const id of ['c', 'd']) {
    const r = results.get(id);
    if (!r) continue;
    const share = ratios.find((x) => x.name === `${id}/a`);
    const times = ratios.find((x) => x.name === `${id}/b`);
    if (share) verdicts.push({ what: `(${id}) ≥ ${TARGET_SHARE_OF_CEILING * 100} % of (a)`, met: share.met, detail: `${pct(share.value)} of (a)` });
    if (times) verdicts.push({ what: `(${id}) ≥ ${TARGET_TIMES_PROVIDER}× (b)`, met: times.met, detail: `${times.value.toFixed(2)}× (b)` });
    verdicts.push({ what: `(${id}) p99 ≤ ${TARGET_P99_MS} ms`, met: r.load.p99 <= TARGET_P99_MS, detail: `p99 ${ms(r.load.p99)} ms` });
  }
  for (const id of ['f', 'g']) {
    const r = results.get(id);
    if (!r) continue;
    const share = ratios.find((x) => x.name === `${id}/c`);
    if (share) verdicts.push({ what: `(${id}) ≥ ${TARGET_VERIFY_SHARE_OF_C * 100} % of (c)`, met: share.met, detail: `${pct(share.value)} of (c)` });
    verdicts.push({ what: `(${id}) p99 ≤ ${TARGET_VERIFY_P99_MS} ms`, met: r.load.p99 <= TARGET_VERIFY_P99_MS, detail: `p99 ${ms(r.load.p99)} ms` });
  }
  return { ratios, verdicts };
}

const pct = (v: number): string => `${(v * 100).toFixed(1)} %`;
/** Requests per second: whole above 100, with decimals below (a refresh may take seconds). */
export const rate = (v: number): string => (!Number.isFinite(v) ? '–' : v >= 100 ? Math.round(v).toLocaleString('en-US') : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const ms = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : '–');
const int = (v: number): string => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '–');
const opt = (v: number | null, f: (x: number) => string): string => (v === null ? '–' : f(v));
const perReq = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : '–');

function rows(results: CaseResult[]): string[][] {
  return results.map((r) => [
    `(${r.id})`,
    r.label,
    int(r.load.requestsPerSecond),
    ms(r.load.p50),
    ms(r.load.p99),
    ms(r.load.max),
    int(r.load.total),
    opt(r.serverCpu, (v) => `${v.toFixed(0)} %`),
    opt(cpuPerRequest(r), (v) => v.toFixed(0)),
    opt(r.serverElu, (v) => v.toFixed(2)),
    `${r.loaderCpu.toFixed(0)} %`,
    opt(r.mongoServerCpu ?? null, (v) => `${v.toFixed(0)} %`),
    opt(r.redisCpu ?? null, (v) => `${v.toFixed(0)} %`),
    opt(r.machineBusy, (v) => `${v.toFixed(0)} %`),
    opt(r.otherCpu, (v) => `${v.toFixed(0)} %`),
    opt(hitRatio(r), (v) => `${(v * 100).toFixed(2)} %`),
    opt(r.redis?.scriptCalls ?? null, perReq),
    opt(r.redis?.roundTrips ?? null, perReq),
  ]);
}

function loaderText(loader: 'wrk' | 'autocannon'): string {
  return loader === 'wrk'
    ? 'wrk 4, one thread, in its own process: a C load generator, chosen over autocannon because it costs a fraction of its CPU on the shared cores and adds no pauses of its own to the latencies'
    : 'autocannon, in the parent process';
}

const HEADER = ['case', 'what', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'requests', 'server CPU', 'server CPU µs/req', 'server ELU', 'load generator CPU', 'MongoDB server CPU', 'Redis CPU', 'machine CPU', 'other CPU', 'cache hits', 'Redis scripts/req', 'Redis round trips/req'];

export function consoleTable(results: CaseResult[]): string {
  const body = rows(results);
  const widths = HEADER.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i <= 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(HEADER), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function markdownTable(results: CaseResult[]): string {
  const body = rows(results);
  return [
    `| ${HEADER.join(' | ')} |`,
    `|${HEADER.map((_, i) => (i <= 1 ? ' --- ' : ' ---: ')).join('|')}|`,
    ...body.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
}

export function consoleRatios(ratios: Ratio[], verdicts: Verdict[]): string {
  const lines = ratios.map((r) => `  ${r.name} = ${r.name.endsWith('/b') ? `${r.value.toFixed(2)}×` : pct(r.value)}   (target ≥ ${r.name.endsWith('/b') ? `${r.target}×` : pct(r.target)}: ${r.met ? 'met' : 'MISSED'})`);
  lines.push('', ...verdicts.map((v) => `  ${v.met ? 'MET   ' : 'MISSED'}  ${v.what}: ${v.detail}`));
  return lines.join('\n');
}

/** bench/results.md: the introspection and verification cases (when run), then `tokenSection` (the token endpoint's, when run). */
export function markdown(machine: Machine, settings: Settings, results: CaseResult[], ratios: Ratio[], verdicts: Verdict[], notes: string[], tokenSection = ''): string {
  const classic = results.filter((r) => !isTokenCase(r));
  const headline = classic.filter((r) => r.group !== 'tessera-warn');
  const warn = classic.filter((r) => r.group === 'tessera-warn');
  const allMet = verdicts.every((v) => v.met);
  const head = `# Introspection, verification and token endpoint benchmark

Generated by \`npm run bench\` (bench/run.ts) on ${machine.date}. A benchmark, not a test: CI times nothing.

## Machine

| | |
| --- | --- |
| CPU | ${machine.model}, ${machine.cores} cores |
| memory | ${machine.memoryGiB} GiB |
| Node.js | ${machine.node} (${machine.platform}) |
| MongoDB | ${settings.mongo} |
| date | ${machine.date} |

`;
  if (classic.length === 0) return `${head}${tokenSection}`;
  return `${head}## Method

- Every server under test runs in its own Node.js process; the load generator (${loaderText(settings.loader ?? 'autocannon')})
  shares the machine with it — and, for Tessera, with Redis and the MongoDB server. All traffic is
  on loopback.
- Each case: ${settings.connections} keep-alive connections, no pipelining; ${settings.warmupSeconds} s warm-up (discarded), then
  ${settings.durationSeconds} s measured. Every request is a \`POST\` with HTTP Basic authentication of a resource-server
  client, and a form body \`token=…\` (introspection) or a JSON body \`{"token":…,"cost":0,"required_scopes":["leads:read"]}\`
  (verification); the connections cycle through ${settings.tokens} different tokens.
- The load is closed-loop: each connection sends its next request when the previous answer
  arrives, so mean latency ≈ connections ÷ throughput (Little's law) — at ${settings.connections} connections a p99
  of 10 ms needs well over ${Math.round(settings.connections / 0.01).toLocaleString('en-US')} req/s.
- A shared virtual machine's speed drifts between runs (here (a) has varied by ±20 % from one run
  to the next): compare cases within one run — that is what the ratios do — and repeat a run
  before concluding from a small difference.
- Before measuring, the answer for every token of a case is checked (active for a–d, inactive for
  e, \`VALID\` with two request windows for f and g, \`RATE_LIMITED\` for h, whose keys each make
  their one allowed request first), and a run with any error, timeout or non-2xx response fails
  the benchmark (h's refusals are answers with HTTP 200).
- ${(settings.loader ?? 'autocannon') === 'wrk' ? "req/s is wrk's responses ÷ the run's duration; p50/p99/max are wrk's, from its histogram of every response's time in microseconds" : "req/s is autocannon's mean of per-second counts; p50/p99/max are exact, from every response's time (autocannon's own histogram keeps whole milliseconds)"}. Server CPU and event-loop
  utilisation (ELU) are the server process's own over the measured run ("server CPU µs/req" is
  that CPU time divided by the requests answered: the cost of one request, whatever else ran); machine CPU is all
  cores from /proc/stat (${machine.cores * 100} % = every core busy); "other CPU" is what processes outside the
  benchmark used meanwhile (before each case the benchmark waits for them to go quiet, and a run
  they disturbed is measured again, keeping the least disturbed).
- Redis, per request answered, from its own counters before and after the measured run (\`INFO
  stats\`, \`INFO commandstats\`): "Redis scripts/req" is the EVALSHA and EVAL calls of the
  limiter's admission script, which decides the requests that arrive together in one call (up to
  16); "Redis round trips/req" is Redis's socket reads of its clients' commands
  (\`total_reads_processed\`): Redis reads what a client wrote at once (a script call, or an
  ioredis pipeline of several commands) and answers it with one write.
- Cases:
  - **(a)** bare \`node:http\` answering the very bytes Tessera answers for an API key — the ceiling;
  - **(b)** plain oidc-provider 9, its built-in \`POST /token/introspection\`, default in-memory
    adapter, opaque access tokens each bound to a saved grant;
  - **(c)(d)(e)** Tessera \`POST /oauth/introspect\` as \`src/main.ts\` builds it (\`createTessera\`,
    NODE_ENV=production) on MongoDB (${settings.mongo}) and Redis, logging one line per request
    at LOG_LEVEL=info to a file (${settings.logFile}); with API keys, OAuth access tokens (stored as
    oidc-provider stores them, with their connected app), and unknown 43-character tokens.
    The principal cache trusts an entry for at most ${settings.cacheMaxAgeMs} ms (the default), so tokens are
    resolved from the stores again while the run goes on: "cache hits" is the share of lookups
    answered without a store read during the measured run;
  - **(f)(g)(h)** Tessera \`POST /v1/verify\`, same process, with API keys and with OAuth access
    tokens each limited per minute and per UTC day (limits set on the key, or on the token's
    connected app, far above what the run reaches: every request is counted in both windows and
    answered \`VALID\`), and with API keys allowed one request per minute and per day, already
    made (every request answered \`RATE_LIMITED\`, not counted).${settings.profiled ? '\n- **The Tessera process ran under `--cpu-prof`: its numbers are lower than without the profiler.**' : ''}

## Results

![requests per second per case](results.svg)

${markdownTable(headline)}
${warn.length > 0 ? `\nFor reference, the same Tessera cases at LOG_LEVEL=warn (no access-log line per request):\n\n${markdownTable(warn)}\n` : ''}
## Ratios and targets

| ratio | value | target | |
| --- | ---: | ---: | --- |
${ratios.map((r) => `| ${r.name} | ${r.name.endsWith('/b') ? `${r.value.toFixed(2)}×` : pct(r.value)} | ≥ ${r.name.endsWith('/b') ? `${r.target}×` : pct(r.target)} | ${r.met ? 'met' : '**missed**'} |`).join('\n')}

| target | result | |
| --- | --- | --- |
${verdicts.map((v) => `| ${v.what} | ${v.detail} | ${v.met ? 'met' : '**missed**'} |`).join('\n')}

**${allMet ? 'All targets met in this run.' : 'Not every target was met in this run.'}**
${notes.length > 0 ? `\n## Notes\n\n${notes.map((n) => `- ${n}`).join('\n')}\n` : ''}${tokenSection ? `\n${tokenSection}` : ''}`;
}

const COLORS: Record<CaseGroup, string> = { ceiling: '#8a8f98', provider: '#e07b39', tessera: '#2f6fdf', 'tessera-warn': '#93b5f0', 'token-provider': '#e07b39', 'token-tessera': '#2f6fdf' };

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

/** Horizontal bars of req/s per case, with the target lines 40 % of (a), 2× (b) and 60 % of (c). */
export function svgChart(results: CaseResult[], title: string): string {
  const labels = results.map((r) => `(${r.id}) ${r.label}`);
  // Helvetica at 13 px averages under 7 px a character.
  const labelWidth = Math.max(200, ...labels.map((l) => l.length * 7)) + 20;
  const barArea = 480;
  const valueWidth = 230;
  const rowHeight = 34;
  const top = 56;
  const width = labelWidth + barArea + valueWidth;
  const height = top + results.length * rowHeight + 74;
  const a = results.find((r) => r.id === 'a')?.load.requestsPerSecond;
  const b = results.find((r) => r.id === 'b')?.load.requestsPerSecond;
  const c = results.some((r) => r.id === 'f' || r.id === 'g') ? results.find((r) => r.id === 'c')?.load.requestsPerSecond : undefined;
  const max = Math.max(...results.map((r) => r.load.requestsPerSecond), a ? a * TARGET_SHARE_OF_CEILING : 0, b ? b * TARGET_TIMES_PROVIDER : 0) * 1.02;
  const x = (v: number): number => labelWidth + (v / max) * barArea;
  const bottom = top + results.length * rowHeight;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="13">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="16" y="26" font-size="16" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="16" y="44" fill="#555">requests per second (longer is better) · p50 / p99 latency in ms</text>`,
  ];
  // Target lines first, so that bars and values are drawn over them.
  const marker = (value: number, text: string, color: string, row: number): void => {
    const mx = x(value).toFixed(1);
    parts.push(
      `<line x1="${mx}" y1="${top - 2}" x2="${mx}" y2="${bottom + 4}" stroke="${color}" stroke-width="1.5" stroke-dasharray="5,4"/>`,
      `<text x="${mx}" y="${bottom + 20 + row * 16}" text-anchor="middle" fill="${color}" font-size="12">${escapeXml(text)}</text>`,
    );
  };
  if (a) marker(a * TARGET_SHARE_OF_CEILING, `target: 40 % of (a) = ${Math.round(a * TARGET_SHARE_OF_CEILING).toLocaleString('en-US')} req/s`, '#b03030', 0);
  if (b) marker(b * TARGET_TIMES_PROVIDER, `target: 2× (b) = ${Math.round(b * TARGET_TIMES_PROVIDER).toLocaleString('en-US')} req/s`, '#7a4fb0', 1);
  if (c) marker(c * TARGET_VERIFY_SHARE_OF_C, `target (f)(g): 60 % of (c) = ${Math.round(c * TARGET_VERIFY_SHARE_OF_C).toLocaleString('en-US')} req/s`, '#2a8a4a', 2);
  results.forEach((r, i) => {
    const y = top + i * rowHeight;
    const w = Math.max(1, x(r.load.requestsPerSecond) - labelWidth);
    parts.push(
      `<text x="${labelWidth - 10}" y="${y + 21}" text-anchor="end">${escapeXml(labels[i]!)}</text>`,
      `<rect x="${labelWidth}" y="${y + 5}" width="${w.toFixed(1)}" height="${rowHeight - 10}" fill="${COLORS[r.group]}" rx="2"/>`,
      // A white halo keeps the value readable where it crosses a target line.
      `<text x="${(labelWidth + w + 6).toFixed(1)}" y="${y + 21}" stroke="#ffffff" stroke-width="4" paint-order="stroke" stroke-linejoin="round">${escapeXml(`${Math.round(r.load.requestsPerSecond).toLocaleString('en-US')} req/s · ${r.load.p50.toFixed(1)} / ${r.load.p99.toFixed(1)} ms`)}</text>`,
    );
  });
  parts.push(`<line x1="${labelWidth}" y1="${top - 2}" x2="${labelWidth}" y2="${bottom + 4}" stroke="#333"/>`, '</svg>');
  return `${parts.join('\n')}\n`;
}
