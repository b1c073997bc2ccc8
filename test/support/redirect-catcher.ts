/**
 * The connector's end of an OAuth flow in the browser tests: where the browser is sent back with
 * the code. Playwright's routing cannot answer it (it never sees the hops of a redirect, and the
 * consent ends with Tessera's 303 to the redirect URI), and a connector's registered address may
 * be fixed — the demo connector's is http://127.0.0.1:8085/callback, where `npm run tessera --
 * demo` (and so test/e2e/first-hour.test.ts) listens — so it cannot be simply listened on.
 *
 * One loopback HTTP server on a free port plays both parts:
 *   - a redirect URI of its own (`${catcher.origin}/callback`), for a connector a test seeds;
 *   - through `proxyFor(…)`, the browser context's HTTP proxy: every request to any other origin
 *     (the demo's 127.0.0.1:8085, say) comes to it and is answered by it, while the origins named
 *     (Tessera's) are reached directly. Chromium proxies loopback addresses too (Playwright adds
 *     `<-loopback>` to the bypass list), and nothing the browser asks for leaves the machine.
 * Every request is answered with a small page ("Connected") and recorded, so the address bar
 * shows the redirect URI with its code, as a person would see it — or, for a path given to
 * `serve(…)`, with that page (another site's page in a test: a cross-site form, say), on
 * whichever origin it is asked for.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll } from '@jest/globals';
import type { BrowserContextOptions } from 'playwright-core';
import { recordSecret } from './log-capture.ts';

export interface RedirectCatcher {
  /** Its own address, `http://127.0.0.1:<port>`. */
  readonly origin: string;
  /** Every request received, in order (full URLs). */
  readonly requests: URL[];
  /** Context options sending everything but the `direct` origins (Tessera's) to the catcher. */
  proxyFor(direct: string[]): Pick<BrowserContextOptions, 'proxy'>;
  /**
   * Answers requests for `pathname` (on any origin that reaches the catcher) with `html`, sent
   * without a Content-Security-Policy: a page of another site, for a test to open.
   */
  serve(pathname: string, html: string): void;
  /** The first request (already received or to come) whose URL starts with `prefix`. */
  received(prefix: string, timeoutMs?: number): Promise<URL>;
  close(): Promise<void>;
}

const PAGE = '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Connected</title></head><body><main><h1>Connected</h1></main></body></html>';

export async function startRedirectCatcher(): Promise<RedirectCatcher> {
  const requests: URL[] = [];
  const waiting: Array<{ prefix: string; resolve: (url: URL) => void }> = [];
  const pages = new Map<string, string>();
  const server: Server = createServer((req, res) => {
    // A proxied request names its absolute URL; a direct one, its path (and the Host header).
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
    const code = url.searchParams.get('code');
    if (code) recordSecret(code);
    requests.push(url);
    for (const w of [...waiting]) {
      if (url.href.startsWith(w.prefix)) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve(url);
      }
    }
    res.writeHead(url.pathname === '/favicon.ico' ? 204 : 200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(url.pathname === '/favicon.ico' ? undefined : (pages.get(url.pathname) ?? PAGE));
  });
  // HTTPS through the proxy (CONNECT): nothing here answers for a TLS origin; refuse it.
  server.on('connect', (_req, socket) => socket.end('HTTP/1.1 502 Bad Gateway\r\n\r\n'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the redirect catcher has no TCP address');
  const origin = `http://127.0.0.1:${address.port}`;
  return {
    origin,
    requests,
    proxyFor: (direct) => ({ proxy: { server: origin, bypass: direct.map((o) => new URL(o).host).join(',') } }),
    serve: (pathname, html) => void pages.set(pathname, html),
    received: (prefix, timeoutMs = 20_000) => {
      const seen = requests.find((url) => url.href.startsWith(prefix));
      if (seen) return Promise.resolve(seen);
      return new Promise<URL>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.splice(waiting.indexOf(entry), 1);
          reject(new Error(`no request to ${prefix} within ${timeoutMs} ms; received: ${requests.map((u) => `${u.origin}${u.pathname}`).join(', ') || 'none'}`));
        }, timeoutMs);
        const entry = {
          prefix,
          resolve: (url: URL) => {
            clearTimeout(timer);
            resolve(url);
          },
        };
        waiting.push(entry);
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Registers the hooks of a describe block (or of the file, at top level): a catcher started before
 * its tests and closed after them. What it returns is that catcher, once started.
 */
export function useRedirectCatcher(): Omit<RedirectCatcher, 'close'> {
  let catcher: RedirectCatcher | undefined;
  const started = (): RedirectCatcher => {
    if (!catcher) throw new Error('no redirect catcher: use it in a test or hook (useRedirectCatcher() registers the hooks)');
    return catcher;
  };
  beforeAll(async () => {
    catcher = await startRedirectCatcher();
  });
  afterAll(async () => {
    const closing = catcher;
    catcher = undefined;
    await closing?.close();
  });
  return {
    get origin() {
      return started().origin;
    },
    get requests() {
      return started().requests;
    },
    proxyFor: (direct) => started().proxyFor(direct),
    serve: (pathname, html) => started().serve(pathname, html),
    received: (prefix, timeoutMs) => started().received(prefix, timeoutMs),
  };
}
