/**
 * SIGTERM under load, as a real process (embedded stores): whatever a client was doing when the
 * signal came, every request it sent gets a complete HTTP response — it is never reset or closed
 * on after sending it. A client may only be refused (or closed on) before it sends a request.
 *
 * At the signal there are, at once:
 * - a burst of requests on fresh connections, most of them not yet accepted by the process (they
 *   wait in the kernel's accept queue of the listening socket) or accepted but not yet read;
 * - keep-alive connections in use back to back: at any moment some have a request in flight and
 *   some are between two requests, the next one about to be sent;
 * - idle keep-alive connections, which must be closed cleanly (FIN, no reset);
 * - a client that tries new connections, which must end up refused.
 * Raw sockets, so that the test knows whether a request had been written when a connection ended.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { connect, type Socket } from 'node:net';
import { startTessera, type TesseraProcess } from '../support/tessera-process.ts';

const REQUEST = 'GET /health/alive HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
const FRESH = 300;
const BUSY = 20;
const IDLE = 5;

interface Response {
  status: number;
  connectionClose: boolean;
}

/** One request's fate, from the client's side. */
type Outcome =
  | { kind: 'answered'; response: Response }
  /** Refused or closed before the request was written: the client knows it was not sent. */
  | { kind: 'not sent'; why: string }
  /** The request was written and no complete response came back: what must never happen. */
  | { kind: 'failed after sending'; why: string; received: string };

/** A complete response at the start of `buffer` (Content-Length or chunked), with what follows it. */
function parseResponse(buffer: string): { response: Response; rest: string } | null {
  const headEnd = buffer.indexOf('\r\n\r\n');
  if (headEnd < 0) return null;
  const head = buffer.slice(0, headEnd);
  const lines = head.split('\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(lines[0] ?? '')?.[1] ?? NaN);
  const header = (name: string): string | undefined =>
    lines
      .slice(1)
      .find((l) => l.toLowerCase().startsWith(`${name}:`))
      ?.slice(name.length + 1)
      .trim()
      .toLowerCase();
  const bodyStart = headEnd + 4;
  let bodyEnd: number;
  if (header('transfer-encoding') === 'chunked') {
    const last = buffer.indexOf('\r\n0\r\n\r\n', bodyStart - 2);
    if (last < 0) return null;
    bodyEnd = last + 7;
  } else {
    bodyEnd = bodyStart + Number(header('content-length') ?? 0);
    if (buffer.length < bodyEnd) return null;
  }
  return { response: { status, connectionClose: header('connection') === 'close' }, rest: buffer.slice(bodyEnd) };
}

/**
 * A raw client connection: send() writes one request and resolves with its outcome. Records
 * whether the server closed the connection (and how) at any time.
 */
class Connection {
  private buffer = '';
  private error: string | null = null;
  private waiting: ((outcome: Outcome) => void) | null = null;
  /** Set once the server's FIN has been read (or the connection is otherwise done). */
  serverClosed = false;
  readonly closed: Promise<{ error: string | null; receivedAfterLastResponse: string }>;
  readonly socket: Socket;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      const parsed = parseResponse(this.buffer);
      if (parsed && this.waiting) {
        this.buffer = parsed.rest;
        const resolve = this.waiting;
        this.waiting = null;
        resolve({ kind: 'answered', response: parsed.response });
      }
    });
    socket.on('end', () => (this.serverClosed = true));
    socket.on('error', (error: NodeJS.ErrnoException) => (this.error = error.code ?? error.message));
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.serverClosed = true;
        if (this.waiting) {
          const resolveWaiting = this.waiting;
          this.waiting = null;
          resolveWaiting({ kind: 'failed after sending', why: this.error ?? 'closed without a response', received: this.buffer });
        }
        resolve({ error: this.error, receivedAfterLastResponse: this.buffer });
      }),
    );
  }

  /** Connects; rejects with the error code (ECONNREFUSED) when the connection is refused. */
  static open(port: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      const refused = (error: NodeJS.ErrnoException): void => reject(new Error(error.code ?? error.message));
      socket.once('error', refused);
      socket.once('connect', () => {
        socket.off('error', refused);
        resolve(new Connection(socket));
      });
    });
  }

  /** Writes one request, unless the connection is already closed; resolves with the outcome. */
  send(): Promise<Outcome> {
    if (this.serverClosed || this.socket.destroyed || this.socket.readableEnded) return Promise.resolve({ kind: 'not sent', why: 'closed by the server before the request' });
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.socket.write(REQUEST);
    });
  }
}

/** A connection of its own for one request, or why it was refused. */
async function openFresh(port: number): Promise<Connection | { refused: string }> {
  return Connection.open(port).catch((error: Error) => ({ refused: error.message }));
}

/** The one request of a fresh connection; the client closes the connection after the response. */
async function freshRequest(connection: Connection | { refused: string }, onAnswered: () => void): Promise<Outcome> {
  if (!(connection instanceof Connection)) return { kind: 'not sent', why: connection.refused };
  const outcome = await connection.send();
  if (outcome.kind === 'answered') onAnswered();
  connection.socket.destroy();
  return outcome;
}

/**
 * A keep-alive connection used back to back — the next request as soon as a response is read —
 * until a response says `Connection: close` or the server closes the connection.
 */
async function busyKeepAlive(port: number, started: () => void): Promise<{ outcomes: Outcome[]; end: { error: string | null; receivedAfterLastResponse: string } }> {
  const connection = await Connection.open(port);
  const outcomes: Outcome[] = [];
  for (;;) {
    const outcome = await connection.send();
    outcomes.push(outcome);
    if (outcomes.length === 1) started();
    if (outcome.kind !== 'answered' || outcome.response.connectionClose) break;
  }
  return { outcomes, end: await connection.closed };
}

/** Tries new connections (sending nothing) until one is refused; resolves with how long that took. */
async function untilRefused(port: number, since: number): Promise<number> {
  for (;;) {
    try {
      (await Connection.open(port)).socket.destroy();
    } catch (error) {
      if ((error as Error).message === 'ECONNREFUSED') return Date.now() - since;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

type Failure = Extract<Outcome, { kind: 'failed after sending' }>;
const failures = (outcomes: Outcome[]): Failure[] => outcomes.filter((o): o is Failure => o.kind === 'failed after sending');
const reasons = (outcomes: Outcome[]): string => [...new Set(failures(outcomes).map((o) => o.why))].join(', ') || 'none';
const count = (outcomes: Outcome[], kind: Outcome['kind']): number => outcomes.filter((o) => o.kind === kind).length;

describe('SIGTERM while connections are busy', () => {
  let tessera: TesseraProcess | undefined;
  afterEach(async () => {
    await tessera?.stop('SIGKILL');
    tessera = undefined;
  });

  it.each([
    // Every connection of the burst established (most not yet accepted by the process), no request written yet.
    ['with the burst connected, before it sends', -1],
    ['after 10 answers to the burst', 10],
    ['after 150 answers to the burst', 150],
  ])(
    'signal %s: every request sent is answered in full; idle connections close cleanly; new ones are refused',
    async (when, answersBeforeSignal) => {
      tessera = await startTessera({}, 'shutdown-connections', 'memory');
      const { port } = tessera;

      // Idle keep-alive connections: one exchange each, then nothing.
      const idle = await Promise.all(Array.from({ length: IDLE }, () => Connection.open(port)));
      for (const c of idle) expect(await c.send()).toEqual({ kind: 'answered', response: { status: 200, connectionClose: false } });

      // Keep-alive connections in use back to back, every one of them going before the signal.
      let busyStarted = 0;
      let allBusy!: () => void;
      const busyGoing = new Promise<void>((resolve) => (allBusy = resolve));
      const busy = Array.from({ length: BUSY }, () => busyKeepAlive(port, () => ++busyStarted === BUSY && allBusy()));
      await busyGoing;

      // The burst, and the signal during it.
      let answered = 0;
      let signalledAt = 0;
      const signal = (): void => {
        signalledAt = Date.now();
        tessera!.child.kill('SIGTERM');
      };
      const onAnswered = (): void => {
        if (++answered === answersBeforeSignal) signal();
      };
      let burst: Array<Promise<Outcome>>;
      if (answersBeforeSignal < 0) {
        const connections = await Promise.all(Array.from({ length: FRESH }, () => openFresh(port)));
        signal();
        burst = connections.map((c) => freshRequest(c, onAnswered));
      } else {
        burst = Array.from({ length: FRESH }, () => openFresh(port).then((c) => freshRequest(c, onAnswered)));
      }

      const fresh = await Promise.all(burst);
      expect(signalledAt).toBeGreaterThan(0);
      const refusedAfterMs = await untilRefused(port, signalledAt);
      const kept = await Promise.all(busy);
      const idleEnds = await Promise.all(idle.map((c) => c.closed));
      const code = await tessera.exited;
      const exitedAfterMs = Date.now() - signalledAt;

      const busyOutcomes = kept.flatMap((k) => k.outcomes);
      console.log(
        `[shutdown-connections] signal ${when}: burst ${count(fresh, 'answered')} answered, ${count(fresh, 'not sent')} refused before sending, ` +
          `${failures(fresh).length} failed after sending (${reasons(fresh)}); keep-alive ${count(busyOutcomes, 'answered')} answered, ` +
          `${count(busyOutcomes, 'not sent')} not sent, ${failures(busyOutcomes).length} failed after sending (${reasons(busyOutcomes)}); ` +
          `refused ${refusedAfterMs} ms and exited ${exitedAfterMs} ms after the signal`,
      );

      // Nothing sent went unanswered — on fresh connections or on keep-alive ones.
      expect(failures(fresh)).toEqual([]);
      expect(failures(busyOutcomes)).toEqual([]);
      // Every keep-alive connection in use was told, on a response, that it would close, and
      // then closed without a reset.
      for (const k of kept) {
        expect(k.outcomes.at(-1)).toEqual({ kind: 'answered', response: { status: 200, connectionClose: true } });
        expect(k.end).toEqual({ error: null, receivedAfterLastResponse: '' });
      }
      // Idle keep-alive connections were closed by the server, cleanly.
      expect(idleEnds).toEqual(Array(IDLE).fill({ error: null, receivedAfterLastResponse: '' }));
      // New connections end up refused, and the process exits 0 well before its shutdown timeout.
      expect(refusedAfterMs).toBeLessThan(5_000);
      expect(code).toBe(0);
      expect(exitedAfterMs).toBeLessThan(5_000);
    },
    60_000,
  );
});
