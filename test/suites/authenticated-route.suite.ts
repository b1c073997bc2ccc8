/**
 * The checks every authenticated route shares, run for each route instead of copied: every kind
 * of bad bearer is the same 401 byte for byte, a bearer without the route's scope is 403, and
 * another organization's resources are 404 exactly like missing ones.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { ApiHarness, ApiResponse } from '../support/api-harness.ts';
import { UNAUTHORIZED_BODY } from '../support/api-harness.ts';
import { recordSecret } from '../support/log-capture.ts';

export interface AuthenticatedRoute {
  method: string;
  /** Builds the path; `id` is a resource of org A that the route acts on (when it takes one). */
  path: (id: string) => string;
  body?: unknown;
  /** The scope the route needs; a key with every other scope gets 403. */
  scope: string;
  /** Whether the route acts on a resource by id (then cross-org must be 404). */
  takesId: boolean;
}

function expectUnauthorized(res: ApiResponse): void {
  expect(res.status).toBe(401);
  expect(res.text).toBe(UNAUTHORIZED_BODY);
  expect(res.headers.get('www-authenticate')).toBe('Bearer');
}

export function describeAuthenticatedRoute(harness: () => ApiHarness, route: AuthenticatedRoute): void {
  describe(`${route.method} ${route.path(':id')} (authentication and authorization)`, () => {
    let h: ApiHarness;
    let targetId: string;
    beforeAll(async () => {
      h = harness();
      targetId = (await h.keyFor(h.members.owner, { name: 'target' })).record.id;
    });
    const call = (opts: { key?: string; authorization?: string }, id = targetId) =>
      h.request(route.method, route.path(id), { ...opts, ...(route.body !== undefined ? { body: route.body } : {}) });

    it('refuses every bad bearer with the same 401', async () => {
      const good = (await h.keyFor(h.members.owner)).secret;
      const revoked = await h.keyFor(h.members.owner);
      await h.tessera.services.apiKeys.revoke(await ownerActor(h), revoked.record.id);
      const disabled = await h.keyFor(h.members.owner);
      await h.tessera.services.apiKeys.update(await ownerActor(h), disabled.record.id, { active: false });
      const expiring = await h.keyFor(h.members.owner, { expiresAt: new Date(h.clock.now().getTime() + 1_000) });
      h.clock.advance(1_001);
      const flipped = good.slice(0, -1) + (good.endsWith('A') ? 'B' : 'A'); // checksum no longer matches
      const cases: Array<{ key?: string; authorization?: string }> = [
        {},
        { authorization: good }, // no Bearer prefix
        { authorization: `Basic ${good}` },
        { authorization: 'Bearer' },
        { authorization: `Bearer ${good} extra` },
        { key: 'not-a-key' },
        { key: recordSecret(flipped) },
        { key: recordSecret(`tsr_live_${'A'.repeat(38)}`) },
        { key: revoked.secret },
        { key: disabled.secret },
        { key: expiring.secret },
        { key: 'x'.repeat(10_000) },
        { key: 'cl\u00e9-\u00ff' }, // non-ASCII (fetch sends Latin-1 at most)
      ];
      for (const bad of cases) expectUnauthorized(await call(bad));
    });

    it('accepts the scheme in any case (RFC 9110 §11.1)', async () => {
      const { secret } = await h.keyFor(h.members.owner);
      const res = await call({ authorization: `bearer ${secret}` });
      expect(res.status).not.toBe(401);
    });

    it('never takes a key from the query string', async () => {
      const { secret } = await h.keyFor(h.members.owner);
      const sep = route.path(targetId).includes('?') ? '&' : '?';
      const res = await h.request(route.method, `${route.path(targetId)}${sep}api_key=${secret}&access_token=${secret}`, route.body !== undefined ? { body: route.body } : {});
      expectUnauthorized(res);
    });

    it(`answers 403 to a key without ${route.scope}`, async () => {
      const others = h.tessera.services.catalog.all.filter((s) => s !== route.scope);
      const { secret } = await h.keyFor(h.members.owner, { scopes: others });
      const res = await call({ key: secret });
      expect(res.status).toBe(403);
      expect((res.body as { error: { code: string } }).error.code).toBe('FORBIDDEN');
    });

    it('answers 403 when the organization is disabled', async () => {
      const { secret } = await h.keyFor(h.members.ownerB);
      await h.tessera.stores.organizations.update(h.orgB, { disabled: true });
      h.clock.advance(h.tessera.config.principalCacheMaxAgeMs); // past any cached principal
      try {
        const res = await call({ key: secret });
        expect(res.status).toBe(403);
        expect(res.body).toEqual({ error: { code: 'FORBIDDEN', message: 'This organization is disabled' } });
      } finally {
        await h.tessera.stores.organizations.update(h.orgB, { disabled: false });
        h.clock.advance(h.tessera.config.principalCacheMaxAgeMs);
      }
    });

    if (route.takesId) {
      it('answers another organization’s resource exactly like a missing one (404)', async () => {
        const { secret } = await h.keyFor(h.members.ownerB);
        const foreign = await call({ key: secret });
        const missing = await call({ key: secret }, 'key_doesnotexist00');
        expect(foreign.status).toBe(404);
        expect(foreign.text).toBe(missing.text);
      });
    }
  });
}

async function ownerActor(h: ApiHarness) {
  const { operatorActor } = await import('../../src/services/accounts/operator-actor.ts');
  return operatorActor(h.tessera.stores, h.tessera.services.catalog, h.members.owner.userId, h.orgA);
}
