/**
 * The framework-independent core of the resource-server kit: asks Tessera who a bearer is
 * (RFC 7662, POST /oauth/introspect, authenticated as a `resource_server` client with HTTP Basic)
 * and keeps the answers in a short cache.
 *
 * How long an answer may be served from the cache — and so how long a revoked bearer can still
 * be accepted here:
 *
 * - With `redis` given and the subscription to `<prefix>bearer-events` up, entries live up to
 *   `cacheTtlMs` (5 s by default): Tessera publishes every revocation, disabling and edit on that
 *   channel, and the entry is dropped as soon as the message arrives (milliseconds).
 * - With no `redis`, or while the subscription is down (not yet connected, Redis restarting, the
 *   network cut), invalidations cannot reach us, so entries live at most `degradedTtlMs`
 *   (1 s by default): a revocation takes effect here within that second. When the subscription
 *   drops, and again when it comes back, the whole cache is emptied, since messages may have
 *   been missed in between.
 * - No entry ever outlives the bearer's own `exp`.
 * - `{"active":false}` answers are cached for `negativeTtlMs` (1 s by default) at most, so that a
 *   flood of bad bearers costs one call per bearer per second, and a bearer that becomes valid
 *   (a key re-enabled) is accepted a second later at worst.
 * - An answer that was in flight while an invalidation arrived is used for the request that asked
 *   but never cached.
 *
 * The cache is keyed by the hex SHA-256 of the bearer: the bearer itself is never stored, logged
 * or put in an error. Tessera unreachable, slow, answering 5xx/429, refusing our client
 * credentials or answering something unreadable throws a KitUnavailableError: the middleware
 * answers 503 with Retry-After and never lets such a request through (fail closed).
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { BEARER_EVENTS_CHANNEL } from '../src/domain/bearer-event.ts';
import type { PublicProfile } from '../src/domain/profile.ts';
import { PrincipalCache, parseBearerEvent } from './principal-cache.ts';
import { profileDocumentUrl, profileSource, type ProfileOptions } from './profile-source.ts';
import { checkMs, postToTessera, tesseraCall, type TesseraClientOptions } from './tessera-request.ts';
import { copyPrincipal, principalFromIntrospection, type Principal } from './principal.ts';

export const DEFAULT_CACHE_TTL_MS = 5_000;
export const DEFAULT_DEGRADED_TTL_MS = 1_000;
export const DEFAULT_NEGATIVE_TTL_MS = 1_000;
export const DEFAULT_MAX_ENTRIES = 10_000;
export const DEFAULT_REDIS_PREFIX = 'tessera:';
/** Tessera's channel name, after its Redis prefix (src/domain/bearer-event.ts). */
export { BEARER_EVENTS_CHANNEL };
export { DEFAULT_TIMEOUT_MS, KitUnavailableError, type KitUnavailableReason } from './tessera-request.ts';
/** The kit's caches are short by design; anything longer would defeat revocation. */
const MAX_CACHE_TTL_MS = 60_000;
const INTROSPECT_PATH = 'oauth/introspect';

/**
 * `url`: Tessera's base URL; the endpoint `/oauth/introspect` is resolved against it (a URL
 * already ending in `/oauth/introspect` is used as it is).
 */
export interface IntrospectorOptions extends TesseraClientOptions, ProfileOptions {
  /** The longest an answer is served from the cache while invalidations arrive (default 5000, at most 60000). */
  cacheTtlMs?: number;
  /** The longest while they cannot arrive: no `redis`, or its subscription down (default 1000). */
  degradedTtlMs?: number;
  /** The longest an inactive answer is cached (default 1000). */
  negativeTtlMs?: number;
  /** Entries kept at most; the oldest goes first (default 10000). */
  maxEntries?: number;
  /** Tessera's Redis and its TESSERA_REDIS_PREFIX (default `tessera:`): invalidations arrive on `<prefix>bearer-events`. */
  redis?: { url: string; prefix?: string };
  /** Milliseconds since the epoch (tests). */
  now?: () => number;
  /** Redis errors (the subscription reconnects by itself) and unreadable bearer events. */
  onError?: (error: Error) => void;
  /** The subscription to bearer events came up (true) or went down (false). */
  onSubscriptionChange?: (subscribed: boolean) => void;
}

export interface IntrospectorStatus {
  /** Whether invalidations can arrive now (always false without `redis`). */
  subscribed: boolean;
  /** The TTL new positive entries get now: cacheTtlMs when subscribed, else degradedTtlMs. */
  ttlMs: number;
  entries: number;
  /** Lookups answered from the cache, and lookups that asked Tessera (or joined a request in flight). */
  hits: number;
  misses: number;
  /** Requests actually sent to Tessera. */
  requests: number;
}

export interface Introspector {
  /** The principal of an active bearer, null for any other; throws KitUnavailableError when Tessera cannot tell. */
  introspect(token: string): Promise<Principal | null>;
  /** The deployment's profile (the option, or Tessera's document); rejects with KitUnavailableError while it cannot be had. */
  profile(): Promise<PublicProfile>;
  /**
   * Applies one message of the bearer-events channel (what the Redis subscription calls; also
   * for an application that relays Tessera's events another way). An unreadable message empties
   * the whole cache.
   */
  handleBearerEvent(message: string): void;
  status(): IntrospectorStatus;
  /** Resolves true once subscribed to bearer events, false if that did not happen within `timeoutMs` (or there is no `redis`). */
  waitForSubscription(timeoutMs: number): Promise<boolean>;
  /** Closes the Redis subscription. Introspection keeps working, with the degraded TTL. */
  close(): Promise<void>;
}

/** The cache key of a bearer, and the `hash` of Tessera's api_key events: hex SHA-256. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function createIntrospector(options: IntrospectorOptions): Introspector {
  const call = tesseraCall(options, INTROSPECT_PATH);
  const profile = profileSource(options.profile, { ...call, endpoint: profileDocumentUrl(options.url, INTROSPECT_PATH) });
  const cacheTtlMs = checkMs('cacheTtlMs', options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS, MAX_CACHE_TTL_MS);
  const degradedTtlMs = Math.min(cacheTtlMs, checkMs('degradedTtlMs', options.degradedTtlMs ?? DEFAULT_DEGRADED_TTL_MS));
  const negativeTtlMs = checkMs('negativeTtlMs', options.negativeTtlMs ?? DEFAULT_NEGATIVE_TTL_MS);
  const now = options.now ?? Date.now;
  const onError = options.onError ?? (() => undefined);
  const cache = new PrincipalCache(options.maxEntries ?? DEFAULT_MAX_ENTRIES);

  /** Lookups in flight, by hash: concurrent requests with one bearer make one call. */
  const inflight = new Map<string, Promise<Principal | null>>();
  /**
   * Bumped by every invalidation and every change of the subscription: an answer that was in
   * flight meanwhile may predate a revocation, so it is not cached (nor shared with later lookups).
   */
  let generation = 0;
  let subscribed = false;
  let closed = false;
  const counters = { hits: 0, misses: 0, requests: 0 };
  const subscriptionWaiters = new Set<(subscribed: boolean) => void>();

  function bump(): void {
    generation++;
    inflight.clear();
  }

  function setSubscribed(value: boolean): void {
    if (subscribed === value) return;
    subscribed = value;
    // Messages may have been missed while down: nothing cached before is trusted any longer.
    cache.clear();
    bump();
    if (!closed) options.onSubscriptionChange?.(value);
    if (value) for (const wake of subscriptionWaiters) wake(true);
  }

  function currentTtlMs(): number {
    return subscribed ? cacheTtlMs : degradedTtlMs;
  }

  function store(hash: string, principal: Principal | null): void {
    const at = now();
    const ttl = principal === null ? Math.min(negativeTtlMs, currentTtlMs()) : currentTtlMs();
    let expiresAt = at + ttl;
    if (principal?.exp !== undefined) expiresAt = Math.min(expiresAt, principal.exp * 1000);
    cache.set(hash, principal, expiresAt, at);
  }

  function ask(token: string): Promise<Principal | null> {
    counters.requests++;
    const body = { type: 'application/x-www-form-urlencoded', text: new URLSearchParams({ token }).toString() };
    return postToTessera(call, 'introspection', body, principalFromIntrospection);
  }

  async function introspect(token: string): Promise<Principal | null> {
    if (typeof token !== 'string' || token.length === 0) return null;
    const hash = hashToken(token);
    const cached = cache.get(hash, now());
    if (cached) {
      counters.hits++;
      return cached.principal && copyPrincipal(cached.principal);
    }
    counters.misses++;
    let pending = inflight.get(hash);
    if (!pending) {
      const startedAt = generation;
      const request: Promise<Principal | null> = ask(token).then((principal) => {
        if (generation === startedAt) store(hash, principal);
        return principal;
      });
      const cleanup = (): void => {
        if (inflight.get(hash) === request) inflight.delete(hash);
      };
      request.then(cleanup, cleanup);
      inflight.set(hash, request);
      pending = request;
    }
    const principal = await pending;
    return principal && copyPrincipal(principal);
  }

  function handleBearerEvent(message: string): void {
    const event = parseBearerEvent(message);
    if (event === null) {
      onError(new Error('unreadable bearer event: the whole cache was dropped'));
      cache.clear();
    } else {
      cache.invalidate(event);
    }
    bump();
  }

  let subscriber: Redis | null = null;
  if (options.redis) {
    const channel = `${options.redis.prefix ?? DEFAULT_REDIS_PREFIX}${BEARER_EVENTS_CHANNEL}`;
    const redis = new Redis(options.redis.url, {
      lazyConnect: true,
      // Subscribing again after a reconnect is ours to do, so that we know when it took effect.
      autoResubscribe: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2_000,
      // close() ends the socket; a stale one is destroyed after this instead of ioredis' 2 s.
      disconnectTimeout: 200,
      // Reconnect forever, quickly: every second without the subscription is a second of short TTLs.
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 5), 1_000),
    });
    subscriber = redis;
    redis.on('error', (error: Error) => onError(error));
    redis.on('message', (from: string, message: string) => {
      if (from === channel) handleBearerEvent(message);
    });
    redis.on('ready', () => {
      redis.subscribe(channel).then(
        () => {
          if (!closed && redis.status === 'ready') setSubscribed(true);
        },
        (error: unknown) => {
          onError(error instanceof Error ? error : new Error(String(error)));
          // A connection that cannot subscribe is no use: drop it and let the retry strategy try again.
          if (!closed) redis.disconnect(true);
        },
      );
    });
    redis.on('close', () => setSubscribed(false));
    redis.connect().catch(() => undefined); // failures arrive as 'error' events; it keeps retrying
  }

  return {
    introspect,
    profile,
    handleBearerEvent,
    status: () => ({ subscribed, ttlMs: currentTtlMs(), entries: cache.size, ...counters }),
    waitForSubscription(waitMs: number): Promise<boolean> {
      if (subscribed) return Promise.resolve(true);
      if (!subscriber || closed) return Promise.resolve(false);
      return new Promise((resolve) => {
        const done = (value: boolean): void => {
          clearTimeout(timer);
          subscriptionWaiters.delete(done);
          resolve(value);
        };
        const timer = setTimeout(() => done(false), waitMs);
        subscriptionWaiters.add(done);
      });
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const wake of [...subscriptionWaiters]) wake(false);
      if (subscriber) {
        const redis = subscriber;
        const ended = new Promise<void>((resolve) => {
          if (redis.status === 'end') resolve();
          else redis.once('end', () => resolve());
        });
        redis.disconnect();
        setSubscribed(false);
        await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 500).unref())]);
      }
    },
  };
}
