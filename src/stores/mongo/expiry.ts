import type { Model } from 'mongoose';
import type { MongoCapabilities } from './mongo-connection.ts';

export interface ExpiryHandle {
  mode: 'ttl-index' | 'sweep';
  /** Deletes what has expired now; the sweep mode calls it on a timer. */
  sweep(): Promise<number>;
  stop(): void;
}

/**
 * Removes documents once `field` (a Date) is in the past. Where the server has TTL indexes
 * (MongoDB) the server does it; where it refuses them (FerretDB 1.x) a periodic sweep does.
 * Either way deletion lags expiry (MongoDB's TTL monitor runs every 60 s), so readers must still
 * treat a document whose time has passed as absent: this is garbage collection, not a rule.
 */
export async function ensureExpiry(
  model: Model<never>,
  field: string,
  capabilities: MongoCapabilities,
  sweepEveryMs = 60_000,
  now: () => Date = () => new Date(),
): Promise<ExpiryHandle> {
  const sweep = async (): Promise<number> => {
    const result = await model.deleteMany({ [field]: { $lte: now() } } as never).exec();
    return result.deletedCount ?? 0;
  };
  if (capabilities.ttlIndexes) {
    try {
      await model.collection.createIndex({ [field]: 1 }, { expireAfterSeconds: 0, name: `${field}_ttl` });
      return { mode: 'ttl-index', sweep, stop: () => undefined };
    } catch {
      // A server that claims TTL support but refuses the index: fall through to sweeping.
    }
  }
  await model.collection.createIndex({ [field]: 1 }, { name: `${field}_1` });
  const timer = setInterval(() => {
    sweep().catch(() => undefined); // an unreachable server is reported by readiness, not here
  }, sweepEveryMs);
  timer.unref();
  return { mode: 'sweep', sweep, stop: () => clearInterval(timer) };
}
