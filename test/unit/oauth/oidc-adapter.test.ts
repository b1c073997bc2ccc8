/**
 * oidc-provider's adapter (src/oauth/oidc-adapter.ts) on the memory store: which store reads a
 * find makes, and what a second redemption does.
 */
import { describe, expect, it } from '@jest/globals';
import { adapterFactory } from '../../../src/oauth/oidc-adapter.ts';
import { MemoryClientStore } from '../../../src/stores/memory/memory-client-store.ts';
import { MemoryOAuthModelStore } from '../../../src/stores/memory/memory-oauth-model-store.ts';
import { FrozenClock } from '../../support/frozen-clock.ts';

function adapters(consumedOnEveryUse?: ReadonlySet<string>) {
  const clock = new FrozenClock(new Date('2026-11-30T10:00:00Z'));
  const store = new MemoryOAuthModelStore(clock);
  const calls: string[] = [];
  const counted = new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push(`${String(name)} ${String(args[0])}`);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const revoked: string[] = [];
  const Adapter = adapterFactory({
    store: counted,
    clients: new MemoryClientStore(),
    clock,
    revokeGrant: async (grantId) => {
      revoked.push(grantId);
      await store.revokeByGrantId(grantId);
    },
    ...(consumedOnEveryUse ? { consumedOnEveryUse } : {}),
  });
  return { Adapter, calls, revoked };
}

describe('the oidc-provider adapter', () => {
  it('reads the models oidc-provider never consumes without their consumption, and the consumable ones with it', async () => {
    const { Adapter, calls } = adapters();
    const grants = new Adapter('Grant');
    const refreshTokens = new Adapter('RefreshToken');
    await grants.upsert('g1', { accountId: 'usr_1' }, 60);
    await refreshTokens.upsert('r1', { grantId: 'g1' }, 60);
    calls.length = 0;

    expect(await grants.find('g1')).toEqual({ accountId: 'usr_1' });
    expect(await refreshTokens.find('r1')).toEqual({ grantId: 'g1' });
    expect(calls).toEqual(['peek Grant', 'find RefreshToken']);

    await refreshTokens.consume('r1');
    expect(await refreshTokens.find('r1')).toEqual({ grantId: 'g1', consumed: expect.any(Number) });
  });

  it('refuses a second redemption of a refresh token and revokes its grant', async () => {
    const { Adapter, revoked } = adapters();
    const refreshTokens = new Adapter('RefreshToken');
    await refreshTokens.upsert('r2', { grantId: 'g2' }, 60);
    await refreshTokens.consume('r2');
    await expect(refreshTokens.consume('r2')).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(revoked).toEqual(['g2']);
    expect(await refreshTokens.find('r2')).toBeUndefined();
  });

  it('reads a model consumed on every use without its consumption: its consume decides, revoking the grant of a second use', async () => {
    const { Adapter, calls, revoked } = adapters(new Set(['RefreshToken']));
    const refreshTokens = new Adapter('RefreshToken');
    const codes = new Adapter('AuthorizationCode');
    await refreshTokens.upsert('r4', { grantId: 'g4' }, 60);
    await codes.upsert('c4', { grantId: 'g4' }, 60);
    await refreshTokens.consume('r4');
    await codes.consume('c4');
    calls.length = 0;

    // Consumed, yet read as it is; a code is still read with its consumption.
    expect(await refreshTokens.find('r4')).toEqual({ grantId: 'g4' });
    expect(await codes.find('c4')).toEqual({ grantId: 'g4', consumed: expect.any(Number) });
    expect(calls).toEqual(['peek RefreshToken', 'find AuthorizationCode']);
    await expect(refreshTokens.consume('r4')).rejects.toMatchObject({ error: 'invalid_grant', error_detail: 'refresh token already used' });
    expect(revoked).toEqual(['g4']);
    expect(await refreshTokens.find('r4')).toBeUndefined();
  });

  it('revokes a grant that oidc-provider destroys (it destroys one only as it revokes it), and destroys other records alone', async () => {
    const { Adapter, calls, revoked } = adapters();
    const grants = new Adapter('Grant');
    const accessTokens = new Adapter('AccessToken');
    await grants.upsert('g5', { accountId: 'usr_1' }, 60);
    await accessTokens.upsert('a5', { grantId: 'g6' }, 60);
    calls.length = 0;
    await grants.destroy('g5');
    await accessTokens.destroy('a5');
    expect(revoked).toEqual(['g5']);
    // The grant's records end through revokeGrant, not a destroy of the Grant alone.
    expect(calls).toEqual(['destroy AccessToken']);
    expect(await accessTokens.find('a5')).toBeUndefined();
  });

  it('does not revoke on a second consume of a model whose consumption is not single-use', async () => {
    const { Adapter, revoked } = adapters();
    const sessions = new Adapter('Session');
    await sessions.upsert('s1', { grantId: 'g3' }, 60);
    await sessions.consume('s1');
    await sessions.consume('s1');
    expect(revoked).toEqual([]);
    expect(await sessions.find('s1')).toEqual({ grantId: 'g3' });
  });
});
