import { z } from 'zod';

/**
 * Names people give things — keys, clients, organizations, users — are shown to other people, so
 * they must look like what they are. Refused (Unicode general categories): controls, NUL included
 * (Cc); invisible format characters (Cf): bidirectional overrides and isolates, which make
 * "safe\u202Egnp.exe" display as "safeexe.png", zero-width spaces and joiners, the byte-order
 * mark; line and paragraph separators (Zl, Zp); and unpaired surrogates (Cs), which are not text
 * and which stores do not keep alike. Everything else is kept, in Unicode normalization form C,
 * so that what is stored is byte for byte what the caller is told.
 */
const FORBIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

/** Why `text` cannot be a display name, or null when it can. */
export function displayTextProblem(text: string): string | null {
  const found = FORBIDDEN.exec(text);
  if (found === null && text.isWellFormed()) return null;
  const codePoint = found ? found[0].codePointAt(0)! : [...text].find((c) => !c.isWellFormed())!.charCodeAt(0);
  return `must not contain control, invisible or direction-changing characters (found U+${codePoint.toString(16).toUpperCase().padStart(4, '0')})`;
}

/** Trimmed (white space, line ends included) and in NFC: the form a display name is stored and shown in. */
export function normalizeDisplayText(text: string): string {
  return text.trim().normalize('NFC');
}

/** Length as people count characters (code points), not UTF-16 units. */
export function displayLength(text: string): number {
  let length = 0;
  for (const _ of text) length++;
  return length;
}

/**
 * A display name checked and normalized: the problem (for a ValidationError naming the field),
 * or the value to store. `min` 0 lets an empty name through (callers decide what empty means).
 */
export function checkDisplayText(text: string, limits: { min?: number; max: number }): { value: string } | { problem: string } {
  // Whitespace around a name (a pasted newline, a tab) is not part of it: trimmed before the
  // characters are looked at, so that only what is kept must pass.
  const value = normalizeDisplayText(text);
  const problem = displayTextProblem(value);
  if (problem) return { problem };
  const length = displayLength(value);
  const min = limits.min ?? 0;
  if (length === 0 && min > 0) return { problem: 'must not be empty' };
  if (length < min || length > limits.max) return { problem: `must be ${Math.max(min, 1)}–${limits.max} characters` };
  return { value };
}

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
