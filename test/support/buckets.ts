import type { Connection } from 'mongoose';
import type { Location } from '../../src/stores/mongo/bucketed-collection.ts';

/**
 * Empties a logical collection wherever the stores keep it: the one collection in the suite's
 * database, and on FerretDB the buckets' databases (`<db>_<collection>_<n>`,
 * src/stores/mongo/bucketed-collection.ts), which are dropped.
 */
export async function emptyLogical(connection: Connection, collection: string): Promise<void> {
  await connection.collection(collection).deleteMany({});
  const prefix = `${connection.db!.databaseName}_${collection}_`;
  const { databases } = await connection.getClient().db().admin().listDatabases({ nameOnly: true });
  for (const { name } of databases) if (name.startsWith(prefix)) await connection.getClient().db(name).dropDatabase();
}

/** A stored document where a store says it keeps it. */
export function collectionAt(connection: Connection, location: Location) {
  return connection.getClient().db(location.database).collection(location.collection);
}
