import type { IncomingMessage } from 'node:http';
import type { Middleware } from 'koa';

/**
 * The address a request came from, as every throttle keys on it. Without a trusted proxy it is the
 * socket's peer. Behind `hops` proxies that each append the address they saw to X-Forwarded-For,
 * it is the entry `hops` places from the right: everything further left was written by the client
 * (or a proxy it chose) and proves nothing. A list shorter than `hops` came through fewer proxies
 * than configured; its leftmost entry is then the nearest thing to the client.
 */
export function clientAddress(req: Pick<IncomingMessage, 'headers' | 'socket'>, hops: number): string {
  const remote = req.socket.remoteAddress ?? '';
  if (hops === 0) return remote;
  const header = req.headers['x-forwarded-for'];
  if (header === undefined) return remote;
  const entries = (Array.isArray(header) ? header.join(',') : header)
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  if (entries.length === 0) return remote;
  return entries[Math.max(0, entries.length - hops)]!;
}

/** Koa's ctx.ip, set from clientAddress before anything reads it. */
export function clientAddressMiddleware(hops: number): Middleware {
  return async (ctx, next) => {
    ctx.request.ip = clientAddress(ctx.req, hops);
    await next();
  };
}
