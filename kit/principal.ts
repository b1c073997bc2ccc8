/**
 * The principal as Tessera's introspection endpoint answers it (docs/architecture.md, "The principal"; RFC
 * 7662 field names, snake_case), plus `scopes`: the `scope` string split into a list.
 */
export interface Principal {
  active: true;
  kind: 'api_key' | 'oauth';
  /** The user id. */
  sub: string;
  /** The organization the bearer acts in: the key's, or the one chosen at consent. */
  org_id: string;
  /** Space-separated, as RFC 7662 has it. */
  scope: string;
  /** `scope` as a list. */
  scopes: string[];
  /** OAuth only. */
  client_id?: string;
  /** OAuth only. */
  grant_id?: string;
  /** API keys only. */
  key_id?: string;
  /** API keys only: `live` or `test`. */
  env?: string;
  /** Seconds since the epoch. */
  iat: number;
  /** Seconds since the epoch; absent for API keys without expiry. */
  exp?: number;
  iss: string;
  token_type: 'Bearer';
}

const OPTIONAL_STRINGS = ['client_id', 'grant_id', 'key_id', 'env'] as const;

/**
 * Reads an introspection answer: a Principal for an active bearer, null for `{"active":false}`
 * (or anything whose `active` is not exactly true), and a thrown Error for an active answer
 * without the fields of the contract — the caller must not let such a request through.
 */
export function principalFromIntrospection(body: unknown): Principal | null {
  if (typeof body !== 'object' || body === null) throw new Error('the introspection answer is not a JSON object');
  const answer = body as Record<string, unknown>;
  if (answer.active !== true) return null;
  const { kind, sub, org_id, scope, iat, exp, iss } = answer;
  if (kind !== 'api_key' && kind !== 'oauth') throw new Error('the introspection answer has no valid kind');
  for (const [name, value] of Object.entries({ sub, org_id, scope, iss })) {
    if (typeof value !== 'string' || (name !== 'scope' && value.length === 0)) throw new Error(`the introspection answer has no valid ${name}`);
  }
  if (typeof iat !== 'number' || !Number.isFinite(iat)) throw new Error('the introspection answer has no valid iat');
  if (exp !== undefined && (typeof exp !== 'number' || !Number.isFinite(exp))) throw new Error('the introspection answer has an invalid exp');
  const principal: Principal = {
    active: true,
    kind,
    sub: sub as string,
    org_id: org_id as string,
    scope: scope as string,
    scopes: parseScope(scope as string),
    iat,
    iss: iss as string,
    token_type: 'Bearer',
  };
  for (const name of OPTIONAL_STRINGS) {
    const value = answer[name];
    if (value === undefined) continue;
    if (typeof value !== 'string') throw new Error(`the introspection answer has an invalid ${name}`);
    principal[name] = value;
  }
  if (exp !== undefined) principal.exp = exp as number;
  return principal;
}

/** RFC 6749 §3.3: space-separated scope tokens; duplicates and empty words dropped. */
export function parseScope(scope: string): string[] {
  return [...new Set(scope.split(' ').filter((word) => word.length > 0))];
}

/** A copy for one request: handlers may change what they get without touching the cache. */
export function copyPrincipal(principal: Principal): Principal {
  return { ...principal, scopes: [...principal.scopes] };
}
