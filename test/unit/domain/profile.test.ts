/**
 * A profile's refusals and error bodies (src/domain/profile.ts), and its scope hierarchy
 * (src/domain/scopes.ts), from the shipped profile files themselves.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { errorBody, refusalFor, renderBody, type Profile } from '../../../src/domain/profile.ts';
import { ScopeCatalog } from '../../../src/domain/scopes.ts';

const profile = (name: string): Profile => JSON.parse(readFileSync(new URL(`../../../config/profiles/${name}.json`, import.meta.url), 'utf8')) as Profile;
const catalogOf = (p: Profile) => new ScopeCatalog(p.scopes.resource, p.scopes);

describe('error bodies and refusals', () => {
  it('renders the template: a lone placeholder keeps its type, a field without a value is left out', () => {
    expect(renderBody({ statusCode: '{status}', statusMessage: '{statusText}', message: '{message}' }, { status: 401, statusText: 'Unauthorized', message: 'Invalid or missing API key' })).toEqual({
      statusCode: 401,
      statusMessage: 'Unauthorized',
      message: 'Invalid or missing API key',
    });
    const tessera = profile('tessera').errors;
    expect(errorBody(tessera, 400, 'VALIDATION_FAILED', 'name is too long', 'name')).toEqual({ error: { code: 'VALIDATION_FAILED', message: 'name is too long', field: 'name' } });
    expect(errorBody(tessera, 404, 'NOT_FOUND', 'API key not found')).toEqual({ error: { code: 'NOT_FOUND', message: 'API key not found' } });
    expect(renderBody(['{code} at {status}', 3, null, true], { code: 'X', status: 500 })).toEqual(['X at 500', 3, null, true]);
  });

  it('answers a reason as the profile says, per bearer kind where it says so, its message filled', () => {
    const flowestate = profile('flowestate').errors;
    expect(refusalFor(flowestate, 'expired', 'api_key')).toEqual({ status: 403, code: 'FORBIDDEN', message: 'This API key has expired' });
    expect(refusalFor(flowestate, 'expired', 'oauth')).toEqual({ status: 401, code: 'UNAUTHORIZED', message: 'Invalid or missing API key' });
    expect(refusalFor(flowestate, 'expired', undefined)).toEqual({ status: 401, code: 'UNAUTHORIZED', message: 'Invalid or missing API key' });
    const flowmind = profile('flowmind').errors;
    expect(refusalFor(flowmind, 'rate_limited', 'api_key', { retryAfter: 60 })).toEqual({ status: 429, code: 'RATE_LIMITED', message: 'Rate limit exceeded. Please retry after 60 seconds.' });
    expect(refusalFor(profile('tessera').errors, 'insufficient_scope', 'oauth', { scope: 'leads:write' }).message).toBe('This credential lacks the leads:write scope');
  });
});

describe('scope hierarchy', () => {
  it('holds what a scope includes: FlowStack’s Admin ⊃ Write ⊃ Read', () => {
    const catalog = catalogOf(profile('flowstack'));
    expect(catalog.expand(['write'])).toEqual(['apps:read', 'apps:write', 'billing:read', 'keys:read', 'keys:write', 'read', 'write']);
    expect(catalog.effective(['admin'], 'owner')).toEqual(expect.arrayContaining(['admin', 'write', 'read', 'audit:read']));
    // A role bounds it: an admin key of a member who is now an editor does what Write does.
    expect(catalog.effective(['admin'], 'editor')).toEqual(catalog.expand(['write']));
    expect(catalog.allowedFor('viewer')).toEqual(['apps:read', 'keys:read', 'read']);
    expect(catalog.keyDefault(catalog.allowedFor('editor'))).toEqual(['read']);
  });

  it('keeps Tessera’s own grants where a profile declares no hierarchy', () => {
    const catalog = catalogOf(profile('tessera'));
    expect(catalog.allowedFor('editor')).not.toContain('audit:read');
    expect(catalog.allowedFor('editor')).not.toContain('billing:write');
    expect(catalog.allowedFor('viewer')).toEqual(['apps:read', 'billing:read', 'keys:read']);
    expect(catalog.effective(['keys:write', 'audit:read'], 'editor')).toEqual(['keys:write']);
    expect(catalog.keyDefault(['b', 'a'])).toEqual(['a', 'b']);
  });
});
