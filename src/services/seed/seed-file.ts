import { z } from 'zod';
import { EMAIL_PATTERN, ROLES } from '../../domain/accounts.ts';
import { KEY_ENVS } from '../../domain/api-key-format.ts';
import { CLIENT_TYPES } from '../../domain/oauth.ts';
import { SCOPE_PATTERN } from '../../domain/scopes.ts';
import { ID_PATTERN } from '../../domain/ids.ts';
import { ValidationError } from '../../errors/index.ts';
import { PASSWORD_MAX, PASSWORD_MIN } from '../accounts/account-service.ts';
import { displayTextSchema } from '../../domain/display-text.ts';
import { ARGON2ID_PHC } from '../accounts/password-hasher.ts';

const id = z.string().regex(ID_PATTERN, 'must be 1–128 characters of letters, digits and _ . : -');

const seedUser = z
  .object({
    id: id.optional(),
    email: z.string().trim().regex(EMAIL_PATTERN, 'must be a valid email address'),
    password: z.string().min(PASSWORD_MIN, `must be at least ${PASSWORD_MIN} characters`).max(PASSWORD_MAX).optional(),
    // Products migrating to Tessera bring their users' existing argon2id hashes.
    password_hash: z.string().regex(ARGON2ID_PHC, 'must be an argon2id PHC string ($argon2id$v=19$m=…)').optional(),
    name: displayTextSchema({ max: 200 }).nullable().optional(),
    disabled: z.boolean().optional(),
  })
  .strict()
  .refine((u) => !(u.password !== undefined && u.password_hash !== undefined), {
    message: 'give password or password_hash, not both',
    path: ['password_hash'],
  });

const seedOrganization = z
  .object({
    id: id.optional(),
    name: displayTextSchema({ min: 1, max: 200 }),
    plan: z.string().trim().min(1).max(64).optional(),
    disabled: z.boolean().optional(),
  })
  .strict();

const seedMembership = z
  .object({
    /** A user's id or email. */
    user: z.string().min(1),
    /** An organization's id (or, for one defined in the same file without an id, its name). */
    org: z.string().min(1),
    role: z.enum(ROLES, { message: `must be one of ${ROLES.join(', ')}` }),
  })
  .strict();

/**
 * Keys a product brings when it migrates to Tessera: the plaintext key (hashed on import, never
 * stored) or only its SHA-256, in any format — they are looked up by hash like any other.
 */
const seedApiKey = z
  .object({
    id: id.optional(),
    key: z.string().min(1).max(512).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces').optional(),
    key_sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex characters').transform((v) => v.toLowerCase()).optional(),
    user: z.string().min(1),
    org: z.string().min(1),
    scopes: z.array(z.string().regex(SCOPE_PATTERN, 'must be a list of scope strings')).optional(),
    name: displayTextSchema({ max: 100 }).nullable().optional(),
    env: z.enum(KEY_ENVS, { message: `must be one of ${KEY_ENVS.join(', ')}` }).optional(),
    expires_at: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time' }).transform((v) => new Date(v)).nullable().optional(),
  })
  .strict()
  .refine((k) => (k.key === undefined) !== (k.key_sha256 === undefined), { message: 'give exactly one of key and key_sha256', path: ['key'] });

/** OAuth clients registered by operators: connectors (Zapier, Make) and resource servers. */
const seedClient = z
  .object({
    client_id: z.string().regex(/^[A-Za-z0-9_.:-]{3,128}$/, 'must be 3–128 letters, digits or _ . : -'),
    client_secret: z.string().min(32, 'must be at least 32 characters (use a random value)').max(256),
    name: displayTextSchema({ min: 1, max: 100 }),
    type: z.enum(CLIENT_TYPES, { message: `must be one of ${CLIENT_TYPES.join(', ')}` }).optional(),
    redirect_uris: z.array(z.string()).default([]),
    scopes: z.array(z.string().regex(SCOPE_PATTERN, 'must be a list of scope strings')).default([]),
    disabled: z.boolean().optional(),
    /** Resource servers only: the organization whose bearers it may introspect. */
    org_id: id.optional(),
  })
  .strict();

export const seedFileSchema = z
  .object({
    users: z.array(seedUser).default([]),
    organizations: z.array(seedOrganization).default([]),
    memberships: z.array(seedMembership).default([]),
    clients: z.array(seedClient).default([]),
    api_keys: z.array(seedApiKey).default([]),
  })
  .strict();

export type SeedFile = z.infer<typeof seedFileSchema>;
export type SeedUser = SeedFile['users'][number];
export type SeedOrganization = SeedFile['organizations'][number];
export type SeedApiKey = SeedFile['api_keys'][number];
export type SeedClient = SeedFile['clients'][number];

/** Parses a seed file, naming the first bad entry and field: `users[1].email: must be …`. */
export function parseSeedFile(input: unknown): SeedFile {
  const result = seedFileSchema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = formatPath(issue.path);
  const message = issue.code === 'unrecognized_keys' ? `unknown field "${issue.keys.join('", "')}"` : issue.message;
  throw new ValidationError(path || '(file)', `${path || 'seed file'}: ${message}`);
}

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((out, part) => (typeof part === 'number' ? `${out}[${part}]` : out ? `${out}.${String(part)}` : String(part)), '');
}
