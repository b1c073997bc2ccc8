/**
 * One contract for every implementation of UserStore, OrganizationStore and MembershipStore:
 * the memory stores (test/unit) and the MongoDB stores (test/integration) run these same cases.
 */
import { beforeEach, describe, expect, it } from '@jest/globals';
import { expectConflict } from './expect-conflict.ts';
import type { Membership, Organization, User } from '../../src/domain/accounts.ts';
import { newId } from '../../src/domain/ids.ts';
import type { MembershipStore, OrganizationStore, UserStore } from '../../src/ports.ts';

export interface AccountStores {
  users: UserStore;
  organizations: OrganizationStore;
  memberships: MembershipStore;
}

const at = (iso: string): Date => new Date(iso);

function user(overrides: Partial<User> = {}): User {
  return {
    id: newId('usr'),
    email: `${newId('usr').toLowerCase()}@example.com`,
    name: 'Ada',
    passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo',
    disabled: false,
    createdAt: at('2026-01-02T03:04:05.678Z'),
    ...overrides,
  };
}

function org(overrides: Partial<Organization> = {}): Organization {
  return { id: newId('org'), name: 'Acme', plan: 'free', disabled: false, createdAt: at('2026-01-02T03:04:05.678Z'), ...overrides };
}

function membership(userId: string, orgId: string, overrides: Partial<Membership> = {}): Membership {
  return { id: newId('mem'), userId, orgId, role: 'editor', createdAt: at('2026-02-01T00:00:00.000Z'), ...overrides };
}


export function describeAccountStores(name: string, open: () => Promise<AccountStores>): void {
  describe(`${name}: account stores contract`, () => {
    let stores: AccountStores;
    beforeEach(async () => {
      stores = await open();
    });

    describe('users', () => {
      it('stores a user and reads back every field', async () => {
        const u = user({ name: null, passwordHash: null, disabled: true });
        await stores.users.insert(u);
        expect(await stores.users.findById(u.id)).toEqual(u);
      });

      it('finds users by email case-insensitively', async () => {
        const u = user({ email: 'Grace.Hopper@Example.COM' });
        await stores.users.insert(u);
        expect((await stores.users.findByEmail('grace.hopper@example.com'))?.id).toBe(u.id);
        expect((await stores.users.findByEmail('  GRACE.HOPPER@EXAMPLE.COM ')))?.toMatchObject({ id: u.id, email: 'Grace.Hopper@Example.COM' });
      });

      it('answers null for an unknown id or email', async () => {
        expect(await stores.users.findById('usr_missing')).toBeNull();
        expect(await stores.users.findByEmail('nobody@example.com')).toBeNull();
      });

      it('refuses a second user with the same email in another case, and keeps the first', async () => {
        const first = user({ email: 'same@example.com' });
        await stores.users.insert(first);
        await expectConflict(stores.users.insert(user({ email: 'SAME@example.com' })), 'email');
        expect((await stores.users.findByEmail('same@example.com'))?.id).toBe(first.id);
      });

      it('refuses a second user with the same id', async () => {
        const first = user();
        await stores.users.insert(first);
        await expectConflict(stores.users.insert(user({ id: first.id })), 'id');
        expect(await stores.users.findById(first.id)).toEqual(first);
      });

      it('updates only the fields given and returns the result', async () => {
        const u = user();
        await stores.users.insert(u);
        const updated = await stores.users.update(u.id, { name: 'Ada L.', disabled: true });
        expect(updated).toEqual({ ...u, name: 'Ada L.', disabled: true });
        expect(await stores.users.findById(u.id)).toEqual(updated);
      });

      it('moves the email index with an email change', async () => {
        const u = user({ email: 'old@example.com' });
        await stores.users.insert(u);
        await stores.users.update(u.id, { email: 'New@example.com' });
        expect(await stores.users.findByEmail('old@example.com')).toBeNull();
        expect((await stores.users.findByEmail('new@example.com'))?.id).toBe(u.id);
        // The old address is free again.
        await stores.users.insert(user({ email: 'old@example.com' }));
      });

      it('refuses an email change onto a taken email', async () => {
        const a = user({ email: 'a@example.com' });
        const b = user({ email: 'b@example.com' });
        await stores.users.insert(a);
        await stores.users.insert(b);
        await expectConflict(stores.users.update(b.id, { email: 'A@EXAMPLE.com' }), 'email');
        expect((await stores.users.findById(b.id))?.email).toBe('b@example.com');
      });

      it('answers null when updating a user that does not exist', async () => {
        expect(await stores.users.update('usr_missing', { name: 'x' })).toBeNull();
      });

      it('returns copies: changing a returned user changes nothing stored', async () => {
        const u = user();
        await stores.users.insert(u);
        const read = (await stores.users.findById(u.id))!;
        read.name = 'mutated';
        expect((await stores.users.findById(u.id))?.name).toBe(u.name);
      });
    });

    describe('organizations', () => {
      it('stores, reads and updates an organization', async () => {
        const o = org();
        await stores.organizations.insert(o);
        expect(await stores.organizations.findById(o.id)).toEqual(o);
        const updated = await stores.organizations.update(o.id, { plan: 'team', disabled: true });
        expect(updated).toEqual({ ...o, plan: 'team', disabled: true });
        expect(await stores.organizations.findById(o.id)).toEqual(updated);
      });

      it('lists the plans organizations are on, each once', async () => {
        const before = await stores.organizations.plansInUse();
        await stores.organizations.insert(org({ plan: 'contract-a' }));
        await stores.organizations.insert(org({ plan: 'contract-a' }));
        await stores.organizations.insert(org({ plan: 'contract-b' }));
        expect(await stores.organizations.plansInUse()).toEqual([...new Set([...before, 'contract-a', 'contract-b'])].sort());
      });

      it('refuses a duplicate id and answers null for unknown ids', async () => {
        const o = org();
        await stores.organizations.insert(o);
        await expectConflict(stores.organizations.insert(org({ id: o.id, name: 'Other' })), 'id');
        expect((await stores.organizations.findById(o.id))?.name).toBe('Acme');
        expect(await stores.organizations.findById('org_missing')).toBeNull();
        expect(await stores.organizations.update('org_missing', { name: 'x' })).toBeNull();
      });
    });

    describe('memberships', () => {
      it('keeps one membership per user and organization: a second upsert changes the role only', async () => {
        const first = membership('usr_1', 'org_1', { role: 'viewer' });
        expect(await stores.memberships.upsert(first)).toEqual(first);
        const again = await stores.memberships.upsert(membership('usr_1', 'org_1', { role: 'admin', createdAt: at('2027-01-01T00:00:00Z') }));
        expect(again).toEqual({ ...first, role: 'admin' });
        expect(await stores.memberships.find('usr_1', 'org_1')).toEqual({ ...first, role: 'admin' });
        expect(await stores.memberships.listForOrg('org_1')).toHaveLength(1);
      });

      it('lists a user’s and an organization’s memberships, oldest first', async () => {
        const u = newId('usr');
        const o = newId('org');
        const m2 = membership(u, 'org_b', { createdAt: at('2026-03-01T00:00:00Z') });
        const m1 = membership(u, o, { createdAt: at('2026-01-01T00:00:00Z') });
        const m3 = membership('usr_other', o, { createdAt: at('2026-05-01T00:00:00Z') });
        for (const m of [m2, m1, m3]) await stores.memberships.upsert(m);
        expect(await stores.memberships.listForUser(u)).toEqual([m1, m2]);
        expect(await stores.memberships.listForOrg(o)).toEqual([m1, m3]);
        expect(await stores.memberships.listForUser('usr_nobody')).toEqual([]);
      });

      it('removes a membership once', async () => {
        await stores.memberships.upsert(membership('usr_r', 'org_r'));
        expect(await stores.memberships.remove('usr_r', 'org_r')).toBe(true);
        expect(await stores.memberships.remove('usr_r', 'org_r')).toBe(false);
        expect(await stores.memberships.find('usr_r', 'org_r')).toBeNull();
      });

      it('creates exactly one membership under concurrent upserts of the same pair', async () => {
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => stores.memberships.upsert(membership('usr_c', 'org_c', { role: i % 2 ? 'admin' : 'viewer' }))),
        );
        expect(new Set(results.map((m) => m.id)).size).toBe(1);
        expect(await stores.memberships.listForOrg('org_c')).toHaveLength(1);
      });
    });
  });
}
