import { expect } from '@jest/globals';
import { ConflictError } from '../../src/errors/index.ts';

/** The store refused the write as a conflict on `field`. */
export async function expectConflict(promise: Promise<unknown>, field: string): Promise<void> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConflictError);
  expect((error as ConflictError).field).toBe(field);
}
