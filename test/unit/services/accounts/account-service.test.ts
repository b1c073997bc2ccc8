import { beforeEach, describe, expect, it } from '@jest/globals';
import { createServices, openMemoryStores } from '../../../../src/app.ts';
import { ConflictError, ValidationError } from '../../../../src/errors/index.ts';
import type { Stores } from '../../../../src/ports.ts';
import type { AccountService } from '../../../../src/services/accounts/account-service.ts';

import { BearerEvents, type BearerEvent } from '../../../../src/services/revocation/bearer-events.ts';
import { FrozenClock } from '../../../support/frozen-clock.ts';
import { recordSecret } from '../../../support/log-capture.ts';
import { testConfig } from '../../../support/test-config.ts';

const PASSWORD = recordSecret('a-long-enough-password');
let stores: Stores;
let accounts: AccountService;
const clock = new FrozenClock('2026-03-04T05:06:07Z');

beforeEach(() => {
  stores = openMemoryStores(clock);
  accounts = createServices(stores, testConfig(), { clock }).accounts;
});

describe('AccountService', () => {
  it('creates a user with an argon2id hash, never the password', async () => {
    const user = await accounts.createUser({ email: ' Ada@Example.com ', password: PASSWORD, name: ' Ada ' });
    expect(user).toMatchObject({ email: 'Ada@Example.com', name: 'Ada', disabled: false, createdAt: clock.now() });
    expect(user.id).toMatch(/^usr_[A-Za-z0-9]{16}$/);
    expect(user.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(JSON.stringify(await stores.users.findById(user.id))).not.toContain(PASSWORD);
  });

  it('refuses user and organization names that hide or disguise text, and stores others in NFC', async () => {
    await expect(accounts.createUser({ email: 'x@example.com', name: 'Eve\u202Emalory' })).rejects.toMatchObject({ code: 'VALIDATION_FAILED', field: 'name' });
    await expect(accounts.createOrganization({ name: 'Acme\u0000' })).rejects.toMatchObject({ code: 'VALIDATION_FAILED', field: 'name' });
    const org = await accounts.createOrganization({ name: 'Societe\u0301' });
    expect((await stores.organizations.findById(org.id))?.name).toBe('Societ\u00e9');
  });

  it('tells every instance of the changes that reach bearers: a role changed, a user or an organization disabled — and of nothing else', async () => {
    const heard: BearerEvent[] = [];
    await new BearerEvents(stores.ephemeral, () => undefined).subscribe((e) => heard.push(e!));
    const user = await accounts.createUser({ email: 'member@example.com', password: PASSWORD });
    const org = await accounts.createOrganization({ name: 'Acme' });
    expect((await accounts.setMembership(user.id, org.id, 'editor')).change).toBe('created');
    expect((await accounts.setMembership(user.id, org.id, 'editor')).change).toBe('unchanged');
    await new Promise((r) => setImmediate(r)); // messages are delivered asynchronously, as by Redis
    expect(heard).toEqual([]);
    expect((await accounts.setMembership(user.id, org.id, 'viewer')).change).toBe('updated');
    expect((await accounts.updateUser(user.id, { disabled: true }))?.changed).toBe(true);
    expect((await accounts.updateUser(user.id, { disabled: true }))?.changed).toBe(false);
    expect((await accounts.updateOrganization(org.id, { disabled: true }))?.changed).toBe(true);
    await new Promise((r) => setImmediate(r));
    expect(heard).toEqual([
      { kind: 'user', id: user.id },
      { kind: 'user', id: user.id },
      { kind: 'organization', id: org.id },
    ]);
  });

  it('refuses bad emails, short passwords and taken emails', async () => {
    await expect(accounts.createUser({ email: 'nope', password: PASSWORD })).rejects.toBeInstanceOf(ValidationError);
    await expect(accounts.createUser({ email: 'a@example.com', password: 'short' })).rejects.toBeInstanceOf(ValidationError);
    await accounts.createUser({ email: 'a@example.com', password: PASSWORD });
    await expect(accounts.createUser({ email: 'A@example.com', password: PASSWORD })).rejects.toBeInstanceOf(ConflictError);
  });

  it('authenticates the right password only, case-insensitively on the email', async () => {
    const user = await accounts.createUser({ email: 'ada@example.com', password: PASSWORD });
    expect((await accounts.authenticate('ADA@example.com', PASSWORD))?.id).toBe(user.id);
    expect(await accounts.authenticate('ada@example.com', 'wrong-password')).toBeNull();
    expect(await accounts.authenticate('nobody@example.com', PASSWORD)).toBeNull();
    expect(await accounts.authenticate('ada@example.com', 'x'.repeat(5_000))).toBeNull();
  });

  it('refuses a disabled user and a user without a password', async () => {
    const user = await accounts.createUser({ email: 'ada@example.com', password: PASSWORD });
    await stores.users.update(user.id, { disabled: true });
    expect(await accounts.authenticate('ada@example.com', PASSWORD)).toBeNull();
    await accounts.createUser({ email: 'nopass@example.com' });
    expect(await accounts.authenticate('nopass@example.com', '')).toBeNull();
  });

  it('lists the organizations a user belongs to, with roles', async () => {
    const user = await accounts.createUser({ email: 'ada@example.com' });
    const acme = await accounts.createOrganization({ name: 'Acme' });
    const globex = await accounts.createOrganization({ name: 'Globex', plan: 'team' });
    await accounts.setMembership(user.id, acme.id, 'owner');
    clock.advance(1_000); // listed oldest first
    await accounts.setMembership(user.id, globex.id, 'viewer');
    const orgs = await accounts.organizationsOf(user.id);
    expect(orgs.map((o) => [o.organization.name, o.role])).toEqual([['Acme', 'owner'], ['Globex', 'viewer']]);
  });
});
