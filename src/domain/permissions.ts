import { ForbiddenError } from '../errors/index.ts';
import type { Actor } from './principal.ts';

/** A credential acts only within its scopes: 403 naming the missing one. */
export function requireScope(actor: Actor, scope: string): void {
  if (!actor.scopes.includes(scope)) throw new ForbiddenError(`This credential lacks the ${scope} scope`);
}
