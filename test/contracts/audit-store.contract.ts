/**
 * One contract for every AuditStore: the memory store (test/unit) and the MongoDB store
 * (test/integration) run these same cases.
 */
import { beforeEach, describe, expect, it } from '@jest/globals';
import type { AuditEvent } from '../../src/domain/audit.ts';
import { newId } from '../../src/domain/ids.ts';
import type { AuditStore } from '../../src/ports.ts';

const at = (iso: string): Date => new Date(iso);

function event(overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    id: newId('evt'),
    orgId: 'org_contract',
    action: 'api_key.created',
    actorUserId: 'usr_actor',
    credential: { kind: 'api_key', keyId: 'key_actor' },
    targetType: 'api_key',
    targetId: 'key_target',
    details: { name: 'CI deploys', scopes: ['keys:read'] },
    at: at('2026-01-02T03:04:05.678Z'),
    ...overrides,
  };
}

/** Events one second apart, oldest first; ids are random so that ordering never leans on them. */
function series(orgId: string, count: number): AuditEvent[] {
  return Array.from({ length: count }, (_, i) => event({ orgId, at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)) }));
}

const newestFirst = (events: AuditEvent[]): AuditEvent[] =>
  [...events].sort((a, b) => b.at.getTime() - a.at.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));

export function describeAuditStore(name: string, open: () => Promise<AuditStore>): void {
  describe(`${name}: audit store contract`, () => {
    let store: AuditStore;
    beforeEach(async () => {
      store = await open();
    });

    it('reads back every field, for each kind of credential', async () => {
      const orgId = newId('org');
      const events = [
        event({ orgId, at: at('2026-01-01T00:00:04Z'), credential: { kind: 'api_key', keyId: 'key_1' } }),
        event({
          orgId,
          at: at('2026-01-01T00:00:03Z'),
          action: 'api_key.revoked',
          actorUserId: null,
          credential: { kind: 'cli' },
          details: {},
        }),
        event({
          orgId,
          at: at('2026-01-01T00:00:02Z'),
          action: 'api_key.updated',
          credential: { kind: 'oauth', clientId: 'cli_app', grantId: 'grt_1' },
          details: { name: { from: 'old', to: 'new' }, limits: { rateLimitPerMinute: 60, dailySpendCap: null }, active: false, count: 3 },
        }),
        event({ orgId, at: at('2026-01-01T00:00:01Z'), action: 'api_key.rotated', credential: { kind: 'import' }, details: { rotatedTo: 'key_2' } }),
      ];
      for (const e of events) await store.insert(e);
      expect(await store.list(orgId, { limit: 10 })).toEqual(events);
    });

    it('lists newest first, ties on `at` broken by id descending, at most `limit`', async () => {
      const orgId = newId('org');
      const same = at('2026-03-03T03:03:03.333Z');
      const events = [
        event({ orgId, id: 'evt_b', at: same }),
        event({ orgId, id: 'evt_old', at: at('2026-03-01T00:00:00Z') }),
        event({ orgId, id: 'evt_c', at: same }),
        event({ orgId, id: 'evt_new', at: at('2026-03-05T00:00:00Z') }),
        event({ orgId, id: 'evt_a', at: same }),
      ];
      for (const e of events) await store.insert(e);
      expect((await store.list(orgId, { limit: 10 })).map((e) => e.id)).toEqual(['evt_new', 'evt_c', 'evt_b', 'evt_a', 'evt_old']);
      expect((await store.list(orgId, { limit: 2 })).map((e) => e.id)).toEqual(['evt_new', 'evt_c']);
      expect(await store.list(orgId, { limit: 0 })).toEqual([]);
    });

    it('starts strictly after the cursor, also inside a tie on `at`', async () => {
      const orgId = newId('org');
      const same = at('2026-03-03T03:03:03.333Z');
      for (const id of ['evt_a', 'evt_b', 'evt_c']) await store.insert(event({ orgId, id, at: same }));
      await store.insert(event({ orgId, id: 'evt_z_older', at: at('2026-03-03T03:03:03.332Z') }));
      const after = async (id: string): Promise<string[]> => (await store.list(orgId, { limit: 10, before: { at: same, id } })).map((e) => e.id);
      expect(await after('evt_c')).toEqual(['evt_b', 'evt_a', 'evt_z_older']);
      expect(await after('evt_b')).toEqual(['evt_a', 'evt_z_older']);
      expect(await after('evt_a')).toEqual(['evt_z_older']);
    });

    it('walks 25 events in pages of 10: every event exactly once, in order', async () => {
      const orgId = newId('org');
      const all = series(orgId, 25);
      // Some ties on `at`, so that pages must use the id half of the cursor.
      all[7]!.at = new Date(all[8]!.at);
      all[9]!.at = new Date(all[10]!.at);
      all[15]!.at = new Date(all[14]!.at);
      for (const e of [...all].reverse()) await store.insert(e);
      const seen: AuditEvent[] = [];
      const sizes: number[] = [];
      let page = await store.list(orgId, { limit: 10 });
      while (page.length > 0) {
        sizes.push(page.length);
        seen.push(...page);
        const last = page[page.length - 1]!;
        page = await store.list(orgId, { limit: 10, before: { at: last.at, id: last.id } });
      }
      expect(sizes).toEqual([10, 10, 5]);
      expect(seen).toEqual(newestFirst(all));
    });

    it('never lists another organization’s events', async () => {
      const mine = newId('org');
      const theirs = newId('org');
      const myEvents = series(mine, 3);
      for (const e of [...myEvents, ...series(theirs, 4)]) await store.insert(e);
      const listed = await store.list(mine, { limit: 100 });
      expect(listed).toEqual(newestFirst(myEvents));
      const last = listed[listed.length - 1]!;
      expect(await store.list(mine, { limit: 100, before: { at: last.at, id: last.id } })).toEqual([]);
      expect(await store.list(newId('org'), { limit: 100 })).toEqual([]);
    });

    it('filters by actor, credential kind, action and target — every field given — and pages within the filter', async () => {
      const orgId = newId('org');
      const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
      const events = [
        event({ orgId, at: t(1), actorUserId: 'usr_a', credential: { kind: 'session', sessionId: 'ses_1' }, action: 'api_key.created', targetId: 'key_1' }),
        event({ orgId, at: t(2), actorUserId: 'usr_a', credential: { kind: 'api_key', keyId: 'key_0' }, action: 'api_key.revoked', targetId: 'key_1' }),
        event({ orgId, at: t(3), actorUserId: 'usr_b', credential: { kind: 'session', sessionId: 'ses_2' }, action: 'connected_app.revoked', targetId: 'grt_1' }),
        event({ orgId, at: t(4), actorUserId: null, credential: { kind: 'cli' }, action: 'organization.credited', targetId: orgId }),
      ];
      for (const e of events) await store.insert(e);
      const ids = async (filter: Parameters<AuditStore['list']>[2], page: Parameters<AuditStore['list']>[1] = { limit: 100 }) => (await store.list(orgId, page, filter)).map((e) => events.indexOf(events.find((x) => x.id === e.id)!));
      expect(await ids({ actorUserId: 'usr_a' })).toEqual([1, 0]);
      expect(await ids({ credentialKind: 'session' })).toEqual([2, 0]);
      expect(await ids({ action: 'api_key.revoked' })).toEqual([1]);
      expect(await ids({ targetId: 'key_1' })).toEqual([1, 0]);
      expect(await ids({ actorUserId: 'usr_a', credentialKind: 'session' })).toEqual([0]);
      expect(await ids({ credentialKind: 'cli', actorUserId: 'usr_a' })).toEqual([]);
      expect(await ids({ actorUserId: 'usr_a' }, { limit: 1, before: { at: events[1]!.at, id: events[1]!.id } })).toEqual([0]);
    });

    it('returns copies: changing a listed or inserted event changes nothing stored', async () => {
      const orgId = newId('org');
      const e = event({ orgId, details: { scopes: ['keys:read'] } });
      await store.insert(e);
      (e.details['scopes'] as string[]).push('inserted:later');
      const [read] = await store.list(orgId, { limit: 1 });
      (read!.details['scopes'] as string[]).push('admin');
      read!.credential = { kind: 'cli' };
      read!.at.setFullYear(1999);
      expect(await store.list(orgId, { limit: 1 })).toEqual([{ ...e, details: { scopes: ['keys:read'] } }]);
    });
  });
}
