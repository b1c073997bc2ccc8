/**
 * One contract for every MeteringStore: the memory store (test/unit) and the MongoDB store
 * (test/integration) run these same cases.
 */
import { beforeEach, describe, expect, it } from '@jest/globals';
import { newId } from '../../src/domain/ids.ts';
import type { MeteredCredential, MeteringStore, UsageDelta } from '../../src/ports.ts';

export function describeMeteringStore(name: string, open: () => Promise<MeteringStore>): void {
  describe(`${name}: metering store contract`, () => {
    let store: MeteringStore;
    let key: MeteredCredential;
    let orgId: string;
    beforeEach(async () => {
      store = await open();
      key = { kind: 'api_key', id: newId('key') };
      orgId = newId('org');
    });
    const delta = (day: string, requests: number, credits: number, credential = key, org = orgId): UsageDelta => ({ credential, orgId: org, day, requests, credits });

    it('adds batches up per credential and day, and reads a range oldest first', async () => {
      for (const d of [delta('2026-11-28', 3, 0), delta('2026-11-29', 1, 5), delta('2026-11-29', 2, 1), delta('2026-11-30', 7, 0)]) await store.add(d);
      expect(await store.series(key, '2026-11-29', '2026-11-30')).toEqual([
        { day: '2026-11-29', requests: 3, credits: 6 },
        { day: '2026-11-30', requests: 7, credits: 0 },
      ]);
      expect(await store.series(key, '2026-12-01', '2026-12-31')).toEqual([]);
    });

    it('keeps credentials apart: a key and a connected app of the same id, and other keys', async () => {
      const app = { kind: 'oauth' as const, id: key.id };
      for (const d of [delta('2026-11-30', 1, 0), delta('2026-11-30', 10, 0, app), delta('2026-11-30', 100, 0, { kind: 'api_key', id: newId('key') })]) await store.add(d);
      expect(await store.series(key, '2026-11-30', '2026-11-30')).toEqual([{ day: '2026-11-30', requests: 1, credits: 0 }]);
      expect(await store.series(app, '2026-11-30', '2026-11-30')).toEqual([{ day: '2026-11-30', requests: 10, credits: 0 }]);
    });

    it('credits a balance and adds every spend to its organization’s spent total', async () => {
      expect(await store.balance(orgId)).toEqual({ credited: 0, spent: 0 });
      expect(await store.credit(orgId, 100)).toEqual({ credited: 100, spent: 0 });
      await store.add(delta('2026-11-30', 1, 30));
      await store.add(delta('2026-11-30', 1, 9, { kind: 'api_key', id: newId('key') }, newId('org')));
      await store.add(delta('2026-12-01', 1, 5, { kind: 'oauth', id: newId('grt') }));
      expect(await store.credit(orgId, 20)).toEqual({ credited: 120, spent: 35 });
      expect(await store.balance(orgId)).toEqual({ credited: 120, spent: 35 });
      expect(await store.credited(orgId)).toBe(120);
    });

    it('loses no concurrent batch', async () => {
      await Promise.all(Array.from({ length: 20 }, () => store.add(delta('2026-11-30', 1, 1))));
      expect(await store.series(key, '2026-11-30', '2026-11-30')).toEqual([{ day: '2026-11-30', requests: 20, credits: 20 }]);
      expect((await store.balance(orgId)).spent).toBe(20);
    });
  });
}
