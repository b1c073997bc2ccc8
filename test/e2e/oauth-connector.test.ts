/**
 * Issue 4 end to end: a connector (playing Zapier, with the real OAuth client library
 * openid-client) connects to a running Tessera process over HTTP — discovery, authorization with
 * PKCE S256 and state, sign-in and consent through the real pages choosing the second of the
 * user's organizations, the code exchange, the API with the access token, rotating refreshes
 * (two at once with the same token), the user's connected apps and their revocation, and RFC 7009
 * revocation of another grant. Once on the embedded memory stores, once on MongoDB + Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mongoose from 'mongoose';
import * as client from 'openid-client';
import { recordSecret } from '../support/log-capture.ts';
import {
  apiCall,
  basicAuthorization,
  oauthFixture,
  OAuthBrowser,
  RESOURCE_SCOPES,
  UNAUTHORIZED_BODY,
  type ApiReply,
  type OAuthFixture,
} from '../support/oauth-browser.ts';
import { startTessera, type TesseraProcess } from '../support/tessera-process.ts';
import { mongoUriFor, redisUrl, uniqueName } from '../support/unique.ts';

const dir = mkdtempSync(join(tmpdir(), 'tessera-oauth-e2e-'));
const SCOPE = 'leads:read apps:read apps:write offline_access';

type Tokens = client.TokenEndpointResponse;

function expectUnauthorized(reply: ApiReply): void {
  expect({ status: reply.status, text: reply.text, challenge: reply.headers.get('www-authenticate') }).toEqual({
    status: 401,
    text: UNAUTHORIZED_BODY,
    challenge: 'Bearer',
  });
}

/** What the token endpoint refused, as openid-client reports it. */
async function refusal(promise: Promise<unknown>): Promise<{ status: number; error: string }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof client.ResponseBodyError) return { status: error.status, error: error.error };
    throw error;
  }
  throw new Error('the token endpoint accepted what it should have refused');
}

function recordTokens(tokens: Tokens): Tokens {
  recordSecret(tokens.access_token);
  if (tokens.refresh_token) recordSecret(tokens.refresh_token);
  return tokens;
}

describe.each(['memory', 'external'] as const)('a connector connects to Tessera over HTTP with openid-client (%s stores)', (mode) => {
  const database = uniqueName('e2e_oauth');
  let fixture: OAuthFixture;
  let tessera: TesseraProcess;
  let config: client.Configuration;

  // State carried from step to step, as a connector keeps it.
  let tokens: Tokens | undefined;
  let grantId: string | undefined;

  beforeAll(async () => {
    fixture = oauthFixture();
    const seedFile = join(dir, `${database}.json`);
    writeFileSync(seedFile, JSON.stringify(fixture.seed));
    const stores: Record<string, string> =
      mode === 'external' ? { MONGODB_URI: mongoUriFor(database), REDIS_URL: redisUrl(), TESSERA_REDIS_PREFIX: `${database}:` } : {};
    tessera = await startTessera({ TESSERA_SEED: seedFile, TESSERA_SCOPES: RESOURCE_SCOPES, ...stores }, `oauth-connector-${mode}`);
    // openid-client sends this very value; recorded so that the leak scan looks for it.
    basicAuthorization(fixture.connector);
  }, 60_000);

  afterAll(async () => {
    await tessera?.stop();
    if (mode === 'external') {
      const connection = await mongoose.createConnection(mongoUriFor(database)).asPromise();
      await connection.dropDatabase();
      await connection.close();
    }
  });

  it('discovers the authorization server', async () => {
    config = await client.discovery(new URL(tessera.url), fixture.connector.id, fixture.connector.secret, client.ClientSecretBasic(fixture.connector.secret), {
      execute: [client.allowInsecureRequests],
    });
    const metadata = config.serverMetadata();
    expect(metadata).toMatchObject({
      issuer: tessera.url,
      authorization_endpoint: `${tessera.url}/oauth/auth`,
      token_endpoint: `${tessera.url}/oauth/token`,
      revocation_endpoint: `${tessera.url}/oauth/revoke`,
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
    });
    expect(metadata.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token']));
  });

  it('authorizes with PKCE S256 and state, signs in and consents for the second organization, and exchanges the code', async () => {
    const verifier = recordSecret(client.randomPKCECodeVerifier());
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: fixture.connector.redirectUri,
      scope: SCOPE,
      state,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });

    const browser = new OAuthBrowser();
    const login = await browser.open(url);
    expect(login.status).toBe(200);
    expect(login.url.pathname).toMatch(/^\/interaction\//);
    expect(login.body).toContain('Sign in to connect Zapier');

    const consentPage = await browser.signIn(fixture.user.email, fixture.user.password);
    expect(consentPage.status).toBe(200);
    expect(consentPage.body).toContain('Zapier wants to access your account');
    // Two organizations: a real choice, neither preselected.
    for (const [id, name] of [
      [fixture.org1, 'Acme'],
      [fixture.org2, 'Globex'],
    ]) {
      expect(consentPage.body).toContain(`<input type="radio" name="org_id" value="${id}" required> <strong>${name}</strong>`);
    }
    expect(consentPage.body).not.toContain('checked');

    const done = await browser.consent(fixture.org2);
    expect(done.status).toBe(303);
    const callback = done.redirect!;
    expect(`${callback.origin}${callback.pathname}`).toBe(fixture.connector.redirectUri);
    expect(callback.searchParams.get('state')).toBe(state);
    expect(callback.searchParams.get('iss')).toBe(tessera.url);
    expect(callback.searchParams.get('code')).toMatch(/^[A-Za-z0-9_-]{43}$/);

    tokens = recordTokens(await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state }));
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(tokens.expires_in).toBe(3600);
    expect(tokens.access_token).toMatch(/^[A-Za-z0-9_-]{43}$/); // opaque, not a JWT
    expect(typeof tokens.refresh_token).toBe('string');
    // The access token's scopes: what was asked, within what the client is registered for.
    expect(tokens.scope?.split(' ').sort()).toEqual(['apps:read', 'apps:write', 'leads:read']);
  });

  it('GET /api/v1/me with the access token is the user in the chosen organization, as an OAuth principal', async () => {
    const me = await apiCall(tessera.url, 'GET', '/api/v1/me', tokens!.access_token);
    expect(me.status).toBe(200);
    const body = me.body as Record<string, unknown>;
    expect(body).toEqual({
      id: fixture.user.id,
      org_id: fixture.org2,
      kind: 'oauth',
      client_id: fixture.connector.id,
      grant_id: expect.stringMatching(/^[A-Za-z0-9_-]{20,}$/),
      scopes: ['apps:read', 'apps:write', 'leads:read'],
    });
    grantId = body.grant_id as string;
  });

  it('refreshes: new access and refresh tokens, both different from the old ones, for the same grant', async () => {
    const old = tokens!;
    const next = recordTokens(await client.refreshTokenGrant(config, old.refresh_token!));
    expect(next.access_token).not.toBe(old.access_token);
    expect(next.refresh_token).toBeDefined();
    expect(next.refresh_token).not.toBe(old.refresh_token);
    expect(next.expires_in).toBe(3600);
    const me = await apiCall(tessera.url, 'GET', '/api/v1/me', next.access_token);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ org_id: fixture.org2, grant_id: grantId });
    tokens = next;
  });

  it('two refreshes at once with the same refresh token both succeed with the same token pair', async () => {
    const current = tokens!.refresh_token!;
    const [a, b] = await Promise.all([client.refreshTokenGrant(config, current), client.refreshTokenGrant(config, current)]);
    recordTokens(a);
    recordTokens(b);
    expect(a.access_token).toBe(b.access_token);
    expect(a.refresh_token).toBe(b.refresh_token);
    expect(a.refresh_token).not.toBe(current);
    expect((await apiCall(tessera.url, 'GET', '/api/v1/me', a.access_token)).status).toBe(200);
    // The successor is a working refresh token (the duplicate did not count as reuse).
    const after = recordTokens(await client.refreshTokenGrant(config, a.refresh_token!));
    expect(after.access_token).not.toBe(a.access_token);
    tokens = after;
  });

  it('GET /api/v1/connected-apps lists the grant with its client and the chosen organization', async () => {
    const list = await apiCall(tessera.url, 'GET', '/api/v1/connected-apps', tokens!.access_token);
    expect(list.status).toBe(200);
    const apps = list.body as Array<Record<string, unknown>>;
    expect(apps).toEqual([
      expect.objectContaining({
        id: grantId,
        client: { id: fixture.connector.id, name: 'Zapier' },
        user_id: fixture.user.id,
        org_id: fixture.org2,
        scopes: expect.arrayContaining(['leads:read', 'apps:read', 'apps:write']),
      }),
    ]);
  });

  it('DELETE /api/v1/connected-apps/:id revokes it: the access token is refused (401) and the refresh token is invalid_grant', async () => {
    const { access_token: accessToken, refresh_token: refreshToken } = tokens!;
    const deleted = await apiCall(tessera.url, 'DELETE', `/api/v1/connected-apps/${grantId}`, accessToken);
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');

    expectUnauthorized(await apiCall(tessera.url, 'GET', '/api/v1/me', accessToken));
    const refused = await refusal(client.refreshTokenGrant(config, refreshToken!));
    expect(refused.error).toBe('invalid_grant');
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(refused.status).toBeLessThan(500);
    const list = await apiCall(tessera.url, 'GET', '/api/v1/connected-apps', fixture.keys.org2);
    expect(list.status).toBe(200);
    expect((list.body as Array<{ id: string }>).map((app) => app.id)).not.toContain(grantId);
  });

  it('/oauth/revoke (RFC 7009) of a refresh token of another grant answers 200 and ends that grant', async () => {
    // A second connection, for the first organization this time.
    const verifier = recordSecret(client.randomPKCECodeVerifier());
    const state = client.randomState();
    const browser = new OAuthBrowser();
    await browser.open(
      client.buildAuthorizationUrl(config, {
        redirect_uri: fixture.connector.redirectUri,
        scope: SCOPE,
        state,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      }),
    );
    await browser.signIn(fixture.user.email, fixture.user.password);
    const done = await browser.consent(fixture.org1);
    const other = recordTokens(await client.authorizationCodeGrant(config, done.redirect!, { pkceCodeVerifier: verifier, expectedState: state }));
    const me = await apiCall(tessera.url, 'GET', '/api/v1/me', other.access_token);
    expect(me.status).toBe(200);
    const otherGrant = (me.body as { grant_id: string; org_id: string }).grant_id;
    expect(me.body).toMatchObject({ org_id: fixture.org1 });
    expect(otherGrant).not.toBe(grantId);

    // RFC 7009 §2.2: 200 with an empty body. openid-client resolves only on 200.
    await client.tokenRevocation(config, other.refresh_token!, { token_type_hint: 'refresh_token' });

    expectUnauthorized(await apiCall(tessera.url, 'GET', '/api/v1/me', other.access_token));
    const refused = await refusal(client.refreshTokenGrant(config, other.refresh_token!));
    expect(refused.error).toBe('invalid_grant');
    // The connected app ended with the grant, before the revocation was answered.
    const list = await apiCall(tessera.url, 'GET', '/api/v1/connected-apps', fixture.keys.org1);
    expect(list.status).toBe(200);
    const ids = (list.body as Array<{ id: string }>).map((app) => app.id);
    expect(ids).not.toContain(otherGrant);
  });

  it('nothing secret reached the process output', () => {
    const output = tessera.output();
    const secrets = [fixture.user.password, fixture.connector.secret, fixture.keys.org1, fixture.keys.org2, tokens?.access_token, tokens?.refresh_token];
    for (const secret of secrets) {
      expect(secret).toBeDefined();
      expect(output).not.toContain(secret!);
    }
  });
});
