import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { SharedRecordCache, type RecordGroup } from '../../../../src/services/caching/shared-record-cache.ts';
import { MemoryEphemeralStore } from '../../../../src/stores/memory/memory-ephemeral-store.ts';
import { FrozenClock } from '../../../support/frozen-clock.ts';

/** An ephemeral store whose subscription health and epoch the test controls. */
class ControlledEphemeral extends MemoryEphemeralStore {
  state = { healthy: true, epoch: 0 };
  override subscriptionState(): { healthy: boolean; epoch: number } {
    return this.state;
  }
}

let clock: FrozenClock;
let ephemeral: ControlledEphemeral;
let cache: SharedRecordCache;
let loads: string[];
/** What the store holds now, by key. */
let store: Map<string, string>;

beforeEach(() => {
  clock = new FrozenClock('2026-06-01T00:00:00Z');
  ephemeral = new ControlledEphemeral(clock);
  cache = new SharedRecordCache(ephemeral, clock, { maxAgeMs: 1_000, maxEntries: 100 });
  loads = [];
  store = new Map([
    ['user:u1', 'alice'],
    ['membership:u1\norg1', 'editor'],
    ['organization:org1', 'Acme'],
    ['client:c1', 'Zapier'],
  ]);
});

afterEach(async () => {
  await ephemeral.close();
});

const GROUPS: Record<string, RecordGroup[]> = {
  'user:u1': ['user:u1'],
  'membership:u1\norg1': ['user:u1', 'organization:org1'],
  'organization:org1': ['organization:org1'],
  'client:c1': ['client:c1'],
};

const read = (key: string) =>
  cache.read(key, GROUPS[key]!, async () => {
    loads.push(key);
    return store.get(key) ?? null;
  });

describe('SharedRecordCache', () => {
  it('reads a record once for every bearer resolved within its life, and says when it was read', async () => {
    const first = await read('user:u1');
    expect(first).toEqual({ value: 'alice', readAt: clock.now().getTime() });
    clock.advance(999);
    expect(await read('user:u1')).toEqual(first); // the same read, with its original time
    expect(loads).toEqual(['user:u1']);
    clock.advance(1);
    store.set('user:u1', 'alice (renamed)');
    expect(await read('user:u1')).toEqual({ value: 'alice (renamed)', readAt: clock.now().getTime() });
    expect(loads).toEqual(['user:u1', 'user:u1']);
  });

  it('shares one store read among concurrent requests', async () => {
    const all = await Promise.all(Array.from({ length: 20 }, () => read('organization:org1')));
    expect(all.every((r) => r.value === 'Acme')).toBe(true);
    expect(loads).toEqual(['organization:org1']);
  });

  it('drops a user’s records and memberships at the user’s event, an organization’s at its event, a client’s at its event', async () => {
    for (const key of Object.keys(GROUPS)) await read(key);
    loads.length = 0;
    cache.invalidate({ kind: 'user', id: 'u1' });
    for (const key of Object.keys(GROUPS)) await read(key);
    expect(loads).toEqual(['user:u1', 'membership:u1\norg1']);
    loads.length = 0;
    cache.invalidate({ kind: 'organization', id: 'org1' });
    for (const key of Object.keys(GROUPS)) await read(key);
    expect(loads).toEqual(['membership:u1\norg1', 'organization:org1']);
    loads.length = 0;
    cache.invalidate({ kind: 'client', id: 'c1' });
    cache.invalidate({ kind: 'api_key', hash: 'h', id: 'k1' });
    cache.invalidate({ kind: 'grant', id: 'g1', final: true });
    for (const key of Object.keys(GROUPS)) await read(key);
    expect(loads).toEqual(['client:c1']);
  });

  it('neither keeps nor shares a read begun before an event', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const before = cache.read('user:u1', ['user:u1'], async () => {
      loads.push('before');
      await gate;
      return 'alice (as read before the event)';
    });
    store.set('user:u1', 'alice (disabled)');
    cache.invalidate({ kind: 'user', id: 'u1' });
    const after = read('user:u1'); // must not join the read above
    release();
    expect((await before).value).toBe('alice (as read before the event)');
    expect((await after).value).toBe('alice (disabled)');
    expect((await read('user:u1')).value).toBe('alice (disabled)');
    expect(loads).toEqual(['before', 'user:u1']);
  });

  it('serves nothing from memory while the subscription is down, nor what was kept before it dropped', async () => {
    await read('user:u1');
    ephemeral.state = { healthy: false, epoch: 0 };
    await read('user:u1');
    await read('user:u1');
    ephemeral.state = { healthy: true, epoch: 1 };
    await read('user:u1');
    await read('user:u1');
    expect(loads).toHaveLength(4);
  });

  it('keeps nothing with a life of 0, and shares no failed read', async () => {
    const none = new SharedRecordCache(ephemeral, clock, { maxAgeMs: 0, maxEntries: 100 });
    let calls = 0;
    const load = async () => ++calls;
    await none.read('user:u1', ['user:u1'], load);
    await none.read('user:u1', ['user:u1'], load);
    expect(calls).toBe(2);
    await expect(cache.read('client:c1', ['client:c1'], () => Promise.reject(new Error('store down')))).rejects.toThrow('store down');
    expect((await read('client:c1')).value).toBe('Zapier');
  });
});
