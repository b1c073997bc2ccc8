import Router from '@koa/router';
import { publicProfile, type Profile } from '../../domain/profile.ts';
import { html, sendPage } from '../views/html.ts';

/**
 * GET /: where everything is — the discovery documents, introspection, the API, health — as JSON,
 * or as a small page for a browser. GET /.well-known/tessera-profile: the product profile's
 * public part (its name, its error bodies and refusals, what its scopes include), from which the
 * resource-server kit answers as Tessera's own routes do.
 */
export function frontDoorRoutes(baseUrl: string, profile: Profile): Router {
  const router = new Router();
  const published = publicProfile(profile);
  router.get('/.well-known/tessera-profile', (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = published;
  });
  const links = {
    openid_configuration: `${baseUrl}/.well-known/openid-configuration`,
    authorization_server_metadata: `${baseUrl}/.well-known/oauth-authorization-server`,
    introspection_endpoint: `${baseUrl}/oauth/introspect`,
    profile: `${baseUrl}/.well-known/tessera-profile`,
    me: `${baseUrl}/api/v1/me`,
    api_keys: `${baseUrl}/api/v1/api-keys`,
    connected_apps: `${baseUrl}/api/v1/connected-apps`,
    health: { alive: `${baseUrl}/health/alive`, ready: `${baseUrl}/health/ready` },
  };
  router.get('/', (ctx) => {
    if (ctx.accepts('json', 'html') === 'html') {
      const item = (label: string, url: string) => html`<li><a href="${url}">${label}</a></li>`;
      sendPage(
        ctx,
        200,
        'Tessera',
        html`<h1>Tessera</h1>
<p>The identity service of this API: API keys and connected apps, one principal for both.</p>
<p><a href="/settings/api-keys">Sign in to manage your API keys and connected apps</a></p>
<ul>
  ${item('OpenID Connect discovery', links.openid_configuration)}
  ${item('OAuth 2.0 authorization server metadata (RFC 8414)', links.authorization_server_metadata)}
  ${item('Who am I? (GET with a bearer)', links.me)}
  ${item('Liveness', links.health.alive)}
  ${item('Readiness', links.health.ready)}
</ul>
<p class="muted">Introspection (RFC 7662) for resource servers: POST ${links.introspection_endpoint}</p>`,
      );
      return;
    }
    ctx.body = { service: 'tessera', issuer: baseUrl, ...links };
  });
  return router;
}
