/**
 * Client secrets cannot be guessed at any endpoint that checks them (RFC 6749 §2.3.1, §10.10):
 * /oauth/token, /oauth/revoke and /oauth/introspect share one failure throttle, per client address
 * and per client_id. Behind a trusted proxy, addresses are taken from the right of
 * X-Forwarded-For. A correct secret from an address that is not the failing one is never refused.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { recordSecret } from '../support/log-capture.ts';
import { basicAuthorization, startOAuthApp, type ClientCredentials, type OAuthApp, type OAuthStoreMode } from '../support/oauth-browser.ts';
import { uniqueName } from '../support/unique.ts';

const LIMIT = 3;

interface Endpoint {
  path: string;
  form: Record<string, string>;
  /** The kind of client that may call it. */
  type: 'connector' | 'resource_server';
  /** The answer when the client authenticated (the token itself being nothing). */
  authenticated: { status: number; error?: string };
}

const ENDPOINTS: Endpoint[] = [
  { path: '/oauth/token', form: { grant_type: 'refresh_token', refresh_token: 'not-a-refresh-token' }, type: 'connector', authenticated: { status: 400, error: 'invalid_grant' } },
  { path: '/oauth/revoke', form: { token: 'not-a-token' }, type: 'connector', authenticated: { status: 200 } },
  { path: '/oauth/introspect', form: { token: 'not-a-token' }, type: 'resource_server', authenticated: { status: 200 } },
];

export function describeClientAuthThrottle(mode: OAuthStoreMode): void {
  describe.each(ENDPOINTS)(`${mode}: client authentication at $path`, (endpoint) => {
    let app: OAuthApp;
    beforeAll(async () => {
      app = await startOAuthApp(mode, { env: { TESSERA_AUTH_FAILURES_PER_MINUTE: String(LIMIT), TESSERA_TRUST_PROXY: 'true' }, label: 'client-throttle' });
    }, 30_000);
    afterAll(async () => {
      await app?.close();
    });

    // A client of each test's own: the per-client_id counts start afresh.
    let client: ClientCredentials;
    beforeEach(async () => {
      const issued = await app.tessera.services.clients.create({
        name: `${endpoint.type} ${uniqueName('c')}`,
        type: endpoint.type,
        redirectUris: endpoint.type === 'connector' ? ['https://zapier.example/cb'] : [],
        scopes: ['leads:read'],
      });
      client = { id: issued.client.id, secret: recordSecret(issued.secret) };
    });

    /** A request as the trusted proxy forwards it: `from` is the address it saw, `spoofed` what the client wrote. */
    async function call(from: string, secret: string | null, spoofed?: string) {
      const res = await fetch(`${app.url}${endpoint.path}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-forwarded-for': spoofed ? `${spoofed}, ${from}` : from,
          authorization: basicAuthorization({ id: client.id, secret: secret ?? client.secret }),
        },
        body: new URLSearchParams(endpoint.form),
      });
      const text = await res.text();
      const body = (text.startsWith('{') ? JSON.parse(text) : {}) as { error?: string };
      return { status: res.status, error: body.error, retryAfter: res.headers.get('retry-after') };
    }
    const wrong = (n: number) => `wrong-secret-${n}-${'x'.repeat(20)}`;
    const expectAuthenticated = (reply: Awaited<ReturnType<typeof call>>) =>
      expect({ status: reply.status, error: reply.error }).toEqual({ status: endpoint.authenticated.status, error: endpoint.authenticated.error });

    it('answers 429 with Retry-After after the limit of wrong secrets from one address, even to the right one', async () => {
      const statuses = [];
      for (let i = 0; i < LIMIT + 2; i++) statuses.push((await call('198.51.100.1', wrong(i))).status);
      expect(statuses).toEqual([...Array(LIMIT).fill(401), 429, 429]);
      const blocked = await call('198.51.100.1', null);
      expect(blocked.status).toBe(429);
      expect(Number(blocked.retryAfter)).toBeGreaterThan(0);
      expectAuthenticated(await call('198.51.100.2', null));
    });

    it('counts the address the trusted proxy saw, whatever the client writes to its left', async () => {
      const statuses = [];
      for (let i = 0; i < LIMIT + 1; i++) statuses.push((await call('198.51.100.11', wrong(i), `10.1.1.${i}`)).status);
      expect(statuses).toEqual([...Array(LIMIT).fill(401), 429]);
      // The victim whose address the attacker wrote is not blocked.
      expectAuthenticated(await call('10.1.1.0', null));
    });

    it('once a client_id has failed too often, slows guessing from any address to one try each; its right secret from elsewhere still works', async () => {
      // Other clients' addresses must not interfere: fresh addresses only.
      const statuses = [];
      for (let i = 0; i < LIMIT + 4; i++) {
        const address = `203.0.113.${10 + i}`;
        statuses.push([(await call(address, wrong(i))).status, (await call(address, wrong(i))).status]);
      }
      // Below the client's limit an address has a limit of its own; from there on, its first
      // failure blocks it for this client.
      expect(statuses).toEqual([
        [401, 401],
        ...Array(LIMIT + 3).fill([401, 429]),
      ]);
      expectAuthenticated(await call('203.0.113.99', null));
    });
  });
}
