// Throwaway Redis and MongoDB-wire servers for integration tests.
//
// Each server runs as a child process on a free loopback port with its data in a
// fresh temp dir, is only handed out once it answers its own protocol, and can be
// killed and restarted on the same port so tests can exercise outage handling.
// `bash scripts/provision.sh` installs/builds the binaries this file looks for.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from './free-port.ts';

export type ServerKind = 'redis' | 'mongod' | 'ferretdb';

export type RunningServer = {
  readonly kind: ServerKind;
  /** `redis://127.0.0.1:PORT` or `mongodb://127.0.0.1:PORT` (no database, no options). */
  readonly url: string;
  readonly port: number;
  /** SIGTERM, wait for exit (SIGKILL after 5 s), delete the temp dir. Idempotent. */
  stop(): Promise<void>;
  /**
   * Simulates a crash: sends `signal` (default SIGKILL) and, for signals that end
   * the process, resolves once it has exited. SIGSTOP/SIGCONT resolve at once,
   * which lets a test simulate a hung server. The temp dir is kept for restart().
   */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /**
   * Stops the server if it still runs and starts it again on the same port.
   * Redis comes back empty (no persistence); MongoDB keeps its data (same dir).
   */
  restart(): Promise<void>;
  /** The last few KiB of the server's stdout/stderr, for assertion messages. */
  logs(): string;
};

export type SharedServers = { mongo?: RunningServer; redis?: RunningServer };

const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;
const PROBE_TIMEOUT_MS = 1_000;
const LOG_TAIL_CHARS = 8 * 1024;
const PROVISION_HINT = 'run `bash scripts/provision.sh`';

// ---------------------------------------------------------------------------
// Public API

export async function startRedis(): Promise<RunningServer> {
  const redis = onPath('redis-server');
  if (redis === undefined) {
    throw new Error(`redis-server is not on PATH: ${PROVISION_HINT} (or set REDIS_URL)`);
  }
  return launch({
    kind: 'redis',
    command: redis,
    // No persistence: a restart deliberately comes back empty, like a lost cache.
    args: (port, dir) => [
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--dir', dir, '--daemonize', 'no',
    ],
    url: (port) => `redis://127.0.0.1:${port}`,
    isReady: redisAnswersPing,
  });
}

export async function startMongo(): Promise<RunningServer> {
  const mongod = onPath('mongod');
  if (mongod !== undefined) {
    return launch({
      kind: 'mongod',
      command: mongod,
      // A one-member replica set, because transactions and change streams need one.
      // The short signalled-shutdown timeout skips 5.0+'s 15 s quiesce on SIGTERM.
      args: (port, dir) => [
        '--dbpath', dir, '--bind_ip', '127.0.0.1', '--port', String(port), '--replSet', 'rs0',
        '--quiet', '--nounixsocket', '--wiredTigerCacheSizeGB', '0.25',
        '--setParameter', 'shutdownTimeoutMillisForSignaledShutdown=100',
        '--setParameter', 'diagnosticDataCollectionEnabled=false',
      ],
      url: mongoUrl,
      isReady: mongodIsWritablePrimary,
    });
  }
  const ferretdb = onPath('ferretdb') ?? cachedFerretdb();
  if (ferretdb !== undefined) {
    return launch({
      kind: 'ferretdb',
      command: ferretdb,
      args: (port, dir) => [
        '--handler=sqlite', `--sqlite-url=file:${dir}/`, `--state-dir=${dir}`,
        `--listen-addr=127.0.0.1:${port}`, '--debug-addr=-', '--telemetry=disable',
        '--log-level=warn',
      ],
      url: mongoUrl,
      isReady: async (port) => (await runCommand(port, { hello: 1, $db: 'admin' }))?.['ok'] === 1,
    });
  }
  throw new Error(
    `No MongoDB-compatible server found (mongod or ferretdb on PATH, or ${ferretdbCachePath()}): ` +
      `${PROVISION_HINT} (or set MONGODB_URI)`,
  );
}

const SHARED = Symbol.for('tessera.test.sharedServers');
type Started = { servers: SharedServers; setEnv: string[] };
type SharedState = { users: number; started: Promise<Started> };
// On globalThis because globalTeardown may load this module afresh.
const sharedSlot = globalThis as { [SHARED]?: SharedState };

/**
 * For jest globalSetup: starts whatever MONGODB_URI / REDIS_URL do not already
 * point at and exports the URLs through those variables, which jest workers
 * inherit. Calls are counted, so several setups sharing one process (e.g. one
 * per jest project) share one pair of servers, stopped by the last
 * stopSharedServers().
 */
export async function startSharedServers(): Promise<SharedServers> {
  let state = sharedSlot[SHARED];
  if (state === undefined) {
    const fresh: SharedState = { users: 0, started: startMissingServers() };
    // A failed start must not be handed to later callers: let them try again.
    fresh.started.catch(() => {
      if (sharedSlot[SHARED] === fresh) delete sharedSlot[SHARED];
    });
    sharedSlot[SHARED] = state = fresh;
  }
  state.users += 1;
  return (await state.started).servers;
}

/** For jest globalTeardown: stops what startSharedServers started and unsets its env vars. */
export async function stopSharedServers(): Promise<void> {
  const state = sharedSlot[SHARED];
  if (state === undefined || --state.users > 0) return;
  delete sharedSlot[SHARED];
  const started = await state.started.catch(() => undefined);
  if (started === undefined) return;
  for (const name of started.setEnv) delete process.env[name];
  await Promise.all(Object.values(started.servers).map((server) => server.stop()));
}

async function startMissingServers(): Promise<Started> {
  const [mongo, redis] = await Promise.allSettled([
    process.env['MONGODB_URI'] ? undefined : startMongo(),
    process.env['REDIS_URL'] ? undefined : startRedis(),
  ]);
  const servers: SharedServers = {};
  if (mongo.status === 'fulfilled' && mongo.value) servers.mongo = mongo.value;
  if (redis.status === 'fulfilled' && redis.value) servers.redis = redis.value;
  const failure = [mongo, redis].find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure !== undefined) {
    await Promise.all(Object.values(servers).map((server) => server.stop()));
    throw failure.reason;
  }
  const setEnv: string[] = [];
  if (servers.mongo) { process.env['MONGODB_URI'] = servers.mongo.url; setEnv.push('MONGODB_URI'); }
  if (servers.redis) { process.env['REDIS_URL'] = servers.redis.url; setEnv.push('REDIS_URL'); }
  return { servers, setEnv };
}

// ---------------------------------------------------------------------------
// Binaries

function onPath(name: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

// Same rule as scripts/node-env.sh: `${TESSERA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tessera}`
// (`||`, not `??`, because `:-` also replaces empty values).
function ferretdbCachePath(): string {
  const cache =
    process.env['TESSERA_CACHE_DIR'] ||
    join(process.env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'tessera');
  return join(cache, 'bin', 'ferretdb');
}

function cachedFerretdb(): string | undefined {
  const path = ferretdbCachePath();
  return isExecutableFile(path) ? path : undefined;
}

const mongoUrl = (port: number): string => `mongodb://127.0.0.1:${port}`;

// ---------------------------------------------------------------------------
// Process lifecycle

type LaunchSpec = {
  kind: ServerKind;
  command: string;
  args(port: number, dir: string): string[];
  url(port: number): string;
  /** One readiness probe; must not throw and must give up within a few seconds. */
  isReady(port: number): Promise<boolean>;
};

/** A spawned child plus a promise that settles (never rejects) once it is gone. */
type Proc = { child: ChildProcess; gone: Promise<string>; isGone(): boolean };

type OutputTail = { add(text: string): void; text(): string };

function outputTail(): OutputTail {
  let kept = '';
  return {
    add: (text) => { kept = (kept + text).slice(-LOG_TAIL_CHARS); },
    text: () => kept,
  };
}

async function launch(spec: LaunchSpec): Promise<RunningServer> {
  const tail = outputTail();
  let dir = mkdtempSync(join(tmpdir(), `tessera-${spec.kind}-`));
  let proc: Proc | undefined;

  const startOn = async (port: number): Promise<void> => {
    proc = spawnServer(spec.command, spec.args(port, dir), tail, dir);
    try {
      await waitUntilReady(proc, () => spec.isReady(port));
    } catch (err) {
      await terminate(proc);
      const reason = err instanceof Error ? err.message : String(err);
      throw new Error(
        `${spec.kind} (${spec.command}) on port ${port} ${reason}; last output:\n${tail.text()}`,
      );
    }
  };

  // freePort() only says the port was free a moment ago; if someone grabbed it
  // before the server bound it, try another one rather than fail the run.
  let port = 0;
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await startOn(port);
      break;
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      if (attempt >= 3 || !/address already in use/i.test(tail.text())) throw err;
      tail.add(`\n--- port ${port} was taken, retrying on another ---\n`);
      dir = mkdtempSync(join(tmpdir(), `tessera-${spec.kind}-`));
    }
  }

  let stopping: Promise<void> | undefined;
  return {
    kind: spec.kind,
    url: spec.url(port),
    port,
    stop() {
      stopping ??= (async () => {
        if (proc !== undefined) await terminate(proc);
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
    async kill(signal = 'SIGKILL') {
      if (proc === undefined || proc.isGone()) return;
      proc.child.kill(signal);
      if (signal !== 'SIGSTOP' && signal !== 'SIGCONT' && signal !== 'SIGTSTP') {
        await waitForExit(proc, STOP_GRACE_MS);
      }
    },
    async restart() {
      if (stopping !== undefined) throw new Error(`${spec.kind}: restart() after stop()`);
      if (proc !== undefined) await terminate(proc);
      tail.add(`\n--- restart on port ${port} ---\n`);
      await startOn(port);
    },
    logs: () => tail.text(),
  };
}

function spawnServer(command: string, args: string[], tail: OutputTail, dir: string): Proc {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const watchdog = child.pid !== undefined ? spawnWatchdog(child.pid, dir) : undefined;
  let gone = false;
  const goneReason = new Promise<string>((resolve) => {
    const end = async (reason: string): Promise<void> => {
      // With the server gone its watchdog has nothing left to guard; waiting for
      // it too means a stopped server leaves no process of ours behind.
      if (watchdog !== undefined) await endWatchdog(watchdog);
      gone = true;
      resolve(reason);
    };
    child.once('exit', (code, signal) => {
      void end(signal !== null ? `was killed by ${signal}` : `exited with code ${code}`);
    });
    child.on('error', (err) => {
      // Also emitted when kill() fails on a live process; only spawn failures end it.
      if (child.pid === undefined) void end(`could not be started (${err.message})`);
    });
  });
  // Neither the child nor its pipes may keep a jest worker's event loop alive;
  // the output is still read whenever the loop runs.
  child.unref();
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding('utf8');
    stream?.on('data', (text: string) => tail.add(text));
    unref(stream);
  }
  return { child, gone: goneReason, isGone: () => gone };
}

// A server must not outlive the test process, however that ends: a forgotten
// stop(), a crashed or force-killed jest worker, Ctrl-C. An in-process 'exit'
// hook cannot do this (it does not run on SIGKILL, and inside jest's sandbox
// `process` is a copy whose 'exit' never fires), so each server gets a tiny
// shell that holds the read end of a pipe we never write to. When our process
// dies the pipe closes, `read` sees EOF, and the shell kills the server and
// deletes its temp dir. While we live, the watchdog is SIGKILLed as soon as its
// server exits. `read` is a shell builtin, so no stray helper process remains.
const WATCHDOG_SCRIPT =
  'while read -r _; do :; done; kill -s KILL "$1" 2>/dev/null; sleep 1; rm -rf "$2"';

function spawnWatchdog(pid: number, dir: string): ChildProcess {
  const watchdog = spawn('/bin/sh', ['-c', WATCHDOG_SCRIPT, 'tessera-watchdog', String(pid), dir], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  watchdog.on('error', () => {}); // best effort: without /bin/sh we only lose the safety net
  watchdog.unref();
  unref(watchdog.stdin);
  return watchdog;
}

async function endWatchdog(watchdog: ChildProcess): Promise<void> {
  if (watchdog.pid === undefined || watchdog.exitCode !== null || watchdog.signalCode !== null) return;
  const exited = once(watchdog, 'exit').catch(() => undefined);
  watchdog.kill('SIGKILL');
  await exited;
}

/** Pipes are net.Sockets at runtime, but typed as plain streams. */
function unref(stream: unknown): void {
  (stream as { unref?: () => void } | null)?.unref?.();
}

async function waitUntilReady(proc: Proc, isReady: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!proc.isGone()) {
    if (await isReady()) return;
    if (Date.now() >= deadline) {
      throw new Error(`was not ready within ${START_TIMEOUT_MS / 1000} s`);
    }
    await delay(100);
  }
  const reason = await proc.gone;
  await delay(100); // let the last output (usually the actual error) arrive
  throw new Error(`${reason} before it was ready`);
}

/** SIGTERM, then SIGKILL if it has not exited after STOP_GRACE_MS. */
async function terminate(proc: Proc): Promise<void> {
  if (proc.isGone()) return;
  proc.child.kill('SIGTERM');
  // A test may have frozen the server with kill('SIGSTOP'); a stopped process
  // only acts on the SIGTERM once continued. Harmless for a running one.
  proc.child.kill('SIGCONT');
  if (await waitForExit(proc, STOP_GRACE_MS)) return;
  proc.child.kill('SIGKILL');
  await waitForExit(proc, STOP_GRACE_MS);
}

/**
 * Resolves true once the process is gone, false after `ms`. The timer is what
 * keeps the event loop alive meanwhile: the child itself is unref'd.
 */
function waitForExit(proc: Proc, ms: number): Promise<boolean> {
  if (proc.isGone()) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void proc.gone.then(() => { clearTimeout(timer); resolve(true); });
  });
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------
// Readiness probes over raw TCP (no client libraries, so this file has no deps)

/** Sends `request` and collects the reply until `complete` says it is whole. */
function exchange(
  port: number,
  request: Buffer,
  complete: (reply: Buffer) => boolean,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    let received = Buffer.alloc(0);
    const socket = connect({ host: '127.0.0.1', port });
    const finish = (reply: Buffer | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reply);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    socket.once('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (complete(received)) finish(received);
    });
    socket.once('error', () => finish(undefined));
    socket.once('close', () => finish(undefined));
  });
}

async function redisAnswersPing(port: number): Promise<boolean> {
  // While loading, Redis answers -LOADING instead, which is correctly "not ready".
  const reply = await exchange(port, Buffer.from('PING\r\n'), (r) => r.includes('\r\n'));
  return reply?.toString('latin1').startsWith('+PONG') ?? false;
}

async function mongodIsWritablePrimary(port: number): Promise<boolean> {
  const hello = await runCommand(port, { hello: 1, $db: 'admin' });
  if (hello?.['ok'] !== 1) return false;
  if (hello['isWritablePrimary'] === true) return true;
  // Fresh dbpath: the replica set has no config yet. On restart the config is
  // already in the dbpath (same host:port), so this is only sent the first time.
  if (hello['isreplicaset'] === true && hello['setName'] === undefined) {
    await runCommand(
      port,
      { replSetInitiate: { _id: 'rs0', members: [{ _id: 0, host: `127.0.0.1:${port}` }] }, $db: 'admin' },
      15_000,
    );
  }
  return false;
}

// --- Minimal MongoDB wire protocol: one OP_MSG command, one reply. ----------

type BsonValue = string | number | boolean | null | BsonDoc | BsonValue[];
type BsonDoc = { [key: string]: BsonValue };

const OP_MSG = 2013;
let nextRequestId = 1;

async function runCommand(port: number, command: BsonDoc, timeoutMs?: number): Promise<BsonDoc | undefined> {
  const requestId = nextRequestId++;
  const body = encodeBson(command);
  // Header: messageLength, requestID, responseTo, opCode; then flagBits and a
  // single kind-0 section holding the command document.
  const head = Buffer.alloc(21);
  head.writeInt32LE(head.length + body.length, 0);
  head.writeInt32LE(requestId, 4);
  head.writeInt32LE(0, 8);
  head.writeInt32LE(OP_MSG, 12);
  head.writeUInt32LE(0, 16);
  head.writeUInt8(0, 20);
  const reply = await exchange(
    port,
    Buffer.concat([head, body]),
    (r) => r.length >= 4 && r.length >= r.readInt32LE(0),
    timeoutMs,
  );
  if (reply === undefined || reply.length < 26) return undefined;
  if (reply.readInt32LE(8) !== requestId || reply.readInt32LE(12) !== OP_MSG || reply[20] !== 0) {
    return undefined;
  }
  try {
    return decodeBson(reply, 21);
  } catch {
    return undefined;
  }
}

function encodeBson(doc: BsonDoc | BsonValue[]): Buffer {
  const elements = Object.entries(doc).map(([key, value]) => encodeElement(key, value));
  const body = Buffer.concat(elements);
  const size = Buffer.alloc(4);
  size.writeInt32LE(4 + body.length + 1);
  return Buffer.concat([size, body, Buffer.from([0])]);
}

function encodeElement(key: string, value: BsonValue): Buffer {
  const element = (type: number, payload: Buffer): Buffer =>
    Buffer.concat([Buffer.from([type]), Buffer.from(`${key}\0`, 'utf8'), payload]);
  if (typeof value === 'string') {
    const text = Buffer.from(`${value}\0`, 'utf8');
    const size = Buffer.alloc(4);
    size.writeInt32LE(text.length);
    return element(0x02, Buffer.concat([size, text]));
  }
  if (typeof value === 'number') {
    const payload = Buffer.alloc(Number.isInteger(value) && Math.abs(value) < 2 ** 31 ? 4 : 8);
    if (payload.length === 4) payload.writeInt32LE(value);
    else payload.writeDoubleLE(value);
    return element(payload.length === 4 ? 0x10 : 0x01, payload);
  }
  if (typeof value === 'boolean') return element(0x08, Buffer.from([value ? 1 : 0]));
  if (value === null) return element(0x0a, Buffer.alloc(0));
  return element(Array.isArray(value) ? 0x04 : 0x03, encodeBson(value));
}

/**
 * Decodes the fields a hello/command reply needs. Values of types we never read
 * (ObjectId, dates, timestamps, binary, decimal) are skipped; an unknown type
 * ends decoding, keeping what was read so far.
 */
function decodeBson(buf: Buffer, start: number): BsonDoc {
  const end = start + buf.readInt32LE(start) - 1;
  const doc: BsonDoc = {};
  let i = start + 4;
  while (i < end) {
    const type = buf.readUInt8(i);
    const keyEnd = buf.indexOf(0, i + 1);
    const key = buf.toString('utf8', i + 1, keyEnd);
    i = keyEnd + 1;
    switch (type) {
      case 0x01: doc[key] = buf.readDoubleLE(i); i += 8; break;
      case 0x02: { const n = buf.readInt32LE(i); doc[key] = buf.toString('utf8', i + 4, i + 3 + n); i += 4 + n; break; }
      case 0x03: doc[key] = decodeBson(buf, i); i += buf.readInt32LE(i); break;
      case 0x04: doc[key] = Object.values(decodeBson(buf, i)); i += buf.readInt32LE(i); break;
      case 0x05: i += 5 + buf.readInt32LE(i); break; // binary
      case 0x07: i += 12; break; // ObjectId
      case 0x08: doc[key] = buf.readUInt8(i) === 1; i += 1; break;
      case 0x09: case 0x11: i += 8; break; // date, timestamp
      case 0x0a: doc[key] = null; break;
      case 0x10: doc[key] = buf.readInt32LE(i); i += 4; break;
      case 0x12: doc[key] = Number(buf.readBigInt64LE(i)); i += 8; break;
      case 0x13: i += 16; break; // decimal128
      default: return doc;
    }
  }
  return doc;
}
