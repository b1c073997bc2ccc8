import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/** Sockets the server cut off for taking too long to send a request (see http/server.ts). */
const timedOut = new WeakSet<Socket>();

export function markTimedOut(socket: Socket): void {
  timedOut.add(socket);
}

/**
 * Whether reading a request failed because its connection went away — the client hung up, or
 * the server's request timeout cut it off: nothing to answer, and nothing wrong with the server.
 */
export function isClientAbort(error: unknown, req: IncomingMessage): boolean {
  const code = (error as NodeJS.ErrnoException | null | undefined)?.code;
  return (code === 'ECONNRESET' || code === 'ECONNABORTED' || code === 'ERR_STREAM_PREMATURE_CLOSE') && (req.destroyed || req.socket.destroyed);
}

/**
 * The status an access line records for a request that never got its answer: 408 when the server's
 * timeout cut it off (and answered 408), 499 when the client went away (nginx's "client closed
 * request").
 */
export function abortStatus(req: IncomingMessage): 408 | 499 {
  return timedOut.has(req.socket) ? 408 : 499;
}
