/**
 * One measured load run, with wrk (the default: a C load generator in its own process, see
 * load-wrk.ts) or with autocannon in this process: a fixed number of keep-alive
 * connections, each cycling through the same list of requests (so consecutive requests carry
 * different tokens), each from its own starting point — otherwise every connection would send
 * the same token at the same moment, which no real traffic does. Latencies are also recorded exactly (autocannon's histogram keeps whole
 * milliseconds), from autocannon's own per-response timings.
 */
import autocannon from 'autocannon';
import { join } from 'node:path';
import { runWrk } from './load-wrk.ts';

export interface LoadRequest {
  method: 'POST';
  path: string;
  headers: Record<string, string>;
  body: string;
}

export type Loader = 'wrk' | 'autocannon';

export interface LoadOptions {
  loader: Loader;
  url: string;
  requests: LoadRequest[];
  connections: number;
  durationSeconds: number;
}

export interface LoadResult {
  /** Mean of the per-second request counts (autocannon's `requests.average`). */
  requestsPerSecond: number;
  /** Responses / elapsed seconds, for cross-checking. */
  overallPerSecond: number;
  total: number;
  durationSeconds: number;
  /** Exact percentiles in ms, from every response. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  /** autocannon's own (whole-millisecond) percentiles, as printed by its CLI. */
  autocannonP50: number;
  autocannonP99: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  /** CPU seconds the load generator used, when it ran as its own process (wrk); else null. */
  loaderCpuSeconds: number | null;
  /** Token cases: the tokens ran out before the run's end; durationSeconds is then the time the run was busy. */
  exhausted?: boolean;
}

export function runLoad(options: LoadOptions): Promise<LoadResult> {
  return options.loader === 'wrk' ? runWrk(options, join(import.meta.dirname, '..', 'tmp')) : runAutocannon(options);
}

function runAutocannon(options: LoadOptions): Promise<LoadResult> {
  let latencies = new Float64Array(1 << 18);
  let count = 0;
  let clients = 0;
  const n = options.requests.length;
  const step = Math.max(1, Math.floor(n / options.connections));
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        duration: options.durationSeconds,
        pipelining: 1,
        requests: options.requests,
        setupClient: (client) => {
          const offset = (clients++ * step) % n;
          client.setRequests([...options.requests.slice(offset), ...options.requests.slice(0, offset)]);
        },
        timeout: 10,
      },
      (error, result) => {
        if (error) {
          reject(error);
          return;
        }
        const sorted = latencies.subarray(0, count).sort();
        const at = (p: number): number => (count === 0 ? Number.NaN : sorted[Math.min(count - 1, Math.max(0, Math.ceil(p * count) - 1))]!);
        let sum = 0;
        for (const v of sorted) sum += v;
        const statusCodes: Record<string, number> = {};
        for (const [code, value] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = (value as { count: number }).count;
        resolve({
          requestsPerSecond: result.requests.average,
          overallPerSecond: count / result.duration,
          total: count,
          durationSeconds: result.duration,
          p50: at(0.5),
          p90: at(0.9),
          p99: at(0.99),
          max: count === 0 ? Number.NaN : sorted[count - 1]!,
          mean: count === 0 ? Number.NaN : sum / count,
          autocannonP50: result.latency.p50,
          autocannonP99: result.latency.p99,
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          statusCodes,
          loaderCpuSeconds: null,
        });
      },
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => {
      if (count === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[count++] = responseTime;
    });
  });
}
