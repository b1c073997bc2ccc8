/**
 * Scopes: what a bearer may do. Tessera's own API has built-in scopes; each deployment adds its
 * resource scopes (e.g. `leads:read leads:write`). A role bounds the scopes its holder may grant
 * to a key and may exercise through one: a key never does more than its creator's current role.
 */
import type { Role } from './accounts.ts';

export const BUILTIN_SCOPES = ['keys:read', 'keys:write', 'apps:read', 'apps:write', 'audit:read', 'billing:read', 'billing:write'] as const;

/** RFC 6749 §3.3 scope-token characters, minus the quote and backslash; colon-separated words. */
export const SCOPE_PATTERN = /^[A-Za-z0-9_.-]+(?::[A-Za-z0-9_.-]+)*$/;

/** `read`, `leads:read`, `keys:read`: a scope that only reads. */
export function isReadScope(scope: string): boolean {
  return scope === 'read' || scope.endsWith(':read');
}

export class ScopeCatalog {
  readonly all: readonly string[];
  private readonly known: Set<string>;

  constructor(resourceScopes: readonly string[]) {
    this.all = [...new Set([...BUILTIN_SCOPES, ...resourceScopes])];
    this.known = new Set(this.all);
  }

  isKnown(scope: string): boolean {
    return this.known.has(scope);
  }

  /**
   * What a role may grant and exercise:
   * - owner, admin: everything, including the audit log and adding credits;
   * - editor: every resource scope, managing its own keys, reading the balance;
   * - viewer: read-only scopes only (it can create no keys, so keys:read just lists its own).
   */
  allowedFor(role: Role): string[] {
    switch (role) {
      case 'owner':
      case 'admin':
        return [...this.all];
      case 'editor':
        return this.all.filter((s) => s !== 'audit:read' && s !== 'billing:write');
      case 'viewer':
        return this.all.filter((s) => isReadScope(s) && s !== 'audit:read');
    }
  }
}

/** Parses a space-separated scope string (RFC 6749 §3.3) into a sorted, de-duplicated list. */
export function parseScopeString(value: string): string[] {
  return normalizeScopes(value.split(' ').filter((s) => s.length > 0));
}

export function normalizeScopes(scopes: readonly string[]): string[] {
  return [...new Set(scopes)].sort();
}

export function intersectScopes(a: readonly string[], b: readonly string[]): string[] {
  const set = new Set(b);
  return normalizeScopes(a.filter((s) => set.has(s)));
}
