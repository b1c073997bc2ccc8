/**
 * Tessera's HTTP server: node:http with limits for what a client may hold, and a drain for
 * shutdown.
 * - Headers must arrive within `headersTimeoutMs` and the whole request within `requestTimeoutMs`
 *   (Node's own defaults hold a slow body for 300 s); past either, 408 and the connection closes.
 * - At most `maxConnections` at once; one beyond is closed at its first moment.
 * - drain(): no new connections; every response not yet sent, and every later one on an open
 *   connection, says `Connection: close` (RFC 9112 §9.6) so that its client sends nothing more on
 *   it; idle keep-alive connections are closed at once. A client sees a clean close or a refused
 *   connection, never a reset after sending a request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../logger.ts';
import { markTimedOut } from './client-abort.ts';

export interface ServerLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  maxConnections: number;
}

export interface TesseraServer {
  server: Server;
  /** Resolves once every connection has ended. */
  drain(): Promise<void>;
}

/** How often dropped connections may be reported: a flood would otherwise flood the log. */
const DROP_REPORT_MS = 10_000;

export function createHttpServer(handler: (req: IncomingMessage, res: ServerResponse) => void, limits: ServerLimits, logger: Logger): TesseraServer {
  const inFlight = new Set<ServerResponse>();
  let draining = false;
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      // Node looks for expired requests this often (30 s by default).
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 4))),
    },
    (req, res) => {
      if (draining) {
        res.shouldKeepAlive = false;
      } else {
        inFlight.add(res);
        res.once('close', () => inFlight.delete(res));
      }
      handler(req, res);
    },
  );
  server.maxConnections = limits.maxConnections;

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

  return {
    server,
    drain: () => {
      draining = true;
      for (const res of inFlight) if (!res.headersSent) res.shouldKeepAlive = false;
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    },
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
