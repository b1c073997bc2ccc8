/**
 * Consent grants what the user's role allows of what the connector asked for, in one click: the
 * code comes back for that subset, the token response names it (RFC 6749 §3.3), the consent page
 * lists what will be granted in each organization and what will not, and exactly one connected
 * app is recorded with the scopes actually granted. On the memory stores and on MongoDB + Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { recordSecret } from '../../support/log-capture.ts';
import {
  apiCall,
  authorizeAndSignIn,
  REDIRECT_URI,
  type OAuthBrowser,
  startOAuthApp,
  tokenRequest,
  type ClientCredentials,
  type OAuthApp,
} from '../../support/oauth-browser.ts';

interface AppView {
  id: string;
  client: { id: string };
  scopes: string[];
}

describe.each(['memory', 'external'] as const)('consent (%s stores)', (mode) => {
  let app: OAuthApp;
  let wide: ClientCredentials;
  let org3: string;

  beforeAll(async () => {
    app = await startOAuthApp(mode, { label: 'oauth-consent' });
    const issued = await app.tessera.services.clients.create({
      name: 'Wide Connector',
      redirectUris: [REDIRECT_URI],
      scopes: ['leads:read', 'leads:write', 'keys:read', 'audit:read'],
    });
    wide = { id: issued.client.id, secret: recordSecret(issued.secret) };
    // The fixture's user is owner of org1 and editor of org2; here also viewer of org3.
    const { accounts } = app.tessera.services;
    org3 = (await accounts.createOrganization({ name: 'Initech' })).id;
    await accounts.setMembership(app.fixture.user.id, org3, 'viewer');
  }, 30_000);

  afterAll(async () => {
    await app?.close();
  });

  /** Sign-in, then the consent page, for `scope`. */
  const consentPage = (scope: string) => authorizeAndSignIn(app.url, { id: wide.id, redirectUri: REDIRECT_URI }, app.fixture.user, scope);

  async function appsOf(orgKey: string): Promise<AppView[]> {
    const list = await apiCall(app.url, 'GET', '/api/v1/connected-apps', orgKey);
    expect(list.status).toBe(200);
    return (list.body as AppView[]).filter((a) => a.client.id === wide.id);
  }

  /** Allow for `orgId`; the code exchanged. */
  async function allow(browser: OAuthBrowser, verifier: string, orgId: string) {
    const done = await browser.consent(orgId);
    const code = done.redirect?.searchParams.get('code');
    expect({ status: done.status, redirectedWithCode: typeof code === 'string' }).toEqual({ status: 303, redirectedWithCode: true });
    const tokens = await tokenRequest(app.url, wide, { grant_type: 'authorization_code', code: code!, redirect_uri: REDIRECT_URI, code_verifier: verifier });
    expect(tokens.status).toBe(200);
    return tokens.body as { access_token: string; scope?: string };
  }

  it('an editor asked for more than the role allows: one Allow, a code for the allowed subset, one connected app', async () => {
    const before = await appsOf(app.fixture.keys.org2);
    const { browser, verifier, page } = await consentPage('keys:read audit:read leads:read');
    // Per organization, what will be granted and what will not.
    const org2 = sectionOf(page.body, app.fixture.org2);
    expect(org2).toContain('See your API keys');
    expect(org2).toContain('Read leads');
    expect(org2).toMatch(/not[^<]*granted[\s\S]*Read the organization’s audit log/i);
    const org1 = sectionOf(page.body, app.fixture.org1);
    expect(org1).toContain('Read the organization’s audit log');
    expect(org1).not.toMatch(/not[^<]*granted/i);

    const tokens = await allow(browser, verifier, app.fixture.org2);
    expect(tokens.scope?.split(' ').sort()).toEqual(['keys:read', 'leads:read']);
    const me = await apiCall(app.url, 'GET', '/api/v1/me', tokens.access_token);
    expect(me.body).toMatchObject({ org_id: app.fixture.org2, scopes: ['keys:read', 'leads:read'] });
    const after = await appsOf(app.fixture.keys.org2);
    expect(after.length).toBe(before.length + 1);
    const recorded = after.find((a) => !before.some((b) => b.id === a.id))!;
    expect(recorded.scopes).toEqual(['keys:read', 'leads:read']);
  });

  it('a viewer asked for a write scope: the code carries the read scopes only', async () => {
    const { browser, verifier, page } = await consentPage('leads:read leads:write');
    expect(sectionOf(page.body, org3)).toMatch(/not[^<]*granted[\s\S]*Create and change leads/i);
    const tokens = await allow(browser, verifier, org3);
    expect(tokens.scope).toBe('leads:read');
  });

  it('with only OpenID Connect scopes: the connected app records what the token carries, not everything the client may ask for', async () => {
    const { browser, verifier, page } = await consentPage('openid offline_access');
    expect(page.body).not.toContain('See your API keys');
    const tokens = await allow(browser, verifier, app.fixture.org2);
    const me = await apiCall(app.url, 'GET', '/api/v1/me', tokens.access_token);
    const granted = me.status === 200 ? (me.body as { scopes: string[] }).scopes : [];
    const recorded = (await appsOf(app.fixture.keys.org2)).at(0);
    expect(recorded?.scopes).toEqual(granted);
    expect(granted).toEqual([]);
  });
});

/** The part of a consent page about one organization (its radio choice and what it grants). */
function sectionOf(html: string, orgId: string): string {
  const match = new RegExp(`<fieldset[^>]*data-org="${orgId}"[\\s\\S]*?</fieldset>|<section[^>]*data-org="${orgId}"[\\s\\S]*?</section>`).exec(html);
  if (!match) throw new Error(`no section for ${orgId} on the consent page:\n${html}`);
  return match[0];
}
