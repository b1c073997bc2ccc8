import { ConflictError, UnavailableError } from '../../errors/index.ts';

interface MongoLikeError {
  code?: number;
  message?: string;
  name?: string;
}

/**
 * A unique index refused the write. MongoDB says E11000; FerretDB says E11000 for inserts but an
 * InternalError with SQLite's "UNIQUE constraint failed" for updates — and neither reliably names
 * the index, so callers that must name the field find out by looking (see MongoUserStore).
 */
export function isDuplicateKey(error: unknown): boolean {
  const e = error as MongoLikeError;
  return e?.code === 11000 || /E11000|UNIQUE constraint failed/.test(e?.message ?? '');
}

const NETWORK_ERRORS = new Set([
  'MongoNetworkError',
  'MongoServerSelectionError',
  'MongoNetworkTimeoutError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongooseServerSelectionError',
]);

export type DuplicateHandler = () => ConflictError | Promise<ConflictError>;

const defaultDuplicate: DuplicateHandler = () => new ConflictError('A record with this id already exists', 'id');

/**
 * Runs a store operation and translates driver failures into the AppError hierarchy: a
 * unique-index refusal is a conflict (named by `onDuplicate`), a lost server is UNAVAILABLE
 * (503, retry) — never a 4xx and never a 500 with driver details.
 */
export async function mongoCall<T>(op: () => Promise<T>, onDuplicate: DuplicateHandler = defaultDuplicate): Promise<T> {
  try {
    return await op();
  } catch (error) {
    if (isDuplicateKey(error)) throw await onDuplicate();
    if (NETWORK_ERRORS.has((error as MongoLikeError)?.name ?? '')) {
      throw new UnavailableError('The store of record is unreachable', 5, error);
    }
    throw error;
  }
}
