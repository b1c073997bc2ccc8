import { createHash } from 'node:crypto';

/** Keys are stored and looked up by the hex SHA-256 of the whole key, never by the key. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}
