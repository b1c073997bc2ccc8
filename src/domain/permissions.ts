import { BearerRefusedError } from '../errors/index.ts';
import type { Actor } from './principal.ts';

/** A credential acts only within its scopes: refused as the profile says (by default 403 naming the scope). */
export function requireScope(actor: Actor, scope: string): void {
  if (!actor.scopes.includes(scope)) {
    const kind = actor.credential.kind;
    throw new BearerRefusedError('insufficient_scope', { scope, ...(kind === 'api_key' || kind === 'oauth' ? { bearerKind: kind } : {}) });
  }
}
