import { hash } from 'node:crypto';

/** Keys are stored and looked up by the hex SHA-256 of the whole key, never by the key. */
export function hashKey(key: string): string {
  // The one-shot form: a third of createHash().update().digest() on every lookup.
  return hash('sha256', key, 'hex');
}
