import { z } from 'zod';
import { checkDisplayText } from '../domain/display-text.ts';

/**
 * A display name in a request body or a seed file: a string, refused when it holds characters
 * that hide or disguise text (see domain/display-text.ts), trimmed, in NFC, `min`–`max` characters.
 */
export function displayTextSchema(limits: { min?: number; max: number }) {
  return z
    .string({ message: 'must be a string' })
    // Far beyond any name: bounds the work before the characters are looked at.
    .max(limits.max * 8, `must be ${Math.max(limits.min ?? 0, 1)}–${limits.max} characters`)
    .transform((text, ctx) => {
      const checked = checkDisplayText(text, limits);
      if ('problem' in checked) {
        ctx.addIssue({ code: 'custom', message: checked.problem });
        return z.NEVER;
      }
      return checked.value;
    });
}
