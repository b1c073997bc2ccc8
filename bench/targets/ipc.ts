/**
 * The child side of a benchmark target: tells the parent (over the fork IPC channel) which port
 * it listens on, answers `stats` requests with this process's CPU time and event-loop
 * utilisation (plus any counters the target keeps), runs the named commands a target offers (the
 * token cases mint tokens and seed grants inside the process that holds them), and exits when the
 * parent goes away.
 */
import type { Server } from 'node:http';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

export type Counters = () => Record<string, number>;

/** What a target does on the parent's request (JSON in, JSON out), between measured runs only. */
export type Commands = Record<string, (payload: unknown) => Promise<unknown>>;

export interface TargetStats {
  /** process.cpuUsage() in microseconds since the process started. */
  cpu: NodeJS.CpuUsage;
  /** Event-loop utilisation since the process started (use the difference of two snapshots). */
  elu: EventLoopUtilization;
  rssBytes: number;
  /** CLOCK_MONOTONIC in µs: the clock of V8 CPU profiles' timestamps, to cut a profile to a run. */
  monotonicUs: number;
  counters: Record<string, number>;
}

export type ParentMessage = { type: 'stats'; id: number } | { type: 'reset'; id: number } | { type: 'command'; id: number; name: string; payload: unknown };
export type ChildMessage =
  | { type: 'ready'; port: number; pid: number; info?: Record<string, unknown> }
  | { type: 'stats'; id: number; stats: TargetStats }
  | { type: 'reset'; id: number }
  | { type: 'command'; id: number; result?: unknown; error?: string }
  | { type: 'failed'; message: string };

function send(message: ChildMessage): void {
  process.send?.(message);
}

/**
 * Listens on a loopback port chosen by the OS, on the loopback address (unless the target had to
 * listen already, to learn its own URL first: see listenOnLoopback), and reports it; wires stats,
 * commands and shutdown.
 */
export async function serveTarget(server: Server, counters: Counters = () => ({}), reset: () => void = () => undefined, info?: Record<string, unknown>, commands: Commands = {}): Promise<void> {
  if (!process.send) throw new Error('a benchmark target must be started by bench/run.ts (fork with an IPC channel)');
  // Keep-alive connections from the load generator: never let an idle one be cut mid-run.
  server.keepAliveTimeout = 60_000;
  const port = server.listening ? portOf(server) : await listenOnLoopback(server);
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'stats') {
      send({ type: 'stats', id: message.id, stats: { cpu: process.cpuUsage(), elu: performance.eventLoopUtilization(), rssBytes: process.memoryUsage.rss(), monotonicUs: Number(process.hrtime.bigint() / 1000n), counters: counters() } });
    } else if (message.type === 'reset') {
      reset();
      send({ type: 'reset', id: message.id });
    } else if (message.type === 'command') {
      const run = commands[message.name];
      if (!run) {
        send({ type: 'command', id: message.id, error: `this target has no command "${message.name}"` });
        return;
      }
      run(message.payload).then(
        (result) => send({ type: 'command', id: message.id, result }),
        (error: unknown) => send({ type: 'command', id: message.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
      );
    }
  });
  // The parent died or dropped us: nothing is left to serve.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', port, pid: process.pid, ...(info ? { info } : {}) });
}

/** Listens on a loopback port chosen by the OS; resolves with it. */
export async function listenOnLoopback(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return portOf(server);
}

function portOf(server: Server): number {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

/** Reports a start-up failure to the parent and exits non-zero. */
export function failTarget(error: unknown): never {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  console.error(message);
  if (!process.send) process.exit(1);
  // Exit once the message is on its way (or after a second, whatever happens).
  setTimeout(() => process.exit(1), 1_000).unref();
  process.send({ type: 'failed', message } satisfies ChildMessage, () => process.exit(1));
  // Never returns: the process ends in the callback or the timer above.
  return undefined as never;
}
