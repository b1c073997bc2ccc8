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
