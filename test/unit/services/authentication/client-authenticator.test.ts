import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { OAuthClient } from '../../../../src/domain/oauth.ts';
import { BearerEvents } from '../../../../src/services/revocation/bearer-events.ts';
import { ClientAuthenticator } from '../../../../src/services/authentication/client-authenticator.ts';
import { hashClientSecret } from '../../../../src/services/oauth-apps/client-service.ts';
import { MemoryClientStore } from '../../../../src/stores/memory/memory-client-store.ts';
import { MemoryEphemeralStore } from '../../../../src/stores/memory/memory-ephemeral-store.ts';
import { FrozenClock } from '../../../support/frozen-clock.ts';

/** An ephemeral store whose subscription health and epoch the test controls. */
class ControlledEphemeral extends MemoryEphemeralStore {
  state = { healthy: true, epoch: 0 };
  override subscriptionState(): { healthy: boolean; epoch: number } {
    return this.state;
  }
}

/** Counts store reads, and can hold them until the test releases them. */
class CountingClientStore extends MemoryClientStore {
  reads = 0;
  gate: Promise<void> | null = null;
  override async findById(id: string): Promise<OAuthClient | null> {
    this.reads++;
    const found = super.findById(id);
    if (this.gate) await this.gate;
    return found;
  }
}

const SECRET = 'cs_unit-test-secret-0123456789abcdef';

let clock: FrozenClock;
let ephemeral: ControlledEphemeral;
let store: CountingClientStore;
let events: BearerEvents;
let authenticator: ClientAuthenticator;
let stop: () => Promise<void>;

beforeEach(async () => {
  clock = new FrozenClock('2026-06-01T00:00:00Z');
  ephemeral = new ControlledEphemeral(clock);
  store = new CountingClientStore();
  await store.insert({
    id: 'rs_1',
    name: 'Resource server',
    type: 'resource_server',
    secretHash: hashClientSecret(SECRET),
    redirectUris: [],
    scopes: [],
    disabled: false,
    orgId: null,
    createdAt: clock.now(),
  });
  events = new BearerEvents(ephemeral, () => undefined);
  authenticator = new ClientAuthenticator(store, ephemeral, clock);
  stop = await authenticator.start(events);
});

afterEach(async () => {
  await stop();
  await ephemeral.close();
});

const right = { clientId: 'rs_1', clientSecret: SECRET };
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('ClientAuthenticator', () => {
  it('accepts the right secret only, and refuses unknown and disabled clients', async () => {
    expect(await authenticator.authenticate(right)).toMatchObject({ id: 'rs_1' });
    expect(await authenticator.authenticate({ clientId: 'rs_1', clientSecret: `${SECRET}x` })).toBeNull();
    expect(await authenticator.authenticate({ clientId: 'nobody', clientSecret: SECRET })).toBeNull();
    await store.update('rs_1', { disabled: true });
    await events.publish({ kind: 'client', id: 'rs_1' });
    expect(await authenticator.authenticate(right)).toBeNull();
  });

  it('answers a known client at once, without a promise or a store read', async () => {
    await authenticator.authenticate(right);
    const reads = store.reads;
    const answer = authenticator.authenticate(right);
    expect(answer).not.toBeInstanceOf(Promise);
    expect(answer).toMatchObject({ id: 'rs_1' });
    expect(store.reads).toBe(reads);
  });

  it('reads the record once for any number of concurrent requests', async () => {
    let release: () => void = () => undefined;
    store.gate = new Promise((resolve) => (release = resolve));
    const answers = Array.from({ length: 50 }, () => authenticator.authenticate(right));
    release();
    expect((await Promise.all(answers)).every((client) => client?.id === 'rs_1')).toBe(true);
    expect(store.reads).toBe(1);
  });

  it('reads the record again in the background from 4 s, serving the one it has until 5 s', async () => {
    await authenticator.authenticate(right);
    clock.advance(3_999);
    authenticator.authenticate(right);
    expect(store.reads).toBe(1);
    clock.advance(1);
    await store.update('rs_1', { disabled: true }); // a change whose event was lost
    expect(authenticator.authenticate(right)).toMatchObject({ id: 'rs_1' }); // within its bound…
    await settle();
    expect(store.reads).toBe(2); // …while the record was read again
    expect(authenticator.authenticate(right)).toBeNull();
  });

  it('never trusts a record past 5 s when no one used it meanwhile', async () => {
    await authenticator.authenticate(right);
    await store.update('rs_1', { disabled: true }); // its event lost
    clock.advance(5_000);
    expect(await authenticator.authenticate(right)).toBeNull();
  });

  it('drops a record at its change event, and keeps nothing read before the event', async () => {
    let release: () => void = () => undefined;
    store.gate = new Promise((resolve) => (release = resolve));
    const pending = authenticator.authenticate(right);
    await store.update('rs_1', { secretHash: hashClientSecret('cs_rotated-secret-0123456789abcdef') });
    await events.publish({ kind: 'client', id: 'rs_1' });
    release();
    expect(await pending).toMatchObject({ id: 'rs_1' }); // answered as read, but not kept
    store.gate = null;
    expect(await authenticator.authenticate(right)).toBeNull();
    expect(await authenticator.authenticate({ clientId: 'rs_1', clientSecret: 'cs_rotated-secret-0123456789abcdef' })).toMatchObject({ id: 'rs_1' });
  });

  it('confirms credentials verified before while the client keeps that secret and stays enabled', async () => {
    const verified = await authenticator.authenticate(right);
    const confirmed = authenticator.confirm('rs_1', verified!.secretHash);
    expect(confirmed).not.toBeInstanceOf(Promise); // the record is cached: at once
    expect(confirmed).toMatchObject({ id: 'rs_1' });
    expect(await authenticator.confirm('rs_1', hashClientSecret('cs_another-secret-0123456789abcdef'))).toBeNull();
    expect(await authenticator.confirm('nobody', verified!.secretHash)).toBeNull();
    await store.update('rs_1', { secretHash: hashClientSecret('cs_rotated-secret-0123456789abcdef') });
    await events.publish({ kind: 'client', id: 'rs_1' });
    expect(await authenticator.confirm('rs_1', verified!.secretHash)).toBeNull();
    const rotated = await authenticator.authenticate({ clientId: 'rs_1', clientSecret: 'cs_rotated-secret-0123456789abcdef' });
    await store.update('rs_1', { disabled: true });
    await events.publish({ kind: 'client', id: 'rs_1' });
    expect(await authenticator.confirm('rs_1', rotated!.secretHash)).toBeNull();
  });

  it('serves nothing from memory while the event subscription is down, nor after it came back', async () => {
    await authenticator.authenticate(right);
    ephemeral.state = { healthy: false, epoch: 0 };
    await authenticator.authenticate(right);
    await authenticator.authenticate(right);
    expect(store.reads).toBe(3);
    ephemeral.state = { healthy: true, epoch: 1 }; // reconnected: messages may have been missed
    await authenticator.authenticate(right);
    expect(store.reads).toBe(4);
    await authenticator.authenticate(right);
    expect(store.reads).toBe(4);
  });
});
