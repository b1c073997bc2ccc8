/**
 * Copies of records Tessera really wrote, for seeding in bulk: every id of the copy is new (the
 * template id's length and alphabet, as oidc-provider makes them) and consistent across the
 * records of one copy (a refresh token's grantId is its copied grant's id), and every time moves by
 * the same amount. Everything else stays the template's, so the copies have its exact shape.
 */
import { randomBytes } from 'node:crypto';

/** The payload fields holding a time (seconds since the epoch). */
const TIME_FIELDS = new Set(['iat', 'exp', 'iiat', 'authTime']);
/** The payload fields holding an id of the record or of what it belongs to. */
const ID_FIELDS = new Set(['jti', 'grantId', 'accountId', 'sessionUid', 'sid']);

export interface Clone {
  /** Template id → this copy's id (preset entries choose an id; the rest are made on first use). */
  ids: Map<string, string>;
  /** Seconds every time moves by. */
  shiftS: number;
  /** Ids copied as they are (e.g. the session a code was made in). */
  keep?: ReadonlySet<string>;
}

/** A random id like the template's: base64url, same length. */
export function idLike(template: string): string {
  return randomBytes(Math.ceil((template.length * 3) / 4) + 1).toString('base64url').slice(0, template.length);
}

/** This copy's value for a template id. */
export function newId(clone: Clone, old: string): string {
  if (clone.keep?.has(old)) return old;
  let value = clone.ids.get(old);
  if (value === undefined) clone.ids.set(old, (value = idLike(old)));
  return value;
}

/** An oidc-provider payload for this copy: ids replaced, times moved, the rest as it is. */
export function clonePayload(payload: Record<string, unknown>, clone: Clone): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(payload)) {
    if (typeof value === 'string' && ID_FIELDS.has(key)) out[key] = newId(clone, value);
    else if (typeof value === 'number' && TIME_FIELDS.has(key)) out[key] = value + clone.shiftS;
    else out[key] = value;
  }
  return out;
}

export function shifted(date: Date | null | undefined, clone: Clone): Date | null {
  return date == null ? null : new Date(new Date(date).getTime() + clone.shiftS * 1000);
}

/** A stored document of the OAuth model store (see src/stores/mongo/mongo-oauth-model-store.ts). */
export type Doc = Record<string, unknown> & { _id: string };

/**
 * The copy of an OAuth record's stored document (src/stores/mongo/mongo-oauth-model-store.ts):
 * `<model>:<jti>`, the payload as JSON text, grantId copied out of it, expiresAt and the write's
 * stamp (savedAt, µs) moved, and the copy of its grant it carries made of the copied grant — the
 * fields in the template's order.
 */
export function cloneModelDoc(doc: Doc, clone: Clone, edit: (payload: Record<string, unknown>) => void = () => undefined): { doc: Doc; payload: Record<string, unknown> } {
  const payload = clonePayload(JSON.parse(doc['payload'] as string) as Record<string, unknown>, clone);
  edit(payload);
  const model = doc._id.slice(0, doc._id.indexOf(':'));
  const copy: Doc = { ...doc, _id: `${model}:${String(payload['jti'])}`, payload: JSON.stringify(payload), expiresAt: shifted(doc['expiresAt'] as Date | null, clone) };
  if (typeof doc['grantId'] === 'string') copy['grantId'] = newId(clone, doc['grantId']);
  if (typeof doc['savedAt'] === 'number') copy['savedAt'] = doc['savedAt'] + clone.shiftS * 1e6;
  // The copy of its grant that a code or refresh token carries: that of the copied grant.
  const grant = doc['grant'] as { payload: string; expiresAt: Date | null; savedAt: number } | undefined;
  if (grant) {
    const grantPayload = clonePayload(JSON.parse(grant.payload) as Record<string, unknown>, clone);
    copy['grant'] = { payload: JSON.stringify(grantPayload), expiresAt: shifted(grant.expiresAt, clone), savedAt: grant.savedAt + clone.shiftS * 1e6 };
  }
  return { doc: copy, payload };
}
