/**
 * POST /oauth/introspect (RFC 7662) and /oauth/revoke for API keys (RFC 7009), on the memory
 * stores and on MongoDB + Redis: one principal for both bearer kinds, one inactive answer.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { operatorActor } from '../../src/services/accounts/operator-actor.ts';
import { startApi, type ApiHarness, type Member, type StoreMode } from '../support/api-harness.ts';
import { recordSecret } from '../support/log-capture.ts';
import { uniqueName } from '../support/unique.ts';

const INACTIVE = '{"active":false}';

interface Client {
  id: string;
  secret: string;
}

export function describeIntrospection(mode: StoreMode): void {
  let h: ApiHarness;
  let rs: Client;
  let rsBoundToB: Client;
  let connector: Client;

  const make = async (type: 'connector' | 'resource_server', orgId?: string): Promise<Client> => {
    const issued = await h.tessera.services.clients.create({
      name: `${type} ${uniqueName('c')}`,
      type,
      redirectUris: type === 'connector' ? ['https://zapier.example/cb'] : [],
      scopes: ['leads:read'],
      ...(orgId ? { orgId } : {}),
    });
    return { id: issued.client.id, secret: recordSecret(issued.secret) };
  };

  beforeAll(async () => {
    h = await startApi(mode, { TESSERA_AUTH_FAILURES_PER_MINUTE: '100000' });
    rs = await make('resource_server');
    rsBoundToB = await make('resource_server', h.orgB);
    connector = await make('connector');
  });
  afterAll(async () => {
    await h.close();
  });

  const basic = (c: Client) => recordSecret(`Basic ${Buffer.from(`${c.id}:${c.secret}`).toString('base64')}`);
  const introspect = async (token: string, caller: Client | null = rs, extra: Record<string, string> = {}) => {
    const res = await fetch(`${h.url}/oauth/introspect`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(caller ? { authorization: basic(caller) } : {}) },
      body: new URLSearchParams({ token, ...extra }),
    });
    return { status: res.status, text: await res.text(), headers: res.headers };
  };

  /** A connected app's access token, stored as the provider stores it. */
  const oauthToken = (member: Member, orgId = h.orgA, ttlSeconds = 3600) => h.connectApp(member, connector.id, { orgId, ttlSeconds });

  describe(`${mode}: active bearers`, () => {
    it('answers an API key with the principal', async () => {
      const made = await h.keyFor(h.members.editor, { scopes: ['leads:read', 'keys:read'], env: 'test' });
      const res = await introspect(made.secret);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(JSON.parse(res.text)).toEqual({
        active: true,
        kind: 'api_key',
        sub: h.members.editor.userId,
        org_id: h.orgA,
        scope: 'keys:read leads:read',
        key_id: made.record.id,
        env: 'test',
        iat: Math.floor(made.record.createdAt.getTime() / 1000),
        iss: h.tessera.config.baseUrl,
        token_type: 'Bearer',
      });
    });

    it('answers an OAuth access token with the same principal fields', async () => {
      const t = await oauthToken(h.members.editor);
      const res = await introspect(t.token);
      expect(JSON.parse(res.text)).toEqual({
        active: true,
        kind: 'oauth',
        sub: h.members.editor.userId,
        org_id: h.orgA,
        scope: 'leads:read',
        client_id: connector.id,
        grant_id: t.grantId,
        iat: t.iat,
        exp: t.exp,
        iss: h.tessera.config.baseUrl,
        token_type: 'Bearer',
      });
      const key = await h.keyFor(h.members.editor, { expiresAt: new Date(h.clock.now().getTime() + 60_000) });
      const fromKey = JSON.parse((await introspect(key.secret)).text) as Record<string, unknown>;
      const fromToken = JSON.parse(res.text) as Record<string, unknown>;
      const shared = ['active', 'kind', 'sub', 'org_id', 'scope', 'iat', 'exp', 'iss', 'token_type'];
      for (const field of shared) {
        expect(fromKey).toHaveProperty(field);
        expect(fromToken).toHaveProperty(field);
      }
      expect(Object.keys(fromKey).filter((k) => !shared.includes(k)).sort()).toEqual(['env', 'key_id']);
      expect(Object.keys(fromToken).filter((k) => !shared.includes(k)).sort()).toEqual(['client_id', 'grant_id']);
    });

    it('treats token_type_hint as a hint: a wrong one still finds the token', async () => {
      const made = await h.keyFor(h.members.owner);
      for (const hint of ['refresh_token', 'access_token', 'nonsense']) {
        expect(JSON.parse((await introspect(made.secret, rs, { token_type_hint: hint })).text)).toMatchObject({ active: true, key_id: made.record.id });
      }
    });

    it('accepts client_secret_post as well as HTTP Basic', async () => {
      const made = await h.keyFor(h.members.owner);
      const res = await fetch(`${h.url}/oauth/introspect`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: made.secret, client_id: rs.id, client_secret: rs.secret }),
      });
      expect(JSON.parse(await res.text())).toMatchObject({ active: true });
    });
  });

  describe(`${mode}: everything not usable now is {"active":false}, byte for byte`, () => {
    it('for every kind of inactive bearer', async () => {
      const actor = await operatorActor(h.tessera.stores, h.tessera.services.catalog, h.members.owner.userId, h.orgA);
      const revoked = await h.keyFor(h.members.owner);
      await h.tessera.services.apiKeys.revoke(actor, revoked.record.id);
      const disabled = await h.keyFor(h.members.owner);
      await h.tessera.services.apiKeys.update(actor, disabled.record.id, { active: false });
      const expiring = await h.keyFor(h.members.owner, { expiresAt: new Date(h.clock.now().getTime() + 1_000) });
      const expiringToken = await oauthToken(h.members.owner, h.orgA, 1);
      h.clock.advance(1_001);
      const good = await h.keyFor(h.members.owner);
      const flipped = recordSecret(good.secret.slice(0, -1) + (good.secret.endsWith('A') ? 'B' : 'A'));
      const revokedApp = await oauthToken(h.members.owner);
      await h.tessera.services.connectedApps.revoke(actor, revokedApp.grantId);
      const orgB = await h.keyFor(h.members.ownerB);
      await h.tessera.stores.organizations.update(h.orgB, { disabled: true });
      h.clock.advance(h.tessera.config.principalCacheMaxAgeMs);

      const cases: Array<[string, string, Client?]> = [
        ['unknown', recordSecret(`tsr_live_${'Q'.repeat(38)}`)],
        ['malformed', 'not a key at all'],
        ['bad checksum', flipped],
        ['expired key', expiring.secret],
        ['expired token', expiringToken.token],
        ['revoked key', revoked.secret],
        ['disabled key', disabled.secret],
        ['revoked connected app', revokedApp.token],
        ['disabled organization', orgB.secret],
        ['another organization’s (bound resource server)', good.secret, rsBoundToB],
        ['wrong hint', recordSecret(`tsr_live_${'R'.repeat(38)}`)],
        ['empty', ''],
        ['10 KB', 'k'.repeat(10_240)],
        ['unicode', 'ключ-🔑-clé'],
      ];
      try {
        for (const [what, token, caller] of cases) {
          const res = await introspect(token, caller ?? rs, what === 'wrong hint' ? { token_type_hint: 'refresh_token' } : {});
          expect({ what, status: res.status, text: res.text, cache: res.headers.get('cache-control') }).toEqual({ what, status: 200, text: INACTIVE, cache: 'no-store' });
        }
      } finally {
        await h.tessera.stores.organizations.update(h.orgB, { disabled: false });
      }
    });

    it('for a disabled client’s token, at once (the client event reaches the cache)', async () => {
      const t = await oauthToken(h.members.owner);
      expect(JSON.parse((await introspect(t.token)).text)).toMatchObject({ active: true });
      await h.tessera.services.clients.setDisabled(connector.id, true);
      try {
        const until = Date.now() + 2_000;
        let text = (await introspect(t.token)).text;
        while (text !== INACTIVE && Date.now() < until) text = (await introspect(t.token)).text;
        expect(text).toBe(INACTIVE);
      } finally {
        await h.tessera.services.clients.setDisabled(connector.id, false);
      }
    });
  });

  describe(`${mode}: who may introspect`, () => {
    it('refuses callers that are not resource servers with 401 invalid_client', async () => {
      const made = await h.keyFor(h.members.owner);
      const wrong = { id: rs.id, secret: recordSecret(`${rs.secret}x`) };
      for (const caller of [null, connector, wrong, { id: 'nobody', secret: recordSecret('nobody-secret-000000000000') }]) {
        const res = await introspect(made.secret, caller);
        expect(res.status).toBe(401);
        expect(JSON.parse(res.text)).toMatchObject({ error: 'invalid_client' });
        expect(res.text).not.toContain(made.record.id);
      }
    });

    it('refuses a resource server on a connection it already used, once it is disabled or its header is wrong', async () => {
      const own = await make('resource_server');
      const made = await h.keyFor(h.members.owner);
      // fetch keeps the connection alive: these requests share one socket.
      expect(JSON.parse((await introspect(made.secret, own)).text)).toMatchObject({ active: true });
      expect((await introspect(made.secret, { id: own.id, secret: recordSecret(`${own.secret}-not`) })).status).toBe(401);
      expect(JSON.parse((await introspect(made.secret, own)).text)).toMatchObject({ active: true });
      await h.tessera.services.clients.setDisabled(own.id, true);
      expect((await introspect(made.secret, own)).status).toBe(401);
      await h.tessera.services.clients.setDisabled(own.id, false);
      expect(JSON.parse((await introspect(made.secret, own)).text)).toMatchObject({ active: true });
    });

    it('refuses credentials given twice, and a missing token', async () => {
      const both = await fetch(`${h.url}/oauth/introspect`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(rs) },
        body: new URLSearchParams({ token: 'x', client_id: rs.id, client_secret: rs.secret }),
      });
      expect(both.status).toBe(401);
      const res = await fetch(`${h.url}/oauth/introspect`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(rs) }, body: '' });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid_request' });
    });
  });

  describe(`${mode}: the request and its trace`, () => {
    it('refuses a body that is not a form (415) and a form over 16 KB (413), as errors in the one error body', async () => {
      const json = await fetch(`${h.url}/oauth/introspect`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: basic(rs) }, body: '{"token":"x"}' });
      expect(json.status).toBe(415);
      expect(await json.json()).toEqual({ error: { code: 'UNSUPPORTED_MEDIA_TYPE', message: expect.any(String) } });
      const big = await fetch(`${h.url}/oauth/introspect`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(rs) }, body: `token=${'a'.repeat(20_000)}` });
      expect(big.status).toBe(413);
      expect(await big.json()).toEqual({ error: { code: 'PAYLOAD_TOO_LARGE', message: expect.any(String) } });
      // The connection was closed, not the server: the next request is answered.
      const made = await h.keyFor(h.members.owner);
      expect(JSON.parse((await introspect(made.secret)).text)).toMatchObject({ active: true });
    });

    it('answers with no-store and the caller’s request id, and logs one line without the token', async () => {
      const made = await h.keyFor(h.members.owner);
      const requestId = uniqueName('trace');
      const res = await fetch(`${h.url}/oauth/introspect`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(rs), 'x-request-id': requestId },
        body: new URLSearchParams({ token: made.secret }),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('x-request-id')).toBe(requestId);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      const lines = readFileSync(h.tessera.config.logFile!, 'utf8')
        .split('\n')
        .filter((line) => line.includes(requestId));
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'info', service: 'tessera', requestId, method: 'POST', path: '/oauth/introspect', status: 200, ip: expect.any(String), msg: 'request' });
      expect(JSON.parse(lines[0]!).time).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT/));
      expect(lines[0]).not.toContain(made.secret);
    });
  });

  describe(`${mode}: /oauth/revoke takes API keys from any authenticated client`, () => {
    const revoke = (token: string, caller: Client | null) =>
      fetch(`${h.url}/oauth/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(caller ? { authorization: basic(caller) } : {}) },
        body: new URLSearchParams({ token }),
      });

    it.each([['connector'], ['resource server']])('revokes a leaked key reported by a %s: 200, then inactive everywhere', async (who) => {
      const made = await h.keyFor(h.members.owner);
      expect(JSON.parse((await introspect(made.secret)).text)).toMatchObject({ active: true });
      const res = await revoke(made.secret, who === 'connector' ? connector : rs);
      expect(res.status).toBe(200);
      expect((await introspect(made.secret)).text).toBe(INACTIVE);
      expect((await h.request('GET', '/api/v1/me', { key: made.secret })).status).toBe(401);
      const events = ((await h.request('GET', '/api/v1/audit-events?limit=100', { key: (await h.keyFor(h.members.owner)).secret })).body as { data: Array<{ action: string; target: { id: string }; actor: unknown }> }).data;
      expect(events.find((e) => e.target.id === made.record.id && e.action === 'api_key.revoked')).toMatchObject({ actor: { user_id: null, credential: { kind: 'oauth_client' } } });
    });

    it('answers 200 for a token that is nothing, and refuses an unauthenticated caller', async () => {
      expect((await revoke(recordSecret('no-such-token-0123456789'), rs)).status).toBe(200);
      const made = await h.keyFor(h.members.owner);
      // No client credentials at all: the provider's invalid_request (400); wrong ones: invalid_client (401).
      const anonymous = await revoke(made.secret, null);
      expect(anonymous.status).toBe(400);
      expect(await anonymous.json()).toMatchObject({ error: 'invalid_request' });
      const wrong = await revoke(made.secret, { id: rs.id, secret: recordSecret(`${rs.secret}-wrong`) });
      expect(wrong.status).toBe(401);
      expect(JSON.parse((await introspect(made.secret)).text)).toMatchObject({ active: true });
    });
  });
}
