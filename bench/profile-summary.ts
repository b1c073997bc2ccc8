/**
 * Summarises a V8 CPU profile (`node --cpu-prof`, e.g. from `npm run bench -- --profile`): where
 * the process spent its time, by package/file and by function, as a share of the busy (non-idle)
 * time and in microseconds per request when the request count is given.
 *
 *   node --disable-warning=ExperimentalWarning bench/profile-summary.ts <file.cpuprofile> [requests] [--top N] [--window FROM:TO]
 *
 * --window keeps only the samples between two CLOCK_MONOTONIC times in µs (the profile's own
 * clock): `npm run bench -- --profile` prints the window of each measured run.
 *
 * "by concern" assigns each sample to the innermost frame of a known component (pino, ioredis,
 * mongoose, node:http, koa, Tessera's own layers); "self" is time in the function itself; "total" counts a function once per sample whose stack
 * contains it (synchronous callers only: an await breaks the stack, so a koa middleware's total
 * covers the work it does before its first await and in each continuation, not its `next()`).
 */
import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const ROOT = resolve(import.meta.dirname, '..');

/** Which part of the code a frame belongs to: a src/ file, an npm package, Node itself, or V8. */
export function category(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') return functionName.startsWith('(') ? functionName : `(native) ${functionName || 'anonymous'}`;
  if (url.startsWith('node:')) return url.replace(/^node:internal\//, 'node:');
  const path = url.replace(/^file:\/\//, '');
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (pkg) return `npm:${pkg[1]}`;
  return relative(ROOT, path);
}

/**
 * Concerns, tried against each frame from the sampled (innermost) frame outwards: the first frame
 * that belongs to one names the concern of the sample. So a socket write issued by ioredis is
 * "Redis", one issued by node:http for a response is "node:http", a SHA-256 called by the
 * principal cache is "Tessera services".
 */
const CONCERNS: Array<[string, RegExp]> = [
  ['pino logger (access log line: serialise, redact, write)', /^(npm:(pino|@pinojs\/.*|sonic-boom|fast-redact|quick-format-unescaped|atomic-sleep|on-exit-leak-free|thread-stream|fast-safe-stringify)|src\/logger\.ts|src\/http\/middleware\/request-logger\.ts)$/],
  ['Redis (ioredis client, commands and replies)', /^(npm:(ioredis|redis-parser|denque|cluster-key-slot|standard-as-callback|redis-errors|lodash\.\w+)|src\/stores\/redis\/.*)$/],
  ['MongoDB (mongoose, driver, BSON)', /^(npm:(mongoose|mongodb|bson|mpath|mquery|kareem|sift|@mongodb-js\/.*|whatwg-url|tr46|webidl-conversions)|src\/stores\/mongo\/.*)$/],
  ['oidc-provider', /^npm:oidc-provider$/],
  ['node:http (parse requests, write responses)', /^node:_http_\w+$|^node:http$/],
  ['koa, @koa/router and their helpers', /^npm:(koa|koa-compose|@koa\/.*|delegates|type-is|on-finished|content-type|mime-types|mime-db|statuses|http-errors|http-assert|vary|cookies|keygrip|accepts|encodeurl|fresh|only|path-to-regexp|media-typer|negotiator|ee-first|depd|content-disposition|destroy|escape-html|cache-content-type|inherits|setprototypeof|toidentifier|tsscmp)$/],
  ['Tessera HTTP layer (src/http: middleware, routes)', /^src\/http\//],
  ['Tessera services and domain (src/services, src/domain)', /^src\/(services|domain)\//],
  ['Tessera OAuth mount (src/oauth)', /^src\/oauth\//],
  ['Tessera other (src)', /^src\//],
  ['benchmark harness (bench/)', /^bench\//],
];

/** The innermost frame that belongs to a known component, and that component. */
function owner(stack: CallFrame[]): { concern: string; frame: CallFrame } | null {
  for (let i = stack.length - 1; i >= 0; i--) {
    const cat = category(stack[i]!);
    for (const [name, pattern] of CONCERNS) if (pattern.test(cat)) return { concern: name, frame: stack[i]! };
  }
  return null;
}

function concernOf(stack: CallFrame[]): string {
  const known = owner(stack);
  if (known) return known.concern;
  const leaf = category(stack[stack.length - 1]!);
  if (leaf === '(garbage collector)' || leaf === '(program)') return leaf;
  if (stack.some((f) => category(f).startsWith('node:modules/') || f.functionName === 'compileSourceTextModule')) return 'module loading (start-up)';
  if (leaf.startsWith('node:') || leaf.startsWith('(native)')) return `Node.js internals (${leaf.startsWith('(native)') ? 'native' : leaf.replace(/\/.*$/, '')})`;
  return leaf;
}

function frameName(frame: CallFrame): string {
  const where = category(frame);
  return `${frame.functionName || '(anonymous)'}  ${where}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
}

export interface Summary {
  busyUs: number;
  idleUs: number;
  byCategory: Array<[string, number]>;
  bySelf: Array<[string, number]>;
  byTotal: Array<[string, number]>;
  byConcern: Array<[string, number]>;
  /** Samples whose concern is Tessera's own code, by that innermost src/ function (with the Node/native work it called). */
  bySrcFunction: Array<[string, number]>;
}

export function summarise(profile: Profile, window?: { fromUs: number; toUs: number }): Summary {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (window && (at < window.fromUs || at > window.toUs)) return;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  });

  const byCategory = new Map<string, number>();
  const bySelf = new Map<string, number>();
  const byTotal = new Map<string, number>();
  const byConcern = new Map<string, number>();
  const bySrcFunction = new Map<string, number>();
  const stack: CallFrame[] = [];
  let idleUs = 0;
  let busyUs = 0;
  // Depth-first with the set of function names on the stack, so a recursive function counts once.
  const onStack = new Map<string, number>();
  const visit = (id: number): void => {
    const node = nodes.get(id)!;
    const name = frameName(node.callFrame);
    onStack.set(name, (onStack.get(name) ?? 0) + 1);
    stack.push(node.callFrame);
    const self = selfUs.get(id) ?? 0;
    if (node.callFrame.functionName === '(idle)') idleUs += self;
    else if (self > 0) {
      busyUs += self;
      const cat = category(node.callFrame);
      byCategory.set(cat, (byCategory.get(cat) ?? 0) + self);
      bySelf.set(name, (bySelf.get(name) ?? 0) + self);
      for (const onPath of onStack.keys()) byTotal.set(onPath, (byTotal.get(onPath) ?? 0) + self);
      const concern = concernOf(stack);
      byConcern.set(concern, (byConcern.get(concern) ?? 0) + self);
      const known = owner(stack);
      if (known && category(known.frame).startsWith('src/')) {
        const fn = frameName(known.frame);
        bySrcFunction.set(fn, (bySrcFunction.get(fn) ?? 0) + self);
      }
    }
    for (const child of node.children ?? []) visit(child);
    stack.pop();
    const left = onStack.get(name)! - 1;
    if (left === 0) onStack.delete(name);
    else onStack.set(name, left);
  };
  visit(profile.nodes[0]!.id);
  const sorted = (m: Map<string, number>): Array<[string, number]> => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return { busyUs, idleUs, byCategory: sorted(byCategory), bySelf: sorted(bySelf), byTotal: sorted(byTotal).filter(([name]) => !name.startsWith('(root)')), byConcern: sorted(byConcern), bySrcFunction: sorted(bySrcFunction) };
}

function main(): void {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '30' }, window: { type: 'string' } } });
  const [file, requestsRaw] = positionals;
  if (!file) {
    console.error('usage: bench/profile-summary.ts <file.cpuprofile> [requests] [--top N]');
    process.exit(2);
  }
  const top = Number(values.top);
  const requests = requestsRaw ? Number(requestsRaw) : 0;
  const [fromUs, toUs] = (values.window ?? '').split(':').map(Number);
  const window = values.window ? { fromUs: fromUs!, toUs: toUs! } : undefined;
  const s = summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile, window);
  const share = (us: number): string => `${((us / s.busyUs) * 100).toFixed(1).padStart(5)} %`;
  const perReq = (us: number): string => (requests > 0 ? `${(us / requests).toFixed(1).padStart(7)} µs/req` : '');
  const print = (title: string, rows: Array<[string, number]>): void => {
    console.log(`\n${title}`);
    for (const [name, us] of rows.slice(0, top)) console.log(`  ${share(us)}  ${perReq(us)}  ${name}`);
  };
  console.log(`${window ? `window of ${((window.toUs - window.fromUs) / 1e6).toFixed(2)} s: ` : ''}busy ${(s.busyUs / 1e6).toFixed(2)} s, idle ${(s.idleUs / 1e6).toFixed(2)} s${requests > 0 ? `, ${requests} requests → ${(s.busyUs / requests).toFixed(1)} µs of CPU per request` : ''}`);
  print('by concern (innermost frame that belongs to one)', s.byConcern);
  print("Tessera's own code by innermost src/ function (with the Node and native work it calls)", s.bySrcFunction);
  print('self time by package / file', s.byCategory);
  print('self time by function', s.bySelf);
  print('total (inclusive, synchronous) time by function', s.byTotal);
}

if (import.meta.main) main();
