/**
 * The parent side of the benchmark targets: each server under test runs in its own Node process
 * (forked with an IPC channel), so that the load generator in this process and the server never
 * share an event loop. Every child started here is remembered and stopped by stopAllTargets().
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { ChildMessage, ParentMessage, TargetStats } from '../targets/ipc.ts';

export const BENCH_DIR = join(import.meta.dirname, '..');
export const TMP_DIR = join(BENCH_DIR, 'tmp');

export interface Target {
  name: string;
  port: number;
  pid: number;
  info: Record<string, unknown>;
  stats(): Promise<TargetStats>;
  /** Resets the target's own counters (not its CPU clock). */
  reset(): Promise<void>;
  /** Runs one of the target's named commands (minting, seeding); never during a measured run. */
  command<T>(name: string, payload?: unknown, timeoutMs?: number): Promise<T>;
  stop(): Promise<void>;
}

export interface TargetOptions {
  env?: Record<string, string>;
  /** Extra Node flags, e.g. --cpu-prof. */
  nodeFlags?: string[];
  startTimeoutMs?: number;
}

const running = new Set<ChildProcess>();
/** A message to a target, before its id is added. */
type Question = ParentMessage extends infer M ? (M extends ParentMessage ? Omit<M, 'id'> : never) : never;
const OUTPUT_TAIL = 8 * 1024;

/** Forks bench/targets/<script> and resolves once it reports its port. */
export function startTarget(name: string, script: string, options: TargetOptions = {}): Promise<Target> {
  mkdirSync(TMP_DIR, { recursive: true });
  const outputFile = join(TMP_DIR, `${name}.out`);
  mkdirSync(dirname(outputFile), { recursive: true });
  const output = createWriteStream(outputFile);
  let tail = '';
  const child = fork(resolve(BENCH_DIR, 'targets', script), [], {
    execPath: process.execPath,
    execArgv: ['--disable-warning=ExperimentalWarning', ...(options.nodeFlags ?? [])],
    // Only what the target needs: no MONGODB_URI/REDIS_URL from the caller's shell leaks in; the
    // caller's BENCH_* variables do (switches of experimental targets).
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', NODE_ENV: 'production', ...benchVariables(), ...options.env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  running.add(child);
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', (chunk: Buffer) => {
      output.write(chunk);
      tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL);
    });
  }
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      output.end();
      resolve(code ?? (signal ? 128 : null));
    });
  });

  let nextId = 1;
  const pending = new Map<number, (message: ChildMessage) => void>();
  const ask = <T extends ChildMessage>(message: Question, timeoutMs = 10_000): Promise<T> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const what = message.type === 'command' ? `command ${message.name}` : message.type;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${name}: no answer to ${what} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      pending.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer as T);
      });
      child.send({ ...message, id });
    });

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} (${basename(script)}) did not start within ${(options.startTimeoutMs ?? 60_000) / 1000} s; output:\n${tail}`));
    }, options.startTimeoutMs ?? 60_000);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} (${basename(script)}) exited with ${code} before it was ready; output (${outputFile}):\n${tail}`));
    });
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'failed') {
        clearTimeout(timer);
        reject(new Error(`${name} (${basename(script)}) failed to start: ${message.message}`));
      } else if (message.type === 'ready') {
        clearTimeout(timer);
        resolve({
          name,
          port: message.port,
          pid: message.pid,
          info: message.info ?? {},
          stats: async () => (await ask<Extract<ChildMessage, { type: 'stats' }>>({ type: 'stats' })).stats,
          reset: async () => {
            await ask({ type: 'reset' });
          },
          command: async <T>(command: string, payload?: unknown, timeoutMs = 600_000): Promise<T> => {
            const answer = await ask<Extract<ChildMessage, { type: 'command' }>>({ type: 'command', name: command, payload }, timeoutMs);
            if (answer.error !== undefined) throw new Error(`${name}: command ${command} failed: ${answer.error}`);
            return answer.result as T;
          },
          stop: () => stopChild(child, exited),
        });
      } else {
        pending.get(message.id)?.(message);
        pending.delete(message.id);
      }
    });
  });
}

function benchVariables(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('BENCH_') && e[1] !== undefined));
}

/** SIGTERM, then SIGKILL after 5 s; resolves once the process is gone. */
async function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Stops every target still running (idempotent). */
export async function stopAllTargets(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
        }),
    ),
  );
}

/** Last resort on process exit: synchronous SIGKILL to every child still running. */
export function killAllTargetsNow(): void {
  for (const child of running) child.kill('SIGKILL');
}
