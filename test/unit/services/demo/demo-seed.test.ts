import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { createServices, openMemoryStores } from '../../../../src/app.ts';
import { DEMO_EMAIL, seedDemo } from '../../../../src/services/demo/demo-seed.ts';
import { demoWalkthrough } from '../../../../src/services/demo/demo-walkthrough.ts';
import { FrozenClock } from '../../../support/frozen-clock.ts';
import { recordSecret } from '../../../support/log-capture.ts';
import { testConfig } from '../../../support/test-config.ts';

async function seeded() {
  const clock = new FrozenClock();
  const stores = openMemoryStores(clock);
  const services = createServices(stores, testConfig({ TESSERA_SCOPES: 'leads:read leads:write' }), { clock });
  const demo = await seedDemo({ ...services, stores });
  for (const secret of [demo.password, demo.key, demo.connector.secret, demo.resourceServer.secret]) recordSecret(secret);
  return { stores, services, demo };
}

describe('the embedded demo', () => {
  it('seeds an owner who can sign in, a key, a connector and a resource server whose secrets work', async () => {
    const { stores, services, demo } = await seeded();
    expect(demo.email).toBe(DEMO_EMAIL);
    expect((await services.accounts.authenticate(DEMO_EMAIL, demo.password))?.id).toBe(demo.userId);
    expect((await stores.memberships.find(demo.userId, demo.orgId))?.role).toBe('owner');
    expect(await services.resolver.resolve(demo.key)).toMatchObject({ status: 'active', principal: { userId: demo.userId, orgId: demo.orgId } });
    const connector = await services.clientAuthenticator.authenticate({ clientId: demo.connector.id, clientSecret: demo.connector.secret });
    expect(connector).toMatchObject({ type: 'connector', redirectUris: [demo.connector.redirectUri] });
    expect(connector?.scopes).toEqual(expect.arrayContaining(['leads:read', 'leads:write', 'keys:read', 'apps:read']));
    expect(connector?.scopes).not.toContain('audit:read');
    expect(await services.clientAuthenticator.authenticate({ clientId: demo.resourceServer.id, clientSecret: demo.resourceServer.secret })).toMatchObject({ type: 'resource_server' });
  });

  it('prints one export line with every credential, and an authorization URL whose PKCE challenge is the verifier’s', async () => {
    const { demo } = await seeded();
    const banner = demoWalkthrough(demo, 'http://localhost:3000');
    const exported = Object.fromEntries(
      /^ {4}export (.+)$/m
        .exec(banner)![1]!
        .split(' ')
        .map((pair) => pair.split('=', 2) as [string, string]),
    );
    expect(exported).toMatchObject({
      TESSERA: 'http://localhost:3000',
      KEY: demo.key,
      RS_ID: demo.resourceServer.id,
      RS_SECRET: demo.resourceServer.secret,
      CONNECTOR_ID: demo.connector.id,
      CONNECTOR_SECRET: demo.connector.secret,
      REDIRECT_URI: demo.connector.redirectUri,
    });
    recordSecret(exported.VERIFIER!);
    const url = new URL(/^ {7}(http:\/\/localhost:3000\/oauth\/auth\?\S+)$/m.exec(banner)![1]!);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      client_id: demo.connector.id,
      response_type: 'code',
      redirect_uri: demo.connector.redirectUri,
      code_challenge_method: 'S256',
      code_challenge: createHash('sha256').update(exported.VERIFIER!).digest('base64url'),
    });
    expect(url.searchParams.get('scope')?.split(' ')).toContain('offline_access');
  });
});
