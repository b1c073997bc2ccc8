/**
 * Scopes: what a bearer may do. Tessera's own API has built-in scopes; each deployment adds its
 * resource scopes (e.g. `leads:read leads:write`). A role bounds the scopes its holder may grant
 * to a key and may exercise through one: a key never does more than its creator's current role.
 * A product profile (config/profiles/) may add scopes that include others, and its own role grants.
 */
import type { Role } from './accounts.ts';

export const BUILTIN_SCOPES = ['keys:read', 'keys:write', 'apps:read', 'apps:write', 'audit:read', 'billing:read', 'billing:write'] as const;

/** RFC 6749 §3.3 scope-token characters, minus the quote and backslash; colon-separated words. */
export const SCOPE_PATTERN = /^[A-Za-z0-9_.-]+(?::[A-Za-z0-9_.-]+)*$/;

/** `read`, `leads:read`, `keys:read`: a scope that only reads. */
export function isReadScope(scope: string): boolean {
  return scope === 'read' || scope.endsWith(':read');
}

export interface ScopePolicy {
  /** A scope and the scopes it includes (`admin` ⊃ `write` ⊃ `read`); acyclic (checked at start-up). */
  implies: Readonly<Record<string, readonly string[]>>;
  /** The most each role may grant and exercise: scopes, `*`, `*:read`, and `!scope` to except one. */
  roleMax: Readonly<Record<Role, readonly string[]>>;
  /** The scopes of a key created without any: `all` its creator may grant, or these. */
  keyDefault: 'all' | readonly string[];
}

/**
 * The deployment's scopes: Tessera's built-in ones and the product's, how they include one another,
 * and what each role may grant. A bearer holds its granted scopes and everything they include,
 * within what its user's role allows now.
 */
export class ScopeCatalog {
  readonly all: readonly string[];
  private readonly known: Set<string>;
  private readonly policy: ScopePolicy;
  private readonly byRole: Map<Role, string[]>;

  /** `policy`: the profile's (config/profiles/<name>.json `scopes`; Tessera's own in tessera.json). */
  constructor(resourceScopes: readonly string[], policy: ScopePolicy) {
    this.all = [...new Set([...BUILTIN_SCOPES, ...resourceScopes])];
    this.known = new Set(this.all);
    this.policy = policy;
    this.byRole = new Map((Object.keys(policy.roleMax) as Role[]).map((role) => [role, this.resolveGrants(policy.roleMax[role])]));
  }

  isKnown(scope: string): boolean {
    return this.known.has(scope);
  }

  /** The scopes and every scope they include, sorted. */
  expand(scopes: readonly string[]): string[] {
    const out = new Set<string>();
    const visit = (scope: string): void => {
      if (out.has(scope)) return;
      out.add(scope);
      for (const implied of this.policy.implies[scope] ?? []) visit(implied);
    };
    for (const scope of scopes) visit(scope);
    return normalizeScopes([...out]);
  }

  /** What a role may grant and exercise (the profile's roleMax, with what its scopes include). */
  allowedFor(role: Role): string[] {
    return [...(this.byRole.get(role) ?? [])];
  }

  /** What a bearer granted `granted` may do as `role` now: the scopes and what they include, within the role's. */
  effective(granted: readonly string[], role: Role): string[] {
    return intersectScopes(this.expand(granted), this.allowedFor(role));
  }

  /** Whether a key created without scopes gets every scope its creator may grant. */
  keyDefaultIsAll(): boolean {
    return this.policy.keyDefault === 'all';
  }

  /** The scopes of a key created without any, from what its creator may grant. */
  keyDefault(grantable: readonly string[]): string[] {
    const { keyDefault } = this.policy;
    return keyDefault === 'all' ? normalizeScopes(grantable) : intersectScopes(keyDefault, grantable);
  }

  private resolveGrants(entries: readonly string[]): string[] {
    const included = new Set<string>();
    const excluded = new Set<string>();
    for (const entry of entries) {
      if (entry.startsWith('!')) excluded.add(entry.slice(1));
      else if (entry === '*') this.all.forEach((s) => included.add(s));
      else if (entry === '*:read') this.all.filter(isReadScope).forEach((s) => included.add(s));
      else included.add(entry);
    }
    return this.expand([...included]).filter((s) => !excluded.has(s));
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
