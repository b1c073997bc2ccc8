/**
 * Tessera's HTTP server: node:http with limits for what a client may hold, and a drain for
 * shutdown.
 * - Headers must arrive within `headersTimeoutMs` and the whole request within `requestTimeoutMs`
 *   (Node's own defaults hold a slow body for 300 s); past either, 408 and the connection closes.
 *   Both still hold while draining.
 * - At most `maxConnections` at once; one beyond is closed at its first moment.
 * - drain(): a client sees a complete response, a refused connection, or a clean close before it
 *   sent a request — never a reset or a close after sending one, as far as a server can see to it:
 *   1. Every response not yet sent, and every later one, says `Connection: close` (RFC 9112 §9.6):
 *      its client sends nothing more on that connection, which Node closes once the response is out.
 *   2. The listening socket closes only once the kernel's accept queue is empty. Closing it drops
 *      what is queued there — connections the kernel has completed and the process has not yet
 *      accepted, their requests possibly sent — and Linux resets each of them: under a burst, dozens
 *      of clients read ECONNRESET after sending. So the server goes on accepting (and answering with
 *      `Connection: close`) until a look at the listening socket finds nothing for `acceptQuietMs`,
 *      for at most `acceptMaxMs`, and then closes it; later connections are refused.
 *   3. A connection with no request in progress — idle keep-alive, or accepted and not yet read —
 *      is closed once it has had none for `graceMs` (at once if it was idle that long already); a
 *      request that comes before is answered, with `Connection: close`. Closing every idle
 *      connection at once would catch each client that is between two requests, its next one
 *      already on the way (the race of RFC 9112 §9.3.1 and §9.5). The close is staged (§9.6): a
 *      half-close (FIN), then the server reads until the client closes too (at most `lingerMs`)
 *      and processes nothing read then, so that a request crossing the FIN meets no reset.
 *   What no server can prevent: a connection the kernel completes in the instant the listening
 *   socket closes is reset by the kernel; a request sent on a connection just as its grace ends
 *   meets the FIN — it is not processed, and its client may retry it (§9.3.1).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import type { Logger } from '../logger.ts';
import { markTimedOut } from './client-abort.ts';

export interface ServerLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  maxConnections: number;
  /** How long a shutdown may take in all: the drain's own waits are kept to a fraction of it. */
  shutdownTimeoutMs: number;
}

export interface TesseraServer {
  server: Server;
  /** Resolves once every connection has ended. */
  drain(): Promise<void>;
}

/** How often dropped connections may be reported: a flood would otherwise flood the log. */
const DROP_REPORT_MS = 10_000;

/**
 * The drain's waits (see drain() above), each capped by a share of the shutdown timeout so that
 * idle connections never make a shutdown overrun it: with the default 10 s they are 25 ms, 250 ms,
 * 250 ms and 500 ms.
 */
function drainTimings(shutdownTimeoutMs: number): { acceptQuietMs: number; acceptMaxMs: number; graceMs: number; lingerMs: number } {
  return {
    // Long enough to span the gaps between the connections of one client's burst.
    acceptQuietMs: Math.min(25, Math.floor(shutdownTimeoutMs / 40)),
    // "Stops accepting connections" stays true to within a fraction of a second.
    acceptMaxMs: Math.min(250, Math.floor(shutdownTimeoutMs / 10)),
    // Far longer than a busy client takes to send its next request; short enough not to hold the exit.
    graceMs: Math.min(250, Math.floor(shutdownTimeoutMs / 5)),
    // Clients close at once on a FIN; this bounds the wait for one that does not.
    lingerMs: Math.min(500, Math.floor(shutdownTimeoutMs / 5)),
  };
}

/** What the server knows of one connection. */
interface Connection {
  /** Responses to requests read on it and not yet finished. */
  responses: Set<ServerResponse>;
  /** Since when it has had no request in progress (ms, performance.now()) … */
  idleSince: number;
  /** … and socket.bytesRead then: more since means a request is arriving. */
  idleAtBytes: number;
  /** While draining: the rest of its grace, then the linger. */
  timer: NodeJS.Timeout | undefined;
  /** Half-closed by the drain: a request read on it now is not processed (RFC 9112 §9.6). */
  closing: boolean;
}

export function createHttpServer(handler: (req: IncomingMessage, res: ServerResponse) => void, limits: ServerLimits, logger: Logger): TesseraServer {
  const connections = new Map<Socket, Connection>();
  const timings = drainTimings(limits.shutdownTimeoutMs);
  let draining = false;
  let acceptedWhileDraining = 0;

  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      // Node looks for expired requests this often (30 s by default).
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 4))),
    },
    (req, res) => {
      const connection = connections.get(req.socket);
      if (connection?.closing) {
        // It crossed the FIN of a connection the drain closed: it can be given no answer, so it
        // is not acted on either; the client, which reads the FIN, may send it again elsewhere.
        req.resume();
        return;
      }
      if (connection) {
        const socket = req.socket;
        clearTimeout(connection.timer);
        connection.responses.add(res);
        res.once('close', () => {
          connection.responses.delete(res);
          if (connection.responses.size > 0) return;
          connection.idleSince = performance.now();
          connection.idleAtBytes = socket.bytesRead;
          if (draining) closeWhenIdle(socket, connection);
        });
      }
      if (draining) res.shouldKeepAlive = false;
      handler(req, res);
    },
  );
  server.maxConnections = limits.maxConnections;

  server.on('connection', (socket: Socket) => {
    const connection: Connection = { responses: new Set(), idleSince: performance.now(), idleAtBytes: socket.bytesRead, timer: undefined, closing: false };
    connections.set(socket, connection);
    socket.once('close', () => {
      clearTimeout(connection.timer);
      connections.delete(socket);
    });
    if (draining) {
      acceptedWhileDraining++;
      closeWhenIdle(socket, connection);
    }
  });

  /**
   * Closes a connection once it has had no request in progress for `graceMs` (at once if it
   * already had before the drain): a half-close, then the socket is destroyed when the client has
   * closed too, or after the linger.
   */
  function closeWhenIdle(socket: Socket, connection: Connection): void {
    clearTimeout(connection.timer);
    const rest = Math.max(0, connection.idleSince + timings.graceMs - performance.now());
    connection.timer = setTimeout(() => {
      connection.timer = undefined;
      if (connection.responses.size > 0 || connection.closing || socket.destroyed) return;
      if (socket.bytesRead !== connection.idleAtBytes) {
        // A request is arriving (its headers are not all there yet): it is given its turn, which
        // the headers timeout still bounds.
        connection.idleSince = performance.now();
        connection.idleAtBytes = socket.bytesRead;
        closeWhenIdle(socket, connection);
        return;
      }
      connection.closing = true;
      socket.end();
      connection.timer = setTimeout(() => socket.destroy(), timings.lingerMs);
    }, rest);
  }

  /**
   * Accepts until the listening socket has had nothing for `acceptQuietMs` (at most `acceptMaxMs`),
   * then closes it. The look is made in a setImmediate after the quiet: that runs right after the
   * event loop has polled for I/O, so a connection in the accept queue would just have been accepted.
   */
  function stopAccepting(then: () => void): void {
    const started = Date.now();
    let acceptedBefore = -1;
    const look = (): void => {
      if (acceptedWhileDraining !== acceptedBefore && Date.now() - started < timings.acceptMaxMs) {
        acceptedBefore = acceptedWhileDraining;
        setTimeout(() => setImmediate(look), timings.acceptQuietMs);
        return;
      }
      logger.info({ acceptedWhileDraining, openConnections: connections.size }, 'shutting down: stopped accepting connections');
      then();
    };
    look();
  }

  // Node's own answer to a client error, with a note of timeouts (their requests are then logged
  // as 408, not as client aborts) — a listener here replaces Node's default, so it is repeated.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      markTimedOut(socket);
      logger.info({ ip: socket.remoteAddress }, 'request timed out: closed the connection');
    }
    if (socket.writable && socket.bytesWritten === 0) socket.write(clientErrorResponse(error.code));
    socket.destroy(error);
  });

  let dropped = 0;
  let reportedAt = 0;
  server.on('drop', () => {
    dropped++;
    const now = Date.now();
    if (now - reportedAt < DROP_REPORT_MS) return;
    logger.warn({ dropped, maxConnections: limits.maxConnections }, 'connection limit reached: refusing new connections');
    reportedAt = now;
    dropped = 0;
  });

  let drained: Promise<void> | undefined;
  return {
    server,
    drain: () =>
      (drained ??= new Promise<void>((resolve) => {
        draining = true;
        for (const [socket, connection] of connections) {
          for (const res of connection.responses) if (!res.headersSent) res.shouldKeepAlive = false;
          if (connection.responses.size === 0) closeWhenIdle(socket, connection);
        }
        // net's close, not http's: http's would also destroy at once every connection between two
        // requests (closeIdleConnections), and stop the headers and request timeouts. The callback
        // comes once every connection has closed.
        stopAccepting(() => NetServer.prototype.close.call(server, () => resolve()));
      })),
  };
}

/** What Node answers to a request it cannot parse or that took too long (its defaults). */
function clientErrorResponse(code: string | undefined): string {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n';
    case 'HPE_HEADER_OVERFLOW':
      return 'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n';
    default:
      return 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n';
  }
}
