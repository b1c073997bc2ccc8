import mongoose, { type Connection } from 'mongoose';
import type { HealthCheck } from '../../ports.ts';
import { redactUrl } from '../redact-url.ts';
import { withTimeout } from '../with-timeout.ts';

export interface MongoCapabilities {
  /** FerretDB 1.x accepts no TTL indexes; MongoDB does. */
  ttlIndexes: boolean;
  /** Multi-document transactions need a replica set (and a server that has them). */
  transactions: boolean;
  server: 'mongodb' | 'ferretdb';
  version: string;
}

export interface MongoContext {
  connection: Connection;
  capabilities: MongoCapabilities;
  health: HealthCheck;
  close(): Promise<void>;
}

export interface MongoOptions {
  /** How long to wait for the server at start-up and for each operation to find a server. */
  timeoutMs: number;
}

/**
 * Opens the store of record. Writes are acknowledged by a majority (so an acknowledged write
 * survives a primary failover) and commands are not buffered while disconnected: a request fails
 * fast and the caller answers 503 rather than hanging.
 */
export async function openMongo(uri: string, options: MongoOptions): Promise<MongoContext> {
  const connection = mongoose.createConnection(uri, {
    serverSelectionTimeoutMS: options.timeoutMs,
    connectTimeoutMS: options.timeoutMs,
    writeConcern: { w: 'majority' },
    readPreference: 'primary',
    bufferCommands: false,
    autoIndex: false,
    autoCreate: false,
    maxPoolSize: 20,
  });
  try {
    await connection.asPromise();
  } catch (error) {
    await connection.close(true).catch(() => undefined);
    throw new Error(`MongoDB at ${redactUrl(uri)} cannot be reached: ${(error as Error).message}`, { cause: error });
  }
  const capabilities = await detectCapabilities(connection);
  const health: HealthCheck = {
    name: 'mongodb',
    ping: async () => {
      const db = connection.db;
      if (!db) throw new Error('not connected');
      await withTimeout(db.admin().ping(), 2_000, 'MongoDB ping timed out');
    },
  };
  return { connection, capabilities, health, close: () => connection.close() };
}

async function detectCapabilities(connection: Connection): Promise<MongoCapabilities> {
  const admin = connection.db!.admin();
  const info = (await admin.command({ buildInfo: 1 })) as { version?: string; ferretdbVersion?: string };
  const hello = (await admin.command({ hello: 1 })) as { setName?: string };
  if (info.ferretdbVersion !== undefined) {
    return { server: 'ferretdb', version: info.ferretdbVersion, ttlIndexes: false, transactions: false };
  }
  return { server: 'mongodb', version: info.version ?? 'unknown', ttlIndexes: true, transactions: hello.setName !== undefined };
}
