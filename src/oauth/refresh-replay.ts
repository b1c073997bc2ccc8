/**
 * Connectors retry, and refresh from several workers at once. When a refresh token that was just
 * rotated is presented again within a short window, the same successor pair is returned instead
 * of treating it as reuse; after the window, reuse revokes the whole grant (oidc-provider's rule,
 * RFC 9700 §4.14.2).
 *
 * The successor pair is kept in the ephemeral store. Where that store is shared (Redis) the pair is
 * encrypted with a key derived from the old refresh token itself: only a caller presenting that
 * token (and the same client credentials) can read it back. In-process (the embedded memory
 * store) it is kept as it is, as the provider's own records are. Only a presentation that arrived
 * within the window is given it.
 *
 * The client is authenticated here only to be given a kept pair; a presentation that rotates is
 * authenticated by the provider (once), and its answer is kept only when the provider
 * authenticated the client: an answer to anyone else — a stolen token without the client's
 * secret — must not change what the connector's own duplicates get.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import type { Context, Middleware, Next } from 'koa';
import { systemClock } from '../domain/clock.ts';
import { clientCredentials } from '../http/client-credentials.ts';
import { temporarilyUnavailable, writeOAuthError } from '../http/oauth-error.ts';
import type { Clock, EphemeralStore } from '../ports.ts';
import type { ClientAuthenticator } from '../services/authentication/client-authenticator.ts';

export interface RefreshReplayOptions {
  windowSeconds: number;
  ephemeral: EphemeralStore;
  clients: ClientAuthenticator;
  clock?: Clock;
  /** How long a duplicate waits for the first request's answer. */
  waitMs?: number;
}

interface StoredOutcome {
  clientId: string;
  /** base64 of iv | tag | ciphertext (a shared store); absent when the first request failed. */
  sealed?: string;
  /** The answer's JSON (the in-process store); absent when the first request failed. */
  pair?: string;
  /** End of the window (ms since the epoch): a later presentation is reuse. */
  until: number;
  /** How the key was derived: keyFor; absent, the HKDF of an earlier release (a pair kept across an upgrade). */
  key?: 'expand';
}

const LOCK_MS = 15_000;
const POLL_MS = 20;

/**
 * Every presentation settles one way: it rotates (holding the lock), or replays the answer of the
 * presentation that did, or — after the window, or when no answer can be shared — goes to the
 * provider, which rotates or detects reuse. A read of the shared store may be stale by the time it
 * answers, so no decision rests on one: the lock is taken only in the same atomic step that finds
 * no answer (readOrLock), or, past the window, with the answer read again after it; one that finds
 * the lock taken waits and reads both again. A first presentation is two round trips: readOrLock,
 * and setAndUnlock with its answer.
 */
export function refreshReplay(options: RefreshReplayOptions): Middleware {
  const waitMs = options.waitMs ?? 10_000;
  const clock = options.clock ?? systemClock;
  const windowMs = options.windowSeconds * 1000;
  const { ephemeral } = options;
  return async (ctx, next) => {
    if (options.windowSeconds === 0) return next();
    const params = ctx.state.oauthForm as URLSearchParams | undefined;
    const token = params?.get('refresh_token');
    if (!params || params.get('grant_type') !== 'refresh_token' || !token) return next();

    const id = createHash('sha256').update(token).digest('hex');
    const outcomeKey = `refresh:${id}`;
    const lockKey = `${outcomeKey}:lock`;
    // Within the window is a matter of when the presentation arrived: one that waited on the
    // rotation gets its answer however long after the window's start it reads it.
    const arrived = clock.now().getTime();
    const shareable = (outcome: StoredOutcome | null): outcome is StoredOutcome => outcome !== null && arrived < outcome.until;
    const deadline = Date.now() + waitMs;
    for (;;) {
      // The answer, or the lock to make it, in one step: a first presentation takes the lock.
      const first = await ephemeral.readOrLock(outcomeKey, lockKey, LOCK_MS);
      if (first.locked) return rotateLocked(ctx, next, token, outcomeKey, lockKey);
      let outcome = parseOutcome(first.value);
      // An answer from past the window (the token rotated, or failed, long ago): the provider
      // decides again, one presentation at a time.
      if (outcome !== null && !shareable(outcome) && (await ephemeral.setIfAbsent(lockKey, '1', LOCK_MS))) {
        outcome = await readOutcome(ephemeral, outcomeKey).catch(async (error: unknown) => {
          await ephemeral.delete(lockKey).catch(() => undefined);
          throw error;
        });
        if (!shareable(outcome)) return rotateLocked(ctx, next, token, outcomeKey, lockKey);
        await ephemeral.delete(lockKey).catch(() => undefined);
      }
      if (shareable(outcome)) {
        const kept = outcome.pair ?? outcome.sealed;
        if (kept === undefined || (await authenticatedClientId(ctx, params)) !== outcome.clientId) return next(); // the provider answers
        ctx.status = 200;
        ctx.set('Pragma', 'no-cache');
        ctx.body = JSON.parse(outcome.pair ?? unseal(outcome.key === 'expand' ? keyFor(token) : earlierKeyFor(token), kept)) as unknown;
        return;
      }
      // Another request is rotating this token right now: wait for its answer.
      if (Date.now() > deadline) {
        writeOAuthError(ctx, temporarilyUnavailable('A refresh with this token is still in progress'));
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  };

  /** The client the request's credentials authenticate, if they do. */
  async function authenticatedClientId(ctx: Context, params: URLSearchParams): Promise<string | null> {
    const credentials = clientCredentials(ctx.get('Authorization') || undefined, params);
    const client = credentials ? await options.clients.authenticate(credentials) : null;
    return client?.id ?? null;
  }

  /**
   * The presentation holding the lock rotates; its answer is kept for the window (and as long
   * again as a duplicate may wait for it) and the lock released with it. Not kept, the lock only
   * released: a failure the caller may retry (5xx: the token was not consumed, the next
   * presentation rotates), and an answer to a client the provider did not authenticate.
   */
  async function rotateLocked(ctx: Context, next: Next, token: string, outcomeKey: string, lockKey: string): Promise<void> {
    let released = false;
    try {
      await next();
      const body = ctx.body as Record<string, unknown> | undefined;
      const succeeded = ctx.status === 200 && typeof body?.refresh_token === 'string';
      // oidc-provider names the client (ctx.oidc.client) before it checks the credentials, and
      // answers invalid_client (401) when they are wrong: a rotation implies it authenticated.
      const clientId = (ctx as { oidc?: { client?: { clientId?: string } } }).oidc?.client?.clientId;
      if (clientId === undefined || ctx.status === 401 || body?.error === 'invalid_client' || (!succeeded && ctx.status >= 500)) return;
      const until = clock.now().getTime() + windowMs;
      const stored: StoredOutcome = !succeeded
        ? { clientId, until }
        : ephemeral.shared
          ? { clientId, sealed: seal(keyFor(token), JSON.stringify(body)), until, key: 'expand' }
          : { clientId, pair: JSON.stringify(body), until };
      await ephemeral.setAndUnlock(outcomeKey, JSON.stringify(stored), windowMs + LOCK_MS, lockKey);
      released = true;
    } finally {
      if (!released) await ephemeral.delete(lockKey).catch(() => undefined);
    }
  }
}

async function readOutcome(ephemeral: EphemeralStore, key: string): Promise<StoredOutcome | null> {
  return parseOutcome(await ephemeral.get(key));
}

function parseOutcome(value: string | null): StoredOutcome | null {
  return value === null ? null : (JSON.parse(value) as StoredOutcome);
}

/**
 * HKDF-Expand of one block (RFC 5869 §2.3) keyed by the refresh token itself, which is already a
 * strong secret (256 random bits), so the extract step is skipped (§3.3): HMAC-SHA256 over the
 * label and the block counter.
 */
function keyFor(token: string): Buffer {
  return createHmac('sha256', token).update(KEY_INFO).digest();
}

const KEY_INFO = Buffer.from('tessera-refresh-replay successor-pair\x01', 'latin1');

/** The key an earlier release sealed with: HKDF-SHA256 with a salt. */
function earlierKeyFor(token: string): Buffer {
  return Buffer.from(hkdfSync('sha256', token, 'tessera-refresh-replay', 'successor-pair', 32));
}

/**
 * A GCM nonce by the deterministic construction (NIST SP 800-38D §8.2.1): a fixed field drawn
 * once per process, then an invocation counter — unique for this process's seals without a draw
 * from the system's generator each time. Each key seals one pair anyway (its token rotates once).
 */
const nextIv: () => Buffer = (() => {
  const fixed = randomBytes(4);
  let counter = 0n;
  return () => {
    counter += 1n;
    const iv = Buffer.allocUnsafe(12);
    fixed.copy(iv, 0);
    iv.writeBigUInt64BE(counter, 4);
    return iv;
  };
})();

function seal(key: Buffer, plaintext: string): string {
  const iv = nextIv();
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), data]).toString('base64');
}

function unseal(key: Buffer, sealed: string): string {
  const raw = Buffer.from(sealed, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
}
