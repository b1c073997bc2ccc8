/**
 * The refresh idempotency window (src/oauth/refresh-replay.ts) on its own, with the memory
 * ephemeral store on a frozen clock and a stand-in for the provider: duplicates within the window
 * get the first answer; after the window, and after a failed first attempt, a presentation must
 * reach the provider (which rotates, or detects reuse) — never hang on a lock nobody will release.
 */
import { createCipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import type { Context, Next } from 'koa';
import { refreshReplay } from '../../../src/oauth/refresh-replay.ts';
import { ClientAuthenticator } from '../../../src/services/authentication/client-authenticator.ts';
import { hashClientSecret } from '../../../src/services/oauth-apps/client-service.ts';
import { MemoryClientStore } from '../../../src/stores/memory/memory-client-store.ts';
import { MemoryEphemeralStore } from '../../../src/stores/memory/memory-ephemeral-store.ts';
import { FrozenClock } from '../../support/frozen-clock.ts';
import { recordSecret } from '../../support/log-capture.ts';

const CLIENT = { id: 'zapier', secret: recordSecret('s'.repeat(20) + 'connector-secret-value') };
const OTHER = { id: 'make', secret: recordSecret('m'.repeat(20) + 'connector-secret-value') };
const REFRESH_TOKEN = recordSecret('R'.repeat(43));
const WAIT_MS = 300;

interface FakeContext {
  state: { oauthForm: URLSearchParams };
  /** Who the request says it is (the stand-in provider names it, as oidc-provider does). */
  presented: string;
  oidc?: { client?: { clientId: string } };
  status: number;
  body: unknown;
  headers: Record<string, string>;
  get(name: string): string;
  set(name: string, value: string): void;
}

function tokenRequest(client: { id: string; secret: string }, refreshToken = REFRESH_TOKEN): FakeContext {
  const authorization = recordSecret(`Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`);
  const headers: Record<string, string> = {};
  return {
    state: { oauthForm: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }) },
    presented: client.id,
    status: 404,
    body: undefined,
    headers,
    get: (name) => (name.toLowerCase() === 'authorization' ? authorization : ''),
    set: (name, value) => {
      headers[name.toLowerCase()] = value;
    },
  };
}

/**
 * A stand-in for oidc-provider's token endpoint: each call rotates (a new pair) after a moment.
 * Like oidc-provider it names the client the request presents (ctx.oidc.client) before it checks
 * the credentials; its answers say whether they were right.
 */
function fakeProvider(answer: (call: number) => { status: number; body: unknown } | Error = (n) => ({ status: 200, body: { access_token: `access-${n}`, refresh_token: `refresh-${n}`, token_type: 'Bearer' } })) {
  let calls = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const next = (ctx: FakeContext): Next => async () => {
    const call = ++calls;
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setTimeout(r, 20));
    inFlight--;
    const result = answer(call);
    if (result instanceof Error) throw result;
    ctx.oidc = { client: { clientId: ctx.presented } };
    ctx.status = result.status;
    ctx.body = result.body;
  };
  return { next, calls: () => calls, maxInFlight: () => maxInFlight };
}

/**
 * The memory store as a remote one behaves: a read sees the value at the moment it is sent, and
 * its answer arrives `latencyMs` later (a Redis round trip on a busy machine).
 */
class LaggingStore extends MemoryEphemeralStore {
  latencyMs = 0;
  /** Called after every write, with its key. */
  afterSet: (key: string) => void = () => undefined;
  override async get(key: string): Promise<string | null> {
    const value = await super.get(key);
    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
    return value;
  }
  override async set(key: string, value: string, ttlMs?: number): Promise<void> {
    await super.set(key, value, ttlMs);
    this.afterSet(key);
  }
}

/** The same, as a store other processes read (Redis): what it keeps must be sealed. */
class SharedLaggingStore extends LaggingStore {
  override readonly shared = true;
}

async function setup(windowSeconds: number, options: { shared?: boolean } = {}) {
  const clock = new FrozenClock(new Date());
  const ephemeral = options.shared ? new SharedLaggingStore(clock) : new LaggingStore(clock);
  const clients = new MemoryClientStore();
  for (const c of [CLIENT, OTHER]) {
    await clients.insert({
      id: c.id,
      name: c.id,
      type: 'connector',
      secretHash: hashClientSecret(c.secret),
      redirectUris: ['https://example.com/cb'],
      scopes: [],
      disabled: false,
      orgId: null,
      createdAt: clock.now(),
    });
  }
  const middleware = refreshReplay({ windowSeconds, ephemeral, clients: new ClientAuthenticator(clients, ephemeral, clock), clock, waitMs: WAIT_MS });
  const run = async (ctx: FakeContext, next: (ctx: FakeContext) => Next): Promise<FakeContext> => {
    await middleware(ctx as unknown as Context, next(ctx));
    return ctx;
  };
  return { clock, run, ephemeral, close: () => ephemeral.close() };
}

/** Two presentations of the client's token at once: both answered 200, with one and the same pair. */
async function presentTwiceAtOnce(run: Awaited<ReturnType<typeof setup>>['run'], provider: ReturnType<typeof fakeProvider>): Promise<void> {
  const [a, b] = await Promise.all([run(tokenRequest(CLIENT), provider.next), run(tokenRequest(CLIENT), provider.next)]);
  expect([a.status, b.status]).toEqual([200, 200]);
  expect(b.body).toEqual(a.body);
}

describe('refresh replay window', () => {
  it('two presentations at once: the provider rotates once and both get the same pair', async () => {
    const { run, close } = await setup(30);
    const provider = fakeProvider();
    await presentTwiceAtOnce(run, provider);
    expect(provider.calls()).toBe(1);
    await close();
  });

  it('a hundred presentations within a few milliseconds, each store read taking 15 ms: one rotation, the same pair for all, no 503', async () => {
    const { run, ephemeral, close } = await setup(30);
    ephemeral.latencyMs = 15;
    const provider = fakeProvider();
    // Staggered over 25 ms, some duplicates read "no answer yet" just before the rotation ends
    // and "no lock" just after it.
    const replies = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        await new Promise((r) => setTimeout(r, i % 25));
        return run(tokenRequest(CLIENT), provider.next);
      }),
    );
    expect(provider.calls()).toBe(1);
    expect(replies.map((r) => r.status)).toEqual(Array(100).fill(200));
    for (const reply of replies) expect(reply.body).toEqual(replies[0]!.body);
    await close();
  });

  it('duplicates that were waiting on the rotation get its pair even when they read it after a short window has passed', async () => {
    const { clock, run, ephemeral, close } = await setup(1);
    const provider = fakeProvider();
    // The machine stalls for 1.5 s just after the rotation's answer is stored: the duplicates
    // arrived within the window, and read the answer after it.
    ephemeral.afterSet = (key) => {
      if (key.startsWith('refresh:') && !key.endsWith(':lock')) clock.advance(1_500);
    };
    const replies = await Promise.all(Array.from({ length: 6 }, () => run(tokenRequest(CLIENT), provider.next)));
    expect(provider.calls()).toBe(1);
    expect(replies.map((r) => r.status)).toEqual(Array(6).fill(200));
    for (const reply of replies) expect(reply.body).toEqual(replies[0]!.body);
    await close();
  });

  it('a presentation within the window gets the same pair without reaching the provider', async () => {
    const { clock, run, close } = await setup(30);
    const provider = fakeProvider();
    const first = await run(tokenRequest(CLIENT), provider.next);
    clock.advance(20_000);
    const again = await run(tokenRequest(CLIENT), provider.next);
    expect(provider.calls()).toBe(1);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    await close();
  });

  it('another client presenting the token does not get the pair: it goes to the provider', async () => {
    const { run, close } = await setup(30);
    const provider = fakeProvider();
    await run(tokenRequest(CLIENT), provider.next);
    const other = await run(tokenRequest(OTHER), provider.next);
    expect(provider.calls()).toBe(2);
    expect(other.body).toEqual(expect.objectContaining({ access_token: 'access-2' }));
    await close();
  });

  it('a presentation the provider refuses as invalid_client leaves nothing kept: the connector’s own rotation after it is shared with its duplicates', async () => {
    const { run, close } = await setup(30);
    const provider = fakeProvider((n) =>
      n === 1 ? { status: 401, body: { error: 'invalid_client' } } : { status: 200, body: { access_token: `access-${n}`, refresh_token: `refresh-${n}` } },
    );
    // Someone holding the token without the client's secret.
    const stolen = await run(tokenRequest({ id: CLIENT.id, secret: recordSecret('w'.repeat(30)) }), provider.next);
    expect(stolen.status).toBe(401);
    await presentTwiceAtOnce(run, provider);
    expect(provider.calls()).toBe(2);
    await close();
  });

  it('a kept pair is given only to the client’s own credentials: a wrong secret goes to the provider', async () => {
    const { run, close } = await setup(30);
    const provider = fakeProvider();
    await run(tokenRequest(CLIENT), provider.next);
    const wrong = await run(tokenRequest({ id: CLIENT.id, secret: recordSecret('w'.repeat(30)) }), provider.next);
    expect(provider.calls()).toBe(2);
    expect(wrong.body).toEqual(expect.objectContaining({ access_token: 'access-2' }));
    await close();
  });

  it('keeps the pair sealed where the store is shared, so that nothing of it can be read there; in-process, as it is', async () => {
    const outcomeKey = `refresh:${createHash('sha256').update(REFRESH_TOKEN).digest('hex')}`;
    for (const shared of [true, false]) {
      const { run, ephemeral, close } = await setup(30, { shared });
      const provider = fakeProvider();
      const first = await run(tokenRequest(CLIENT), provider.next);
      const kept = (await ephemeral.get(outcomeKey)) ?? '';
      expect(kept.includes('access-1') || kept.includes('refresh-1')).toBe(!shared);
      // Either way, a duplicate gets the pair.
      const again = await run(tokenRequest(CLIENT), provider.next);
      expect({ calls: provider.calls(), body: again.body }).toEqual({ calls: 1, body: first.body });
      await close();
    }
  });

  it('a pair an earlier release kept (sealed with its HKDF key) is still given within the window', async () => {
    const { clock, run, ephemeral, close } = await setup(30);
    const provider = fakeProvider();
    const pair = { access_token: 'access-earlier', refresh_token: 'refresh-earlier', token_type: 'Bearer' };
    const key = Buffer.from(hkdfSync('sha256', REFRESH_TOKEN, 'tessera-refresh-replay', 'successor-pair', 32));
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const data = Buffer.concat([cipher.update(JSON.stringify(pair), 'utf8'), cipher.final()]);
    const sealed = Buffer.concat([iv, cipher.getAuthTag(), data]).toString('base64');
    const outcomeKey = `refresh:${createHash('sha256').update(REFRESH_TOKEN).digest('hex')}`;
    await ephemeral.set(outcomeKey, JSON.stringify({ clientId: CLIENT.id, sealed, until: clock.now().getTime() + 30_000 }), 45_000);
    const again = await run(tokenRequest(CLIENT), provider.next);
    expect(provider.calls()).toBe(0);
    expect(again.body).toEqual(pair);
    await close();
  });

  it('after a window shorter than the lock, a presentation reaches the provider at once (which then detects reuse)', async () => {
    const { clock, run, close } = await setup(1);
    const provider = fakeProvider();
    await run(tokenRequest(CLIENT), provider.next);
    clock.advance(1_500);
    const started = Date.now();
    const late = await run(tokenRequest(CLIENT), provider.next);
    expect({ calls: provider.calls(), status: late.status }).toEqual({ calls: 2, status: 200 });
    expect(Date.now() - started).toBeLessThan(WAIT_MS);
    await close();
  });

  it('after a first attempt that failed (5xx), retries at once are still one at a time: one rotation, one pair for both', async () => {
    const { run, close } = await setup(30);
    const provider = fakeProvider((n) =>
      n === 1 ? { status: 503, body: { error: 'temporarily_unavailable' } } : { status: 200, body: { access_token: `access-${n}`, refresh_token: `refresh-${n}` } },
    );
    const failed = await run(tokenRequest(CLIENT), provider.next);
    expect(failed.status).toBe(503);
    await presentTwiceAtOnce(run, provider);
    // Two concurrent rotations of one refresh token are reuse: the provider would revoke the grant.
    expect({ calls: provider.calls() - 1, maxInFlight: provider.maxInFlight() }).toEqual({ calls: 1, maxInFlight: 1 });
    await close();
  });

  it('after a first attempt that threw (a store lost mid-request), a retry reaches the provider instead of waiting for a lock nobody holds', async () => {
    const { run, close } = await setup(30);
    const provider = fakeProvider((n) => (n === 1 ? new Error('store lost') : { status: 200, body: { access_token: `access-${n}`, refresh_token: `refresh-${n}` } }));
    await expect(run(tokenRequest(CLIENT), provider.next)).rejects.toThrow('store lost');
    const started = Date.now();
    const retry = await run(tokenRequest(CLIENT), provider.next);
    expect({ calls: provider.calls(), status: retry.status }).toEqual({ calls: 2, status: 200 });
    expect(Date.now() - started).toBeLessThan(WAIT_MS);
    await close();
  });
});
