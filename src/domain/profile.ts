/**
 * A product profile: everything a product's public documents fix about how its API answers for
 * bearers — its key format, its error body and the status and words of each refusal, its scopes
 * and who may grant them, who may create keys, its default limits, the shape of "who am I?".
 * One JSON file per product under config/profiles/, chosen by TESSERA_PROFILE; Tessera's own
 * routes and the resource-server kit (which learns it from /.well-known/tessera-profile) answer
 * by the same one. This module is shared by both: the types, and the rendering of a refusal.
 */
import type { KeyFormat } from './api-key-format.ts';
import type { UserIdFormat } from './ids.ts';
import type { Role } from './accounts.ts';
import type { InactiveReason } from './resolution.ts';

export { BEARER_KINDS, FAILURE_REASONS, type BearerKind, type FailureReason } from '../errors/failure-reasons.ts';
import type { BearerKind, FailureReason } from '../errors/failure-reasons.ts';

/** What the body template may name: `{status}` (a number when it is the whole value), and the rest as text. */
export const BODY_FIELDS = ['status', 'statusText', 'code', 'message', 'field'] as const;
export type BodyField = (typeof BODY_FIELDS)[number];
/** What a refusal's message may name: `{retryAfter}` (seconds), `{scope}` (the missing scopes). */
export const MESSAGE_FIELDS = ['retryAfter', 'scope'] as const;
export type MessageField = (typeof MESSAGE_FIELDS)[number];

/** A JSON value whose strings may hold `{field}` placeholders. */
export type BodyTemplate = string | number | boolean | null | BodyTemplate[] | { [key: string]: BodyTemplate };

export interface Refusal {
  status: number;
  code: string;
  message: string;
}

/** A refusal, with what differs for one bearer kind where the product's document says so. */
export interface RefusalRule extends Refusal {
  api_key?: Partial<Refusal>;
  oauth?: Partial<Refusal>;
}

export interface ErrorProfile {
  /** Every error body of the product's API, refusals and other errors alike. */
  body: BodyTemplate;
  refusals: Record<FailureReason, RefusalRule>;
}

/** The most a role may grant or exercise: scopes, `*` (every scope), `*:read` (every read scope), `!scope` (except). */
export type RoleGrants = Record<Role, string[]>;

export interface ScopeProfile {
  /** The product's scopes, beside Tessera's built-in ones. */
  resource: string[];
  /** A scope and the scopes it includes (`admin` ⊃ `write` ⊃ `read`); no cycles. */
  implies: Record<string, string[]>;
  /** The scopes of a key created without any: `all` (every scope its creator may grant) or a list. */
  keyDefault: 'all' | string[];
  roleMax: RoleGrants;
}

export interface KeyPolicy {
  /** The roles that may create keys. */
  createRoles: Role[];
  /** What GET /api/v1/api-keys lists for owners and admins: their own keys, or the organization's. */
  list: 'own' | 'organization';
}

export const ME_FIELDS = ['id', 'org_id', 'scopes', 'kind', 'key_id', 'env', 'client_id', 'grant_id'] as const;
export type MeField = (typeof ME_FIELDS)[number];

export interface Profile {
  name: string;
  /** The product's name, for people (the console's default brand name). */
  product: string;
  keyFormat: KeyFormat;
  errors: ErrorProfile;
  scopes: ScopeProfile;
  keys: KeyPolicy;
  /** Per-credential defaults where neither the credential nor its plan sets one (null: none). */
  limits: { ratePerMinute: number | null; ratePerDay: number | null; creditBalances: boolean };
  /** What GET /api/v1/me and /api/v1/auth/me show of the principal. */
  me: { fields: MeField[] };
  /** The id format of users Tessera creates: `prefixed` (usr_…) or `uuid` (RFC 9562 version 4). */
  users: { idFormat: UserIdFormat };
  /** The console's words where the product's documents name its buttons ("Click Generate New API Key", "Click Revoke"). */
  console: ConsoleLabels;
}

export interface ConsoleLabels {
  /** The button that opens the form for a new key. */
  createKey: string;
  /** The verb that ends a key for good (its link, its confirmation, its button). */
  revokeKey: string;
  /** The folded section of a key's form with its rate limit and daily spend cap. */
  limitsSection: string;
}

/** What the kit needs of a profile, as /.well-known/tessera-profile publishes it. */
export type PublicProfile = Pick<Profile, 'name' | 'product' | 'errors'> & { scopes: Pick<ScopeProfile, 'implies'> };

export function publicProfile(profile: Profile): PublicProfile {
  return { name: profile.name, product: profile.product, errors: profile.errors, scopes: { implies: profile.scopes.implies } };
}

/** The refusal for a reason, for a bearer of `kind` when known, its message's fields filled. */
export function refusalFor(errors: ErrorProfile, reason: FailureReason, kind: BearerKind | undefined, fields: Partial<Record<MessageField, string | number>> = {}): Refusal {
  const rule = errors.refusals[reason];
  const own = kind === undefined ? {} : (rule[kind] ?? {});
  const message = fillText(own.message ?? rule.message, fields);
  return { status: own.status ?? rule.status, code: own.code ?? rule.code, message };
}

const PLACEHOLDER = /\{([A-Za-z_]+)\}/g;

/** The placeholders a template's strings name (for validation at start-up). */
export function placeholdersOf(template: BodyTemplate): string[] {
  if (typeof template === 'string') return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]!);
  if (Array.isArray(template)) return template.flatMap(placeholdersOf);
  if (template !== null && typeof template === 'object') return Object.values(template).flatMap(placeholdersOf);
  return [];
}

function fillText(text: string, fields: Partial<Record<string, string | number>>): string {
  return text.replace(PLACEHOLDER, (whole, name: string) => (fields[name] === undefined ? '' : String(fields[name])));
}

/**
 * The error body: the template with its fields filled. A string that is one placeholder alone
 * takes the field's value as it is (`"{status}"` → 401), and a member whose value is a field
 * without a value (`"field": "{field}"` on an error about no field) is left out.
 */
export function renderBody(template: BodyTemplate, fields: Partial<Record<BodyField, string | number>>): unknown {
  if (typeof template === 'string') {
    const alone = /^\{([A-Za-z_]+)\}$/.exec(template);
    if (alone) return fields[alone[1] as BodyField];
    return fillText(template, fields);
  }
  if (Array.isArray(template)) return template.map((t) => renderBody(t, fields));
  if (template !== null && typeof template === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(template)) {
      const rendered = renderBody(value, fields);
      if (rendered !== undefined) out[key] = rendered;
    }
    return out;
  }
  return template;
}

/** RFC 9110 §15 reason phrases, for `{statusText}`. */
const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? 'Error';
}

/** An error body of the profile for a status, code and message (and the field it is about). */
export function errorBody(errors: Pick<ErrorProfile, 'body'>, status: number, code: string, message: string, field?: string): unknown {
  return renderBody(errors.body, { status, statusText: statusText(status), code, message, ...(field === undefined ? {} : { field }) });
}

/** The failure reason of a bearer that is not usable. */
export function failureOf(reason: InactiveReason): FailureReason {
  switch (reason) {
    case 'missing':
      return 'missing';
    case 'malformed':
    case 'bad-checksum':
      return 'malformed';
    case 'unknown':
      return 'unknown';
    case 'expired':
      return 'expired';
    case 'revoked':
    case 'grant-revoked':
      return 'revoked';
    case 'disabled':
      return 'disabled_key';
    case 'user-disabled':
      return 'disabled_user';
    case 'not-a-member':
      return 'not_a_member';
  }
}
