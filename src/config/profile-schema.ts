import { z } from 'zod';
import { ALPHABETS, type KeyFormat } from '../domain/api-key-format.ts';
import { ROLES } from '../domain/accounts.ts';
import { BODY_FIELDS, FAILURE_REASONS, ME_FIELDS, MESSAGE_FIELDS, placeholdersOf, type BodyTemplate, type FailureReason, type Profile } from '../domain/profile.ts';
import { SCOPE_PATTERN } from '../domain/scopes.ts';

const status = z.number().int().min(400, 'must be an HTTP error status (400–599)').max(599, 'must be an HTTP error status (400–599)');
const code = z.string().min(1).max(64);
const message = z.string().min(1).max(300);

/** Where a template names a field it cannot have, the issue says which and what it may name. */
function checkFields(text: string, known: readonly string[], ctx: z.RefinementCtx): void {
  for (const name of placeholdersOf(text)) {
    if (!known.includes(name)) ctx.addIssue({ code: 'custom', message: `unknown field {${name}} (known: ${known.map((k) => `{${k}}`).join(', ')})` });
  }
}

const refusalMessage = message.superRefine((text, ctx) => checkFields(text, MESSAGE_FIELDS, ctx));
const partialRefusal = z.object({ status: status.optional(), code: code.optional(), message: refusalMessage.optional() }).strict();
const refusalRule = z.object({ status, code, message: refusalMessage, api_key: partialRefusal.optional(), oauth: partialRefusal.optional() }).strict();

const bodyTemplate: z.ZodType<BodyTemplate> = z.lazy(() =>
  z.union([
    z.string().superRefine((text, ctx) => checkFields(text, BODY_FIELDS, ctx)),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(bodyTemplate),
    z.record(z.string(), bodyTemplate),
  ]),
);

const scope = z.string().regex(SCOPE_PATTERN, 'each scope must be letters, digits, _ . - separated by colons');
const grant = z.string().regex(/^(!?[A-Za-z0-9_.:-]+|\*|\*:read)$/, 'each entry is a scope, "*", "*:read", or "!scope" to except one');
const limit = z.number().int().min(1).nullable();

const keyFormat = z
  .object({
    prefixes: z.object({ live: z.string().min(1).nullable(), test: z.string().min(1).nullable() }).strict(),
    alphabet: z.enum(Object.keys(ALPHABETS) as [keyof typeof ALPHABETS, ...Array<keyof typeof ALPHABETS>]),
    bodyLength: z.number().int().min(1).max(256),
    checksum: z.boolean(),
  })
  .strict() satisfies z.ZodType<KeyFormat>;

/** config/profiles/<name>.json. Cross-field rules (scopes known, no cycles) are in load-profile.ts. */
export const profileSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9-]{1,40}$/, 'must be 1–40 lower-case letters, digits or -'),
    product: z.string().min(1).max(60),
    keyFormat,
    errors: z
      .object({
        body: bodyTemplate,
        refusals: z.object(Object.fromEntries(FAILURE_REASONS.map((reason) => [reason, refusalRule])) as Record<FailureReason, typeof refusalRule>).strict(),
      })
      .strict(),
    scopes: z
      .object({
        resource: z.array(scope),
        implies: z.record(scope, z.array(scope)),
        keyDefault: z.union([z.literal('all'), z.array(scope).min(1)]),
        roleMax: z.object(Object.fromEntries(ROLES.map((role) => [role, z.array(grant)])) as Record<(typeof ROLES)[number], z.ZodArray<typeof grant>>).strict(),
      })
      .strict(),
    keys: z.object({ createRoles: z.array(z.enum(ROLES)).min(1), list: z.enum(['own', 'organization']) }).strict(),
    limits: z.object({ ratePerMinute: limit, ratePerDay: limit, creditBalances: z.boolean() }).strict(),
    me: z.object({ fields: z.array(z.enum(ME_FIELDS)).min(1) }).strict(),
    users: z.object({ idFormat: z.enum(['prefixed', 'uuid']) }).strict(),
    console: z.object({ createKey: z.string().min(1).max(40), revokeKey: z.string().min(1).max(20), limitsSection: z.string().min(1).max(40) }).strict(),
  })
  .strict() satisfies z.ZodType<Profile>;

