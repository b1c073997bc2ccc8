import { describe, expect, it } from '@jest/globals';
import { MemoryEphemeralStore } from '../../../../src/stores/memory/memory-ephemeral-store.ts';
import { describeEphemeralStore } from '../../../contracts/ephemeral-store.contract.ts';
import { FrozenClock } from '../../../support/frozen-clock.ts';

describeEphemeralStore('memory', async () => new MemoryEphemeralStore());

describe('MemoryEphemeralStore with a frozen clock', () => {
  it('expires values by its clock, not by the wall clock', async () => {
    const clock = new FrozenClock();
    const store = new MemoryEphemeralStore(clock);
    await store.set('k', 'v', 60_000);
    clock.advance(59_999);
    expect(await store.get('k')).toBe('v');
    clock.advance(1);
    expect(await store.get('k')).toBeNull();
    await store.close();
  });

  it('refuses ping once closed', async () => {
    const store = new MemoryEphemeralStore();
    await store.close();
    await expect(store.ping()).rejects.toThrow('closed');
  });
});
