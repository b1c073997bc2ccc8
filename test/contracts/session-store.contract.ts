/**
 * One contract for every SessionStore: the memory store (test/unit) and the MongoDB store
 * (test/integration) run these same cases.
 */
import { beforeEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { newId } from '../../src/domain/ids.ts';
import type { SessionRecord } from '../../src/domain/session.ts';
import type { SessionStore } from '../../src/ports.ts';

export function describeSessionStore(name: string, open: () => Promise<SessionStore>): void {
  describe(`${name}: session store contract`, () => {
    let store: SessionStore;
    let userId: string;
    const at = (minutes: number) => new Date(Date.UTC(2026, 10, 30, 12, minutes));
    const session = (overrides: Partial<SessionRecord> = {}): SessionRecord => ({
      id: randomBytes(32).toString('hex'),
      publicId: newId('ses'),
      userId,
      orgId: 'org_a',
      createdAt: at(0),
      lastSeenAt: at(0),
      expiresAt: at(600),
      createdFrom: '203.0.113.7',
      userAgent: 'Mozilla/5.0',
      ...overrides,
    });
    beforeEach(async () => {
      store = await open();
      userId = newId('usr');
    });

    it('stores a session and reads it back by id, as it was', async () => {
      const s = session();
      await store.insert(s);
      expect(await store.findById(s.id)).toEqual(s);
      expect(await store.findById(randomBytes(32).toString('hex'))).toBeNull();
    });

    it('refuses a second session with the same id', async () => {
      const s = session();
      await store.insert(s);
      await expect(store.insert({ ...s, publicId: newId('ses') })).rejects.toMatchObject({ code: 'CONFLICT' });
    });

    it('updates when it was last seen and the organization it acts in', async () => {
      const s = session();
      await store.insert(s);
      expect(await store.update(s.id, { lastSeenAt: at(5) })).toEqual({ ...s, lastSeenAt: at(5) });
      expect(await store.update(s.id, { orgId: 'org_b' })).toEqual({ ...s, lastSeenAt: at(5), orgId: 'org_b' });
      expect(await store.update(randomBytes(32).toString('hex'), { orgId: 'org_b' })).toBeNull();
    });

    it('deletes one session, or every session of a user', async () => {
      const [a, b, c] = [session({ createdAt: at(1) }), session({ createdAt: at(2) }), session({ createdAt: at(3) })];
      const other = session({ userId: newId('usr') });
      for (const s of [a!, b!, c!, other]) await store.insert(s);
      expect(await store.delete(a!.id)).toBe(true);
      expect(await store.delete(a!.id)).toBe(false);
      expect((await store.listForUser(userId)).map((s) => s.id)).toEqual([c!.id, b!.id]);
      expect(await store.deleteForUser(userId)).toBe(2);
      expect(await store.listForUser(userId)).toEqual([]);
      expect(await store.findById(other.id)).toEqual(other);
    });
  });
}
