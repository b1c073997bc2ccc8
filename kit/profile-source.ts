/**
 * Where the kit learns the deployment's product profile — the error body and the status and words
 * of each refusal — so that a product's API answers as Tessera's own routes do:
 *
 * - the `profile` option: a PublicProfile, or the path of a profile JSON file (config/profiles/),
 *   read and checked when the verifier or introspector is made (a bad one is a wiring mistake);
 * - otherwise Tessera's `GET /.well-known/tessera-profile` (public, no credentials), asked once
 *   on first need with the client's timeout and fetch. Requests arriving meanwhile share that
 *   one call. A profile is fixed for a deployment's life, so the answer is kept for the
 *   process's: switching TESSERA_PROFILE needs a restart of the resource server too. A failed
 *   call is a KitUnavailableError (the request gets 503) and the next request asks again.
 *
 * When no profile can be known — the document cannot be fetched, or an authority (a test double)
 * has none — the kit answers by Tessera's own profile, config/profiles/tessera.json.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BEARER_KINDS, FAILURE_REASONS, publicProfile, type Profile, type PublicProfile } from '../src/domain/profile.ts';
import { getFromTessera, tesseraEndpoint, type TesseraTarget } from './tessera-request.ts';

/** Tessera's document of its profile's public part, beside its other well-known documents. */
export const PROFILE_DOCUMENT_PATH = '.well-known/tessera-profile';

export interface ProfileOptions {
  /** The deployment's profile, instead of asking Tessera: a PublicProfile, or the path of a profile JSON file. */
  profile?: PublicProfile | string;
}

/** The profile, known or fetched once; rejects with KitUnavailableError while Tessera cannot give it. */
export type ProfileSource = () => Promise<PublicProfile>;

type Json = Record<string, unknown>;

const isRecord = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const isStringArray = (value: unknown): value is string[] => Array.isArray(value) && value.every((s) => typeof s === 'string');

/** A refusal's fields; `partial` for what one bearer kind changes. */
function isRefusal(value: unknown, partial: boolean): boolean {
  if (!isRecord(value)) return false;
  const { status, code, message } = value;
  const statusOk = typeof status === 'number' && Number.isInteger(status) && status >= 400 && status <= 599;
  if (partial) return (status === undefined || statusOk) && (code === undefined || typeof code === 'string') && (message === undefined || typeof message === 'string');
  return statusOk && typeof code === 'string' && code.length > 0 && typeof message === 'string';
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/**
 * Checks what the kit uses of a profile — every refusal reason with a status, code and message —
 * and returns a frozen copy of its public part (handlers cannot change how others are answered).
 * `where` names the source in errors.
 */
export function readPublicProfile(value: unknown, where: string): PublicProfile {
  const fail = (problem: string): never => {
    throw new Error(`${where}: ${problem}`);
  };
  if (!isRecord(value)) return fail('not a JSON object');
  const { name, product, errors, scopes } = value;
  if (typeof name !== 'string' || typeof product !== 'string') return fail('no name or product');
  if (!isRecord(errors) || errors.body === undefined || !isRecord(errors.refusals)) return fail('no errors.body and errors.refusals');
  const refusals: Json = {};
  for (const reason of FAILURE_REASONS) {
    const rule = errors.refusals[reason];
    if (!isRefusal(rule, false)) return fail(`errors.refusals.${reason}: not a refusal (status 400–599, code, message)`);
    for (const kind of BEARER_KINDS) {
      if ((rule as Json)[kind] !== undefined && !isRefusal((rule as Json)[kind], true)) return fail(`errors.refusals.${reason}.${kind}: not a refusal`);
    }
    refusals[reason] = rule;
  }
  if (!isRecord(scopes) || !isRecord(scopes.implies) || !Object.values(scopes.implies).every(isStringArray)) return fail('no scopes.implies');
  const copy = structuredClone({ name, product, errors: { body: errors.body, refusals }, scopes: { implies: scopes.implies } });
  return deepFreeze(copy as unknown as PublicProfile);
}

/** A profile JSON file of config/profiles/ (the whole profile, as Tessera loads it): its public part. */
export function profileFromFile(path: string): PublicProfile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`profile ${path}: cannot read it (${(error as Error).message})`);
  }
  if (!isRecord(raw) || !isRecord(raw.scopes)) throw new Error(`profile ${path}: not a profile (no scopes)`);
  return readPublicProfile(publicProfile(raw as unknown as Profile), `profile ${path}`);
}

let tesseraProfile: PublicProfile | undefined;

/** Tessera's own profile, config/profiles/tessera.json: the answers when no other can be known. */
export function defaultProfile(): PublicProfile {
  tesseraProfile ??= profileFromFile(fileURLToPath(new URL('../config/profiles/tessera.json', import.meta.url)));
  return tesseraProfile;
}

/**
 * The document's URL, beside Tessera's other endpoints: `url` is Tessera's base URL, or already
 * `endpointPath` of it (`…/oauth/introspect`), which is taken off first.
 */
export function profileDocumentUrl(url: string, endpointPath: string): URL {
  const base = new URL(url);
  if (base.pathname.endsWith(`/${endpointPath}`)) base.pathname = base.pathname.slice(0, -endpointPath.length);
  return tesseraEndpoint(base.href, PROFILE_DOCUMENT_PATH);
}

/**
 * The profile source of a verifier or introspector: the option when given (checked now: throws
 * on a bad one), else the document at `document.endpoint`, fetched on first need.
 */
export function profileSource(given: ProfileOptions['profile'], document: TesseraTarget): ProfileSource {
  if (given !== undefined) {
    const known = Promise.resolve(typeof given === 'string' ? profileFromFile(given) : readPublicProfile(given, 'the profile option'));
    return () => known;
  }
  let learned: Promise<PublicProfile> | null = null;
  return () => {
    learned ??= getFromTessera(document, 'the profile request', (answer) => readPublicProfile(answer, 'the profile document')).catch((error: unknown) => {
      // Not kept: the next request asks again.
      learned = null;
      throw error;
    });
    return learned;
  };
}
