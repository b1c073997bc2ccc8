/**
 * What Tessera's HTTP server does with connections, as a real process: slow headers and bodies are
 * cut off by timeouts (408) while everything else is served, aborted requests are logged as client
 * aborts (never a 5xx or an "unhandled error"), connections beyond the cap are refused, and on
 * SIGTERM every response says `Connection: close` and idle keep-alive connections are closed — so
 * a client sees a clean close or a refused connection, never a reset after sending a request.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTessera, type TesseraProcess } from '../support/tessera-process.ts';

/** A raw connection that records what it received and how it ended. */
interface RawConnection {
  socket: Socket;
  received(): string;
  /** Resolves when the connection has ended: `reset` if it ended with an error (ECONNRESET, EPIPE). */
  ended: Promise<{ reset: string | null; afterMs: number }>;
}

async function open(port: number): Promise<RawConnection> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let received = '';
  let reset: string | null = null;
  const started = Date.now();
  socket.on('data', (chunk) => (received += chunk.toString()));
  socket.on('error', (error: NodeJS.ErrnoException) => (reset = error.code ?? error.message));
  const ended = new Promise<{ reset: string | null; afterMs: number }>((resolve) => socket.once('close', () => resolve({ reset, afterMs: Date.now() - started })));
  return { socket, received: () => received, ended };
}

/** The head of a form POST announcing `length` bytes of body. */
const formHead = (path: string, length: number, keepAlive = true) =>
  `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${length}\r\n${keepAlive ? '' : 'Connection: close\r\n'}\r\n`;

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const FORM_PATHS = ['/oauth/introspect', '/oauth/token', '/interaction/some-interaction/login'];

describe('slow and aborted requests (request timeout 1 s, headers timeout 1 s)', () => {
  let tessera: TesseraProcess;
  beforeAll(async () => {
    tessera = await startTessera({ TESSERA_REQUEST_TIMEOUT_MS: '1000', TESSERA_HEADERS_TIMEOUT_MS: '1000' }, 'connections-slow');
  });
  afterAll(async () => {
    await tessera.stop();
  });

  it('answers 408 and closes a request whose body stalls, at every form endpoint, while /health/ready is served', async () => {
    const slow = await Promise.all(
      FORM_PATHS.map(async (path) => {
        const c = await open(tessera.port);
        c.socket.write(`${formHead(path, 64)}token=abc`);
        return c;
      }),
    );
    const ready = await fetch(`${tessera.url}/health/ready`);
    expect(ready.status).toBe(200);
    for (const c of slow) {
      const end = await within(c.ended, 5_000, 'the stalled request was still held');
      expect(end.reset).toBeNull();
      expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
    }
  }, 20_000);

  it('answers 408 and closes a connection whose headers stall', async () => {
    const c = await open(tessera.port);
    c.socket.write('POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    await within(c.ended, 5_000, 'the stalled headers were still held');
    expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
  }, 20_000);

  it('logs a request its client aborted at info, as a client abort: no 5xx, no unhandled error', async () => {
    for (const path of FORM_PATHS) {
      const c = await open(tessera.port);
      c.socket.write(`${formHead(path, 64)}token=abc`);
      await new Promise((r) => setTimeout(r, 100));
      c.socket.destroy();
    }
    // Access lines are written in batches within 100 ms.
    await new Promise((r) => setTimeout(r, 500));
    const lines = tessera
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: string; msg: string; path?: string; status?: number });
    expect(lines.filter((l) => l.msg === 'unhandled error' || l.level === 'error')).toEqual([]);
    expect(lines.filter((l) => (l.status ?? 0) >= 500)).toEqual([]);
    for (const path of FORM_PATHS) {
      const access = lines.filter((l) => l.path === path && l.status !== undefined);
      expect(access.map((l) => l.status)).toContain(499);
      expect(lines.some((l) => l.level === 'info' && l.msg === 'client aborted the request' && l.path === path)).toBe(true);
    }
  }, 20_000);
});

describe('the connection cap (TESSERA_MAX_CONNECTIONS=4)', () => {
  let tessera: TesseraProcess;
  beforeAll(async () => {
    tessera = await startTessera({ TESSERA_MAX_CONNECTIONS: '4' }, 'connections-cap');
  });
  afterAll(async () => {
    await tessera.stop();
  });

  it('closes a connection beyond the cap at once, and serves again once connections close', async () => {
    const held = await Promise.all(Array.from({ length: 4 }, () => open(tessera.port)));
    const extra = await open(tessera.port);
    extra.socket.write('GET /health/alive HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await within(extra.ended, 5_000, 'the connection beyond the cap was served');
    expect(extra.received()).toBe('');
    for (const c of held) c.socket.destroy();
    await Promise.all(held.map((c) => c.ended));
    await new Promise((r) => setTimeout(r, 100));
    expect((await fetch(`${tessera.url}/health/alive`)).status).toBe(200);
  }, 20_000);
});

describe('shutdown with keep-alive connections', () => {
  it('on SIGTERM: the response in flight says Connection: close, an idle keep-alive connection is closed, new ones refused, nothing reset', async () => {
    const tessera = await startTessera({}, 'connections-shutdown');
    try {
      // An idle keep-alive connection, after one exchange.
      const idle = await open(tessera.port);
      idle.socket.write('GET /health/alive HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      await within(
        new Promise<void>((resolve) => idle.socket.on('data', () => idle.received().includes('"alive"') && resolve())),
        5_000,
        'no answer on the keep-alive connection',
      );
      expect(idle.received()).toMatch(/Connection: keep-alive/i);
      // A request in flight: its body is not all there yet.
      const body = 'token=not-a-token';
      const inFlight = await open(tessera.port);
      inFlight.socket.write(`${formHead('/oauth/introspect', body.length)}${body.slice(0, 5)}`);
      await new Promise((r) => setTimeout(r, 200));

      tessera.child.kill('SIGTERM');
      const idleEnd = await within(idle.ended, 5_000, 'the idle connection stayed open');
      expect(idleEnd.reset).toBeNull();
      await new Promise((r) => setTimeout(r, 100));
      await expect(open(tessera.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });

      inFlight.socket.write(body.slice(5));
      const inFlightEnd = await within(inFlight.ended, 5_000, 'the connection of the request in flight stayed open');
      expect(inFlightEnd.reset).toBeNull();
      expect(inFlight.received()).toMatch(/^HTTP\/1\.1 401 /);
      expect(inFlight.received()).toMatch(/\r\nConnection: close\r\n/i);
      expect(await tessera.exited).toBe(0);
    } finally {
      await tessera.stop();
    }
  }, 30_000);
});
