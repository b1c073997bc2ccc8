/**
 * Asks Tessera's `POST /v1/verify` whether a bearer may make one request of your API: who it is,
 * whether it holds the scopes, and — counted in the same call, atomically across all of Tessera's
 * instances — whether its request limits and spend allow it. The answer's code says why not
 * (src/domain/verification.ts), and its `reason` (a FailureReason) and `bearer_kind` say it finely
 * enough that the middleware answers as the deployment's profile says (kit/profile-source.ts).
 *
 * Every request that may be let through is asked: a limit decision is never cached. Only answers
 * about the bearer itself — NOT_FOUND, EXPIRED, REVOKED, DISABLED, with their reason and bearer
 * kind — are kept, for `negativeTtlMs` (1 s by default), so that a flood of bad bearers costs one
 * call per bearer per second. The cache is keyed by the bearer's SHA-256; the bearer is never
 * stored, logged or put in an error.
 */
import { BEARER_KINDS, FAILURE_REASONS, type BearerKind, type FailureReason, type PublicProfile } from '../src/domain/profile.ts';
import { isVerifyCode, type VerifyCode } from '../src/domain/verification.ts';
import type { RateLimitWindow } from '../src/domain/rate-limit-headers.ts';
import { hashToken } from './introspection-client.ts';
import { copyPrincipal, principalFromIntrospection, type Principal } from './principal.ts';
import { profileDocumentUrl, profileSource, type ProfileOptions } from './profile-source.ts';
import { checkMs, postToTessera, tesseraCall, type TesseraClientOptions } from './tessera-request.ts';

export const DEFAULT_VERIFY_NEGATIVE_TTL_MS = 1_000;
const DEFAULT_MAX_ENTRIES = 10_000;
/** Tessera's own bounds on a request's cost. */
export const MAX_COST = 1_000_000_000;
/** Codes about the bearer, not about this request: the only answers kept. */
const ABOUT_THE_BEARER: ReadonlySet<VerifyCode> = new Set(['NOT_FOUND', 'EXPIRED', 'REVOKED', 'DISABLED']);

const VERIFY_PATH = 'v1/verify';

/** `url`: Tessera's base URL; `/v1/verify` is resolved against it. */
export interface VerifierOptions extends TesseraClientOptions, ProfileOptions {
  /** The longest an answer about the bearer itself (NOT_FOUND, EXPIRED, REVOKED, DISABLED) is kept (default 1000, at most 60000; 0: never). */
  negativeTtlMs?: number;
  /** Such answers kept at most (default 10000). */
  maxEntries?: number;
  /** Milliseconds since the epoch (tests). */
  now?: () => number;
}

/** The most constrained request window, and every window (its `name`, `limit`, `remaining`, `reset` in epoch seconds, `window` in seconds). */
export interface RateLimitState {
  limit: number;
  remaining: number;
  reset: number;
  policies: RateLimitWindow[];
}

export interface SpendState {
  cost: number;
  /** The credential's daily cap in credits; null: none. */
  cap: number | null;
  spent: number;
  /** What is left of the cap, or of the organization's balance when that is less; null: unbounded. */
  remaining: number | null;
  /** 00:00 UTC of the next day, in epoch seconds. */
  reset: number;
  balance: number | null;
}

export interface Verification {
  valid: boolean;
  code: VerifyCode;
  /**
   * Why not, finer than `code` (null for VALID): Tessera's `reason`, or — from a Tessera that
   * sends none, or one the kit does not know — what the code says.
   */
  reason: FailureReason | null;
  /** What the bearer was found to be, where Tessera says (a profile may answer the kinds differently). */
  bearerKind: BearerKind | null;
  /** The principal, once the bearer is known to be usable (VALID, INSUFFICIENT_SCOPE, RATE_LIMITED, USAGE_EXCEEDED). */
  principal: Principal | null;
  ratelimit: RateLimitState | null;
  spend: SpendState | null;
  /** Seconds until a refused request may succeed; null when no time can be said. */
  retryAfter: number | null;
  /** INSUFFICIENT_SCOPE: the scopes the bearer lacks. */
  missingScopes: string[];
}

export interface VerifyRequest {
  /** Credits this request spends (a whole number ≥ 0; default 0). Every request counts as one request. */
  cost?: number;
  /** Scopes the request needs, all of them. */
  scopes?: readonly string[];
}

export interface VerifierStatus {
  entries: number;
  /** Requests answered from the kept answers about bearers. */
  hits: number;
  /** Requests sent to Tessera. */
  requests: number;
}

export interface Verifier {
  /** Tessera's answer for this request; throws KitUnavailableError when Tessera cannot tell. */
  verify(token: string, request?: VerifyRequest): Promise<Verification>;
  /** The deployment's profile (the option, or Tessera's document); rejects with KitUnavailableError while it cannot be had. */
  profile(): Promise<PublicProfile>;
  status(): VerifierStatus;
}

/** Throws unless `cost` is a whole number of credits Tessera accepts: a wiring mistake, never a request let through. */
export function checkCost(cost: number): number {
  if (!Number.isSafeInteger(cost) || cost < 0 || cost > MAX_COST) throw new RangeError(`cost must be a whole number of credits between 0 and ${MAX_COST}, not ${String(cost)}`);
  return cost;
}

function numberIn(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`the verify answer has no valid ${name}`);
  return value;
}

function nullableNumber(value: unknown, name: string): number | null {
  return value === null || value === undefined ? null : numberIn(value, name);
}

function readWindows(value: unknown): RateLimitWindow[] {
  if (!Array.isArray(value)) throw new Error('the verify answer has no valid ratelimit.policies');
  return value.map((w: Record<string, unknown>) => {
    if (typeof w?.name !== 'string') throw new Error('the verify answer has a policy without a name');
    return { name: w.name, limit: numberIn(w.limit, 'policy limit'), remaining: numberIn(w.remaining, 'policy remaining'), reset: numberIn(w.reset, 'policy reset'), window: numberIn(w.window, 'policy window') };
  });
}

function oneOf<T extends string>(set: readonly T[], value: unknown): T | null {
  return typeof value === 'string' && (set as readonly string[]).includes(value) ? (value as T) : null;
}

/** The reason a code alone says, for a Tessera older than `reason`: the spend cap says when it resets, the credit balance cannot. */
export function reasonOfCode(code: VerifyCode, retryAfter: number | null): FailureReason | null {
  switch (code) {
    case 'VALID':
      return null;
    case 'NOT_FOUND':
      return 'unknown';
    case 'EXPIRED':
      return 'expired';
    case 'REVOKED':
      return 'revoked';
    case 'DISABLED':
      return 'disabled_key';
    case 'INSUFFICIENT_SCOPE':
      return 'insufficient_scope';
    case 'RATE_LIMITED':
      return 'rate_limited';
    case 'USAGE_EXCEEDED':
      return retryAfter === null ? 'balance_exhausted' : 'usage_exceeded';
  }
}

/** Reads Tessera's answer; throws on one without the fields of the contract (the request is then refused with 503). */
export function verificationFrom(body: unknown): Verification {
  if (typeof body !== 'object' || body === null) throw new Error('the verify answer is not a JSON object');
  const answer = body as Record<string, unknown>;
  if (!isVerifyCode(answer.code)) throw new Error('the verify answer has no known code');
  if (answer.valid !== (answer.code === 'VALID')) throw new Error('the verify answer’s valid and code disagree');
  const principal = answer.principal === undefined ? null : principalFromIntrospection(answer.principal);
  if (answer.code === 'VALID' && principal === null) throw new Error('a VALID verify answer has no principal');
  const rl = answer.ratelimit as Record<string, unknown> | undefined;
  const sp = answer.spend as Record<string, unknown> | undefined;
  const missing = answer.missing_scopes;
  const retryAfter = nullableNumber(answer.retry_after, 'retry_after');
  return {
    valid: answer.valid,
    code: answer.code,
    reason: answer.code === 'VALID' ? null : (oneOf(FAILURE_REASONS, answer.reason) ?? reasonOfCode(answer.code, retryAfter)),
    bearerKind: oneOf(BEARER_KINDS, answer.bearer_kind),
    principal,
    ratelimit: rl === undefined ? null : { limit: numberIn(rl.limit, 'ratelimit.limit'), remaining: numberIn(rl.remaining, 'ratelimit.remaining'), reset: numberIn(rl.reset, 'ratelimit.reset'), policies: readWindows(rl.policies) },
    spend:
      sp === undefined
        ? null
        : {
            cost: numberIn(sp.cost, 'spend.cost'),
            cap: nullableNumber(sp.cap, 'spend.cap'),
            spent: numberIn(sp.spent, 'spend.spent'),
            remaining: nullableNumber(sp.remaining, 'spend.remaining'),
            reset: numberIn(sp.reset, 'spend.reset'),
            balance: nullableNumber(sp.balance, 'spend.balance'),
          },
    retryAfter,
    missingScopes: Array.isArray(missing) && missing.every((s) => typeof s === 'string') ? missing : [],
  };
}

export function createVerifier(options: VerifierOptions): Verifier {
  const call = tesseraCall(options, VERIFY_PATH);
  const profile = profileSource(options.profile, { ...call, endpoint: profileDocumentUrl(options.url, VERIFY_PATH) });
  const negativeTtlMs = checkMs('negativeTtlMs', options.negativeTtlMs ?? DEFAULT_VERIFY_NEGATIVE_TTL_MS, 60_000);
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
  const now = options.now ?? Date.now;
  /** Answers about bearers, by hash, until when. */
  const kept = new Map<string, { verification: Verification; until: number }>();
  const counters = { hits: 0, requests: 0 };

  function keep(hash: string, verification: Verification): void {
    if (negativeTtlMs === 0 || !ABOUT_THE_BEARER.has(verification.code)) return;
    if (kept.size >= maxEntries) kept.delete(kept.keys().next().value!);
    kept.set(hash, { verification, until: now() + negativeTtlMs });
  }

  return {
    async verify(token, request = {}) {
      const cost = checkCost(request.cost ?? 0);
      const scopes = [...(request.scopes ?? [])];
      const hash = hashToken(token);
      const known = kept.get(hash);
      if (known && known.until > now()) {
        counters.hits++;
        return { ...known.verification };
      }
      if (known) kept.delete(hash);
      counters.requests++;
      const body = { type: 'application/json', text: JSON.stringify({ token, cost, ...(scopes.length > 0 ? { required_scopes: scopes } : {}) }) };
      const verification = await postToTessera(call, 'verify', body, verificationFrom);
      keep(hash, verification);
      return { ...verification, principal: verification.principal && copyPrincipal(verification.principal) };
    },
    profile,
    status: () => ({ entries: kept.size, ...counters }),
  };
}
