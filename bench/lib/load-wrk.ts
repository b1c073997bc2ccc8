/**
 * One measured load run with wrk (`apt-get install wrk`; scripts/provision.sh installs it): a C
 * load generator in its own process. It costs a fraction of autocannon's CPU on the cores the
 * servers share, and its latencies (µs, from an HdrHistogram) carry no pauses of a JavaScript
 * event loop or garbage collector of its own — autocannon's showed up as server latency. One
 * wrk thread drives every connection; the requests are cycled in order, so consecutive requests
 * carry different tokens. Each is formatted once, with its own headers and body (a form for
 * introspection, JSON for verification: wrk adds the Content-Length). Its CPU time comes from
 * os.clock() at the end of the run.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadOptions, LoadResult } from './load.ts';

/**
 * A Lua string literal: JSON's is one for printable ASCII, which is all our requests hold (a JSON
 * body's quotes become \", which Lua reads back as quotes).
 */
function luaString(s: string): string {
  if (!/^[\x20-\x7e]*$/.test(s)) throw new Error(`wrk requests must be printable ASCII: ${JSON.stringify(s)}`);
  return JSON.stringify(s);
}

export function runWrk(options: LoadOptions, tmpDir: string): Promise<LoadResult> {
  mkdirSync(tmpDir, { recursive: true });
  const script = join(tmpDir, 'wrk-requests.lua');
  const entries = options.requests.map((r) => {
    const headers = Object.entries(r.headers).map(([k, v]) => `[${luaString(k)}]=${luaString(v)}`).join(',');
    return `{${luaString(r.method)},${luaString(r.path)},{${headers}},${luaString(r.body)}}`;
  });
  writeFileSync(
    script,
    `local list = {${entries.join(',\n')}}
local reqs = {}
local i = 0
init = function(args)
  for k, r in ipairs(list) do reqs[k] = wrk.format(r[1], r[2], r[3], r[4]) end
end
request = function()
  i = i % #reqs + 1
  return reqs[i]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%f,"cpu_s":%f}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean, os.clock()))
end
`,
  );
  return spawnWrk(['-t1', `-c${options.connections}`, `-d${options.durationSeconds}s`, '--timeout', '10s', '-s', script, options.url]).then(toLoadResult);
}

/** Runs wrk with a script whose done() prints a `WRK_JSON {…}` line; resolves with that object. */
export function spawnWrk(args: string[]): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.once('error', (error) => reject(new Error(`wrk could not be started (${error.message}): apt-get install wrk, or run bash scripts/provision.sh`)));
    child.once('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('WRK_JSON '));
      if (code !== 0 || !line) {
        reject(new Error(`wrk failed (exit ${code}): ${out.slice(-500)}`));
        return;
      }
      resolve(JSON.parse(line.slice('WRK_JSON '.length)) as Record<string, number>);
    });
  });
}

/** wrk's figures as a LoadResult; `busySeconds` replaces wrk's duration when the run ended early. */
export function toLoadResult(w: Record<string, number>, busySeconds?: number): LoadResult {
  const seconds = busySeconds ?? w['duration_us']! / 1e6;
  const ms = (us: number): number => us / 1000;
  return {
    requestsPerSecond: w['requests']! / seconds,
    overallPerSecond: w['requests']! / seconds,
    total: w['requests']!,
    durationSeconds: seconds,
    p50: ms(w['p50']!),
    p90: ms(w['p90']!),
    p99: ms(w['p99']!),
    max: ms(w['max']!),
    mean: ms(w['mean']!),
    autocannonP50: Number.NaN,
    autocannonP99: Number.NaN,
    non2xx: w['status']!,
    errors: w['connect']! + w['read']! + w['write']!,
    timeouts: w['timeout']!,
    statusCodes: {},
    loaderCpuSeconds: w['cpu_s']!,
  };
}
