import { afterAll, describe, expect, it } from '@jest/globals';
import { MemoryOAuthModelStore } from '../../../../src/stores/memory/memory-oauth-model-store.ts';
import { describeOAuthModelStore } from '../../../contracts/oauth-model-store.contract.ts';
import { FrozenClock } from '../../../support/frozen-clock.ts';

const opened: MemoryOAuthModelStore[] = [];
const open = (clock = new FrozenClock(), sweepEveryMs?: number): MemoryOAuthModelStore => {
  const store = new MemoryOAuthModelStore(clock, sweepEveryMs);
  opened.push(store);
  return store;
};

afterAll(() => {
  for (const store of opened) store.stop();
});

describeOAuthModelStore('memory', async () => {
  const clock = new FrozenClock();
  return { store: open(clock), clock };
});

describe('memory OAuth model store: what the contract cannot see', () => {
  it('sweeps expired records on its own timer and keeps the others', async () => {
    const clock = new FrozenClock();
    const store = open(clock, 20);
    await store.upsert('AccessToken', 'gone', { grantId: 'g', uid: 'u' }, new Date(clock.now().getTime() + 1_000));
    await store.upsert('AccessToken', 'kept', { grantId: 'g' }, new Date(clock.now().getTime() + 5_000));
    await store.upsert('Grant', 'forever', { grantId: 'g' }, null);
    clock.advance(1_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Nothing left to sweep: the timer did it.
    expect(store.sweep()).toBe(0);
    clock.advance(4_000);
    expect(store.sweep()).toBe(1);
    expect(await store.find('Grant', 'forever')).not.toBeNull();
  });

  it('sweeps with the index entries of what it deletes', async () => {
    const clock = new FrozenClock();
    const store = open(clock);
    await store.upsert('Session', 's1', { uid: 'u1', grantId: 'g1' }, new Date(clock.now().getTime() + 1_000));
    clock.advance(1_000);
    expect(store.sweep()).toBe(1);
    const internals = store as unknown as { byUid: Map<string, unknown>; byGrantId: Map<string, unknown>; records: Map<string, unknown> };
    expect(internals.records.size).toBe(0);
    expect(internals.byUid.size).toBe(0);
    expect(internals.byGrantId.size).toBe(0);
  });
});
