import { ConflictError, UnavailableError } from '../../errors/index.ts';

interface MongoLikeError {
  code?: number;
  keyPattern?: Record<string, unknown>;
  message?: string;
  name?: string;
}

/** E11000: a unique index refused the write. Names the index's first field when it can. */
export function duplicateKeyField(error: unknown): string | null {
  const e = error as MongoLikeError;
  if (e?.code !== 11000) return null;
  if (e.keyPattern) return Object.keys(e.keyPattern)[0] ?? 'id';
  // FerretDB omits keyPattern; its message names the index ("... index: email_1 ...").
  const match = /index: ([A-Za-z0-9_]+?)_(?:1|-1)\b/.exec(e.message ?? '');
  return match?.[1] ?? 'id';
}

const NETWORK_ERRORS = new Set([
  'MongoNetworkError',
  'MongoServerSelectionError',
  'MongoNetworkTimeoutError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongooseServerSelectionError',
]);

/**
 * Translates driver failures into the AppError hierarchy: a unique-index refusal is a conflict,
 * a lost server is UNAVAILABLE (503, retry) — never a 4xx and never a 500 with details.
 */
export function translateMongoError(error: unknown, conflict: (field: string) => ConflictError): never {
  const field = duplicateKeyField(error);
  if (field !== null) throw conflict(field);
  if (NETWORK_ERRORS.has((error as MongoLikeError)?.name ?? '')) {
    throw new UnavailableError('The store of record is unreachable', 5, error);
  }
  throw error;
}

/** Runs a store operation, translating driver errors. */
export async function mongoCall<T>(op: () => Promise<T>, conflict: (field: string) => ConflictError = defaultConflict): Promise<T> {
  try {
    return await op();
  } catch (error) {
    translateMongoError(error, conflict);
  }
}

function defaultConflict(field: string): ConflictError {
  return new ConflictError(`A record with this ${field} already exists`, field);
}
