/**
 * Bearer events: what Tessera publishes on `<prefix>bearer-events` when a bearer's answer changes,
 * so that every cache — each instance's principal and client caches, and the resource-server kit's
 * (kit/principal-cache.ts) — drops what it holds about it. A cross-process contract: defined here
 * once, read by both ends through parseBearerEvent, and versioned (`v`).
 */
export const BEARER_EVENTS_CHANNEL = 'bearer-events';

/** The contract's version: a reader refuses messages of another. */
export const BEARER_EVENT_VERSION = 1;

export type BearerEvent =
  | {
      kind: 'api_key';
      /** SHA-256 (hex) of the key: caches are keyed by it, never by the bearer itself. */
      hash: string;
      id: string;
      /** Revoked for good: a cache may answer "inactive" from memory from now on. */
      final?: boolean;
    }
  /** Every token of this grant (a connected app) changed; `final`: the grant was revoked. */
  | { kind: 'grant'; id: string; final?: boolean }
  /** Every token of this OAuth client changed (disabled or enabled, new secret, new organization). */
  | { kind: 'client'; id: string }
  /** Every bearer of this user changed (disabled or enabled, a role changed). */
  | { kind: 'user'; id: string }
  /** Every bearer of this organization changed (disabled or enabled). */
  | { kind: 'organization'; id: string };

export const BEARER_EVENT_KINDS = ['api_key', 'grant', 'client', 'user', 'organization'] as const satisfies ReadonlyArray<BearerEvent['kind']>;

/** The cache group an event drops, besides an api_key event's own hash: `<kind>:<id>`. */
export function bearerEventGroup(event: BearerEvent): string {
  return `${event.kind}:${event.id}`;
}

export function serializeBearerEvent(event: BearerEvent): string {
  return JSON.stringify({ v: BEARER_EVENT_VERSION, ...event });
}

/**
 * One message of the channel, or null when it is not a bearer event of this version: the reader
 * cannot tell which bearer changed and must drop everything it holds.
 */
export function parseBearerEvent(message: string): BearerEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const event = value as Record<string, unknown>;
  // Instances of the release before `v` publish none: it reads as version 1 during a rolling deploy.
  if ((event.v ?? BEARER_EVENT_VERSION) !== BEARER_EVENT_VERSION || typeof event.id !== 'string') return null;
  const final = event.final === true ? { final: true } : {};
  switch (event.kind) {
    case 'api_key':
      return typeof event.hash === 'string' ? { kind: 'api_key', hash: event.hash.toLowerCase(), id: event.id, ...final } : null;
    case 'grant':
      return { kind: 'grant', id: event.id, ...final };
    case 'client':
    case 'user':
    case 'organization':
      return { kind: event.kind, id: event.id };
    default:
      return null;
  }
}
