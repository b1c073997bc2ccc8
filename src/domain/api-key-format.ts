/**
 * API key formats: `<prefix><random body><checksum>`. The prefix names the environment; the body
 * comes from a CSPRNG; the optional checksum is CRC32 of everything before it (the GitHub token
 * design), so that secret scanners and Tessera can reject a look-alike without a lookup.
 * Every part is configuration, so that each product's documented format can be served
 * exactly (`minds_` + 48 hex, `fe_k_` + 32 hex, `fs_live_`/`fs_test_`, `flw_sk_`).
 */
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

export const KEY_ENVS = ['live', 'test'] as const;
export type KeyEnv = (typeof KEY_ENVS)[number];

export const ALPHABETS = {
  base62: '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
  hex: '0123456789abcdef',
  base58: '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz',
} as const;
export type AlphabetName = keyof typeof ALPHABETS;

export interface KeyFormat {
  /** Prefix per environment; null: this deployment issues no keys of that environment. */
  prefixes: Record<KeyEnv, string | null>;
  alphabet: AlphabetName;
  /** Random characters in the body (the checksum comes after them). */
  bodyLength: number;
  checksum: boolean;
}

export const DEFAULT_KEY_FORMAT: KeyFormat = {
  prefixes: { live: 'tsr_live_', test: 'tsr_test_' },
  alphabet: 'base62',
  bodyLength: 32,
  checksum: true,
};

/** Entropy floor for generated keys (NIST SP 800-63B's 112 bits, rounded up to a 128-bit key). */
export const MIN_KEY_BITS = 128;

export function entropyBits(format: KeyFormat): number {
  return format.bodyLength * Math.log2(ALPHABETS[format.alphabet].length);
}

/** CRC32 (2^32 values) written in the alphabet with a fixed width: 6 base62, 8 hex, 6 base58. */
export function checksumLength(alphabet: AlphabetName): number {
  return Math.ceil(32 / Math.log2(ALPHABETS[alphabet].length));
}

/** Problems with a format, for configuration validation; empty when it is usable. */
export function formatProblems(format: KeyFormat): string[] {
  const problems: string[] = [];
  const bits = entropyBits(format);
  if (bits < MIN_KEY_BITS) {
    problems.push(`the key body carries ${Math.floor(bits)} bits; at least ${MIN_KEY_BITS} are required (raise the body length)`);
  }
  const { live, test } = format.prefixes;
  if (live === null && test === null) problems.push('at least one environment needs a prefix');
  if (live !== null && live === test) problems.push('live and test keys need different prefixes');
  for (const prefix of [live, test]) {
    if (prefix !== null && !/^[A-Za-z0-9_-]{1,32}$/.test(prefix)) problems.push(`prefix "${prefix}" must be 1–32 letters, digits, _ or -`);
  }
  if (live !== null && test !== null && (live.startsWith(test) || test.startsWith(live))) {
    problems.push('one prefix must not begin with the other: a key’s environment could not be told');
  }
  return problems;
}

function randomString(alphabet: string, length: number): string {
  // Rejection sampling: only bytes below the largest multiple of the alphabet size are used,
  // so that every character is equally likely.
  const limit = 256 - (256 % alphabet.length);
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b >= limit) continue;
      out += alphabet[b % alphabet.length];
      if (out.length === length) break;
    }
  }
  return out;
}

function encodeFixed(value: number, alphabet: string, width: number): string {
  let out = '';
  let rest = value;
  for (let i = 0; i < width; i++) {
    out = alphabet[rest % alphabet.length] + out;
    rest = Math.floor(rest / alphabet.length);
  }
  return out;
}

function checksumOf(text: string, alphabet: AlphabetName): string {
  return encodeFixed(crc32(text), ALPHABETS[alphabet], checksumLength(alphabet));
}

export interface GeneratedKey {
  key: string;
  env: KeyEnv;
  /** Shown in lists so a user can tell keys apart: the prefix and the first 4 body characters. */
  start: string;
}

export function generateKey(format: KeyFormat, env: KeyEnv): GeneratedKey {
  const prefix = format.prefixes[env];
  if (prefix === null) throw new Error(`this deployment issues no ${env} keys`);
  const body = randomString(ALPHABETS[format.alphabet], format.bodyLength);
  const head = prefix + body;
  const key = format.checksum ? head + checksumOf(head, format.alphabet) : head;
  return { key, env, start: prefix + body.slice(0, 4) };
}

/**
 * What the format says of a presented key, before any lookup:
 * - `valid`: it has the configured shape (and checksum, when there is one);
 * - `bad-checksum`: it has the shape but the checksum fails — refuse without a lookup;
 * - `foreign`: not of the configured shape; it may still be a key imported from another system
 *   (those are looked up by hash like any other).
 */
export type KeyShape = { kind: 'valid'; env: KeyEnv; start: string } | { kind: 'bad-checksum' } | { kind: 'foreign' };

export function inspectKey(format: KeyFormat, key: string): KeyShape {
  const alphabet = ALPHABETS[format.alphabet];
  for (const env of KEY_ENVS) {
    const prefix = format.prefixes[env];
    if (prefix === null || !key.startsWith(prefix)) continue;
    const rest = key.slice(prefix.length);
    const sumLength = format.checksum ? checksumLength(format.alphabet) : 0;
    if (rest.length !== format.bodyLength + sumLength || ![...rest].every((c) => alphabet.includes(c))) return { kind: 'foreign' };
    if (format.checksum) {
      const head = key.slice(0, key.length - sumLength);
      if (checksumOf(head, format.alphabet) !== key.slice(key.length - sumLength)) return { kind: 'bad-checksum' };
    }
    return { kind: 'valid', env, start: prefix + rest.slice(0, 4) };
  }
  return { kind: 'foreign' };
}

/** Named formats of products whose documented keys Tessera serves, selectable by configuration (TESSERA_KEY_FORMAT). */
export const PRESET_FORMATS: Record<string, KeyFormat> = {
  tessera: DEFAULT_KEY_FORMAT,
  // Minds: "API keys are prefixed with minds_": minds_ + 48 hex.
  minds: { prefixes: { live: 'minds_', test: null }, alphabet: 'hex', bodyLength: 48, checksum: false },
  // FlowEstate: "fe_k_ + 32 hex chars".
  flowestate: { prefixes: { live: 'fe_k_', test: null }, alphabet: 'hex', bodyLength: 32, checksum: false },
  // FlowStack: fs_live_ (production) and fs_test_ (test/sandbox).
  flowstack: { prefixes: { live: 'fs_live_', test: 'fs_test_' }, alphabet: 'base62', bodyLength: 32, checksum: true },
  // Flowy: secret keys "look like flw_sk_…".
  flowy: { prefixes: { live: 'flw_sk_', test: null }, alphabet: 'base62', bodyLength: 32, checksum: true },
};
