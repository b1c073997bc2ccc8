/**
 * What every MongoDB store does first: its collection created explicitly (FerretDB creates none
 * implicitly for an index) and its declared indexes built. Both are idempotent, so every instance
 * of a deployment may run them at start-up.
 */
export async function ensureCollection(model: { createCollection(): Promise<unknown>; createIndexes(): Promise<unknown> }): Promise<void> {
  // createCollection on an existing collection fails with NamespaceExists (48): that is fine.
  await model.createCollection().catch((error: unknown) => {
    if ((error as { code?: number }).code !== 48) throw error;
  });
  await model.createIndexes();
}
