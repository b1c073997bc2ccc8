/**
 * The kit's introspector against a fake Tessera (node:http, counting calls): the protocol, the
 * cache (hits make no call, never beyond exp, negative answers briefly, the short TTL while no
 * invalidations can arrive), invalidation by bearer events, and failing closed when Tessera
 * cannot answer. No Redis: the invalidation handler is driven directly, and a configured but
 * unreachable Redis is shown to leave the cache on the short TTL.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { createIntrospector, hashToken, KitUnavailableError, type Introspector, type IntrospectorOptions } from '../../../kit/index.ts';
import { PrincipalCache, parseBearerEvent } from '../../../kit/principal-cache.ts';
import { apiKeyFields, closedPort, ISSUER, newToken, oauthFields, startFakeTessera, type FakeTessera } from './fake-tessera.ts';

const T0 = 1_800_000_000_000; // a whole second, so that exp (seconds) lines up with the clock

let tessera: FakeTessera;
let clock = T0;
const open: Introspector[] = [];

beforeAll(async () => {
  tessera = await startFakeTessera();
});
afterAll(async () => {
  await tessera.close();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((i) => i.close()));
  tessera.override(null);
  clock = T0;
});

function introspector(options: Partial<IntrospectorOptions> = {}): Introspector {
  const created = createIntrospector({ url: tessera.url, clientId: tessera.clientId, clientSecret: tessera.clientSecret, now: () => clock, ...options });
  open.push(created);
  return created;
}

/** Calls Tessera got for `token` so far. */
const callsFor = (token: string): number => tessera.calls.filter((t) => t === token).length;

async function unavailable(promise: Promise<unknown>): Promise<KitUnavailableError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof KitUnavailableError) return error;
    throw error;
  }
  throw new Error('introspection succeeded where it should have failed');
}

describe('the introspection request', () => {
  it('POSTs the form-encoded token with HTTP Basic client credentials and returns the principal with its scopes', async () => {
    const token = newToken();
    tessera.activate(token, apiKeyFields({ scope: 'leads:read leads:write', exp: 4_000_000_000 }));
    const from = tessera.requests.length;
    const principal = await introspector().introspect(token);
    expect(principal).toEqual({
      active: true,
      kind: 'api_key',
      sub: 'u_1',
      org_id: 'o_acme',
      scope: 'leads:read leads:write',
      scopes: ['leads:read', 'leads:write'],
      key_id: 'k_1',
      env: 'live',
      iat: 1_700_000_000,
      exp: 4_000_000_000,
      iss: ISSUER,
      token_type: 'Bearer',
    });
    const request = tessera.requests[from]!;
    expect(request).toMatchObject({ method: 'POST', path: '/oauth/introspect', contentType: 'application/x-www-form-urlencoded' });
    expect(request.authorization).toBe(`Basic ${Buffer.from(`${tessera.clientId}:${tessera.clientSecret}`).toString('base64')}`);
    expect(tessera.calls.at(-1)).toBe(token);
  });

  it('answers an OAuth access token in the same shape', async () => {
    const token = newToken('at_');
    tessera.activate(token, oauthFields());
    expect(await introspector().introspect(token)).toEqual({
      active: true,
      kind: 'oauth',
      sub: 'u_1',
      org_id: 'o_globex',
      scope: 'leads:read leads:write',
      scopes: ['leads:read', 'leads:write'],
      client_id: 'zapier',
      grant_id: 'g_1',
      iat: 1_700_000_000,
      exp: 4_000_000_000,
      iss: ISSUER,
      token_type: 'Bearer',
    });
  });

  it('is null for {"active":false}, and for an empty token without asking', async () => {
    const i = introspector();
    const token = newToken();
    expect(await i.introspect(token)).toBeNull();
    expect(callsFor(token)).toBe(1);
    const before = tessera.calls.length;
    expect(await i.introspect('')).toBeNull();
    expect(tessera.calls.length).toBe(before);
  });

  it('resolves the endpoint against a base URL with a path, and uses a full endpoint URL as it is', async () => {
    const token = newToken();
    tessera.activate(token, apiKeyFields());
    for (const url of [`${tessera.url}/`, `${tessera.url}/oauth/introspect`]) {
      const from = tessera.requests.length;
      expect(await introspector({ url }).introspect(token)).not.toBeNull();
      expect(tessera.requests[from]!.path).toBe('/oauth/introspect');
    }
    // A path prefix is kept (Tessera behind a proxy at /id/): the fake has no such route.
    const from = tessera.requests.length;
    await unavailable(introspector({ url: `${tessera.url}/id` }).introspect(token));
    expect(tessera.requests[from]!.path).toBe('/id/oauth/introspect');
  });
});

describe('the cache', () => {
  it('answers a second lookup without calling Tessera, and hands out copies', async () => {
    const i = introspector();
    const token = newToken();
    tessera.activate(token, apiKeyFields());
    const first = await i.introspect(token);
    first!.scopes.push('admin');
    first!.org_id = 'o_other';
    const second = await i.introspect(token);
    expect(callsFor(token)).toBe(1);
    expect(second).toMatchObject({ org_id: 'o_acme', scopes: ['leads:read'] });
    expect(i.status()).toMatchObject({ hits: 1, misses: 1, requests: 1, entries: 1 });
  });

  it('makes one call for concurrent lookups of one bearer', async () => {
    const i = introspector();
    const token = newToken();
    tessera.activate(token, apiKeyFields());
    const answers = await Promise.all([i.introspect(token), i.introspect(token), i.introspect(token)]);
    expect(answers.every((a) => a?.key_id === 'k_1')).toBe(true);
    expect(callsFor(token)).toBe(1);
  });

  it('keys entries by the SHA-256 of the bearer', () => {
    const token = newToken();
    expect(hashToken(token)).toBe(createHash('sha256').update(token).digest('hex'));
  });

  it('without Redis keeps entries 1 s at most (no invalidation can arrive)', async () => {
    const i = introspector({ cacheTtlMs: 5_000 });
    expect(i.status()).toMatchObject({ subscribed: false, ttlMs: 1_000 });
    const token = newToken();
    tessera.activate(token, apiKeyFields());
    await i.introspect(token);
    clock = T0 + 999;
    await i.introspect(token);
    expect(callsFor(token)).toBe(1);
    clock = T0 + 1_000;
    await i.introspect(token);
    expect(callsFor(token)).toBe(2);
  });

  it('keeps an entry cacheTtlMs at most', async () => {
    const i = introspector({ cacheTtlMs: 5_000, degradedTtlMs: 5_000 });
    const token = newToken();
    tessera.activate(token, apiKeyFields());
    await i.introspect(token);
    clock = T0 + 4_999;
    await i.introspect(token);
    expect(callsFor(token)).toBe(1);
    clock = T0 + 5_000;
    await i.introspect(token);
    expect(callsFor(token)).toBe(2);
  });

  it('never keeps an entry beyond the bearer’s exp', async () => {
    const i = introspector({ cacheTtlMs: 5_000, degradedTtlMs: 5_000 });
    const token = newToken('at_');
    tessera.activate(token, oauthFields({ exp: T0 / 1000 + 2 }));
    await i.introspect(token);
    clock = T0 + 1_999;
    await i.introspect(token);
    expect(callsFor(token)).toBe(1);
    clock = T0 + 2_000;
    tessera.deactivate(token); // Tessera now says what an expired token is
    expect(await i.introspect(token)).toBeNull();
    expect(callsFor(token)).toBe(2);
    // An answer whose exp has passed by our clock is not cached at all.
    const late = newToken('at_');
    tessera.activate(late, oauthFields({ exp: T0 / 1000 }));
    await i.introspect(late);
    await i.introspect(late);
    expect(callsFor(late)).toBe(2);
  });

  it('caches inactive answers briefly (1 s), even with a long TTL', async () => {
    const i = introspector({ cacheTtlMs: 5_000, degradedTtlMs: 5_000 });
    const token = newToken();
    expect(await i.introspect(token)).toBeNull();
    clock = T0 + 999;
    expect(await i.introspect(token)).toBeNull();
    expect(callsFor(token)).toBe(1);
    // The key becomes valid (re-enabled): accepted once the negative entry is gone.
    tessera.activate(token, apiKeyFields());
    clock = T0 + 1_000;
    expect(await i.introspect(token)).not.toBeNull();
    expect(callsFor(token)).toBe(2);
  });

  it('evicts the oldest entry beyond maxEntries', async () => {
    const i = introspector({ maxEntries: 2 });
    const [a, b, c] = [newToken(), newToken(), newToken()];
    for (const t of [a, b, c]) tessera.activate(t, apiKeyFields());
    for (const t of [a, b, c]) await i.introspect(t);
    expect(i.status().entries).toBe(2);
    await i.introspect(c);
    await i.introspect(a);
    expect([callsFor(a), callsFor(b), callsFor(c)]).toEqual([2, 1, 1]);
  });

  it('rejects a TTL beyond 60 s and negative ones', () => {
    expect(() => introspector({ cacheTtlMs: 60_001 })).toThrow(RangeError);
    expect(() => introspector({ negativeTtlMs: -1 })).toThrow(RangeError);
  });
});

describe('invalidation by bearer events', () => {
  it('drops an API key by the hash Tessera publishes, and only it', async () => {
    const i = introspector({ cacheTtlMs: 5_000, degradedTtlMs: 5_000 });
    const [revoked, kept] = [newToken(), newToken()];
    tessera.activate(revoked, apiKeyFields({ key_id: 'k_revoked' }));
    tessera.activate(kept, apiKeyFields({ key_id: 'k_kept' }));
    await i.introspect(revoked);
    await i.introspect(kept);
    tessera.deactivate(revoked);
    i.handleBearerEvent(JSON.stringify({ kind: 'api_key', hash: hashToken(revoked), id: 'k_revoked' }));
    expect(await i.introspect(revoked)).toBeNull();
    expect(await i.introspect(kept)).not.toBeNull();
    expect([callsFor(revoked), callsFor(kept)]).toEqual([2, 1]);
  });

  it('drops every token of a grant by grant_id, and of a client by client_id', async () => {
    const i = introspector({ cacheTtlMs: 5_000, degradedTtlMs: 5_000 });
    const [g1a, g1b, g2, other] = [newToken('at_'), newToken('at_'), newToken('at_'), newToken('at_')];
    tessera.activate(g1a, oauthFields({ grant_id: 'g_1' }));
    tessera.activate(g1b, oauthFields({ grant_id: 'g_1' }));
    tessera.activate(g2, oauthFields({ grant_id: 'g_2' }));
    tessera.activate(other, oauthFields({ grant_id: 'g_3', client_id: 'make' }));
    for (const t of [g1a, g1b, g2, other]) await i.introspect(t);

    i.handleBearerEvent(JSON.stringify({ kind: 'grant', id: 'g_1' }));
    for (const t of [g1a, g1b, g2, other]) await i.introspect(t);
    expect([g1a, g1b, g2, other].map(callsFor)).toEqual([2, 2, 1, 1]);

    i.handleBearerEvent(JSON.stringify({ kind: 'client', id: 'zapier' }));
    for (const t of [g1a, g1b, g2, other]) await i.introspect(t);
    expect([g1a, g1b, g2, other].map(callsFor)).toEqual([3, 3, 2, 1]);
  });

  it('drops the whole cache on a message it cannot read, and says so', async () => {
    const errors: Error[] = [];
    const i = introspector({ cacheTtlMs: 5_000, degradedTtlMs: 5_000, onError: (e) => errors.push(e) });
    const token = newToken();
    tessera.activate(token, apiKeyFields());
    await i.introspect(token);
    for (const message of ['not json', '{"kind":"api_key","id":"k_1"}', '{"kind":"something"}', 'null']) {
      i.handleBearerEvent(message);
      expect(i.status().entries).toBe(0);
      await i.introspect(token);
    }
    expect(callsFor(token)).toBe(5);
    expect(errors).toHaveLength(4);
  });

  it('does not cache an answer that was in flight when an event arrived', async () => {
    const i = introspector({ cacheTtlMs: 5_000, degradedTtlMs: 5_000 });
    const token = newToken();
    tessera.activate(token, apiKeyFields());
    tessera.override({ status: 200, body: JSON.stringify({ active: true, ...apiKeyFields(), iss: ISSUER, token_type: 'Bearer' }), delayMs: 100 });
    const slow = i.introspect(token);
    await new Promise((r) => setTimeout(r, 30));
    i.handleBearerEvent(JSON.stringify({ kind: 'api_key', hash: hashToken(token), id: 'k_1' }));
    tessera.override(null);
    tessera.deactivate(token);
    expect(await slow).not.toBeNull(); // the request that asked before the revocation
    expect(await i.introspect(token)).toBeNull(); // nothing stale was cached
    expect(callsFor(token)).toBe(2);
  });

  it('parses every event kind of src/domain/bearer-event.ts, of this version or none, and nothing else', () => {
    expect(parseBearerEvent('{"v":1,"kind":"api_key","hash":"ABC","id":"k","final":true}')).toEqual({ kind: 'api_key', hash: 'abc', id: 'k', final: true });
    expect(parseBearerEvent('{"kind":"grant","id":"g"}')).toEqual({ kind: 'grant', id: 'g' });
    for (const kind of ['client', 'user', 'organization']) expect(parseBearerEvent(`{"v":1,"kind":"${kind}","id":"x"}`)).toEqual({ kind, id: 'x' });
    expect(parseBearerEvent('{"kind":"grant"}')).toBeNull();
    expect(parseBearerEvent('{"v":2,"kind":"grant","id":"g"}')).toBeNull();
    expect(parseBearerEvent('{"v":1,"kind":"membership","id":"m"}')).toBeNull();
  });

  it('the cache alone: invalidation counts what it dropped, and negative entries belong to no group', () => {
    const cache = new PrincipalCache(10);
    const principal = { active: true as const, kind: 'oauth' as const, sub: 'u', org_id: 'o', scope: '', scopes: [], client_id: 'c', grant_id: 'g', iat: 0, iss: ISSUER, token_type: 'Bearer' as const };
    cache.set('h1', principal, 10, 0);
    cache.set('h2', principal, 10, 0);
    cache.set('h3', null, 10, 0);
    expect(cache.invalidate({ kind: 'grant', id: 'g' })).toBe(2);
    expect(cache.invalidate({ kind: 'client', id: 'c' })).toBe(0);
    expect(cache.get('h3', 5)).toEqual({ principal: null });
    expect(cache.get('h3', 10)).toBeUndefined();
  });
});

describe('Redis configured but unreachable', () => {
  it('stays on the short TTL, reports itself unsubscribed, and closes cleanly', async () => {
    const errors: Error[] = [];
    const i = introspector({ cacheTtlMs: 5_000, redis: { url: `redis://127.0.0.1:${await closedPort()}`, prefix: 'kit-test:' }, onError: (e) => errors.push(e) });
    expect(await i.waitForSubscription(300)).toBe(false);
    expect(i.status()).toMatchObject({ subscribed: false, ttlMs: 1_000 });
    expect(errors.length).toBeGreaterThan(0);
    const token = newToken();
    tessera.activate(token, apiKeyFields());
    await i.introspect(token);
    clock = T0 + 1_000;
    await i.introspect(token);
    expect(callsFor(token)).toBe(2);
  });
});

describe('failing closed', () => {
  it('throws KitUnavailableError on 5xx, with Tessera’s Retry-After, and caches nothing', async () => {
    const i = introspector();
    const token = newToken();
    tessera.activate(token, apiKeyFields());
    tessera.override({ status: 503, body: '{"error":{"code":"UNAVAILABLE","message":"x"}}', headers: { 'retry-after': '7' } });
    const error = await unavailable(i.introspect(token));
    expect({ reason: error.reason, retryAfterSeconds: error.retryAfterSeconds }).toEqual({ reason: 'server_error', retryAfterSeconds: 7 });
    tessera.override({ status: 500, body: 'oops' });
    expect((await unavailable(i.introspect(token))).retryAfterSeconds).toBe(1);
    tessera.override(null);
    expect(await i.introspect(token)).not.toBeNull();
    expect(i.status().entries).toBe(1);
  });

  it('throws KitUnavailableError when Tessera cannot be reached, naming no bearer', async () => {
    const token = newToken();
    const i = createIntrospector({ url: `http://127.0.0.1:${await closedPort()}`, clientId: tessera.clientId, clientSecret: tessera.clientSecret });
    const error = await unavailable(i.introspect(token));
    expect(error.reason).toBe('unreachable');
    expect(error.message).toMatch(/ECONNREFUSED/);
    expect(error.message).not.toContain(token);
  });

  it('throws KitUnavailableError when Tessera does not answer in time', async () => {
    const i = introspector({ timeoutMs: 200 });
    tessera.override({ status: 200, body: '{"active":false}', delayMs: 'never' });
    const error = await unavailable(i.introspect(newToken()));
    expect(error.reason).toBe('unreachable');
    expect(error.message).toMatch(/no answer within 200 ms/);
  });

  it('throws KitUnavailableError when Tessera refuses the client credentials', async () => {
    const i = introspector({ clientSecret: 'not-the-secret' });
    const error = await unavailable(i.introspect(newToken()));
    expect(error.reason).toBe('client_rejected');
    expect(error.message).not.toContain('not-the-secret');
  });

  it('throws KitUnavailableError for an active answer without the contract’s fields, or not JSON', async () => {
    const i = introspector();
    const token = newToken();
    tessera.override({ status: 200, body: JSON.stringify({ active: true, kind: 'api_key', org_id: 'o', scope: '', iat: 1, iss: ISSUER }) });
    expect((await unavailable(i.introspect(token))).reason).toBe('bad_answer');
    tessera.override({ status: 200, body: '<html>' });
    expect((await unavailable(i.introspect(token))).reason).toBe('bad_answer');
  });
});
