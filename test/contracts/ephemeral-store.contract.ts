/**
 * One contract for the EphemeralStore port: the in-process store (embedded mode) and Redis.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { EphemeralStore } from '../../src/ports.ts';
import { uniqueName } from '../support/unique.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for `predicate` to hold, polling; fails after `ms`. */
async function eventually(predicate: () => boolean, ms = 2_000): Promise<void> {
  const until = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > until) throw new Error('condition not reached in time');
    await sleep(10);
  }
}

export function describeEphemeralStore(name: string, open: () => Promise<EphemeralStore>): void {
  describe(`${name}: ephemeral store contract`, () => {
    let store: EphemeralStore;
    let k: (key: string) => string;
    beforeEach(async () => {
      store = await open();
      const prefix = uniqueName('c');
      k = (key) => `${prefix}:${key}`;
    });
    afterEach(async () => {
      await store.close();
    });

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    it('sets, gets and deletes values', async () => {
      expect(await store.get(k('a'))).toBeNull();
      await store.set(k('a'), 'one');
      expect(await store.get(k('a'))).toBe('one');
      await store.set(k('a'), 'two');
      expect(await store.get(k('a'))).toBe('two');
      await store.delete(k('a'));
      expect(await store.get(k('a'))).toBeNull();
    });

    it('forgets a value once its time to live has passed', async () => {
      await store.set(k('ttl'), 'x', 150);
      expect(await store.get(k('ttl'))).toBe('x');
      await sleep(300);
      expect(await store.get(k('ttl'))).toBeNull();
    });

    it('sets if absent atomically: of 20 concurrent callers exactly one wins', async () => {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.setIfAbsent(k('lock'), String(i), 5_000)));
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results.indexOf(true);
      expect(await store.get(k('lock'))).toBe(String(winner));
      expect(await store.setIfAbsent(k('lock'), 'late', 5_000)).toBe(false);
    });

    it('lets setIfAbsent win again after the earlier value expired', async () => {
      expect(await store.setIfAbsent(k('lease'), 'a', 100)).toBe(true);
      await sleep(250);
      expect(await store.setIfAbsent(k('lease'), 'b', 100)).toBe(true);
      expect(await store.get(k('lease'))).toBe('b');
    });

    it('reads a value or takes its lock in one step: of 20 concurrent callers exactly one locks, and none once the value is made', async () => {
      const results = await Promise.all(Array.from({ length: 20 }, () => store.readOrLock(k('answer'), k('answer-lock'), 5_000)));
      expect(results.filter((r) => r.locked)).toHaveLength(1);
      expect(results.every((r) => r.value === null)).toBe(true);
      expect(await store.get(k('answer-lock'))).not.toBeNull();
      await store.setAndUnlock(k('answer'), 'made', 5_000, k('answer-lock'));
      expect(await store.get(k('answer-lock'))).toBeNull();
      expect(await store.readOrLock(k('answer'), k('answer-lock'), 5_000)).toEqual({ value: 'made', locked: false });
      // The value present, the lock is not taken.
      expect(await store.get(k('answer-lock'))).toBeNull();
    });

    it('lets readOrLock lock again after the lock and the value expired', async () => {
      expect(await store.readOrLock(k('gone'), k('gone-lock'), 100)).toEqual({ value: null, locked: true });
      expect(await store.readOrLock(k('gone'), k('gone-lock'), 100)).toEqual({ value: null, locked: false });
      await sleep(250);
      expect(await store.readOrLock(k('gone'), k('gone-lock'), 100)).toEqual({ value: null, locked: true });
      await store.setAndUnlock(k('gone'), 'v', 100, k('gone-lock'));
      await sleep(250);
      expect(await store.get(k('gone'))).toBeNull();
    });

    it('counts hits in a fixed window and restarts the count after it', async () => {
      const first = await store.increment(k('rate'), 300);
      expect(first.count).toBe(1);
      expect(first.resetInMs).toBeGreaterThan(0);
      expect(first.resetInMs).toBeLessThanOrEqual(300);
      expect((await store.increment(k('rate'), 300)).count).toBe(2);
      const third = await store.increment(k('rate'), 300);
      expect(third.count).toBe(3);
      expect(third.resetInMs).toBeLessThanOrEqual(first.resetInMs);
      await sleep(450);
      expect((await store.increment(k('rate'), 300)).count).toBe(1);
    });

    it('never loses a concurrent increment', async () => {
      const results = await Promise.all(Array.from({ length: 50 }, () => store.increment(k('burst'), 10_000)));
      expect(results.map((r) => r.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    });

    describe('admission', () => {
      const later = () => Date.now() + 60_000;

      it('admits while every counter stays within its limit, counts only what it admits, and names the counter that refused', async () => {
        const counters = [
          { key: k('min'), limit: 3, resetAt: later() },
          { key: k('day'), limit: 5, resetAt: later() },
        ];
        const verdicts = [];
        for (let i = 0; i < 4; i++) verdicts.push(await store.admit({ counters, cost: 0, caps: [], balance: null }));
        expect(verdicts.map((v) => v.verdict)).toEqual([{ admitted: true }, { admitted: true }, { admitted: true }, { admitted: false, refusedBy: 'counter', index: 0 }]);
        expect(verdicts.map((v) => v.counts)).toEqual([[1, 1], [2, 2], [3, 3], [3, 3]]);
        const other = await store.admit({ counters: [{ key: k('min2'), limit: 10, resetAt: later() }, counters[1]!], cost: 0, caps: [], balance: null });
        expect(other).toMatchObject({ verdict: { admitted: true }, counts: [1, 4] });
        const refusedByDay = await store.admit({ counters: [{ key: k('min3'), limit: 10, resetAt: later() }, { ...counters[1]!, limit: 4 }], cost: 0, caps: [], balance: null });
        expect(refusedByDay).toMatchObject({ verdict: { admitted: false, refusedBy: 'counter', index: 1 }, counts: [0, 4] });
      });

      it('starts a counter afresh once its window has ended', async () => {
        const counters = [{ key: k('short'), limit: 1, resetAt: Date.now() + 150 }];
        expect((await store.admit({ counters, cost: 0, caps: [], balance: null })).verdict).toEqual({ admitted: true });
        expect((await store.admit({ counters, cost: 0, caps: [], balance: null })).verdict).toMatchObject({ admitted: false });
        await sleep(300);
        expect((await store.admit({ counters: [{ ...counters[0]!, resetAt: Date.now() + 60_000 }], cost: 0, caps: [], balance: null })).counts).toEqual([1]);
      });

      it('spends against caps and a balance: never past either, and nothing counted for a refusal', async () => {
        const caps = [{ key: k('cap'), cap: 10, resetAt: later() }];
        const balance = { spentKey: k('spent'), credited: 12 };
        expect((await store.admit({ counters: [], cost: 3, caps, balance })).verdict).toEqual({ admitted: false, refusedBy: 'balance-unknown' });
        await store.setIfAbsent(k('spent'), '0', 3_600_000);
        expect((await store.admit({ counters: [], cost: 3, caps, balance })).verdict).toEqual({ admitted: false, refusedBy: 'cap-unknown', index: 0 });
        await store.setIfAbsent(k('cap'), '0', 3_600_000);
        const first = await store.admit({ counters: [], cost: 4, caps, balance });
        expect(first).toEqual({ verdict: { admitted: true }, counts: [], spent: [4], balance: 8 });
        const overCap = await store.admit({ counters: [], cost: 7, caps, balance });
        expect(overCap).toEqual({ verdict: { admitted: false, refusedBy: 'cap', index: 0 }, counts: [], spent: [4], balance: 8 });
        const second = await store.admit({ counters: [], cost: 6, caps, balance });
        expect(second).toMatchObject({ verdict: { admitted: true }, spent: [10], balance: 2 });
        await store.setIfAbsent(k('cap2'), '0', 3_600_000);
        const overBalance = await store.admit({ counters: [], cost: 3, caps: [{ key: k('cap2'), cap: 100, resetAt: later() }], balance });
        expect(overBalance).toMatchObject({ verdict: { admitted: false, refusedBy: 'balance' }, balance: 2 });
        // A request without a cost passes whatever the balance.
        expect((await store.admit({ counters: [], cost: 0, caps, balance })).verdict).toEqual({ admitted: true });
      });

      it('asks for a cap’s spent credits the store lacks — only for a request that costs something — then counts on from them', async () => {
        const counters = [{ key: k('capmin'), limit: 10, resetAt: later() }];
        const caps = [{ key: k('lost'), cap: 10, resetAt: later() }];
        expect((await store.admit({ counters, cost: 0, caps, balance: null })).verdict).toEqual({ admitted: true });
        const unknown = await store.admit({ counters, cost: 2, caps, balance: null });
        expect(unknown).toEqual({ verdict: { admitted: false, refusedBy: 'cap-unknown', index: 0 }, counts: [1], spent: [0], balance: null });
        await store.setIfAbsent(k('lost'), '7', 3_600_000);
        expect(await store.admit({ counters, cost: 2, caps, balance: null })).toEqual({ verdict: { admitted: true }, counts: [2], spent: [9], balance: null });
        expect((await store.admit({ counters, cost: 2, caps, balance: null })).verdict).toEqual({ admitted: false, refusedBy: 'cap', index: 0 });
      });

      it('admits exactly the limit of 100 concurrent requests, and spends exactly the cap', async () => {
        const counters = [{ key: k('race'), limit: 10, resetAt: later() }];
        const results = await Promise.all(Array.from({ length: 100 }, () => store.admit({ counters, cost: 0, caps: [], balance: null })));
        expect(results.filter((r) => r.verdict.admitted)).toHaveLength(10);
        const caps = [{ key: k('racecap'), cap: 10, resetAt: later() }];
        await store.setIfAbsent(k('racecap'), '0', 3_600_000);
        const spends = await Promise.all(Array.from({ length: 100 }, () => store.admit({ counters: [], cost: 1, caps, balance: null })));
        expect(spends.filter((r) => r.verdict.admitted)).toHaveLength(10);
      });
    });

    it('delivers published messages to every subscriber until it unsubscribes', async () => {
      const channel = k('events');
      const a: string[] = [];
      const b: string[] = [];
      const stopA = await store.subscribe(channel, (m) => a.push(m));
      const stopB = await store.subscribe(channel, (m) => b.push(m));
      await store.publish(channel, 'hello');
      await eventually(() => a.length === 1 && b.length === 1);
      expect(a).toEqual(['hello']);
      expect(b).toEqual(['hello']);

      await stopA();
      await store.publish(channel, 'second');
      await eventually(() => b.length === 2);
      await sleep(50);
      expect(a).toEqual(['hello']);
      expect(b).toEqual(['hello', 'second']);
      await stopB();
    });

    it('does not deliver messages of other channels', async () => {
      const got: string[] = [];
      const stop = await store.subscribe(k('mine'), (m) => got.push(m));
      await store.publish(k('theirs'), 'not for me');
      await store.publish(k('mine'), 'for me');
      await eventually(() => got.length === 1);
      await sleep(50);
      expect(got).toEqual(['for me']);
      await stop();
    });
  });
}
