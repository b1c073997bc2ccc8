/**
 * Measuring one case: wait for the machine to go quiet, warm up (discarded), then the measured run
 * with the server's CPU time (its own process.cpuUsage, over IPC), every process's CPU in the
 * benchmark's tree (/proc/<pid>/stat: the MongoDB-wire server, Redis) and Redis's own counters read
 * just before and just after it. A run that other processes disturbed is measured again (the
 * least disturbed is kept). Any error, timeout or non-2xx answer fails the benchmark.
 */
import type { Measurable } from './case.ts';
import type { LoadResult } from './load.ts';
import { busyPercent, namedPercent, namedTicks, processPercent, systemCpu, TICKS_PER_SECOND, treeCpu, treePercent, waitForQuiet } from './machine.ts';
import { perRequest, type RedisStats } from './redis-stats.ts';
import { hitRatio, rate, type CaseResult } from './report.ts';

export interface MeasureOptions {
  cores: number;
  warmupSeconds: number;
  durationSeconds: number;
  /** Other processes must use less than this (% of one core) before a case starts… */
  quietPercent: number;
  /** …waited for at most this long. */
  quietWaitMs: number;
  /** Disturbed runs are measured again this many times at most. */
  retries: number;
  /** The benchmark's Redis counters, once it runs. */
  redis: () => RedisStats | undefined;
}

/** The MongoDB-wire server's processes: FerretDB (its SQLite backend runs inside it), mongod, or a PostgreSQL backend of FerretDB. */
export const MONGO_PROCESSES = /^(ferretdb|mongod|postgres)$/;
export const REDIS_PROCESSES = /^redis-server$/;

export function createMeasurer(options: MeasureOptions): (m: Measurable) => Promise<CaseResult> {
  const { cores } = options;

  async function measureOnce(m: Measurable): Promise<CaseResult> {
    // Other work on the machine (a test run, a compiler) would be measured as our slowness.
    await waitForQuiet(options.quietPercent, options.quietWaitMs, (busy) =>
      console.log(`(${m.id}) other processes use ${busy.toFixed(0)} % of a core: waiting up to ${options.quietWaitMs / 1000} s for a quiet machine…`),
    );
    process.stdout.write(`(${m.id}) ${m.label}: warm-up ${options.warmupSeconds} s… `);
    if (options.warmupSeconds > 0) assertClean(m, await m.warmUp(options.warmupSeconds), 'warm-up');
    await m.prepare(options.durationSeconds);
    await m.target.reset();
    const redis = m.usesStores ? options.redis() : undefined;
    const redisBefore = await redis?.read();
    const before = await m.target.stats();
    const loaderBefore = process.cpuUsage();
    const machineBefore = systemCpu();
    const treeBefore = treeCpu();
    const wallBefore = process.hrtime.bigint();
    process.stdout.write(`measuring ${options.durationSeconds} s… `);
    const load = await m.run(options.durationSeconds);
    const wallUs = Number(process.hrtime.bigint() - wallBefore) / 1000;
    const machineAfter = systemCpu();
    const treeAfter = treeCpu();
    const loader = process.cpuUsage(loaderBefore);
    const after = await m.target.stats();
    const redisAfter = redisBefore ? await redis!.read() : undefined;
    assertClean(m, load, 'measured run');
    const serverUs = after.cpu.user + after.cpu.system - (before.cpu.user + before.cpu.system);
    // wrk runs (and has exited) outside this process tree: its CPU is ours, not "other".
    const external = load.loaderCpuSeconds === null ? null : ((load.loaderCpuSeconds * 1e6) / wallUs) * 100;
    const loaderCpu = external ?? ((loader.user + loader.system) / wallUs) * 100;
    const tree = treePercent(treeBefore?.total ?? null, treeAfter?.total ?? null, machineBefore, machineAfter, cores);
    const ours = tree === null ? null : tree + (external ?? 0);
    /** CPU of the tree's processes of this name, per request answered, in µs. */
    const storeUs = (pattern: RegExp): number | null => {
      const ticks = namedTicks(pattern, treeBefore, treeAfter);
      return ticks === null ? null : (ticks * 1e6) / TICKS_PER_SECOND / load.total;
    };
    const result: CaseResult = {
      id: m.id,
      label: m.label,
      group: m.group,
      connections: m.connections,
      ...(m.grants !== undefined ? { grants: m.grants } : {}),
      load,
      serverCpu: (serverUs / wallUs) * 100,
      serverUsPerRequest: serverUs / load.total,
      serverSystemUsPerRequest: (after.cpu.system - before.cpu.system) / load.total,
      serverElu: elu(before.elu, after.elu),
      loaderCpu,
      machineBusy: busyPercent(machineBefore, machineAfter, cores),
      otherCpu: others(processPercent(machineBefore, machineAfter, cores), ours),
      mongoServerCpu: m.usesStores ? namedPercent(MONGO_PROCESSES, treeBefore, treeAfter, machineBefore, machineAfter, cores) : null,
      redisCpu: m.usesStores ? namedPercent(REDIS_PROCESSES, treeBefore, treeAfter, machineBefore, machineAfter, cores) : null,
      ...(m.usesStores ? { storeUsPerRequest: { mongo: storeUs(MONGO_PROCESSES), redis: storeUs(REDIS_PROCESSES) } } : {}),
      window: { fromUs: before.monotonicUs, toUs: after.monotonicUs },
      ...(m.profileFile ? { profileFile: m.profileFile } : {}),
      ...('lookups' in after.counters ? { cache: { lookups: after.counters['lookups']!, resolves: after.counters['resolves']! } } : {}),
      ...(redisBefore && redisAfter ? { redis: perRequest(redisBefore, redisAfter, load.total) } : {}),
    };
    const hits = hitRatio(result);
    console.log(
      `${rate(load.requestsPerSecond)} req/s, p50 ${load.p50.toFixed(2)} ms, p99 ${load.p99.toFixed(2)} ms` +
        (m.group.startsWith('token') ? `, server CPU ${(serverUs / load.total).toFixed(0)} µs/req (${(((after.cpu.system - before.cpu.system) / serverUs) * 100).toFixed(0)} % of it system)` : '') +
        (hits === null ? '' : `, cache hits ${(hits * 100).toFixed(2)} % (${result.cache!.resolves} store resolutions)`) +
        (result.redis ? `, Redis per request: ${result.redis.scriptCalls.toFixed(2)} scripts, ${result.redis.roundTrips.toFixed(2)} round trips` : ''),
    );
    return result;
  }

  return async function measure(m: Measurable): Promise<CaseResult> {
    let best: CaseResult | undefined;
    for (let attempt = 0; attempt <= options.retries; attempt++) {
      const result = await measureOnce(m);
      if (!best || (result.otherCpu ?? 0) < (best.otherCpu ?? 0)) best = result;
      if ((result.otherCpu ?? 0) <= options.quietPercent) break;
      if (attempt < options.retries) console.log(`(${m.id}) other processes used ${result.otherCpu!.toFixed(0)} % of a core during the run: measuring again`);
    }
    return best!;
  };
}

/** wrk's --timeout: an answer slower than this is a timeout, whether or not wrk counted it as one. */
export const TIMEOUT_MS = 10_000;

export function assertClean(m: Pick<Measurable, 'id' | 'label'>, load: LoadResult, phase: string): void {
  if (load.errors > 0 || load.timeouts > 0 || load.non2xx > 0 || load.total === 0 || load.max > TIMEOUT_MS) {
    throw new Error(
      `(${m.id}) ${m.label}: ${phase} was not clean — ${load.total} responses, ${load.non2xx} non-2xx, ${load.errors} errors, ${load.timeouts} timeouts, slowest ${(load.max / 1000).toFixed(1)} s; status codes ${JSON.stringify(load.statusCodes)}`,
    );
  }
}

function others(all: number | null, ours: number | null): number | null {
  return all === null || ours === null ? null : Math.max(0, all - ours);
}

function elu(before: { idle: number; active: number }, after: { idle: number; active: number }): number | null {
  const active = after.active - before.active;
  const total = active + (after.idle - before.idle);
  return total > 0 ? active / total : null;
}
