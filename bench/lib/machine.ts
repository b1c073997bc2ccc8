/** What the machine is, and how busy all of its cores were over an interval (from /proc/stat). */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

export interface Machine {
  cores: number;
  model: string;
  memoryGiB: number;
  node: string;
  platform: string;
  date: string;
}

export function describeMachine(): Machine {
  let model = cpus()[0]?.model ?? 'unknown';
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match) model = match[1]!.trim();
  } catch {
    // not Linux: os.cpus() it is
  }
  return {
    cores: cpus().length,
    model,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    date: new Date().toISOString(),
  };
}

export interface CpuTimes {
  busy: number;
  /** user + nice + system: time charged to processes (not irq/softirq, not steal). */
  processes: number;
  total: number;
}

/** Cumulative jiffies of all cores; null where /proc/stat does not exist. */
export function systemCpu(): CpuTimes | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    const processes = (fields[0] ?? 0) + (fields[1] ?? 0) + (fields[2] ?? 0);
    return { busy: total - idle, processes, total };
  } catch {
    return null;
  }
}

/** Busy share of the whole machine between two readings, in percent of ONE core (200 % = 2 cores busy). */
export function busyPercent(before: CpuTimes | null, after: CpuTimes | null, cores: number): number | null {
  if (!before || !after || after.total === before.total) return null;
  return ((after.busy - before.busy) / (after.total - before.total)) * 100 * cores;
}

/**
 * CPU jiffies (user + system) of this process and all its descendants still alive — the load
 * generator, the targets, Redis and the MongoDB server — so that what *other* processes on the
 * machine used during a run can be told apart. Null where /proc does not exist.
 */
export function ownTreeCpu(): number | null {
  return treeCpu()?.total ?? null;
}

export interface TreeCpu {
  total: number;
  /** Jiffies of the tree's processes by command name (ferretdb, mongod, redis-server, node…). */
  byName: Map<string, number>;
}

/** Like ownTreeCpu(), with each process's share by its command name. */
export function treeCpu(): TreeCpu | null {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return null;
  }
  const parent = new Map<number, number>();
  const ticks = new Map<number, { name: string; ticks: number }>();
  for (const name of entries) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // The command name may contain spaces and parentheses: fields start after the last ')'.
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      parent.set(Number(name), Number(fields[1]));
      ticks.set(Number(name), { name: stat.slice(stat.indexOf('(') + 1, close), ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // the process ended meanwhile
    }
  }
  const inTree = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 64; p = parent.get(p) ?? 0, hops++) if (p === process.pid) return true;
    return false;
  };
  let total = 0;
  const byName = new Map<string, number>();
  for (const [pid, t] of ticks) {
    if (!inTree(pid)) continue;
    total += t.ticks;
    byName.set(t.name, (byName.get(t.name) ?? 0) + t.ticks);
  }
  return { total, byName };
}

/** Jiffies of the tree's processes whose command name matches, between two readings, in % of one core. */
export function namedPercent(pattern: RegExp, before: TreeCpu | null, after: TreeCpu | null, m0: CpuTimes | null, m1: CpuTimes | null, cores: number): number | null {
  const ticks = namedTicks(pattern, before, after);
  return ticks === null ? null : treePercent(0, ticks, m0, m1, cores);
}

/** Jiffies (user + system, /proc/<pid>/stat) the tree's processes of a matching command name used between two readings. */
export function namedTicks(pattern: RegExp, before: TreeCpu | null, after: TreeCpu | null): number | null {
  if (!before || !after) return null;
  const sum = (t: TreeCpu): number => [...t.byName].filter(([name]) => pattern.test(name)).reduce((a, [, v]) => a + v, 0);
  return sum(after) - sum(before);
}

/** The unit of /proc/<pid>/stat's CPU times (USER_HZ: 100 on Linux, whatever the kernel's HZ). */
export const TICKS_PER_SECOND = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Time charged to any process between two readings, in % of one core. */
export function processPercent(before: CpuTimes | null, after: CpuTimes | null, cores: number): number | null {
  if (!before || !after || after.total === before.total) return null;
  return ((after.processes - before.processes) / (after.total - before.total)) * 100 * cores;
}

/** Jiffies → % of one core over an interval measured in /proc/stat jiffies of all cores. */
export function treePercent(ticksBefore: number | null, ticksAfter: number | null, before: CpuTimes | null, after: CpuTimes | null, cores: number): number | null {
  if (ticksBefore === null || ticksAfter === null || !before || !after || after.total === before.total) return null;
  return ((ticksAfter - ticksBefore) / (after.total - before.total)) * 100 * cores;
}

/**
 * Waits until processes outside this benchmark use less than `maxPercent` of one core over a
 * one-second sample, for at most `timeoutMs`; returns the last sample (% of one core).
 */
export async function waitForQuiet(maxPercent: number, timeoutMs: number, onWait: (busy: number) => void): Promise<number | null> {
  const deadline = Date.now() + timeoutMs;
  let warned = false;
  for (;;) {
    const m0 = systemCpu();
    const t0 = ownTreeCpu();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const m1 = systemCpu();
    const t1 = ownTreeCpu();
    const all = processPercent(m0, m1, cpus().length);
    const ours = treePercent(t0, t1, m0, m1, cpus().length);
    if (all === null || ours === null) return null;
    const others = Math.max(0, all - ours);
    if (others < maxPercent || Date.now() >= deadline) return others;
    if (!warned) onWait(others);
    warned = true;
  }
}
