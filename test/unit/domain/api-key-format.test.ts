/**
 * API key formats: every product's documented shape, generated through the configuration
 * that selects it; the CRC32 checksum (checked against an independent computation); what
 * inspectKey says of look-alikes; the 128-bit floor and the TESSERA_KEY_* overrides.
 */
import { describe, expect, it } from '@jest/globals';
import { crc32 } from 'node:zlib';
import { ConfigError, loadConfig } from '../../../src/config/index.ts';
import {
  ALPHABETS,
  checksumLength,
  DEFAULT_KEY_FORMAT,
  entropyBits,
  formatProblems,
  generateKey,
  inspectKey,
  MIN_KEY_BITS,
  type KeyEnv,
  type KeyFormat,
} from '../../../src/domain/api-key-format.ts';

// Written out here rather than imported, so that the checks below do not trust the code under test.
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const HEX = '0123456789abcdef';

function formatOf(env: Record<string, string>): KeyFormat {
  return loadConfig(env).apiKeyFormat;
}

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

/** Generated in memory only: these keys reach no logger, store or request, so the log scan need not know them. */
function keys(format: KeyFormat, env: KeyEnv, count: number): string[] {
  return Array.from({ length: count }, () => generateKey(format, env).key);
}

/** CRC32 of `text`, most significant digit first, zero-padded to `width` digits of `alphabet`. */
function expectedChecksum(text: string, alphabet: string, width: number): string {
  let value = crc32(text);
  let out = '';
  for (let i = 0; i < width; i++) {
    out = alphabet[value % alphabet.length]! + out;
    value = Math.floor(value / alphabet.length);
  }
  expect(value).toBe(0); // the width holds every CRC32 value
  return out;
}

/** `key` with the character at `index` replaced. */
function withCharAt(key: string, index: number, char: string): string {
  return key.slice(0, index) + char + key.slice(index + 1);
}

describe('each product’s documented key format', () => {
  const cases: { format: string; env: KeyEnv; prefix: string; pattern: RegExp }[] = [
    { format: 'minds', env: 'live', prefix: 'minds_', pattern: /^minds_[0-9a-f]{48}$/ },
    { format: 'flowestate', env: 'live', prefix: 'fe_k_', pattern: /^fe_k_[0-9a-f]{32}$/ },
    { format: 'flowstack', env: 'live', prefix: 'fs_live_', pattern: /^fs_live_[0-9A-Za-z]{38}$/ },
    { format: 'flowstack', env: 'test', prefix: 'fs_test_', pattern: /^fs_test_[0-9A-Za-z]{38}$/ },
    { format: 'flowy', env: 'live', prefix: 'flw_sk_', pattern: /^flw_sk_[0-9A-Za-z]{38}$/ },
    { format: 'tessera', env: 'live', prefix: 'tsr_live_', pattern: /^tsr_live_[0-9A-Za-z]{38}$/ },
    { format: 'tessera', env: 'test', prefix: 'tsr_test_', pattern: /^tsr_test_[0-9A-Za-z]{38}$/ },
  ];

  it.each(cases)('TESSERA_PROFILE=$format issues $env keys of the shape $pattern, all distinct', ({ format, env, prefix, pattern }) => {
    const keyFormat = formatOf({ TESSERA_PROFILE: format });
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const generated = generateKey(keyFormat, env);
      expect(generated.key).toMatch(pattern);
      const start = prefix + generated.key.slice(prefix.length, prefix.length + 4);
      expect(generated).toEqual({ key: generated.key, env, start });
      expect(inspectKey(keyFormat, generated.key)).toEqual({ kind: 'valid', env, start });
      seen.add(generated.key);
    }
    expect(seen.size).toBe(200);
  });

  it('is the tessera format when TESSERA_PROFILE is not set', () => {
    expect(formatOf({})).toEqual(DEFAULT_KEY_FORMAT);
    expect(formatOf({})).toEqual(formatOf({ TESSERA_PROFILE: 'tessera' }));
    expect(generateKey(formatOf({}), 'live').key).toMatch(/^tsr_live_[0-9A-Za-z]{38}$/);
  });

  it('accepts the preset name in any case and refuses an unknown one, naming the choices', () => {
    expect(formatOf({ TESSERA_PROFILE: ' Minds ' }).prefixes.live).toBe('minds_');
    const problems = problemsOf({ TESSERA_PROFILE: 'stripe' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('TESSERA_PROFILE');
    expect(problems[0]).toContain('stripe');
    expect(problems[0]).toContain('minds');
  });

  it.each(['minds', 'flowestate', 'flowy'])('%s issues no test keys (its docs define none)', (format) => {
    const keyFormat = formatOf({ TESSERA_PROFILE: format });
    expect(keyFormat.prefixes.test).toBeNull();
    expect(() => generateKey(keyFormat, 'test')).toThrow('this deployment issues no test keys');
  });

  it('accepts the example key Minds documents as a valid live key', () => {
    const example = 'minds_10e9d89a4f88331be68ce05736271bcc58409a26b03a412b';
    expect(inspectKey(formatOf({ TESSERA_PROFILE: 'minds' }), example)).toEqual({ kind: 'valid', env: 'live', start: 'minds_10e9' });
  });
});

describe('the checksum', () => {
  const checksummed = [
    { format: 'tessera', env: 'live' as const },
    { format: 'tessera', env: 'test' as const },
    { format: 'flowstack', env: 'live' as const },
    { format: 'flowstack', env: 'test' as const },
    { format: 'flowy', env: 'live' as const },
  ];

  it.each(checksummed)('is CRC32 of prefix and body in 6 base62 digits ($format, $env)', ({ format, env }) => {
    const keyFormat = formatOf({ TESSERA_PROFILE: format });
    const prefix = keyFormat.prefixes[env]!;
    for (const key of keys(keyFormat, env, 50)) {
      const head = key.slice(0, -6);
      expect(head).toHaveLength(prefix.length + 32);
      expect(key.slice(-6)).toBe(expectedChecksum(head, BASE62, 6));
      // The prefix is covered too: the checksum of the body alone is another one.
      expect(key.slice(-6)).not.toBe(expectedChecksum(head.slice(prefix.length), BASE62, 6));
    }
  });

  it('is 8 hex digits of CRC32 when a hex format turns it on', () => {
    const keyFormat = formatOf({ TESSERA_PROFILE: 'minds', TESSERA_KEY_CHECKSUM: 'true' });
    for (const key of keys(keyFormat, 'live', 50)) {
      expect(key).toMatch(/^minds_[0-9a-f]{56}$/);
      expect(key.slice(-8)).toBe(expectedChecksum(key.slice(0, -8), HEX, 8));
      expect(inspectKey(keyFormat, key)).toMatchObject({ kind: 'valid', env: 'live' });
    }
  });

  it.each(checksummed)('fails when any one character of body or checksum changes ($format, $env)', ({ format, env }) => {
    const keyFormat = formatOf({ TESSERA_PROFILE: format });
    const prefix = keyFormat.prefixes[env]!;
    const [key] = keys(keyFormat, env, 1) as [string];
    let tried = 0;
    for (let i = prefix.length; i < key.length; i++) {
      for (const char of BASE62) {
        if (char === key[i]) continue;
        const changed = withCharAt(key, i, char);
        const shape = inspectKey(keyFormat, changed);
        if (shape.kind !== 'bad-checksum') throw new Error(`${changed} (position ${i}) inspected as ${JSON.stringify(shape)}`);
        tried++;
      }
    }
    expect(tried).toBe(38 * 61);
  });

  it('is checked against the prefix: a live key re-labelled as test fails', () => {
    const keyFormat = formatOf({});
    const [key] = keys(keyFormat, 'live', 1) as [string];
    expect(inspectKey(keyFormat, key.replace(/^tsr_live_/, 'tsr_test_'))).toEqual({ kind: 'bad-checksum' });
  });

  it.each(['minds', 'flowestate'])('does not exist in %s: no change of a key ever gives bad-checksum', (format) => {
    const keyFormat = formatOf({ TESSERA_PROFILE: format });
    expect(keyFormat.checksum).toBe(false);
    const prefix = keyFormat.prefixes.live!;
    const [key] = keys(keyFormat, 'live', 1) as [string];
    for (let i = prefix.length; i < key.length; i++) {
      for (const char of HEX) {
        if (char === key[i]) continue;
        const changed = withCharAt(key, i, char);
        expect(inspectKey(keyFormat, changed)).toEqual({ kind: 'valid', env: 'live', start: changed.slice(0, prefix.length + 4) });
      }
    }
    // Shapes that are not the format are foreign, never bad-checksum.
    for (const other of [key.slice(0, -1), `${key}0`, withCharAt(key, key.length - 1, 'A'), withCharAt(key, prefix.length, 'g')]) {
      expect(inspectKey(keyFormat, other)).toEqual({ kind: 'foreign' });
    }
  });

  it('does not exist when TESSERA_KEY_CHECKSUM=false: a base62 key of 32 characters, any of them valid', () => {
    const keyFormat = formatOf({ TESSERA_KEY_CHECKSUM: 'false' });
    const [key] = keys(keyFormat, 'live', 1) as [string];
    expect(key).toMatch(/^tsr_live_[0-9A-Za-z]{32}$/);
    for (let i = 'tsr_live_'.length; i < key.length; i++) {
      expect(inspectKey(keyFormat, withCharAt(key, i, key[i] === 'z' ? 'y' : 'z')).kind).toBe('valid');
    }
  });
});

describe('inspectKey of look-alikes', () => {
  const keyFormat = DEFAULT_KEY_FORMAT;
  const [key] = keys(keyFormat, 'live', 1) as [string];

  it('calls a key of another length foreign', () => {
    expect(inspectKey(keyFormat, key.slice(0, -1))).toEqual({ kind: 'foreign' });
    expect(inspectKey(keyFormat, `${key}A`)).toEqual({ kind: 'foreign' });
    expect(inspectKey(keyFormat, 'tsr_live_')).toEqual({ kind: 'foreign' });
    expect(inspectKey(keyFormat, key.slice(0, 9 + 32))).toEqual({ kind: 'foreign' });
  });

  it('calls a key with a character outside the alphabet foreign, wherever it is', () => {
    for (const char of ['-', '_', '+', '/', '=', '!', '.', 'é']) {
      for (const i of [9, 20, key.length - 6, key.length - 1]) {
        expect(inspectKey(keyFormat, withCharAt(key, i, char))).toEqual({ kind: 'foreign' });
      }
    }
  });

  it('calls a key without a configured prefix foreign', () => {
    const body = key.slice('tsr_live_'.length);
    for (const other of [body, `tsr_prod_${body}`, `TSR_LIVE_${body}`, `sk_live_${body}`, '', 'minds_10e9d89a4f88331be68ce05736271bcc58409a26b03a412b']) {
      expect(inspectKey(keyFormat, other)).toEqual({ kind: 'foreign' });
    }
    // Another product's key, of the right length for it, is foreign to this one.
    const [flowstack] = keys(formatOf({ TESSERA_PROFILE: 'flowstack' }), 'live', 1) as [string];
    expect(inspectKey(keyFormat, flowstack)).toEqual({ kind: 'foreign' });
    expect(inspectKey(formatOf({ TESSERA_PROFILE: 'flowstack' }), key)).toEqual({ kind: 'foreign' });
  });

  it('calls a test key foreign when the deployment issues none', () => {
    const liveOnly = formatOf({ TESSERA_KEY_PREFIX_TEST: 'none' });
    const [testKey] = keys(keyFormat, 'test', 1) as [string];
    expect(inspectKey(keyFormat, testKey)).toMatchObject({ kind: 'valid', env: 'test' });
    expect(inspectKey(liveOnly, testKey)).toEqual({ kind: 'foreign' });
    expect(inspectKey(liveOnly, key)).toMatchObject({ kind: 'valid', env: 'live' });
  });
});

describe('entropy', () => {
  it('counts the random body only, in bits of its alphabet', () => {
    expect(entropyBits(DEFAULT_KEY_FORMAT)).toBeCloseTo(32 * Math.log2(62), 10);
    expect(entropyBits(formatOf({ TESSERA_PROFILE: 'minds' }))).toBe(192);
    expect(entropyBits(formatOf({ TESSERA_PROFILE: 'flowestate' }))).toBe(128);
    expect(entropyBits({ ...DEFAULT_KEY_FORMAT, alphabet: 'base58', bodyLength: 22 })).toBeCloseTo(22 * Math.log2(58), 10);
  });

  it('has a checksum wide enough for every CRC32 value in each alphabet', () => {
    for (const alphabet of Object.keys(ALPHABETS) as (keyof typeof ALPHABETS)[]) {
      const width = checksumLength(alphabet);
      expect(ALPHABETS[alphabet].length ** width).toBeGreaterThanOrEqual(2 ** 32);
      expect(ALPHABETS[alphabet].length ** (width - 1)).toBeLessThan(2 ** 32);
    }
    expect(checksumLength('base62')).toBe(6);
    expect(checksumLength('hex')).toBe(8);
  });

  it('has a floor of 128 bits that every preset meets', () => {
    expect(MIN_KEY_BITS).toBe(128);
    for (const format of ['tessera', 'minds', 'flowestate', 'flowstack', 'flowy']) {
      const keyFormat = formatOf({ TESSERA_PROFILE: format });
      expect(entropyBits(keyFormat)).toBeGreaterThanOrEqual(128);
      expect(formatProblems(keyFormat)).toEqual([]);
    }
  });

  it('refuses 31 hex characters (124 bits) at start-up, naming the key format and 128 bits', () => {
    const problems = problemsOf({ TESSERA_PROFILE: 'flowestate', TESSERA_KEY_LENGTH: '31' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('TESSERA_PROFILE=flowestate');
    expect(problems[0]).toContain('124 bits');
    expect(problems[0]).toContain('128');
    expect(() => loadConfig({ TESSERA_PROFILE: 'flowestate', TESSERA_KEY_LENGTH: '31' })).toThrow(/API key format.*128/);
  });

  it('accepts 32 hex characters (128 bits) and issues keys of that length', () => {
    const keyFormat = formatOf({ TESSERA_PROFILE: 'flowestate', TESSERA_KEY_LENGTH: '32' });
    expect(keyFormat.bodyLength).toBe(32);
    expect(generateKey(keyFormat, 'live').key).toMatch(/^fe_k_[0-9a-f]{32}$/);
  });

  it('draws the line between 21 and 22 base62 characters', () => {
    expect(problemsOf({ TESSERA_KEY_LENGTH: '21' })[0]).toContain('125 bits');
    const keyFormat = formatOf({ TESSERA_KEY_LENGTH: '22' });
    const [key] = keys(keyFormat, 'live', 1) as [string];
    expect(key).toMatch(/^tsr_live_[0-9A-Za-z]{28}$/);
    expect(inspectKey(keyFormat, key)).toMatchObject({ kind: 'valid' });
  });

  it('names the shortfall in formatProblems too, and the other problems with it', () => {
    const problems = formatProblems({ prefixes: { live: null, test: null }, alphabet: 'hex', bodyLength: 10, checksum: false });
    expect(problems).toEqual([
      expect.stringContaining('40 bits; at least 128'),
      expect.stringContaining('at least one environment needs a prefix'),
    ]);
  });
});

describe('TESSERA_KEY_* overrides', () => {
  it('TESSERA_KEY_PREFIX_TEST=none turns test keys off', () => {
    const keyFormat = formatOf({ TESSERA_KEY_PREFIX_TEST: 'none' });
    expect(keyFormat.prefixes).toEqual({ live: 'tsr_live_', test: null });
    expect(() => generateKey(keyFormat, 'test')).toThrow('no test keys');
  });

  it('a custom prefix is used, and covered by the checksum', () => {
    const keyFormat = formatOf({ TESSERA_KEY_PREFIX_LIVE: 'acme_live_', TESSERA_KEY_PREFIX_TEST: 'acme_test_' });
    for (const env of ['live', 'test'] as const) {
      for (const key of keys(keyFormat, env, 20)) {
        expect(key).toMatch(new RegExp(`^acme_${env}_[0-9A-Za-z]{38}$`));
        expect(key.slice(-6)).toBe(expectedChecksum(key.slice(0, -6), BASE62, 6));
        expect(inspectKey(keyFormat, key)).toEqual({ kind: 'valid', env, start: key.slice(0, 'acme_xxxx_'.length + 4) });
      }
    }
    const [tessera] = keys(DEFAULT_KEY_FORMAT, 'live', 1) as [string];
    expect(inspectKey(keyFormat, tessera)).toEqual({ kind: 'foreign' });
  });

  it('overrides one part of a preset and keeps the others', () => {
    expect(formatOf({ TESSERA_PROFILE: 'flowstack', TESSERA_KEY_PREFIX_TEST: 'fs_sandbox_' })).toEqual({
      prefixes: { live: 'fs_live_', test: 'fs_sandbox_' },
      alphabet: 'base62',
      bodyLength: 32,
      checksum: true,
    });
    const base58 = formatOf({ TESSERA_KEY_ALPHABET: 'BASE58' });
    expect(base58.alphabet).toBe('base58');
    const [key] = keys(base58, 'live', 1) as [string];
    expect(key).toMatch(/^tsr_live_[1-9A-HJ-NP-Za-km-z]{38}$/);
  });

  it('refuses equal live and test prefixes', () => {
    const problems = problemsOf({ TESSERA_KEY_PREFIX_LIVE: 'sk_', TESSERA_KEY_PREFIX_TEST: 'sk_' });
    expect(problems).toContainEqual(expect.stringContaining('live and test keys need different prefixes'));
    for (const problem of problems) expect(problem).toContain('TESSERA_KEY_');
  });

  it.each([
    ['sk_', 'sk_test_'],
    ['sk_live_', 'sk_'],
  ])('refuses live prefix %s with test prefix %s: one begins with the other', (live, test) => {
    const problems = problemsOf({ TESSERA_KEY_PREFIX_LIVE: live, TESSERA_KEY_PREFIX_TEST: test });
    expect(problems).toEqual([expect.stringContaining('one prefix must not begin with the other')]);
  });

  it('refuses a prefix with characters a key cannot carry', () => {
    const problems = problemsOf({ TESSERA_KEY_PREFIX_LIVE: 'my key_' });
    expect(problems).toEqual([expect.stringContaining('prefix "my key_" must be 1–32 letters, digits, _ or -')]);
  });

  it('refuses turning off both prefixes', () => {
    expect(problemsOf({ TESSERA_PROFILE: 'minds', TESSERA_KEY_PREFIX_LIVE: 'none' })).toEqual([
      expect.stringContaining('at least one environment needs a prefix'),
    ]);
  });

  it('refuses an unknown alphabet, naming the variable and the value', () => {
    const problems = problemsOf({ TESSERA_KEY_ALPHABET: 'base64' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^TESSERA_KEY_ALPHABET: /);
    expect(problems[0]).toContain('"base64"');
  });

  it.each([['0'], ['-5'], ['257'], ['32.5'], ['many']])('refuses TESSERA_KEY_LENGTH=%s', (length) => {
    const problems = problemsOf({ TESSERA_KEY_LENGTH: length });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^TESSERA_KEY_LENGTH: /);
  });
});

describe('randomness of the body', () => {
  it('uses every base62 character, without the modulo bias toward the first ones', () => {
    const counts = new Map<string, number>();
    for (const key of keys(DEFAULT_KEY_FORMAT, 'live', 2_000)) {
      for (const char of key.slice('tsr_live_'.length, -6)) counts.set(char, (counts.get(char) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual([...BASE62].sort());
    // 64,000 characters: about 1,032 of each. 256 % 62 = 8, so a plain `byte % 62` would give
    // the first 8 characters 5/4 of the others' share; rejection sampling gives them the same.
    const mean = (chars: string): number => [...chars].reduce((sum, c) => sum + counts.get(c)!, 0) / chars.length;
    const ratio = mean(BASE62.slice(0, 8)) / mean(BASE62.slice(8));
    expect(ratio).toBeGreaterThan(0.9);
    expect(ratio).toBeLessThan(1.1);
    for (const count of counts.values()) expect(count).toBeGreaterThan(800);
  });

  it('uses every hex character in the hex formats', () => {
    const seen = new Set<string>();
    for (const key of keys(formatOf({ TESSERA_PROFILE: 'minds' }), 'live', 50)) for (const c of key.slice('minds_'.length)) seen.add(c);
    expect([...seen].sort().join('')).toBe(HEX);
  });
});
