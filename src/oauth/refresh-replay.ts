/**
 * Connectors retry, and refresh from several workers at once. When a refresh token that was just
 * rotated is presented again within a short window, the same successor pair is returned instead
 * of treating it as reuse; after the window, reuse revokes the whole grant (oidc-provider's rule,
 * RFC 9700 §4.14.2).
 *
 * The successor pair is kept in the ephemeral store (Redis) for the window only, encrypted with a
 * key derived from the old refresh token itself: only a caller presenting that token (and the
 * same client credentials) can read it back.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import { clientCredentials } from '../http/client-credentials.ts';
import type { EphemeralStore } from '../ports.ts';
import type { ClientAuthenticator } from '../services/client-authenticator.ts';

export interface RefreshReplayOptions {
  windowSeconds: number;
  ephemeral: EphemeralStore;
  clients: ClientAuthenticator;
  /** How long a duplicate waits for the first request's answer. */
  waitMs?: number;
}

interface StoredOutcome {
  clientId: string;
  /** base64 of iv | tag | ciphertext; absent when the first request failed. */
  sealed?: string;
}

const LOCK_MS = 15_000;

export function refreshReplay(options: RefreshReplayOptions): Middleware {
  const waitMs = options.waitMs ?? 10_000;
  return async (ctx, next) => {
    if (options.windowSeconds === 0) return next();
    const params = ctx.state.oauthForm as URLSearchParams | undefined;
    const token = params?.get('refresh_token');
    if (!params || params.get('grant_type') !== 'refresh_token' || !token) return next();
    const credentials = clientCredentials(ctx.get('Authorization') || undefined, params);
    const client = credentials ? await options.clients.authenticate(credentials) : null;
    if (client === null) return next(); // the provider answers invalid_client
    const clientId = client.id;

    const id = createHash('sha256').update(token).digest('hex');
    const outcomeKey = `refresh:${id}`;
    const lockKey = `${outcomeKey}:lock`;
    // Within the window, the answer of the first presentation is replayed.
    let outcome = await readOutcome(options.ephemeral, outcomeKey);
    if (outcome === null) {
      if (await options.ephemeral.setIfAbsent(lockKey, '1', LOCK_MS)) {
        // The first presentation rotates; its answer is kept for the window. After the window
        // nothing is kept, and the provider treats a presentation as reuse (and revokes the grant).
        try {
          await next();
          const body = ctx.body as Record<string, unknown> | undefined;
          const succeeded = ctx.status === 200 && typeof body?.refresh_token === 'string';
          // A failure the caller may retry (503) is not remembered: the token was not consumed.
          if (succeeded || ctx.status < 500) {
            const stored: StoredOutcome = succeeded ? { clientId, sealed: seal(token, JSON.stringify(body)) } : { clientId };
            await options.ephemeral.set(outcomeKey, JSON.stringify(stored), options.windowSeconds * 1000);
          }
        } finally {
          await options.ephemeral.delete(lockKey).catch(() => undefined);
        }
        return;
      }
      // Another request is rotating this token right now: wait for its answer.
      outcome = await waitFor(options.ephemeral, outcomeKey, lockKey, waitMs);
      if (outcome === null) {
        unavailable(ctx, 'A refresh with this token is still in progress');
        return;
      }
    }
    if (!outcome.sealed || outcome.clientId !== clientId) return next();
    ctx.status = 200;
    ctx.set('Pragma', 'no-cache');
    ctx.body = JSON.parse(unseal(token, outcome.sealed)) as unknown;
  };
}

/** 503 with Retry-After and an RFC 6749 body: connectors retry, and never disconnect the user. */
export function unavailable(ctx: Context, description: string): void {
  ctx.status = 503;
  ctx.set('Retry-After', '5');
  ctx.body = { error: 'temporarily_unavailable', error_description: description };
}

async function readOutcome(ephemeral: EphemeralStore, key: string): Promise<StoredOutcome | null> {
  const value = await ephemeral.get(key);
  return value === null ? null : (JSON.parse(value) as StoredOutcome);
}

/**
 * The first request's answer, once it has one. Null when it ended without one to share (it
 * failed and may be retried) or did not end within `ms`.
 */
async function waitFor(ephemeral: EphemeralStore, key: string, lockKey: string, ms: number): Promise<StoredOutcome | null> {
  const until = Date.now() + ms;
  for (;;) {
    const outcome = await readOutcome(ephemeral, key);
    if (outcome !== null) return outcome;
    if ((await ephemeral.get(lockKey)) === null || Date.now() > until) return null;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function keyFor(token: string): Buffer {
  return Buffer.from(hkdfSync('sha256', token, 'tessera-refresh-replay', 'successor-pair', 32));
}

function seal(token: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyFor(token), iv);
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), data]).toString('base64');
}

function unseal(token: string, sealed: string): string {
  const raw = Buffer.from(sealed, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', keyFor(token), raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
}
