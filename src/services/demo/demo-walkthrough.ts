import { createHash, randomBytes } from 'node:crypto';
import type { DemoSeed } from './demo-seed.ts';

/** A PKCE pair (RFC 7636 §4.1–4.2, S256). */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** What the demo connector asks for: the scopes it is registered for, and a refresh token. */
export function demoScope(seed: Pick<DemoSeed, 'connector'>): string {
  return [...seed.connector.scopes, 'offline_access'].join(' ');
}

/** The authorization request of a connector (RFC 6749 §4.1.1 with RFC 7636's PKCE). */
export function authorizeUrl(baseUrl: string, client: { id: string; redirectUri: string }, scope: string, pkce: { challenge: string }, state: string): string {
  const url = new URL('/oauth/auth', baseUrl);
  url.search = new URLSearchParams({
    client_id: client.id,
    response_type: 'code',
    redirect_uri: client.redirectUri,
    scope,
    state,
    code_challenge: pkce.challenge,
    code_challenge_method: 'S256',
  }).toString();
  return url.href;
}

/**
 * The terminal banner of the embedded default: the demo's credentials (shown only here) as one
 * `export` line to paste into another terminal, then a walkthrough whose every step runs as
 * pasted — the key at /api/v1/me, its introspection by the resource server, the connector's
 * authorization in a browser (or played by `npm run tessera -- demo`) and the code exchange.
 * README.md's walkthrough uses the same variables.
 */
export function demoWalkthrough(seed: DemoSeed, baseUrl: string): string {
  const pkce = pkcePair();
  const state = randomBytes(12).toString('base64url');
  const url = authorizeUrl(baseUrl, seed.connector, demoScope(seed), pkce, state);
  const exports = [
    `TESSERA=${baseUrl}`,
    `KEY=${seed.key}`,
    `RS_ID=${seed.resourceServer.id}`,
    `RS_SECRET=${seed.resourceServer.secret}`,
    `CONNECTOR_ID=${seed.connector.id}`,
    `CONNECTOR_SECRET=${seed.connector.secret}`,
    `REDIRECT_URI=${seed.connector.redirectUri}`,
    `VERIFIER=${pkce.verifier}`,
  ];
  return [
    '',
    '  Tessera demo (embedded mode: everything here is recreated at every start)',
    '',
    `  Sign in as ${seed.email} with password ${seed.password} (owner of ${seed.orgId}),`,
    `  in the console at ${baseUrl}/settings — API keys, connected apps, the audit log — or when an app asks.`,
    '  Paste this into another terminal; the secrets in it are shown only here:',
    '',
    `    export ${exports.join(' ')}`,
    '',
    '  1. Who is this API key?',
    '       curl -H "Authorization: Bearer $KEY" $TESSERA/api/v1/me',
    '  2. Ask as a resource server does, for either kind of bearer (RFC 7662):',
    '       curl -u "$RS_ID:$RS_SECRET" -d "token=$KEY" $TESSERA/oauth/introspect',
    '  3. Connect an app (authorization code with PKCE). Let the demo connector do it in the terminal:',
    '       npm run -s tessera -- demo --url $TESSERA --client-secret $CONNECTOR_SECRET',
    '     or by hand: open this URL in a browser, sign in and allow',
    `       ${url}`,
    '     then take the code from the address bar it lands on ($REDIRECT_URI?code=…&state=…):',
    '       CODE=…',
    '       curl -u "$CONNECTOR_ID:$CONNECTOR_SECRET" -d grant_type=authorization_code -d "code=$CODE" \\',
    '         -d "redirect_uri=$REDIRECT_URI" -d "code_verifier=$VERIFIER" $TESSERA/oauth/token',
    '  4. The access_token it answers is a bearer like the key:',
    '       ACCESS_TOKEN=…',
    '       curl -H "Authorization: Bearer $ACCESS_TOKEN" $TESSERA/api/v1/me',
    '',
  ].join('\n');
}
