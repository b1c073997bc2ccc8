/**
 * Product profiles (config/profiles/): every shipped one loads, TESSERA_PROFILE chooses one, and a
 * profile that cannot be used stops start-up with a message naming the file and the field.
 */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from '../../../src/config/index.ts';
import type { Profile } from '../../../src/domain/profile.ts';

const PROFILES_DIR = new URL('../../../config/profiles/', import.meta.url);
const SHIPPED = readdirSync(PROFILES_DIR).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, '')).sort();
const tessera = JSON.parse(readFileSync(new URL('tessera.json', PROFILES_DIR), 'utf8')) as Profile;

const load = (env: Record<string, string>) => loadConfig({ NODE_ENV: 'test', ...env });

/** The problems start-up reports for an environment (none: it starts). */
function problemsOf(env: Record<string, string>): string[] {
  try {
    load(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
type Changes = Record<string, Json | undefined>;

/** Tessera's own profile with changes (a dotted path each; undefined deletes), in a file of its own: its path. */
function variant(changes: Changes): string {
  const profile = structuredClone(tessera) as unknown as { [key: string]: Json };
  for (const [path, value] of Object.entries(changes)) {
    const keys = path.split('.');
    const last = keys.pop()!;
    const parent = keys.reduce((node, key) => node[key] as { [key: string]: Json }, profile);
    if (value === undefined) delete parent[last];
    else parent[last] = value;
  }
  const file = join(mkdtempSync(join(tmpdir(), 'tessera-profile-')), 'broken.json');
  writeFileSync(file, JSON.stringify(profile));
  return file;
}

describe('product profiles', () => {
  it('ships the default and one profile per product, and TESSERA_PROFILE chooses one by name, in any case', () => {
    expect(SHIPPED).toEqual(['flowestate', 'flowmind', 'flowstack', 'flowy', 'minds', 'tessera']);
    for (const name of SHIPPED) {
      const config = load({ TESSERA_PROFILE: name });
      expect(config.profile.name).toBe(name);
    }
    expect(load({}).profile.name).toBe('tessera');
    expect(load({ TESSERA_PROFILE: ' Minds ' }).profile.name).toBe('minds');
  });

  it('takes the key format, default limits, credit balances and resource scopes from the profile, and lets settings override them', () => {
    const flowmind = load({ TESSERA_PROFILE: 'flowmind' });
    expect(flowmind.apiKeyFormat.prefixes).toEqual({ live: 'fm_live_', test: 'fm_test_' });
    expect(flowmind.defaultLimits).toEqual({ rateLimitPerMinute: 100, rateLimitPerDay: 10_000, dailySpendCap: null });
    expect(load({ TESSERA_PROFILE: 'flowmind', TESSERA_KEY_RATE_LIMIT: '5' }).defaultLimits.rateLimitPerMinute).toBe(5);
    expect(load({ TESSERA_PROFILE: 'flowy' }).creditBalances).toBe(true);
    expect(load({ TESSERA_PROFILE: 'flowy', TESSERA_CREDIT_BALANCES: 'false' }).creditBalances).toBe(false);
    expect(load({ TESSERA_PROFILE: 'flowstack' }).resourceScopes).toEqual(['read', 'write', 'admin']);
    expect(load({ TESSERA_PROFILE: 'flowstack', TESSERA_SCOPES: 'flows:run' }).resourceScopes).toEqual(['read', 'write', 'admin', 'flows:run']);
    expect(load({ TESSERA_PROFILE: 'minds', TESSERA_KEY_PREFIX_LIVE: 'mnd_' }).apiKeyFormat.prefixes.live).toBe('mnd_');
  });

  it('refuses an unknown profile name, naming the ones there are', () => {
    const [problem] = problemsOf({ TESSERA_PROFILE: 'stripe' });
    expect(problem).toBe(`TESSERA_PROFILE: unknown profile "stripe" (one of ${SHIPPED.join(', ')}, or a path to a profile .json file)`);
    expect(problemsOf({ TESSERA_PROFILE: '/nowhere/profile.json' })[0]).toContain('unknown profile "/nowhere/profile.json"');
  });

  it('loads a profile from a path, and refuses one that is not JSON', () => {
    expect(load({ TESSERA_PROFILE: variant({ name: 'acme' }) }).profile.name).toBe('acme');
    const file = join(mkdtempSync(join(tmpdir(), 'tessera-profile-')), 'broken.json');
    writeFileSync(file, '{"name": ');
    expect(problemsOf({ TESSERA_PROFILE: file })[0]).toMatch(/broken\.json: cannot read the profile/);
  });

  it.each([
    ['a missing refusal', { 'errors.refusals.expired': undefined }, 'errors.refusals.expired: '],
    ['a status that is not an error', { 'errors.refusals.unknown.status': 200 }, 'errors.refusals.unknown.status: must be an HTTP error status (400–599)'],
    ['an unknown setting', { 'keys.whoCanDelete': ['owner'] }, 'keys: Unrecognized key: "whoCanDelete"'],
    ['an unknown role', { 'keys.createRoles': ['owner', 'janitor'] }, 'keys.createRoles.1: '],
    ['an unknown /me field', { 'me.fields': ['id', 'password'] }, 'me.fields.1: '],
    ['a bad user id format', { 'users.idFormat': 'ulid' }, 'users.idFormat: '],
  ] as Array<[string, Changes, string]>)('refuses %s, naming the file and the field', (_what, change, expected) => {
    const problems = problemsOf({ TESSERA_PROFILE: variant(change) });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/broken\.json: /);
    expect(problems[0]).toContain(expected);
  });

  it('refuses an error template or message naming an unknown field', () => {
    const body = problemsOf({ TESSERA_PROFILE: variant({ 'errors.body': { error: { code: '{code}', detail: '{stack}' } } }) });
    expect(body).toEqual([expect.stringMatching(/broken\.json: errors\.body\.error\.detail: unknown field \{stack\} \(known: \{status\}, \{statusText\}, \{code\}, \{message\}, \{field\}\)$/)]);
    const message = problemsOf({ TESSERA_PROFILE: variant({ 'errors.refusals.rate_limited.message': 'Wait {retry_after} seconds' }) });
    expect(message).toEqual([expect.stringMatching(/broken\.json: errors\.refusals\.rate_limited\.message: unknown field \{retry_after\} \(known: \{retryAfter\}, \{scope\}\)$/)]);
  });

  it('refuses a scope hierarchy with a cycle, and scopes it does not declare', () => {
    const cycle = problemsOf({
      TESSERA_PROFILE: variant({ 'scopes.resource': ['read', 'write', 'admin'], 'scopes.implies': { admin: ['write'], write: ['read'], read: ['admin'] } }),
    });
    expect(cycle).toEqual([expect.stringMatching(/broken\.json: scopes\.implies\.admin: a cycle \(admin → write → read → admin\): a scope cannot include itself$/)]);
    const unknown = problemsOf({ TESSERA_PROFILE: variant({ 'scopes.implies': { 'keys:write': ['keys:read', 'flows:read'] } }) });
    expect(unknown).toEqual([expect.stringMatching(/broken\.json: scopes\.implies\.keys:write: unknown scope flows:read \(declare it in scopes\.resource\)$/)]);
    const grant = problemsOf({ TESSERA_PROFILE: variant({ 'scopes.roleMax.viewer': ['*:read', '!flows:read'] }) });
    expect(grant).toEqual([expect.stringMatching(/scopes\.roleMax\.viewer: unknown scope flows:read/)]);
  });

  it('refuses a key format too weak, naming the profile', () => {
    const weak = problemsOf({ TESSERA_PROFILE: variant({ 'keyFormat.bodyLength': 8 }) });
    expect(weak).toEqual([expect.stringMatching(/^API key format \(TESSERA_PROFILE=.*broken\.json and TESSERA_KEY_\*\): the key body carries 47 bits; at least 128 are required/)]);
  });
});
