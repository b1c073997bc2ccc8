/**
 * Console sessions on the memory stores with a frozen clock: a sign-in makes a new session every
 * time (session fixation), under the sign-in throttle; a session is its user's principal in one
 * organization with every scope the current role allows, re-read on every request (a role
 * change, a removal, a disabled user or organization take effect at once); idle and absolute
 * lifetimes; switching organization only to one's own; signing out of one session or all.
 */
import { beforeEach, describe, expect, it } from '@jest/globals';
import { createServices, openMemoryStores, type Services } from '../../../../src/app.ts';
import { hashKey } from '../../../../src/domain/key-hash.ts';
import type { Stores } from '../../../../src/ports.ts';
import { FrozenClock } from '../../../support/frozen-clock.ts';
import { recordSecret } from '../../../support/log-capture.ts';
import { testConfig } from '../../../support/test-config.ts';

const PASSWORD = recordSecret('correct horse battery staple');
const MINUTE = 60_000;

let clock: FrozenClock;
let stores: Stores;
let services: Services;
let userId: string;
let acme: string;
let globex: string;

/** Bearer events are delivered asynchronously, as Redis would: the shared record cache drops its entries then. */
const settle = () => new Promise((resolve) => setImmediate(resolve));
const signIn = (password: string = PASSWORD, email = 'ada@example.com') => services.sessions.signIn({ email, password, clientAddress: '203.0.113.9', userAgent: 'Mozilla/5.0 (test)' });

async function signedIn(): Promise<string> {
  const outcome = await signIn();
  if (outcome.kind !== 'signed-in') throw new Error(`not signed in: ${outcome.kind}`);
  return recordSecret(outcome.token);
}

beforeEach(async () => {
  clock = new FrozenClock();
  stores = openMemoryStores(clock);
  services = createServices(stores, testConfig({ TESSERA_AUTH_FAILURES_PER_MINUTE: '3', TESSERA_SESSION_IDLE_MINUTES: '30', TESSERA_SESSION_LIFETIME_HOURS: '12' }), { clock });
  // As createTessera does: the shared records drop what a bearer event names.
  await services.sharedRecords.start(services.bearerEvents);
  const { accounts } = services;
  userId = (await accounts.createUser({ email: 'ada@example.com', password: PASSWORD })).id;
  acme = (await accounts.createOrganization({ name: 'Acme' })).id;
  globex = (await accounts.createOrganization({ name: 'Globex' })).id;
  await accounts.setMembership(userId, acme, 'owner');
  await accounts.setMembership(userId, globex, 'viewer');
});

describe('SessionService', () => {
  it('signs in with the right password only, making a new session each time, stored by its token’s SHA-256', async () => {
    expect(await signIn('wrong password')).toEqual({ kind: 'wrong-credentials' });
    expect(await signIn(PASSWORD, 'nobody@example.com')).toEqual({ kind: 'wrong-credentials' });
    const first = await signIn();
    const second = await signIn();
    if (first.kind !== 'signed-in' || second.kind !== 'signed-in') throw new Error('expected two sessions');
    recordSecret(first.token);
    recordSecret(second.token);
    expect(first.token).not.toBe(second.token);
    expect(first.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(first.session).toMatchObject({ id: hashKey(first.token), userId, orgId: acme, createdFrom: '203.0.113.9', userAgent: 'Mozilla/5.0 (test)' });
    expect(first.session.publicId).toMatch(/^ses_/);
    expect(JSON.stringify(await stores.sessions.findById(hashKey(first.token)))).not.toContain(first.token);
  });

  it('throttles sign-ins as every sign-in page does', async () => {
    for (let i = 0; i < 3; i++) await signIn('wrong');
    expect(await signIn()).toMatchObject({ kind: 'throttled' });
  });

  it('refuses a person who belongs to no organization', async () => {
    await services.accounts.createUser({ email: 'loner@example.com', password: PASSWORD });
    expect(await signIn(PASSWORD, 'loner@example.com')).toEqual({ kind: 'no-organization' });
  });

  it('resolves to the user’s principal in its organization, with every scope the current role allows', async () => {
    const token = await signedIn();
    const resolved = await services.sessions.resolve(token);
    expect(resolved).toMatchObject({ status: 'active', principal: { kind: 'session', userId, orgId: acme, role: 'owner', scopes: services.catalog.allowedFor('owner') } });
    if (resolved.status !== 'active') throw new Error('expected active');
    expect(resolved.organizations.map((o) => [o.name, o.role])).toEqual([
      ['Acme', 'owner'],
      ['Globex', 'viewer'],
    ]);
    await services.accounts.setMembership(userId, acme, 'viewer');
    await settle();
    expect(await services.sessions.resolve(token)).toMatchObject({ status: 'active', principal: { role: 'viewer', scopes: services.catalog.allowedFor('viewer') } });
  });

  it('answers none for tokens that are not a session’s', async () => {
    for (const token of ['', 'short', 'x'.repeat(43), `${'A'.repeat(42)}!`]) expect(await services.sessions.resolve(token)).toEqual({ status: 'none' });
  });

  it('ends a session idle for its idle time, and any session at its absolute lifetime, however active', async () => {
    const idle = await signedIn();
    clock.advance(29 * MINUTE);
    expect((await services.sessions.resolve(idle)).status).toBe('active');
    clock.advance(29 * MINUTE); // 29 minutes after the last request
    expect((await services.sessions.resolve(idle)).status).toBe('active');
    clock.advance(30 * MINUTE);
    expect(await services.sessions.resolve(idle)).toEqual({ status: 'none' });
    expect(await stores.sessions.findById(hashKey(idle))).toBeNull();

    const busy = await signedIn();
    for (let spent = 0; spent < 12 * 60; spent += 20) {
      expect((await services.sessions.resolve(busy)).status).toBe('active');
      clock.advance(20 * MINUTE);
    }
    expect(await services.sessions.resolve(busy)).toEqual({ status: 'none' });
  });

  it('writes when it was last seen at most once a minute', async () => {
    const token = await signedIn();
    const createdAt = clock.now();
    clock.advance(30_000);
    await services.sessions.resolve(token);
    expect((await stores.sessions.findById(hashKey(token)))!.lastSeenAt).toEqual(createdAt);
    clock.advance(30_000);
    await services.sessions.resolve(token);
    expect((await stores.sessions.findById(hashKey(token)))!.lastSeenAt).toEqual(clock.now());
  });

  it('switches to another of the user’s organizations, and to no other', async () => {
    const token = await signedIn();
    await services.sessions.switchOrganization(token, globex);
    expect(await services.sessions.resolve(token)).toMatchObject({ status: 'active', principal: { orgId: globex, role: 'viewer' } });
    const elsewhere = (await services.accounts.createOrganization({ name: 'Initech' })).id;
    await expect(services.sessions.switchOrganization(token, elsewhere)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(services.sessions.switchOrganization(recordSecret('A'.repeat(43)), acme)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('follows the user’s standing: removed from its organization it moves to another, a disabled organization is said, a disabled user is signed out', async () => {
    const token = await signedIn();
    await stores.memberships.remove(userId, acme);
    services.sharedRecords.clear(); // removed behind the services' back: no event says so
    expect(await services.sessions.resolve(token)).toMatchObject({ status: 'active', principal: { orgId: globex } });
    await services.accounts.updateOrganization(globex, { disabled: true });
    await settle();
    expect(await services.sessions.resolve(token)).toMatchObject({ status: 'organization-disabled', principal: { orgId: globex } });
    await services.accounts.updateOrganization(globex, { disabled: false });
    await services.accounts.updateUser(userId, { disabled: true });
    await settle();
    expect(await services.sessions.resolve(token)).toEqual({ status: 'none' });
  });

  it('signs out one session, or every session of the user', async () => {
    const [a, b, c] = [await signedIn(), await signedIn(), await signedIn()];
    await services.sessions.signOut(a);
    expect(await services.sessions.resolve(a)).toEqual({ status: 'none' });
    expect((await services.sessions.resolve(b)).status).toBe('active');
    const resolved = await services.sessions.resolve(b);
    if (resolved.status !== 'active') throw new Error('expected active');
    expect(await services.sessions.signOutEverywhere(resolved.principal)).toBe(2);
    expect(await services.sessions.resolve(c)).toEqual({ status: 'none' });
  });
});
