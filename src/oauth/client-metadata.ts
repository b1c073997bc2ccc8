import type { ClientMetadata } from 'oidc-provider';
import type { OAuthClient } from '../domain/oauth.ts';

/**
 * A registered client as oidc-provider sees it. `client_secret` carries the SHA-256 of the
 * secret, never the secret: the provider's secret comparison is replaced to hash what the client
 * presents (see createProvider). Resource servers get no grant types: they can obtain no tokens.
 */
export function clientMetadata(client: OAuthClient): ClientMetadata {
  const connector = client.type === 'connector';
  return {
    client_id: client.id,
    client_secret: client.secretHash,
    client_name: client.name,
    redirect_uris: connector ? client.redirectUris : [],
    grant_types: connector ? ['authorization_code', 'refresh_token'] : [],
    response_types: connector ? ['code'] : [],
    token_endpoint_auth_method: 'client_secret_basic',
    // Only OIDC scopes belong here; the client's resource scopes bound what Tessera's API grants it
    // (see getResourceServerInfo).
    scope: 'openid offline_access email profile',
  };
}
