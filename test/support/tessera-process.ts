/**
 * Tessera as a real process (`node src/main.ts`, what `npm start` runs), for end-to-end tests of
 * start-up, configuration, readiness and shutdown. Its stdout and stderr go to captured log
 * files that the leak scan reads.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { resolve } from 'node:path';
import { freePort } from './free-port.ts';
import { testLogFile } from './log-capture.ts';

const ROOT = resolve(import.meta.dirname, '../..');

export interface TesseraProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** Everything printed so far, stdout and stderr. */
  output(): string;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  /** Sends a signal (SIGTERM by default) and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Only what the test gives: the test runner's MONGODB_URI / REDIS_URL must not leak in. */
function environment(env: Record<string, string>, port: number): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'test',
    PORT: String(port),
    HOST: '127.0.0.1',
    ...env,
  };
}

/** Tessera, its CLI, or the example resource server (which the kit's end-to-end test runs). */
export type Script = 'src/main.ts' | 'src/cli.ts' | 'examples/resource-server.ts';

/**
 * `terminal: 'memory'` keeps what the process prints in memory only, out of the scanned logs: for
 * a process that prints credentials at their creation (the embedded demo's banner), whose
 * structured log then goes to a scanned file of its own (TESSERA_LOG_FILE).
 */
export function spawnTessera(script: Script, args: string[], env: Record<string, string>, port: number, label: string, terminal: 'log' | 'memory' = 'log'): {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', script, ...args], {
    cwd: ROOT,
    env: environment(env, port),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = terminal === 'log' ? createWriteStream(testLogFile(label)) : null;
  let output = '';
  const collect = (chunk: Buffer): void => {
    output += chunk.toString();
    log?.write(chunk);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<number | null>((resolvePromise) => {
    child.on('exit', (code) => {
      // Let the pipes drain before the log file is closed.
      setTimeout(() => (log ? log.end(() => resolvePromise(code)) : resolvePromise(code)), 50);
    });
  });
  return { child, output: () => output, exited };
}

/** Starts Tessera and waits until /health/alive answers; fails with its output if it exits. */
export async function startTessera(env: Record<string, string> = {}, label = 'tessera', terminal: 'log' | 'memory' = 'log'): Promise<TesseraProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logFile: Record<string, string> = terminal === 'memory' ? { TESSERA_LOG_FILE: testLogFile(label) } : {};
  const { child, output, exited } = spawnTessera('src/main.ts', [], { BASE_URL: url, ...logFile, ...env }, port, label, terminal);
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exitCode !== undefined) throw new Error(`Tessera exited with ${exitCode} during start-up:\n${output()}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`Tessera did not answer within 30 s:\n${output()}`);
    }
    const alive = await fetch(`${url}/health/alive`).then(
      (r) => r.ok,
      () => false,
    );
    if (alive) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    port,
    child,
    output,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (exitCode === undefined) child.kill(signal);
      return exited;
    },
  };
}

/** Runs Tessera (or the CLI) expecting it to exit by itself; returns the exit code and output. */
export async function runToExit(
  script: 'src/main.ts' | 'src/cli.ts',
  args: string[],
  env: Record<string, string>,
  label: string,
  timeoutMs = 30_000,
): Promise<{ code: number | null; output: string }> {
  const port = await freePort();
  const { child, output, exited } = spawnTessera(script, args, env, port, label);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await exited;
  clearTimeout(timer);
  return { code, output: output() };
}

/** Waits until Tessera reports ready (its stores reachable); fails with its output after `timeoutMs`. */
export async function waitUntilReady(tessera: TesseraProcess, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const res = await fetch(`${tessera.url}/health/ready`).catch(() => null);
    if (res?.status === 200) return;
    await res?.text();
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Tessera at ${tessera.url} was not ready within ${timeoutMs} ms:\n${tessera.output()}`);
}
