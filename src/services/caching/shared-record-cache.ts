import type { Awaitable } from '../../domain/awaitable.ts';
import type { Clock, EphemeralStore } from '../../ports.ts';
import { bearerEventGroup, type BearerEvent } from '../../domain/bearer-event.ts';
import type { BearerEvents } from '../revocation/bearer-events.ts';
import { GroupedMap } from './grouped-map.ts';

/** A record, and when it was read from the store of record (ms since the epoch). */
export interface SharedRead<T> {
  value: T;
  readAt: number;
}

interface Entry {
  read: SharedRead<unknown>;
  epoch: number;
}

/** The events that drop a record: `user:<id>`, `organization:<id>`, `client:<id>`. */
export type RecordGroup = `${'user' | 'organization' | 'client'}:${string}`;

/**
 * Records that many bearers share — a user, a membership, an organization, an OAuth client — read
 * once for every bearer resolved within a short while, rather than once per bearer: a hundred
 * keys of one user refreshed in the principal cache read that user once, not a hundred times.
 *
 * Each read says when it came from the store, and a principal built on it is trusted from that
 * moment, not from when it was built: the principal cache's bound covers the whole chain, so
 * sharing never lets a change live longer. Records are dropped at once by their user's,
 * organization's or client's event, are not served while the event subscription is down (nor
 * after it came back: messages may have been missed), and concurrent requests share one read —
 * except across an event: a read begun before one is neither kept nor joined.
 */
export class SharedRecordCache {
  private readonly entries = new GroupedMap<Entry>();
  private readonly inFlight = new Map<string, Promise<SharedRead<unknown>>>();
  private readonly ephemeral: EphemeralStore;
  private readonly clock: Clock;
  private readonly maxAgeMs: number;
  private readonly maxEntries: number;
  private readonly refreshAfterMs: number | undefined;
  /** Bumped by every event that drops records: reads begun before must not be kept. */
  private generation = 0;

  /**
   * `maxAgeMs` 0: every read goes to the store. `refreshAfterMs`: from that age a use also reads
   * the record again in the background, so that a record in use never ages out under load.
   */
  constructor(ephemeral: EphemeralStore, clock: Clock, options: { maxAgeMs: number; maxEntries: number; refreshAfterMs?: number }) {
    this.ephemeral = ephemeral;
    this.clock = clock;
    this.maxAgeMs = options.maxAgeMs;
    this.maxEntries = options.maxEntries;
    this.refreshAfterMs = options.refreshAfterMs;
  }

  start(events: BearerEvents): Promise<() => Promise<void>> {
    return events.subscribe((event) => (event === null ? this.clear() : this.invalidate(event)));
  }

  invalidate(event: BearerEvent): void {
    if (event.kind === 'api_key' || event.kind === 'grant') return;
    this.generation++;
    this.inFlight.clear();
    for (const key of this.entries.keysIn(bearerEventGroup(event))) this.entries.delete(key);
  }

  /** Drops every record: an event could not be read, so any of them may have changed. */
  clear(): void {
    this.generation++;
    this.inFlight.clear();
    this.entries.clear();
  }

  /**
   * The record under `key`: at once from memory when it was read recently enough (no promise:
   * introspection calls this on every request), else from `load`.
   */
  read<T>(key: string, groups: RecordGroup[], load: () => Promise<T>): Awaitable<SharedRead<T>> {
    const now = this.clock.now().getTime();
    const { healthy, epoch } = this.ephemeral.subscriptionState();
    const entry = this.entries.get(key);
    if (entry && healthy && entry.epoch === epoch && now - entry.read.readAt < this.maxAgeMs) {
      if (this.refreshAfterMs !== undefined && now - entry.read.readAt >= this.refreshAfterMs) void this.load(key, groups, load).catch(() => undefined);
      return entry.read as SharedRead<T>;
    }
    return this.load(key, groups, load);
  }

  /** A record that is its own group (a user, an organization, a client): dropped by its own events. */
  readRecord<T>(record: RecordGroup, load: () => Promise<T>): Awaitable<SharedRead<T>> {
    return this.read(record, [record], load);
  }

  /** One store read per key at a time (not across an event). */
  private load<T>(key: string, groups: RecordGroup[], load: () => Promise<T>): Promise<SharedRead<T>> {
    const running = this.inFlight.get(key);
    if (running) return running as Promise<SharedRead<T>>;
    const now = this.clock.now().getTime();
    const { healthy, epoch } = this.ephemeral.subscriptionState();
    const generation = this.generation;
    const work = load().then((value) => {
      const read = { value, readAt: now };
      if (this.inFlight.get(key) === work) this.inFlight.delete(key);
      if (this.maxAgeMs > 0 && healthy && generation === this.generation) this.store(key, { read, epoch }, groups);
      return read;
    });
    // A failed read is not shared with later callers.
    const cleanup = () => {
      if (this.inFlight.get(key) === work) this.inFlight.delete(key);
    };
    work.catch(cleanup);
    this.inFlight.set(key, work);
    return work;
  }

  private store(key: string, entry: Entry, groups: RecordGroup[]): void {
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(key, entry, groups);
  }
}
