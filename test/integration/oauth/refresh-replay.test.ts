/**
 * Connectors refresh from many workers at once. A hundred parallel presentations of one refresh
 * token, spread over two instances sharing MongoDB and Redis (as replicas behind one load
 * balancer), must all get the same successor pair — never a 503, never a second rotation (which
 * would be reuse and end the grant) — whatever the length of the reuse window.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { apiCall, connectAndExchange, startOAuthApp, tokenRequest, type OAuthApp, type TokenReply } from '../../support/oauth-browser.ts';

for (const windowSeconds of [30, 1]) {
  describe(`refresh reuse window of ${windowSeconds} s, two instances on MongoDB + Redis`, () => {
    let a: OAuthApp;
    let b: OAuthApp;
    beforeAll(async () => {
      const env = { TESSERA_REFRESH_REUSE_WINDOW_SECONDS: String(windowSeconds) };
      a = await startOAuthApp('external', { env, label: 'refresh-replay' });
      b = await startOAuthApp('external', { env, label: 'refresh-replay', replicaOf: a });
    }, 60_000);
    afterAll(async () => {
      await b?.close();
      await a?.close();
    });

    const refresh = (app: OAuthApp, refreshToken: string): Promise<TokenReply> =>
      tokenRequest(app.url, app.fixture.connector, { grant_type: 'refresh_token', refresh_token: refreshToken });

    it('a hundred parallel refreshes of one token: every one 200 with the same new pair, and the grant intact', async () => {
      const tokens = await connectAndExchange(a.url, a.fixture);
      const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => refresh(i % 2 === 0 ? a : b, tokens.refresh_token)));
      const statuses = replies.map((r) => r.status);
      expect({ ok: statuses.filter((s) => s === 200).length, others: replies.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.text}`) }).toEqual({ ok: 100, others: [] });
      const pairs = new Set(replies.map((r) => `${String(r.body.access_token)} ${String(r.body.refresh_token)}`));
      expect(pairs.size).toBe(1);
      expect(replies[0]!.body.refresh_token).not.toBe(tokens.refresh_token);

      const successor = replies[0]!.body;
      for (const app of [a, b]) expect((await apiCall(app.url, 'GET', '/api/v1/me', successor.access_token as string)).status).toBe(200);
      // The successor refreshes as usual: nothing above was taken for reuse.
      const next = await refresh(b, successor.refresh_token as string);
      expect(next.status).toBe(200);
    }, 60_000);
  });
}
