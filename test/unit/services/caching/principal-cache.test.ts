import { beforeEach, describe, expect, it } from '@jest/globals';
import type { KeyPrincipal, Principal } from '../../../../src/domain/principal.ts';
import type { Resolution } from '../../../../src/domain/resolution.ts';
import { BearerEvents } from '../../../../src/services/revocation/bearer-events.ts';
import { hashKey } from '../../../../src/domain/key-hash.ts';
import { PrincipalCache } from '../../../../src/services/caching/principal-cache.ts';
import { MemoryEphemeralStore } from '../../../../src/stores/memory/memory-ephemeral-store.ts';
import { FrozenClock } from '../../../support/frozen-clock.ts';

/** An ephemeral store whose subscription health and epoch the test controls. */
class ControlledEphemeral extends MemoryEphemeralStore {
  state = { healthy: true, epoch: 0 };
  override subscriptionState(): { healthy: boolean; epoch: number } {
    return this.state;
  }
}

const BEARER = {
  userId: 'usr_1',
  orgId: 'org_1',
  scopes: ['leads:read'],
  role: 'owner',
  limits: { credential: { rateLimitPerMinute: null, rateLimitPerDay: null, dailySpendCap: null }, organization: { rateLimitPerMinute: null, rateLimitPerDay: null } },
  issuedAt: new Date('2026-01-01T00:00:00Z'),
  expiresAt: null,
} as const satisfies Partial<Principal>;

function principal(overrides: Partial<KeyPrincipal> = {}): Principal {
  return { ...BEARER, scopes: [...BEARER.scopes], kind: 'api_key', keyId: 'key_1', env: 'live', ...overrides };
}

function oauthPrincipal(grantId: string, clientId: string): Principal {
  return { ...BEARER, scopes: [...BEARER.scopes], kind: 'oauth', grantId, clientId };
}

let clock: FrozenClock;
let ephemeral: ControlledEphemeral;
let answers: Map<string, Resolution>;
let calls: string[];
let cache: PrincipalCache;

beforeEach(() => {
  clock = new FrozenClock('2026-06-01T00:00:00Z');
  ephemeral = new ControlledEphemeral(clock);
  answers = new Map();
  calls = [];
  cache = new PrincipalCache(
    async (bearer) => {
      calls.push(bearer);
      return answers.get(bearer) ?? { status: 'inactive', reason: 'unknown' };
    },
    ephemeral,
    clock,
    { maxAgeMs: 5_000, maxEntries: 3, random: () => 0.5 },
  );
});

const active = (p: Principal): Resolution => ({ status: 'active', principal: p });

describe('PrincipalCache', () => {
  it('answers a second lookup without resolving again (no store round trip)', async () => {
    answers.set('tok', active(principal()));
    expect(await cache.lookup('tok')).toEqual(active(principal()));
    expect(await cache.lookup('tok')).toEqual(active(principal()));
    expect(calls).toEqual(['tok']);
  });

  it('drops a key when its event arrives, and resolves it again', async () => {
    answers.set('tok', active(principal()));
    await cache.lookup('tok');
    answers.set('tok', { status: 'inactive', reason: 'revoked' });
    cache.invalidate({ kind: 'api_key', hash: hashKey('tok'), id: 'key_1' });
    expect(await cache.lookup('tok')).toEqual({ status: 'inactive', reason: 'revoked' });
    expect(calls).toEqual(['tok', 'tok']);
  });

  it('drops every token of a grant, and of a client, on their events', async () => {
    const oauth = oauthPrincipal;
    answers.set('a', active(oauth('g1', 'c1')));
    answers.set('b', active(oauth('g1', 'c1')));
    answers.set('c', active(oauth('g2', 'c2')));
    for (const t of ['a', 'b', 'c']) await cache.lookup(t);
    cache.invalidate({ kind: 'grant', id: 'g1' });
    for (const t of ['a', 'b', 'c']) await cache.lookup(t);
    expect(calls).toEqual(['a', 'b', 'c', 'a', 'b']);
    cache.invalidate({ kind: 'client', id: 'c2' });
    await cache.lookup('c');
    expect(calls.at(-1)).toBe('c');
  });

  it('hears events published through BearerEvents, including this instance’s own, at once', async () => {
    const events = new BearerEvents(ephemeral, () => undefined);
    await cache.start(events);
    answers.set('tok', active(principal()));
    await cache.lookup('tok');
    await events.publish({ kind: 'api_key', hash: hashKey('tok'), id: 'key_1' });
    await cache.lookup('tok'); // no tick has passed: the local delivery was synchronous
    expect(calls).toEqual(['tok', 'tok']);
  });

  it('bounds a lost invalidation: an entry is trusted for at most maxAgeMs', async () => {
    answers.set('tok', active(principal()));
    await cache.lookup('tok');
    answers.set('tok', { status: 'inactive', reason: 'revoked' }); // ...and the message is lost
    clock.advance(4_999);
    expect((await cache.lookup('tok')).status).toBe('active');
    clock.advance(1);
    expect(await cache.lookup('tok')).toEqual({ status: 'inactive', reason: 'revoked' });
  });

  it('never outlives the bearer’s own expiry', async () => {
    answers.set('tok', active(principal({ expiresAt: new Date(clock.now().getTime() + 1_000) })));
    await cache.lookup('tok');
    clock.advance(1_000);
    await cache.lookup('tok');
    expect(calls).toEqual(['tok', 'tok']);
  });

  it('distrusts everything cached before the subscription dropped (a new epoch)', async () => {
    answers.set('tok', active(principal()));
    await cache.lookup('tok');
    ephemeral.state = { healthy: true, epoch: 1 };
    await cache.lookup('tok');
    expect(calls).toEqual(['tok', 'tok']);
  });

  it('serves nothing from the cache, and caches nothing, while the subscription is down', async () => {
    answers.set('tok', active(principal()));
    await cache.lookup('tok');
    ephemeral.state = { healthy: false, epoch: 0 };
    await cache.lookup('tok');
    await cache.lookup('tok');
    expect(calls).toEqual(['tok', 'tok', 'tok']);
    expect(cache.size).toBe(0);
  });

  it('caches unknown bearers but not malformed ones (they cost no lookup anyway)', async () => {
    answers.set('bad', { status: 'inactive', reason: 'malformed' });
    await cache.lookup('nobody');
    await cache.lookup('nobody');
    await cache.lookup('bad');
    await cache.lookup('bad');
    expect(calls).toEqual(['nobody', 'bad', 'bad']);
  });

  it('keeps at most maxEntries, evicting the oldest', async () => {
    for (const t of ['t1', 't2', 't3', 't4']) await cache.lookup(t);
    expect(cache.size).toBe(3);
    await cache.lookup('t1');
    expect(calls).toEqual(['t1', 't2', 't3', 't4', 't1']);
  });

  it('keys entries by the SHA-256 of the bearer, never the bearer', async () => {
    answers.set('secret-bearer-value', active(principal()));
    await cache.lookup('secret-bearer-value');
    const keys = [...(cache as unknown as { entries: { keys(): Iterable<string> } }).entries.keys()];
    expect(keys).toEqual([hashKey('secret-bearer-value')]);
  });

  it('answers a final revocation from memory, with no further lookup', async () => {
    answers.set('tok', active(principal()));
    await cache.lookup('tok');
    cache.invalidate({ kind: 'api_key', hash: hashKey('tok'), id: 'key_1', final: true });
    // It keeps the organization it knew, so that an organization-bound caller is still told nothing.
    expect(await cache.lookup('tok')).toEqual({ status: 'inactive', reason: 'revoked', orgId: 'org_1', kind: 'api_key' });
    // Even on an instance that had never seen the key.
    cache.invalidate({ kind: 'api_key', hash: hashKey('other'), id: 'key_2', final: true });
    expect(await cache.lookup('other')).toEqual({ status: 'inactive', reason: 'revoked', kind: 'api_key' });
    expect(calls).toEqual(['tok']);
  });

  it('drops a user’s and an organization’s bearers on their events', async () => {
    answers.set('a', active(principal({ userId: 'usr_a', orgId: 'org_x' })));
    answers.set('b', active(principal({ userId: 'usr_b', orgId: 'org_y' })));
    await cache.lookup('a');
    await cache.lookup('b');
    cache.invalidate({ kind: 'user', id: 'usr_a' });
    cache.invalidate({ kind: 'organization', id: 'org_y' });
    await cache.lookup('a');
    await cache.lookup('b');
    expect(calls).toEqual(['a', 'b', 'a', 'b']);
  });

  it('resolves a bearer once for any number of concurrent misses', async () => {
    answers.set('tok', active(principal()));
    const results = await Promise.all(Array.from({ length: 50 }, () => cache.lookup('tok')));
    expect(results.every((r) => r.status === 'active')).toBe(true);
    expect(calls).toEqual(['tok']);
  });

  /** A cache whose random draws are given, resolving every bearer as an active key. */
  const drawing = (draws: number[]) =>
    new PrincipalCache(
      async (bearer) => {
        calls.push(bearer);
        return active(principal({ keyId: bearer }));
      },
      ephemeral,
      clock,
      { maxAgeMs: 5_000, maxEntries: 10, random: () => draws.shift() ?? 0.5 },
    );
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  it('scatters bearers cached together: their first refresh falls anywhere in 10–90 % of the entry’s life', async () => {
    const spread = drawing([0, 0.999]);
    await spread.lookup('early');
    await spread.lookup('late');
    calls.length = 0;
    clock.advance(499);
    await spread.lookup('early');
    await settle();
    expect(calls).toEqual([]);
    clock.advance(1); // 10 %: the first one's refresh is due, the second one's is not
    await spread.lookup('early');
    await spread.lookup('late');
    await settle();
    expect(calls).toEqual(['early']);
    clock.advance(3_996); // just under 90 % (0.1 + 0.8 × 0.999), where the second one falls
    await spread.lookup('late');
    await settle();
    expect(calls).toEqual(['early', 'late']);
  });

  it('refreshes a bearer in use again late in each later entry’s life (70–90 %), serving the entry meanwhile', async () => {
    answers.set('tok', active(principal()));
    const late = drawing([0, 0, 0.999]);
    await late.lookup('tok'); // first entry: refresh from 10 %
    clock.advance(500);
    await late.lookup('tok');
    await settle();
    expect(calls).toEqual(['tok', 'tok']); // refreshed; the next entry's refresh is from 70 %
    clock.advance(3_499);
    await late.lookup('tok');
    await settle();
    expect(calls).toHaveLength(2);
    clock.advance(1);
    const served = await late.lookup('tok'); // still the entry's answer, within its bound...
    expect(served).toEqual(active(principal({ keyId: 'tok' })));
    await settle();
    expect(calls).toHaveLength(3); // ...while the refresh ran
    clock.advance(4_490); // the entry stored by that refresh drew 0.999: nothing before 90 %
    await late.lookup('tok');
    await settle();
    expect(calls).toHaveLength(3);
  });

  it('trusts an answer from when its oldest record was read, not from when it was built', async () => {
    const readAt = clock.now().getTime() - 1_000; // a shared record read a second ago
    let resolutions = 0;
    const shared = new PrincipalCache(
      // The first resolution answers; later ones (refreshes) never finish.
      async () => (++resolutions === 1 ? { status: 'active', principal: principal(), readAt } : new Promise<Resolution>(() => undefined)),
      ephemeral,
      clock,
      { maxAgeMs: 5_000, maxEntries: 10, random: () => 0.999 },
    );
    await shared.lookup('tok');
    clock.advance(3_999);
    expect(shared.lookup('tok')).toEqual({ status: 'active', principal: principal(), readAt }); // from the entry, at once
    clock.advance(1); // 5 s after the read, 4 s after the lookup: past the bound
    expect(shared.lookup('tok')).toBeInstanceOf(Promise);
    expect(resolutions).toBe(2);
  });

  it('never re-caches what a lookup read before an invalidation that arrived meanwhile', async () => {
    let release: (r: Resolution) => void = () => undefined;
    const slow = new PrincipalCache(() => new Promise<Resolution>((resolve) => (release = resolve)), ephemeral, clock, { maxAgeMs: 5_000, maxEntries: 10 });
    const pending = slow.lookup('tok');
    clock.advance(1);
    slow.invalidate({ kind: 'api_key', hash: hashKey('tok'), id: 'key_1' });
    release(active(principal()));
    expect((await pending).status).toBe('active'); // answered as read, but not kept
    expect(slow.size).toBe(0);
  });
});
