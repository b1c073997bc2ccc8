import type { AuditEvent } from '../../domain/audit.ts';
import { roleAtLeast, type Role } from '../../domain/accounts.ts';
import { generateKey, type KeyEnv, type KeyFormat } from '../../domain/api-key-format.ts';
import { checkDisplayText } from '../../domain/display-text.ts';
import { NO_LIMITS, type ApiKey, type ApiKeyRecord, type KeyLimits } from '../../domain/api-key.ts';
import { newId } from '../../domain/ids.ts';
import type { KeyPolicy } from '../../domain/profile.ts';
import { requireScope } from '../../domain/permissions.ts';
import type { Actor } from '../../domain/principal.ts';
import { normalizeScopes, type ScopeCatalog } from '../../domain/scopes.ts';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../errors/index.ts';
import type { ApiKeyConditions, ApiKeyPatch, ApiKeyStore, Clock, DailyUsage, MeteredCredential } from '../../ports.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { BearerEvents } from '../revocation/bearer-events.ts';
import { hashKey } from '../../domain/key-hash.ts';
import type { RevocationMarkers } from '../revocation/revocation-markers.ts';

export interface CreateKeyInput {
  name?: string | null;
  scopes?: string[];
  env?: KeyEnv;
  expiresAt?: Date | null;
  limits?: Partial<KeyLimits>;
}

export interface UpdateKeyInput {
  name?: string | null;
  scopes?: string[];
  active?: boolean;
  expiresAt?: Date | null;
  limits?: Partial<KeyLimits>;
}

/** A key as an import brings it: its hash (never the key), and what describes it. */
export interface ImportedKey {
  id: string;
  hash: string;
  start: string | null;
  name: string | null | undefined;
  scopes: string[] | undefined;
  env: KeyEnv;
  expiresAt: Date | null;
}

export interface IssuedKey {
  record: ApiKey;
  /** The key itself: returned once, in the creation response, and never stored. */
  secret: string;
}

/** The longest grace an old key may keep after rotation. */
export const MAX_ROTATION_GRACE_SECONDS = 7 * 24 * 3600;

export interface ApiKeyServiceDeps {
  /** A credential's daily usage (services/limits/usage-series.ts). */
  series: (credential: MeteredCredential, range: { from?: string; to?: string }) => Promise<DailyUsage[]>;
  markers: RevocationMarkers;
  apiKeys: ApiKeyStore;
  audit: AuditLog;
  events: BearerEvents;
  catalog: ScopeCatalog;
  format: KeyFormat;
  /** Who may create keys, and whose keys a list shows (the profile's `keys`). */
  policy: KeyPolicy;
  clock: Clock;
}

/**
 * Settings → API keys: create, list, read, edit, rotate and revoke keys, within the caller's
 * organization and role. Owners and admins manage every key of their organization; editors
 * manage their own; the roles the profile names create keys (by default not viewers), and a list
 * shows owners and admins the organization's keys or their own, as the profile says. A key of another organization, or
 * another member's key for an editor, is indistinguishable from a missing one (404). A secret is
 * only ever handed to the user it acts for, and never to a connected app.
 */
export class ApiKeyService {
  private readonly deps: ApiKeyServiceDeps;

  constructor(deps: ApiKeyServiceDeps) {
    this.deps = deps;
  }

  /**
   * What the actor may do with keys — create one, manage (edit, disable, delete) a key it sees,
   * rotate one — by the very checks the actions make, so that a page offers only what will work.
   */
  permissions(actor: Actor, key?: ApiKey): { create: boolean; manage: boolean; rotate: boolean } {
    const allowed = (check: () => void): boolean => {
      try {
        check();
        return true;
      } catch {
        return false;
      }
    };
    return {
      create: allowed(() => this.checkMayCreate(actor)),
      manage: allowed(() => requireScope(actor, 'keys:write')),
      rotate: key !== undefined && allowed(() => checkMayRotate(actor, key)),
    };
  }

  async create(actor: Actor, input: CreateKeyInput): Promise<IssuedKey> {
    this.checkMayCreate(actor);
    const issued = this.issue(actor.orgId, actor.userId, {
      name: normalizeName(input.name),
      scopes: input.scopes === undefined ? this.deps.catalog.keyDefault(this.grantable(actor)) : this.checkGrantable(actor, input.scopes),
      env: this.checkEnv(input.env ?? 'live'),
      expiresAt: this.checkExpiry(input.expiresAt ?? null),
      limits: { ...NO_LIMITS, ...input.limits },
      rotatedFrom: null,
    });
    await this.deps.apiKeys.insert(issued.record);
    await this.deps.audit.record(actor, actor.orgId, 'api_key.created', issued.record.id, {
      name: issued.record.name,
      scopes: issued.record.scopes,
      env: issued.record.env,
    });
    return issued;
  }

  async list(actor: Actor): Promise<ApiKey[]> {
    requireScope(actor, 'keys:read');
    const organization = this.deps.policy.list === 'organization' && seesAll(actor);
    return this.deps.apiKeys.listForOrg(actor.orgId, organization ? {} : { userId: actor.userId });
  }

  async get(actor: Actor, id: string): Promise<ApiKey> {
    requireScope(actor, 'keys:read');
    return this.visible(actor, id);
  }

  /** The key's audit events, newest first (at most 50): for whoever may see the key. */
  async history(actor: Actor, id: string): Promise<AuditEvent[]> {
    requireScope(actor, 'keys:read');
    await this.visible(actor, id);
    return this.deps.audit.historyOf(actor.orgId, id, 50);
  }

  /** The key's requests and credits per UTC day. */
  async usage(actor: Actor, id: string, range: { from?: string; to?: string }): Promise<DailyUsage[]> {
    requireScope(actor, 'keys:read');
    await this.visible(actor, id);
    return this.deps.series({ kind: 'api_key', id }, range);
  }

  async update(actor: Actor, id: string, input: UpdateKeyInput): Promise<ApiKey> {
    requireScope(actor, 'keys:write');
    const existing = await this.visible(actor, id);
    const patch: ApiKeyPatch = {};
    const conditions: ApiKeyConditions = { notRevoked: true };
    if (input.name !== undefined) patch.name = normalizeName(input.name);
    if (input.scopes !== undefined) patch.scopes = this.checkGrantable(actor, input.scopes);
    if (input.active !== undefined && input.active !== existing.active) {
      Object.assign(patch, input.active ? this.enabling(actor, existing) : { active: false, disabledByRole: actor.role });
      // Decided on what was read: a disabling or rotation in between makes the write fail.
      conditions.disabledByRole = existing.disabledByRole;
      if (input.active) conditions.notRotated = true;
    } else if (input.active === false && existing.disabledByRole !== null && !roleAtLeast(existing.disabledByRole, actor.role)) {
      // Disabled again by a higher role: it is that role's to enable now.
      Object.assign(patch, { active: false, disabledByRole: actor.role });
      conditions.disabledByRole = existing.disabledByRole;
    }
    if (input.expiresAt !== undefined) {
      patch.expiresAt = this.checkExpiry(input.expiresAt);
      if (extendsLife(existing, patch.expiresAt)) {
        if (existing.rotatedTo !== null) throw new ConflictError('This key was rotated: its grace period can be shortened or the key deleted, never extended', 'expires_at');
        conditions.notRotated = true;
      }
    }
    if (input.limits !== undefined) patch.limits = { ...existing.limits, ...input.limits };
    if (Object.keys(patch).length === 0) return existing;
    const updated = await this.deps.apiKeys.update(id, patch, conditions);
    if (!updated) {
      const now = await this.deps.apiKeys.findById(id);
      if (!now || now.revokedAt !== null) throw new NotFoundError('API key');
      throw new ConflictError('This API key changed at the same time; nothing was changed');
    }
    await this.deps.events.publish({ kind: 'api_key', hash: updated.hash, id: updated.id });
    const fields = Object.keys(patch).filter((field) => field !== 'disabledByRole').sort();
    await this.deps.audit.record(actor, actor.orgId, 'api_key.updated', id, { fields, ...(patch.active !== undefined ? { active: patch.active } : {}) });
    return updated;
  }

  /**
   * Enabling a disabled key: only by the role that disabled it or one above (an editor cannot undo
   * an owner's decision), and never a key in its rotation grace period (that would revive it).
   */
  private enabling(actor: Actor, key: ApiKey): ApiKeyPatch {
    if (key.rotatedTo !== null) throw new ConflictError('This key was rotated: it can be shortened or deleted, never enabled again', 'active');
    if (key.disabledByRole !== null && !roleAtLeast(actor.role, key.disabledByRole)) {
      throw new ForbiddenError(`This key was disabled by an ${key.disabledByRole}; only an ${key.disabledByRole} or above can enable it`);
    }
    return { active: true, disabledByRole: null };
  }

  /** Deletes a key: refused at once and forever, gone from lists, kept for the audit trail. */
  async revoke(actor: Actor, id: string): Promise<void> {
    requireScope(actor, 'keys:write');
    await this.visible(actor, id);
    const revoked = await this.deps.apiKeys.update(id, { revokedAt: this.deps.clock.now(), active: false }, { notRevoked: true });
    if (!revoked) throw new NotFoundError('API key');
    await this.announceRevocation(revoked);
    await this.deps.audit.record(actor, actor.orgId, 'api_key.revoked', id);
  }

  /**
   * Whoever holds a leaked key may report it (RFC 7009 revocation by any authenticated client):
   * the key is revoked at once. Returns false when the token is no (usable) API key.
   */
  async revokeReported(token: string, clientId: string): Promise<boolean> {
    const key = await this.deps.apiKeys.findByHash(hashKey(token));
    if (!key || key.revokedAt !== null) return key !== null;
    const revoked = await this.deps.apiKeys.update(key.id, { revokedAt: this.deps.clock.now(), active: false }, { notRevoked: true });
    if (!revoked) return true;
    await this.announceRevocation(revoked);
    await this.deps.audit.record({ credential: { kind: 'oauth_client', clientId } }, revoked.orgId, 'api_key.revoked', revoked.id, { reportedBy: clientId });
    return true;
  }

  /**
   * A new key with the same name, scopes, env and limits. The old key is revoked at once, or
   * kept usable for `graceSeconds` so that deployments can switch over. Of concurrent rotations
   * of one key exactly one succeeds (a conditional update on the old key decides).
   */
  async rotate(actor: Actor, id: string, graceSeconds: number, expiresAt: Date | null = null): Promise<IssuedKey> {
    requireScope(actor, 'keys:write');
    refuseConnectedApp(actor);
    const old = await this.visible(actor, id);
    checkMayRotate(actor, old);
    const issued = this.issue(old.orgId, old.userId, {
      name: old.name,
      scopes: old.scopes,
      env: old.env,
      expiresAt: this.checkExpiry(expiresAt),
      limits: old.limits,
      rotatedFrom: old.id,
    });
    await this.deps.apiKeys.insert(issued.record);
    const now = this.deps.clock.now();
    const graceEnd = new Date(now.getTime() + graceSeconds * 1000);
    const patch: ApiKeyPatch =
      graceSeconds === 0
        ? { rotatedTo: issued.record.id, revokedAt: now, active: false }
        : { rotatedTo: issued.record.id, expiresAt: old.expiresAt && old.expiresAt < graceEnd ? old.expiresAt : graceEnd };
    const rotated = await this.deps.apiKeys.update(id, patch, { notRevoked: true, notRotated: true });
    if (!rotated) {
      // Lost a race with another rotation or a revocation: the new key must never work.
      await this.deps.apiKeys.update(issued.record.id, { revokedAt: now, active: false });
      throw new ConflictError('This API key was rotated or revoked at the same time; nothing was changed');
    }
    if (graceSeconds === 0) await this.announceRevocation(rotated);
    else await this.deps.events.publish({ kind: 'api_key', hash: rotated.hash, id });
    await this.deps.audit.record(actor, actor.orgId, 'api_key.rotated', id, { newKeyId: issued.record.id, graceSeconds });
    return issued;
  }

  /**
   * After the store of record: a Redis marker that outlives the key's remaining life, then the
   * event that drops (and, being final, replaces) every instance's cache entry.
   */
  private async announceRevocation(key: ApiKey): Promise<void> {
    const remaining = key.expiresAt === null ? null : key.expiresAt.getTime() - this.deps.clock.now().getTime();
    await this.deps.markers.markKey(key.hash, remaining);
    await this.deps.events.publish({ kind: 'api_key', hash: key.hash, id: key.id, final: true });
  }

  /**
   * A key brought from another system (a seed file's `api_keys`), with the rules every key obeys:
   * a name that hides nothing; scopes known and within its user's role, all the role allows when
   * none are given. Throws ValidationError naming the field.
   */
  importable(owner: { userId: string; orgId: string; role: Role }, input: ImportedKey): ApiKey {
    const allowed = this.deps.catalog.allowedFor(owner.role);
    const scopes = normalizeScopes(input.scopes ?? allowed);
    const unknown = scopes.filter((s) => !this.deps.catalog.isKnown(s));
    if (unknown.length > 0) throw new ValidationError('scopes', `unknown scope ${unknown.join(', ')}`);
    const beyond = scopes.filter((s) => !allowed.includes(s));
    if (beyond.length > 0) throw new ValidationError('scopes', `beyond what the ${owner.role} role allows: ${beyond.join(', ')}`);
    return {
      id: input.id,
      orgId: owner.orgId,
      userId: owner.userId,
      name: normalizeName(input.name),
      scopes,
      env: input.env,
      hash: input.hash,
      start: input.start,
      active: true,
      disabledByRole: null,
      createdAt: this.deps.clock.now(),
      lastUsedAt: null,
      lastUsedFrom: null,
      expiresAt: input.expiresAt,
      revokedAt: null,
      limits: NO_LIMITS,
      rotatedFrom: null,
      rotatedTo: null,
    };
  }

  /**
   * Stores an imported key (see importable), or brings a stored one to what the import says:
   * name, scopes and expiry. A revoked key stays revoked: importing it again never revives it.
   */
  async import(key: ApiKey, existing: ApiKeyRecord | null): Promise<'created' | 'updated' | 'unchanged'> {
    if (!existing) {
      await this.deps.apiKeys.insert(key);
      return 'created';
    }
    const patch: ApiKeyPatch = {};
    if (existing.name !== key.name) patch.name = key.name;
    if (existing.scopes.join(' ') !== key.scopes.join(' ')) patch.scopes = key.scopes;
    if ((existing.expiresAt?.getTime() ?? null) !== (key.expiresAt?.getTime() ?? null)) patch.expiresAt = key.expiresAt;
    if (Object.keys(patch).length === 0) return 'unchanged';
    const updated = await this.deps.apiKeys.update(existing.id, patch, { notRevoked: true });
    if (updated) await this.deps.events.publish({ kind: 'api_key', hash: updated.hash, id: updated.id });
    return 'updated';
  }

  /**
   * The scopes a form offers ticked for a new key: the profile's defaults where it names them
   * (FlowStack's "read"), none where a key without scopes gets every grantable one.
   */
  suggestedScopes(actor: Actor): string[] {
    return this.deps.catalog.keyDefaultIsAll() ? [] : this.deps.catalog.keyDefault(this.grantable(actor));
  }

  /** Every scope the actor could put on a key. */
  grantable(actor: Actor): string[] {
    const allowed = new Set(this.deps.catalog.allowedFor(actor.role));
    return normalizeScopes(actor.scopes.filter((s) => allowed.has(s)));
  }

  private issue(orgId: string, userId: string, fields: Pick<ApiKey, 'name' | 'scopes' | 'env' | 'expiresAt' | 'limits' | 'rotatedFrom'>): IssuedKey {
    const generated = generateKey(this.deps.format, fields.env);
    const record: ApiKey = {
      id: newId('key'),
      orgId,
      userId,
      ...fields,
      hash: hashKey(generated.key),
      start: generated.start,
      active: true,
      disabledByRole: null,
      createdAt: this.deps.clock.now(),
      lastUsedAt: null,
      lastUsedFrom: null,
      revokedAt: null,
      rotatedTo: null,
    };
    return { record, secret: generated.key };
  }

  private async visible(actor: Actor, id: string): Promise<ApiKey> {
    const key = await this.deps.apiKeys.findById(id);
    if (!key || key.revokedAt !== null || key.orgId !== actor.orgId || (!seesAll(actor) && key.userId !== actor.userId)) {
      throw new NotFoundError('API key');
    }
    return key;
  }

  private checkGrantable(actor: Actor, scopes: string[]): string[] {
    const unknown = scopes.filter((s) => !this.deps.catalog.isKnown(s));
    if (unknown.length > 0) throw new ValidationError('scopes', `unknown scope: ${unknown.join(', ')}`);
    const grantable = new Set(this.grantable(actor));
    const beyond = scopes.filter((s) => !grantable.has(s));
    if (beyond.length > 0) throw new ForbiddenError(`You cannot grant scopes beyond your own: ${beyond.join(', ')}`);
    return normalizeScopes(scopes);
  }

  private checkMayCreate(actor: Actor): void {
    if (!this.deps.policy.createRoles.includes(actor.role)) throw new ForbiddenError(`${capitalized(actor.role)}s cannot create API keys`);
    requireScope(actor, 'keys:write');
    refuseConnectedApp(actor);
  }

  private checkEnv(env: KeyEnv): KeyEnv {
    if (this.deps.format.prefixes[env] === null) throw new ValidationError('env', `this deployment issues no ${env} keys`);
    return env;
  }

  private checkExpiry(expiresAt: Date | null): Date | null {
    if (expiresAt !== null && expiresAt.getTime() <= this.deps.clock.now().getTime()) {
      throw new ValidationError('expires_at', 'expires_at must be in the future');
    }
    return expiresAt;
  }
}

/**
 * A connected app's token may manage keys but never receives a new secret: a key would outlive
 * the app, and revoking a connected app must leave nothing it obtained working.
 */
function refuseConnectedApp(actor: Actor): void {
  if (actor.credential.kind === 'oauth') throw new ForbiddenError('A connected app cannot create or rotate API keys');
}


function checkMayRotate(actor: Actor, key: ApiKey): void {
  requireScope(actor, 'keys:write');
  refuseConnectedApp(actor);
  // The new secret acts as the key's user: only that user may receive it. Whoever may manage
  // the key otherwise can disable or delete it, which takes nobody's identity.
  if (key.userId !== actor.userId) throw new ForbiddenError('Only the key’s own user can rotate it; you may disable or delete it');
  // The new key would be enabled: rotating must not undo a disabling.
  if (!key.active) throw new ConflictError('A disabled key cannot be rotated; enable it first');
}

/** Whether an expiry would let the key live longer than it may now (null: forever). */
function extendsLife(key: ApiKey, expiresAt: Date | null): boolean {
  if (key.expiresAt === null) return false;
  return expiresAt === null || expiresAt.getTime() > key.expiresAt.getTime();
}

const capitalized = (word: string): string => word.charAt(0).toUpperCase() + word.slice(1);

function seesAll(actor: Actor): boolean {
  return roleAtLeast(actor.role, 'admin');
}

/** Trimmed and in NFC, 1–100 characters that hide nothing (domain/display-text.ts); empty means none. */
function normalizeName(name: string | null | undefined): string | null {
  const checked = checkDisplayText(name ?? '', { max: 100 });
  if ('problem' in checked) throw new ValidationError('name', `name ${checked.problem}`);
  return checked.value === '' ? null : checked.value;
}
