import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { UnavailableError } from '../../../../src/errors/index.ts';
import { RedisEphemeralStore } from '../../../../src/stores/redis/redis-ephemeral-store.ts';
import { describeEphemeralStore } from '../../../contracts/ephemeral-store.contract.ts';
import { startRedis, type RunningServer } from '../../../support/servers.ts';
import { redisUrl, uniqueName } from '../../../support/unique.ts';

describeEphemeralStore('redis', () => RedisEphemeralStore.open(redisUrl(), { keyPrefix: `${uniqueName('t')}:`, timeoutMs: 2_000 }));

describe('RedisEphemeralStore outside the contract', () => {
  let own: RunningServer;
  beforeAll(async () => {
    own = await startRedis(); // a private server this suite may stop
  });
  afterAll(async () => {
    await own.stop();
  });

  it('keeps each deployment’s keys under its own prefix', async () => {
    const a = await RedisEphemeralStore.open(own.url, { keyPrefix: 'a:', timeoutMs: 2_000 });
    const b = await RedisEphemeralStore.open(own.url, { keyPrefix: 'b:', timeoutMs: 2_000 });
    await a.set('shared', 'from a');
    expect(await b.get('shared')).toBeNull();
    expect(await a.get('shared')).toBe('from a');
    await Promise.all([a.close(), b.close()]);
  });

  it('refuses to open when Redis cannot be reached, naming it', async () => {
    await expect(RedisEphemeralStore.open('redis://127.0.0.1:1', { keyPrefix: 'x:', timeoutMs: 1_000 })).rejects.toThrow(
      /Redis at redis:\/\/127\.0\.0\.1:1 cannot be reached/,
    );
  });

  it('fails fast with UNAVAILABLE while Redis is down and works again once it is back', async () => {
    const store = await RedisEphemeralStore.open(own.url, { keyPrefix: 'o:', timeoutMs: 1_000 });
    await store.set('k', 'v');
    await own.kill('SIGKILL');
    const started = Date.now();
    await expect(store.ping()).rejects.toBeInstanceOf(UnavailableError);
    await expect(store.get('k')).rejects.toBeInstanceOf(UnavailableError);
    expect(Date.now() - started).toBeLessThan(3_000); // no offline queue: not stuck until a timeout
    await own.restart();
    await waitFor(async () => (await store.ping().then(() => true, () => false)));
    await store.set('k', 'again');
    expect(await store.get('k')).toBe('again');
    await store.close();
  });

  it('lets several subscriptions start at once on a fresh store: each resolves, and each hears its messages', async () => {
    const store = await RedisEphemeralStore.open(own.url, { keyPrefix: 'c:', timeoutMs: 1_000 });
    try {
      const heard: string[] = [];
      const subscriptions = await Promise.allSettled(['a', 'b', 'c'].map((channel) => store.subscribe(channel, (m) => heard.push(`${channel}:${m}`))));
      expect(subscriptions.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
      for (const channel of ['a', 'b', 'c']) await store.publish(channel, 'hello');
      await waitFor(async () => heard.length === 3);
      expect(heard.sort()).toEqual(['a:hello', 'b:hello', 'c:hello']);
    } finally {
      await store.close();
    }
  });

  it('resubscribes after Redis comes back, in a new epoch (messages may have been missed)', async () => {
    const store = await RedisEphemeralStore.open(own.url, { keyPrefix: 's:', timeoutMs: 1_000 });
    const got: string[] = [];
    expect(store.subscriptionState().healthy).toBe(false); // no subscriber yet: nothing is heard
    await store.subscribe('news', (m) => got.push(m));
    const before = store.subscriptionState();
    expect(before.healthy).toBe(true);
    await own.kill('SIGKILL');
    await waitFor(async () => !store.subscriptionState().healthy);
    await own.restart();
    await waitFor(async () => {
      await store.publish('news', 'after restart').catch(() => undefined);
      return got.includes('after restart');
    });
    expect(got).toContain('after restart');
    expect(store.subscriptionState()).toEqual({ healthy: true, epoch: before.epoch + 1 });
    await store.close();
  });
});

async function waitFor(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
