import { systemClock } from '../../domain/clock.ts';
import type { Clock, OAuthModelStore, OAuthRecord } from '../../ports.ts';

interface Entry {
  model: string;
  /**
   * The payload as JSON text: what a reader gets is its own copy, and a caller mutating what it
   * saved or read changes nothing stored (oidc-provider's payloads are JSON; as the MongoDB
   * store keeps them). Cheaper than structuredClone both ways.
   */
  payload: string;
  /** Epoch milliseconds; null: never expires. */
  expiresAt: number | null;
  consumedAt: Date | null;
  uid: string | undefined;
  userCode: string | undefined;
  grantId: string | undefined;
}

/**
 * oidc-provider's records for the embedded mode. One process, so every method runs its checks
 * and its write with no await in between: that makes consume atomic. Expired records are
 * invisible at once and deleted lazily (when met) and by a periodic sweep, so memory stays bounded.
 *
 * Consumption belongs to the id while the record lives: re-upserting a consumed record keeps it
 * consumed (once consumed, always consumed), even after destroy or revokeByGrantId; only expiry forgets it.
 */
export class MemoryOAuthModelStore implements OAuthModelStore {
  /** By `${model}:${id}`. */
  private readonly records = new Map<string, Entry>();
  /** `${model}:${uid}` → record keys (a set: nothing stops two records sharing a uid). */
  private readonly byUid = new Map<string, Set<string>>();
  /** `${model}:${userCode}` → record keys. */
  private readonly byUserCode = new Map<string, Set<string>>();
  /** grantId → record keys, of every model. */
  private readonly byGrantId = new Map<string, Set<string>>();
  private readonly clock: Clock;
  private readonly sweeper: NodeJS.Timeout;

  constructor(clock: Clock = systemClock, sweepEveryMs = 60_000) {
    this.clock = clock;
    this.sweeper = setInterval(() => this.sweep(), sweepEveryMs);
    this.sweeper.unref();
  }

  /**
   * Consumption outlives its record until the record's own expiry (as MongoDB's markers do): an id
   * destroyed or revoked and upserted again stays consumed. Once consumed, always consumed.
   */
  private readonly consumed = new Map<string, { at: number; expiresAt: number | null }>();

  stop(): void {
    clearInterval(this.sweeper);
  }

  async upsert(model: string, id: string, payload: Record<string, unknown>, expiresAt: Date | null): Promise<void> {
    const key = recordKey(model, id);
    const previous = this.live(key);
    if (this.records.has(key)) this.remove(key);
    const marker = this.consumed.get(key);
    const entry: Entry = {
      model,
      payload: JSON.stringify(payload),
      expiresAt: expiresAt === null ? null : expiresAt.getTime(),
      consumedAt: previous?.consumedAt ?? (marker && (marker.expiresAt === null || marker.expiresAt > this.clock.now().getTime()) ? new Date(marker.at) : null),
      uid: stringField(payload, 'uid'),
      userCode: stringField(payload, 'userCode'),
      grantId: stringField(payload, 'grantId'),
    };
    this.records.set(key, entry);
    if (entry.uid !== undefined) addTo(this.byUid, recordKey(model, entry.uid), key);
    if (entry.userCode !== undefined) addTo(this.byUserCode, recordKey(model, entry.userCode), key);
    if (entry.grantId !== undefined) addTo(this.byGrantId, entry.grantId, key);
  }

  async find(model: string, id: string): Promise<OAuthRecord | null> {
    const entry = this.live(recordKey(model, id));
    return entry ? toRecord(entry) : null;
  }

  async peek(model: string, id: string): Promise<Omit<OAuthRecord, 'consumedAt'> | null> {
    const record = await this.find(model, id);
    if (!record) return null;
    const { consumedAt: _consumed, ...rest } = record;
    return rest;
  }

  async findByUid(model: string, uid: string): Promise<OAuthRecord | null> {
    return this.findIndexed(this.byUid, recordKey(model, uid));
  }

  async findByUserCode(model: string, userCode: string): Promise<OAuthRecord | null> {
    return this.findIndexed(this.byUserCode, recordKey(model, userCode));
  }

  async consume(model: string, id: string, at: Date): Promise<boolean> {
    const entry = this.live(recordKey(model, id));
    if (!entry || entry.consumedAt !== null) return false;
    entry.consumedAt = new Date(at);
    this.consumed.set(recordKey(model, id), { at: at.getTime(), expiresAt: entry.expiresAt });
    return true;
  }

  /** A Grant ends with every record of it (the OAuthModelStore contract, ports.ts). */
  async destroy(model: string, id: string): Promise<void> {
    this.remove(recordKey(model, id));
    if (model === 'Grant') await this.revokeByGrantId(id);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    for (const key of [...(this.byGrantId.get(grantId) ?? [])]) this.remove(key);
  }

  /** Deletes every expired record; returns how many. The timer calls it; tests may too. */
  sweep(): number {
    const now = this.clock.now().getTime();
    let deleted = 0;
    for (const [key, entry] of [...this.records]) {
      if (isExpired(entry, now)) {
        this.remove(key);
        deleted += 1;
      }
    }
    for (const [key, marker] of this.consumed) {
      if (marker.expiresAt !== null && marker.expiresAt <= now) this.consumed.delete(key);
    }
    return deleted;
  }

  private findIndexed(index: Map<string, Set<string>>, indexKey: string): OAuthRecord | null {
    for (const key of [...(index.get(indexKey) ?? [])]) {
      const entry = this.live(key);
      if (entry) return toRecord(entry);
    }
    return null;
  }

  /** The record unless it is absent or expired (an expired one is deleted on the way). */
  private live(key: string): Entry | undefined {
    const entry = this.records.get(key);
    if (entry && isExpired(entry, this.clock.now().getTime())) {
      this.remove(key);
      return undefined;
    }
    return entry;
  }

  private remove(key: string): void {
    const entry = this.records.get(key);
    if (!entry) return;
    this.records.delete(key);
    if (entry.uid !== undefined) removeFrom(this.byUid, recordKey(entry.model, entry.uid), key);
    if (entry.userCode !== undefined) removeFrom(this.byUserCode, recordKey(entry.model, entry.userCode), key);
    if (entry.grantId !== undefined) removeFrom(this.byGrantId, entry.grantId, key);
  }
}

const recordKey = (model: string, id: string): string => `${model}:${id}`;

const isExpired = (entry: Entry, now: number): boolean => entry.expiresAt !== null && entry.expiresAt <= now;

function stringField(payload: Record<string, unknown>, name: string): string | undefined {
  const value = payload[name];
  return typeof value === 'string' ? value : undefined;
}

function addTo(index: Map<string, Set<string>>, indexKey: string, key: string): void {
  let keys = index.get(indexKey);
  if (!keys) index.set(indexKey, (keys = new Set()));
  keys.add(key);
}

function removeFrom(index: Map<string, Set<string>>, indexKey: string, key: string): void {
  const keys = index.get(indexKey);
  if (!keys) return;
  keys.delete(key);
  if (keys.size === 0) index.delete(indexKey);
}

function toRecord(entry: Entry): OAuthRecord {
  return {
    payload: JSON.parse(entry.payload) as Record<string, unknown>,
    expiresAt: entry.expiresAt === null ? null : new Date(entry.expiresAt),
    consumedAt: entry.consumedAt === null ? null : new Date(entry.consumedAt),
  };
}
