/**
 * WindowCounter's fallback (services/limits/window-counter.ts): with the shared store away, limits
 * are counted in this process, never dropped; and a balance's spent total loaded into the
 * fallback is handed back once the shared store answers again, so that no credit is spent twice
 * — neither against the shared store's total (which missed the outage), nor in a later outage
 * (against a fallback total that missed everything spent in between).
 */
import { describe, expect, it } from '@jest/globals';
import type { Admission, EphemeralStore } from '../../../../src/ports.ts';
import { WindowCounter } from '../../../../src/services/limits/window-counter.ts';
import { MemoryEphemeralStore } from '../../../../src/stores/memory/memory-ephemeral-store.ts';
import { FrozenClock } from '../../../support/frozen-clock.ts';

const SPENT = 'balance-spent:o_1';
const DAY_MS = 86_400_000;

/** The shared store, which a test can take away (every call rejects) and bring back, with or without its data. */
function sharedStore(clock: FrozenClock): { store: EphemeralStore; down(): void; up(options?: { empty?: boolean }): void; inner(): MemoryEphemeralStore } {
  let inner = new MemoryEphemeralStore(clock);
  let reachable = true;
  const store = new Proxy({} as EphemeralStore, {
    get: (_target, name: keyof EphemeralStore) => {
      return (...args: unknown[]) => {
        if (!reachable) return Promise.reject(new Error('unreachable'));
        return (inner[name] as (...a: unknown[]) => unknown).apply(inner, args);
      };
    },
  });
  return {
    store,
    down: () => (reachable = false),
    up: ({ empty = false } = {}) => {
      if (empty) inner = new MemoryEphemeralStore(clock);
      reachable = true;
    },
    inner: () => inner,
  };
}

function setup() {
  const clock = new FrozenClock(new Date('2026-11-30T12:00:30Z'));
  const shared = sharedStore(clock);
  const fallbacks: unknown[] = [];
  const counter = new WindowCounter(shared.store, new MemoryEphemeralStore(clock), (error) => fallbacks.push(error));
  /** A cost against a balance of `credited`, loading the spent total as UsageLimiter does (from `recorded`, the store of record). */
  const spend = async (cost: number, credited: number, recorded: () => number): Promise<string> => {
    const admission: Admission = { counters: [], caps: [], cost, balance: { spentKey: SPENT, credited } };
    let result = await counter.admit(admission);
    if (!result.verdict.admitted && result.verdict.refusedBy === 'balance-unknown') {
      await counter.seed(SPENT, recorded(), 30 * DAY_MS);
      result = await counter.admit(admission);
    }
    return result.verdict.admitted ? 'admitted' : result.verdict.refusedBy;
  };
  return { clock, shared, counter, spend, fallbacks };
}

describe('WindowCounter with its shared store away', () => {
  it('counts windows in this process: a limit of 3 admits 3, never more', async () => {
    const { shared, counter, fallbacks } = setup();
    shared.down();
    const admission: Admission = { counters: [{ key: 'rl:k:minute', limit: 3, resetAt: Date.parse('2026-11-30T12:01:00Z') }], caps: [], cost: 0, balance: null };
    const verdicts = [];
    for (let i = 0; i < 5; i++) verdicts.push((await counter.admit(admission)).verdict.admitted);
    expect(verdicts).toEqual([true, true, true, false, false]);
    expect(fallbacks).toHaveLength(5);
  });

  it('hands what was spent in the fallback back to the shared total, which kept its data: nothing is spent twice', async () => {
    const { shared, spend } = setup();
    let recorded = 0; // the store of record: nothing flushed yet, all of it pending in this instance
    const spentSoFar = () => recorded;
    expect(await spend(1, 3, spentSoFar)).toBe('admitted');
    recorded = 1;
    shared.down();
    expect(await spend(1, 3, spentSoFar)).toBe('admitted'); // the fallback loads 1, spends to 2
    recorded = 2;
    shared.up();
    expect(await spend(1, 3, spentSoFar)).toBe('admitted');
    expect(await shared.inner().get(SPENT)).toBe('3');
    expect(await spend(1, 3, spentSoFar)).toBe('balance');
  });

  it('adds nothing to a total the shared store lost: the next use loads it again from the store of record', async () => {
    const { shared, spend } = setup();
    shared.down();
    expect(await spend(2, 3, () => 0)).toBe('admitted');
    shared.up({ empty: true });
    // Loaded again from the store of record, which has the 2 credits spent in the outage.
    expect(await spend(2, 3, () => 2)).toBe('balance');
    expect(await shared.inner().get(SPENT)).toBe('2');
    expect(await spend(1, 3, () => 2)).toBe('admitted');
  });

  it('loads the total afresh in a later outage, with what was spent between the two', async () => {
    const { shared, spend } = setup();
    shared.down();
    expect(await spend(1, 3, () => 0)).toBe('admitted');
    shared.up({ empty: true });
    expect(await spend(1, 3, () => 1)).toBe('admitted');
    expect(await spend(1, 3, () => 1)).toBe('admitted');
    shared.down();
    // The fallback's total from the first outage (1) must not be used: 3 are spent.
    expect(await spend(1, 3, () => 3)).toBe('balance');
  });

  it('keeps what it could not hand back (the shared store went away again) for the next time it answers', async () => {
    const { shared, counter, spend } = setup();
    expect(await spend(1, 10, () => 0)).toBe('admitted');
    shared.down();
    expect(await spend(4, 10, () => 1)).toBe('admitted'); // loaded 1, now 5 in the fallback
    // Back for the probe only: the hand-back's write fails.
    const inner = shared.inner();
    const admit = inner.admit.bind(inner);
    let failOnce = true;
    inner.admit = (admission) => {
      if (failOnce && admission.counters.length === 0 && admission.balance?.credited === Number.MAX_SAFE_INTEGER) {
        failOnce = false;
        return Promise.reject(new Error('gone again'));
      }
      return admit(admission);
    };
    shared.up();
    await counter.reset('unrelated'); // the hand-back fails: kept
    expect(await inner.get(SPENT)).toBe('1');
    await counter.reset('unrelated'); // handed back now
    expect(await inner.get(SPENT)).toBe('5');
    expect(await spend(5, 10, () => 5)).toBe('admitted');
    expect(await spend(1, 10, () => 10)).toBe('balance');
  });
});
