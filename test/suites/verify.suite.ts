/**
 * POST /v1/verify, on the memory stores and on MongoDB + Redis: every code, the principal as
 * introspection shows it, request windows (a credential's, a plan's, an organization's), spend
 * caps and balances, the UTC day, bad input, and metering read back through the usage API.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { operatorActor } from '../../src/services/accounts/operator-actor.ts';
import type { VerifyAnswer } from '../../src/services/authentication/verification-service.ts';
import { startApi, type ApiHarness, type StoreMode } from '../support/api-harness.ts';
import { recordSecret } from '../support/log-capture.ts';
import { uniqueName } from '../support/unique.ts';

interface Client {
  id: string;
  secret: string;
}

const PLANS = {
  free: {},
  metered: { rate_limit_per_minute: 2, organization: { rate_limit_per_minute: 3 } },
};

function plansFile(): string {
  const path = join(mkdtempSync(join(tmpdir(), 'plans-')), 'plans.json');
  writeFileSync(path, JSON.stringify(PLANS));
  return path;
}

export function describeVerify(mode: StoreMode): void {
  let h: ApiHarness;
  let rs: Client;
  let rsOfB: Client;
  let connector: Client;

  const register = async (type: 'resource_server' | 'connector', orgId?: string): Promise<Client> => {
    const issued = await h.tessera.services.clients.create({
      name: `${type} ${uniqueName('c')}`,
      type,
      redirectUris: type === 'connector' ? ['https://zapier.example/cb'] : [],
      scopes: ['leads:read', 'leads:write'],
      ...(orgId ? { orgId } : {}),
    });
    return { id: issued.client.id, secret: recordSecret(issued.secret) };
  };

  beforeAll(async () => {
    h = await startApi(mode, { TESSERA_AUTH_FAILURES_PER_MINUTE: '100000', TESSERA_PLANS_FILE: plansFile(), TESSERA_CREDIT_BALANCES: 'true' });
    rs = await register('resource_server');
    rsOfB = await register('resource_server', h.orgB);
    connector = await register('connector');
  });
  afterAll(async () => {
    await h.close();
  });

  const basic = (c: Client) => recordSecret(`Basic ${Buffer.from(`${c.id}:${c.secret}`).toString('base64')}`);
  async function verify(body: unknown, caller: Client | null = rs): Promise<{ status: number; body: VerifyAnswer & { error?: { code: string; field?: string } } }> {
    const res = await fetch(`${h.url}/v1/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(caller ? { authorization: basic(caller) } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as VerifyAnswer & { error?: { code: string; field?: string } } };
  }
  const code = async (token: string, extra: Record<string, unknown> = {}, caller: Client = rs) => (await verify({ token, ...extra }, caller)).body.code;
  /** The answer's code, the finer reason a profile answers by, and the bearer's kind where known. */
  const why = async (token: string, caller: Client = rs) => {
    const { code, reason, bearer_kind } = (await verify({ token }, caller)).body;
    return [code, reason, bearer_kind];
  };
  const actorOf = (member: { userId: string }, orgId = h.orgA) => operatorActor(h.tessera.stores, h.tessera.services.catalog, member.userId, orgId);

  describe(`${mode}: who may make this request`, () => {
    it('answers VALID with the principal as introspection shows it, for a key and for an OAuth token', async () => {
      const key = await h.keyFor(h.members.editor, { scopes: ['leads:read'] });
      const valid = await verify({ token: key.secret });
      expect(valid).toEqual({
        status: 200,
        body: {
          valid: true,
          code: 'VALID',
          bearer_kind: 'api_key',
          principal: {
            active: true,
            kind: 'api_key',
            sub: h.members.editor.userId,
            org_id: h.orgA,
            scope: 'leads:read',
            key_id: key.record.id,
            env: 'live',
            iat: Math.floor(key.record.createdAt.getTime() / 1000),
            iss: h.tessera.config.baseUrl,
            token_type: 'Bearer',
          },
        },
      });
      const app = await h.connectApp(h.members.editor, connector.id);
      expect((await verify({ token: app.token })).body).toMatchObject({ valid: true, code: 'VALID', principal: { kind: 'oauth', grant_id: app.grantId, client_id: connector.id } });
    });

    it('says why a bearer may not: NOT_FOUND, EXPIRED, REVOKED, DISABLED', async () => {
      const owner = await actorOf(h.members.owner);
      const expiring = await h.keyFor(h.members.owner, { expiresAt: new Date(h.clock.now().getTime() + 1_000) });
      const deleted = await h.keyFor(h.members.owner);
      await h.tessera.services.apiKeys.revoke(owner, deleted.record.id);
      const disabled = await h.keyFor(h.members.owner);
      await h.tessera.services.apiKeys.update(owner, disabled.record.id, { active: false });
      const revokedApp = await h.connectApp(h.members.owner, connector.id);
      await h.tessera.services.connectedApps.revokeGrant(revokedApp.grantId);
      const ofB = await h.keyFor(h.members.ownerB);
      h.clock.advance(h.tessera.config.principalCacheMaxAgeMs + 1_000);
      expect(await code(recordSecret(`tsr_live_${'Q'.repeat(38)}`))).toBe('NOT_FOUND');
      expect(await code('not a token')).toBe('NOT_FOUND');
      expect(await code(expiring.secret)).toBe('EXPIRED');
      expect(await code(deleted.secret)).toBe('REVOKED');
      // Revoking a connected app deletes its tokens from the store of record: they are unknown from then on.
      expect(await code(revokedApp.token)).toBe('NOT_FOUND');
      expect(await code(disabled.secret)).toBe('DISABLED');
      // A resource server bound to organization B knows nothing of A's bearers, and B's are valid to it.
      expect(await code(disabled.secret, {}, rsOfB)).toBe('NOT_FOUND');
      expect(await code(ofB.secret, {}, rsOfB)).toBe('VALID');
      expect(await code((await h.keyFor(h.members.owner)).secret, {}, rsOfB)).toBe('NOT_FOUND');

      // The reason and the bearer's kind, for a profile that answers them differently (config/profiles/).
      expect(await why(recordSecret(`tsr_live_${'Q'.repeat(38)}`))).toEqual(['NOT_FOUND', 'malformed', 'api_key']);
      expect(await why('not a token')).toEqual(['NOT_FOUND', 'malformed', undefined]);
      expect(await why(expiring.secret)).toEqual(['EXPIRED', 'expired', 'api_key']);
      expect(await why(deleted.secret)).toEqual(['REVOKED', 'revoked', 'api_key']);
      expect(await why(revokedApp.token)).toEqual(['NOT_FOUND', 'unknown', undefined]);
      expect(await why(disabled.secret)).toEqual(['DISABLED', 'disabled_key', 'api_key']);
      // Another organization's bearer is unknown to a bound resource server, kind and all.
      expect(await why(disabled.secret, rsOfB)).toEqual(['NOT_FOUND', 'unknown', undefined]);
    });

    it('says DISABLED for a bearer of a disabled user, organization or client', async () => {
      const user = await h.tessera.services.accounts.createUser({ email: `${uniqueName('u')}@example.com` });
      const org = await h.tessera.services.accounts.createOrganization({ name: 'Initech' });
      await h.tessera.services.accounts.setMembership(user.id, org.id, 'owner');
      const key = await h.keyFor({ userId: user.id, role: 'owner' }, {}, org.id);
      const ownClient = await register('connector');
      const app = await h.connectApp({ userId: user.id, role: 'owner' }, ownClient.id, { orgId: org.id });
      expect(await code(key.secret)).toBe('VALID');
      await h.tessera.services.clients.setDisabled(ownClient.id, true);
      expect(await code(app.token)).toBe('DISABLED');
      await h.tessera.services.accounts.updateOrganization(org.id, { disabled: true });
      expect(await code(key.secret)).toBe('DISABLED');
      await h.tessera.services.accounts.updateOrganization(org.id, { disabled: false });
      await h.tessera.services.accounts.updateUser(user.id, { disabled: true });
      expect(await code(key.secret)).toBe('DISABLED');
    });

    it('says INSUFFICIENT_SCOPE, naming what is missing, and counts nothing', async () => {
      const key = await h.keyFor(h.members.editor, { scopes: ['leads:read'], limits: { rateLimitPerMinute: 1 } });
      const refused = await verify({ token: key.secret, required_scopes: ['leads:read', 'leads:write'] });
      expect(refused.body).toMatchObject({ valid: false, code: 'INSUFFICIENT_SCOPE', missing_scopes: ['leads:write'], principal: { key_id: key.record.id } });
      expect(await code(key.secret, { required_scopes: ['leads:read'] })).toBe('VALID');
    });

    it('refuses callers that are not resource servers with 401 invalid_client', async () => {
      const key = await h.keyFor(h.members.owner);
      expect((await verify({ token: key.secret }, null)).status).toBe(401);
      expect((await verify({ token: key.secret }, connector)).status).toBe(401);
      expect((await verify({ token: key.secret }, { id: rs.id, secret: 'wrong-secret-0123456789' })).status).toBe(401);
    });
  });

  describe(`${mode}: request windows`, () => {
    it('counts requests per minute: RATE_LIMITED past the limit with when to retry, and afresh the next minute', async () => {
      const key = await h.keyFor(h.members.owner, { limits: { rateLimitPerMinute: 3 } });
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push((await verify({ token: key.secret })).body);
      expect(answers.map((a) => a.code)).toEqual(['VALID', 'VALID', 'VALID', 'RATE_LIMITED']);
      expect(answers.map((a) => a.ratelimit?.remaining)).toEqual([2, 1, 0, 0]);
      const minuteEnd = Math.ceil((Math.floor(h.clock.now().getTime() / 60_000) + 1) * 60);
      expect(answers[3]).toMatchObject({ valid: false, ratelimit: { limit: 3, reset: minuteEnd, policies: [{ name: 'minute', limit: 3, remaining: 0, reset: minuteEnd, window: 60 }] } });
      expect(answers[3]!.retry_after).toBe(minuteEnd - Math.floor(h.clock.now().getTime() / 1000));
      h.clock.advance(60_000);
      expect(await code(key.secret)).toBe('VALID');
    });

    it('keeps several windows at once, answers with the most constrained, and starts the day afresh at 00:00 UTC', async () => {
      const key = await h.keyFor(h.members.owner, { limits: { rateLimitPerMinute: 100, rateLimitPerDay: 2 } });
      const first = (await verify({ token: key.secret })).body;
      expect(first.ratelimit).toMatchObject({ limit: 2, remaining: 1 });
      expect(first.ratelimit?.policies.map((p) => p.name)).toEqual(['minute', 'day']);
      expect(await code(key.secret)).toBe('VALID');
      const third = (await verify({ token: key.secret })).body;
      expect(third).toMatchObject({ code: 'RATE_LIMITED', ratelimit: { limit: 2, remaining: 0 } });
      const now = h.clock.now().getTime();
      const midnight = (Math.floor(now / 86_400_000) + 1) * 86_400_000;
      expect(third.retry_after).toBe(Math.ceil((midnight - now) / 1000));
      h.clock.advance(midnight - now);
      expect(await code(key.secret)).toBe('VALID');
    });

    it('defaults a credential’s limits from its organization’s plan, and counts the organization’s credentials together', async () => {
      const org = await h.tessera.services.accounts.createOrganization({ name: 'Metered', plan: 'metered' });
      const user = await h.tessera.services.accounts.createUser({ email: `${uniqueName('m')}@example.com` });
      await h.tessera.services.accounts.setMembership(user.id, org.id, 'owner');
      const member = { userId: user.id, role: 'owner' as const };
      const planned = await h.keyFor(member, {}, org.id);
      const own = await h.keyFor(member, { limits: { rateLimitPerMinute: 10 } }, org.id);
      // The plan: 2 a minute per credential, 3 a minute for the organization.
      expect([await code(planned.secret), await code(planned.secret), await code(planned.secret)]).toEqual(['VALID', 'VALID', 'RATE_LIMITED']);
      const orgRefusal = (await verify({ token: own.secret })).body;
      expect(orgRefusal.code).toBe('VALID');
      const last = (await verify({ token: own.secret })).body;
      expect(last).toMatchObject({ code: 'RATE_LIMITED', ratelimit: { limit: 3, remaining: 0 } });
      expect(last.ratelimit?.policies.map((p) => p.name)).toEqual(['minute', 'org-minute']);
    });
  });

  describe(`${mode}: spending`, () => {
    it('spends credits against a daily cap: USAGE_EXCEEDED until the next UTC day, never past the cap', async () => {
      await h.tessera.services.balances.credit(await actorOf(h.members.owner), 1_000);
      const key = await h.keyFor(h.members.owner, { limits: { dailySpendCap: 10 } });
      expect((await verify({ token: key.secret, cost: 4 })).body).toMatchObject({ code: 'VALID', spend: { cost: 4, cap: 10, spent: 4, remaining: 6 } });
      expect(await code(key.secret, { cost: 4 })).toBe('VALID');
      const over = (await verify({ token: key.secret, cost: 4 })).body;
      const now = h.clock.now().getTime();
      const midnight = (Math.floor(now / 86_400_000) + 1) * 86_400_000;
      expect(over).toMatchObject({ valid: false, code: 'USAGE_EXCEEDED', spend: { spent: 8, remaining: 2, reset: midnight / 1000 }, retry_after: Math.ceil((midnight - now) / 1000) });
      expect(await code(key.secret, { cost: 2 })).toBe('VALID');
      expect(await code(key.secret, { cost: 1 })).toBe('USAGE_EXCEEDED');
      expect(await code(key.secret)).toBe('VALID'); // a request that costs nothing is not refused by the cap
      h.clock.advance(midnight - now);
      expect(await code(key.secret, { cost: 10 })).toBe('VALID');
    });

    it('draws every cost from the organization’s balance: USAGE_EXCEEDED once it is spent, and again after a top-up', async () => {
      const org = await h.tessera.services.accounts.createOrganization({ name: 'Prepaid' });
      const user = await h.tessera.services.accounts.createUser({ email: `${uniqueName('p')}@example.com` });
      await h.tessera.services.accounts.setMembership(user.id, org.id, 'owner');
      const member = { userId: user.id, role: 'owner' as const };
      const key = await h.keyFor(member, {}, org.id);
      expect((await verify({ token: key.secret, cost: 1 })).body).toMatchObject({ code: 'USAGE_EXCEEDED', spend: { balance: 0 } });
      const adminKey = (await h.keyFor(member, {}, org.id)).secret;
      const topUp = await h.request('POST', '/api/v1/balance/credits', { key: adminKey, body: { credits: 5 } });
      expect(topUp).toMatchObject({ status: 200, body: { org_id: org.id, credited: 5, spent: 0, available: 5 } });
      expect((await verify({ token: key.secret, cost: 3 })).body).toMatchObject({ code: 'VALID', spend: { balance: 2 } });
      expect(await code(key.secret, { cost: 3 })).toBe('USAGE_EXCEEDED');
      expect(await code(key.secret, { cost: 2 })).toBe('VALID');
      expect((await h.request('GET', '/api/v1/balance', { key: adminKey })).body).toEqual({ org_id: org.id, credited: 5, spent: 5, available: 0 });
    });

    it('refuses bad input with 400 naming the field, and counts nothing', async () => {
      const key = await h.keyFor(h.members.owner, { limits: { rateLimitPerMinute: 1 } });
      for (const [body, field] of [
        [{ token: key.secret, cost: -1 }, 'cost'],
        [{ token: key.secret, cost: 1.5 }, 'cost'],
        [{ token: key.secret, cost: 'one' }, 'cost'],
        [{ token: key.secret, cost: 1e12 }, 'cost'],
        [{ token: key.secret, required_scopes: 'leads:read' }, 'required_scopes'],
        [{ token: key.secret, extra: true }, 'extra'],
        [{ cost: 1 }, 'token'],
      ] as const) {
        const res = await verify(body);
        expect({ field, status: res.status, error: res.body.error }).toEqual({ field, status: 400, error: expect.objectContaining({ code: 'VALIDATION_FAILED', field }) });
      }
      expect((await verify('{"token":')).status).toBe(400);
      expect(await code(key.secret)).toBe('VALID');
    });
  });

  describe(`${mode}: metering`, () => {
    it('counts requests and credits per key and per connected app per UTC day, read as a daily series', async () => {
      await h.tessera.services.balances.credit(await actorOf(h.members.owner), 100);
      const owner = (await h.keyFor(h.members.owner)).secret;
      const key = await h.keyFor(h.members.owner);
      const app = await h.connectApp(h.members.owner, connector.id);
      for (const cost of [0, 2, 3]) await verify({ token: key.secret, cost });
      await verify({ token: app.token, cost: 1 });
      const today = new Date(h.clock.now().getTime()).toISOString().slice(0, 10);
      await h.tessera.services.meter.flush();
      const keyUsage = await h.request('GET', `/api/v1/api-keys/${key.record.id}/usage?from=${today}&to=${today}`, { key: owner });
      expect(keyUsage.body).toEqual({ data: [{ date: today, requests: 3, credits: 5 }] });
      const appUsage = await h.request('GET', `/api/v1/connected-apps/${app.grantId}/usage?from=${today}&to=${today}`, { key: owner });
      expect(appUsage.body).toEqual({ data: [{ date: today, requests: 1, credits: 1 }] });
      // Every day of the range, zeros included.
      const month = (await h.request('GET', `/api/v1/api-keys/${key.record.id}/usage`, { key: owner })).body as { data: Array<{ date: string }> };
      expect(month.data).toHaveLength(30);
      expect(month.data.at(-1)).toEqual({ date: today, requests: 3, credits: 5 });
      expect((await h.request('GET', `/api/v1/api-keys/${key.record.id}/usage?from=2026-13-01`, { key: owner })).status).toBe(400);
    });
  });

  describe(`${mode}: limits and balances through the API`, () => {
    it('sets a key’s windows and cap, and a connected app’s, and verify counts by them at once', async () => {
      const owner = (await h.keyFor(h.members.owner)).secret;
      const created = await h.request('POST', '/api/v1/api-keys', { key: owner, body: { name: 'limited', scopes: ['leads:read'], limits: { rate_limit_per_minute: 5, rate_limit_per_day: 1 } } });
      expect(created).toMatchObject({ status: 201, body: { limits: { rate_limit_per_minute: 5, rate_limit_per_day: 1, daily_spend_cap: null } } });
      const secret = recordSecret((created.body as { key: string }).key);
      expect([await code(secret), await code(secret)]).toEqual(['VALID', 'RATE_LIMITED']);

      const app = await h.connectApp(h.members.editor, connector.id);
      const patched = await h.request('PATCH', `/api/v1/connected-apps/${app.grantId}`, { key: owner, body: { limits: { rate_limit_per_minute: 1 } } });
      expect(patched).toEqual(expect.objectContaining({ status: 200, body: { id: app.grantId, limits: { rate_limit_per_minute: 1, rate_limit_per_day: null, daily_spend_cap: null } } }));
      expect([await code(app.token), await code(app.token)]).toEqual(['VALID', 'RATE_LIMITED']);
      // Back to the plan's: null.
      await h.request('PATCH', `/api/v1/connected-apps/${app.grantId}`, { key: owner, body: { limits: { rate_limit_per_minute: null } } });
      expect(await code(app.token)).toBe('VALID');
    });

    it('lets only owners and admins set a connected app’s limits, and refuses zero, negative or absurd limits naming the field', async () => {
      const owner = (await h.keyFor(h.members.owner)).secret;
      const editor = (await h.keyFor(h.members.editor)).secret;
      const app = await h.connectApp(h.members.editor, connector.id);
      expect((await h.request('PATCH', `/api/v1/connected-apps/${app.grantId}`, { key: editor, body: { limits: { rate_limit_per_minute: 1 } } })).status).toBe(403);
      for (const [limits, field] of [
        [{ rate_limit_per_minute: 0 }, 'limits.rate_limit_per_minute'],
        [{ rate_limit_per_day: -5 }, 'limits.rate_limit_per_day'],
        [{ rate_limit_per_day: 1e10 }, 'limits.rate_limit_per_day'],
        [{ daily_spend_cap: 2.5 }, 'limits.daily_spend_cap'],
        [{ per_hour: 3 }, 'limits.per_hour'],
      ] as const) {
        const res = await h.request('PATCH', `/api/v1/connected-apps/${app.grantId}`, { key: owner, body: { limits } });
        expect({ field, status: res.status, error: (res.body as { error: unknown }).error }).toEqual({ field, status: 400, error: expect.objectContaining({ code: 'VALIDATION_FAILED', field }) });
        const keyRes = await h.request('POST', '/api/v1/api-keys', { key: owner, body: { name: 'bad', limits } });
        expect({ field, status: keyRes.status }).toEqual({ field, status: 400 });
      }
      const views = (await h.request('GET', '/api/v1/connected-apps?all=true', { key: owner })).body as Array<{ id: string; limits: unknown }>;
      expect(views.find((v) => v.id === app.grantId)?.limits).toEqual({ rate_limit_per_minute: null, rate_limit_per_day: null, daily_spend_cap: null });
      expect(await code(app.token)).toBe('VALID');
    });

    it('shows the balance to members and lets owners and admins add to it — never editors, never a connected app', async () => {
      const admin = (await h.keyFor(h.members.admin)).secret;
      const editor = (await h.keyFor(h.members.editor)).secret;
      const before = (await h.request('GET', '/api/v1/balance', { key: editor })).body as { credited: number; available: number };
      expect((await h.request('POST', '/api/v1/balance/credits', { key: editor, body: { credits: 5 } })).status).toBe(403);
      const app = await h.connectApp(h.members.owner, connector.id, { scopes: ['leads:read'] });
      expect((await h.request('POST', '/api/v1/balance/credits', { key: app.token, body: { credits: 5 } })).status).toBe(403);
      for (const credits of [0, -1, 1.5, '5', 1e10]) {
        const res = await h.request('POST', '/api/v1/balance/credits', { key: admin, body: { credits } });
        expect({ credits, status: res.status, field: (res.body as { error: { field?: string } }).error.field }).toEqual({ credits, status: 400, field: 'credits' });
      }
      const after = await h.request('POST', '/api/v1/balance/credits', { key: admin, body: { credits: 7 } });
      expect(after).toMatchObject({ status: 200, body: { credited: before.credited + 7, available: before.available + 7 } });
    });
  });
}
