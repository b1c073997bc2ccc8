import { describe, expect, it } from '@jest/globals';
import { FailureThrottle } from '../../../../src/services/limits/failure-throttle.ts';
import { ACCOUNT_FREE_FAILURES, ACCOUNT_MAX_DELAY_MS, LoginThrottle } from '../../../../src/services/limits/login-throttle.ts';
import { WindowCounter } from '../../../../src/services/limits/window-counter.ts';
import { MemoryEphemeralStore } from '../../../../src/stores/memory/memory-ephemeral-store.ts';
import { FrozenClock } from '../../../support/frozen-clock.ts';

function setup(perAddress = 1_000) {
  const clock = new FrozenClock(new Date('2026-11-30T12:00:00Z'));
  const store = new MemoryEphemeralStore(clock);
  const counter = new WindowCounter(store, new MemoryEphemeralStore(clock));
  return { clock, throttle: new LoginThrottle(new FailureThrottle(counter, perAddress, clock), counter, clock) };
}

describe('LoginThrottle per account', () => {
  it('lets an account fail freely a few times, then makes it wait 1, 2, 4 … seconds, never more than a minute', async () => {
    const { clock, throttle } = setup();
    const waits: Array<number | null> = [];
    for (let i = 0; i < ACCOUNT_FREE_FAILURES + 10; i++) {
      const wait = await throttle.blocked(`192.0.2.${i}`, 'victim@example.com');
      if (wait !== null) clock.advance(wait * 1000);
      waits.push(await throttle.failed(`192.0.2.${i}`, 'victim@example.com'));
    }
    expect(waits).toEqual([...Array(ACCOUNT_FREE_FAILURES - 1).fill(null), 1, 2, 4, 8, 16, 32, 60, 60, 60, 60, 60]);
    expect(ACCOUNT_MAX_DELAY_MS).toBe(60_000);
  });

  it('holds every attempt for the account while it waits, from any address, and nobody else', async () => {
    const { clock, throttle } = setup();
    for (let i = 0; i < ACCOUNT_FREE_FAILURES; i++) await throttle.failed(`198.51.100.${i}`, 'Victim@Example.com ');
    expect(await throttle.blocked('203.0.113.9', 'victim@example.com')).toBe(1);
    expect(await throttle.blocked('203.0.113.9', 'someone-else@example.com')).toBeNull();
    clock.advance(1_000);
    expect(await throttle.blocked('203.0.113.9', 'victim@example.com')).toBeNull();
  });

  it('starts the account afresh after a success', async () => {
    const { throttle } = setup();
    for (let i = 0; i < ACCOUNT_FREE_FAILURES - 1; i++) await throttle.failed('198.51.100.1', 'user@example.com');
    await throttle.succeeded('user@example.com');
    expect(await throttle.failed('198.51.100.1', 'user@example.com')).toBeNull();
  });

  it('blocks an address past its own limit, for every account', async () => {
    const { throttle } = setup(2);
    await throttle.failed('198.51.100.5', 'a@example.com');
    await throttle.failed('198.51.100.5', 'b@example.com');
    expect(await throttle.blocked('198.51.100.5', 'c@example.com')).toBeGreaterThan(0);
    expect(await throttle.blocked('198.51.100.6', 'c@example.com')).toBeNull();
  });
});
