import { randomBytes, randomUUID } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * Uniform base62 string from a CSPRNG. Rejection sampling (bytes >= 248 are dropped) keeps every
 * character equally likely: 248 = 4 * 62, so `byte % 62` has no bias on what remains.
 */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    const bytes = randomBytes(Math.ceil((length - out.length) * 1.1) + 4);
    for (const b of bytes) {
      if (b >= 248) continue;
      out += BASE62[b % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

export type IdKind = 'usr' | 'org' | 'mem' | 'key' | 'evt' | 'cli' | 'grt' | 'ses';

/** Opaque, prefixed identifiers (`usr_…`, `org_…`): ~95 bits, readable in logs and support tickets. */
export function newId(kind: IdKind): string {
  return `${kind}_${randomBase62(16)}`;
}

export type UserIdFormat = 'prefixed' | 'uuid';

/** A new user's id in the profile's format: `usr_…`, or an RFC 9562 version-4 UUID. */
export function newUserId(format: UserIdFormat): string {
  return format === 'uuid' ? randomUUID() : newId('usr');
}

/** Ids given by operators in seed files are kept as they are, within a safe alphabet. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
