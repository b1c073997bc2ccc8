import type { Connection } from 'mongoose';

/**
 * FerretDB 1.x (SQLite) applies findAndModify and update as a query followed by a whole-document
 * rewrite outside any transaction (FerretDB issue #3040): two conditional updates of one
 * document can both "win", and a write can undo a concurrent one (a touch could rewrite a revoked
 * key as unrevoked). There, writes to one document are queued in this process; several processes
 * sharing one FerretDB remain unsafe, which is why production runs on MongoDB, whose
 * findOneAndUpdate is atomic and needs no queue. One queue per connection, shared by every store
 * on it (callers prefix their keys); null on MongoDB.
 */
const ferretQueues = new WeakMap<Connection, KeyedQueue>();

export async function ferretQueueFor(connection: Connection): Promise<KeyedQueue | null> {
  const info = (await connection.db!.admin().command({ buildInfo: 1 })) as { ferretdbVersion?: string };
  if (info.ferretdbVersion === undefined) return null;
  let queue = ferretQueues.get(connection);
  if (!queue) ferretQueues.set(connection, (queue = new KeyedQueue()));
  return queue;
}

/** Runs tasks of the same key one after another (in call order); other keys are not held up. */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const result = (this.tails.get(key) ?? Promise.resolve()).then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    // Forget the key once idle, so the map holds only keys with writes in flight.
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}

/** Runs `write` through the queue when there is one (FerretDB), directly otherwise. */
export function serialized<T>(queue: KeyedQueue | null, key: string, write: () => Promise<T>): Promise<T> {
  return queue ? queue.run(key, write) : write();
}
