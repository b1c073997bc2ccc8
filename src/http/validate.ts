import type { z } from 'zod';
import { ValidationError } from '../errors/index.ts';

/**
 * Validates a request body or query against a strict schema, naming the first bad field:
 * unknown fields, wrong types and operator-like values (`{"$ne": null}` where a string belongs)
 * are all refused before anything is written.
 */
export function validate<T extends z.ZodType>(schema: T, input: unknown, what = 'body'): z.infer<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const field = [...issue.path.map(String), issue.keys[0]!].join('.');
    throw new ValidationError(field, `unknown field "${field}"`);
  }
  const field = issue.path.map(String).join('.') || what;
  throw new ValidationError(field, `${field}: ${issue.message}`);
}
