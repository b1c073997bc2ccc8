import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Profile } from '../domain/profile.ts';
import { BUILTIN_SCOPES } from '../domain/scopes.ts';
import { profileSchema } from './profile-schema.ts';

/** A profile named by TESSERA_PROFILE (config/profiles/<name>.json) or given as a path to a .json file. */
export function profileFile(setting: string, profilesDir: URL): { path: string; known: string[] } {
  const known = existsSync(profilesDir)
    ? readdirSync(profilesDir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => basename(f, '.json'))
        .sort()
    : [];
  const isPath = /[\\/]/.test(setting) || setting.endsWith('.json');
  return { path: isPath ? setting : fileURLToPath(new URL(`${setting.toLowerCase()}.json`, profilesDir)), known };
}

/**
 * The deployment's product profile, validated; every problem names the file and the field. Null
 * (with problems) when it cannot be used: Tessera must not start with half a contract.
 */
export function loadProfile(setting: string, profilesDir: URL, problems: string[]): Profile | null {
  const { path, known } = profileFile(setting, profilesDir);
  const shown = relative(process.cwd(), path) || path;
  if (!existsSync(path)) {
    problems.push(`TESSERA_PROFILE: unknown profile "${setting}" (${known.length > 0 ? `one of ${known.join(', ')}` : 'no profiles found'}, or a path to a profile .json file)`);
    return null;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    problems.push(`${shown}: cannot read the profile (${(error as Error).message})`);
    return null;
  }
  const parsed = profileSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${shown}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    return null;
  }
  const before = problems.length;
  for (const problem of scopeProblems(parsed.data)) problems.push(`${shown}: ${problem}`);
  return problems.length === before ? parsed.data : null;
}

/** Every scope a profile names is one it declares (or built in), and no scope includes itself. */
function scopeProblems(profile: Profile): string[] {
  const problems: string[] = [];
  const known = new Set<string>([...BUILTIN_SCOPES, ...profile.scopes.resource]);
  const check = (where: string, scopes: readonly string[]): void => {
    const unknown = scopes.filter((s) => !known.has(s));
    if (unknown.length > 0) problems.push(`${where}: unknown scope ${unknown.join(', ')} (declare it in scopes.resource)`);
  };
  for (const [scope, implied] of Object.entries(profile.scopes.implies)) {
    check(`scopes.implies.${scope}`, [scope]);
    check(`scopes.implies.${scope}`, implied);
  }
  if (profile.scopes.keyDefault !== 'all') check('scopes.keyDefault', profile.scopes.keyDefault);
  for (const [role, grants] of Object.entries(profile.scopes.roleMax)) {
    check(`scopes.roleMax.${role}`, grants.map((g) => g.replace(/^!/, '')).filter((g) => g !== '*' && g !== '*:read'));
  }
  const cycle = findCycle(profile.scopes.implies);
  if (cycle) problems.push(`scopes.implies.${cycle[0]}: a cycle (${cycle.join(' → ')}): a scope cannot include itself`);
  return problems;
}

/** A path that comes back to its start, if the implication graph has one. */
function findCycle(implies: Readonly<Record<string, readonly string[]>>): string[] | null {
  const done = new Set<string>();
  const visit = (scope: string, path: string[]): string[] | null => {
    const at = path.indexOf(scope);
    if (at >= 0) return [...path.slice(at), scope];
    if (done.has(scope)) return null;
    for (const next of implies[scope] ?? []) {
      const found = visit(next, [...path, scope]);
      if (found) return found;
    }
    done.add(scope);
    return null;
  };
  for (const scope of Object.keys(implies)) {
    const found = visit(scope, []);
    if (found) return found;
  }
  return null;
}
