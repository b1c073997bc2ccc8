/** An RFC 6749 §5.2 error body. */
export interface OAuthErrorBody {
  error: string;
  error_description: string;
}

export function oauthError(error: string, description: string): OAuthErrorBody {
  return { error, error_description: description };
}

/** The answer to a client whose address (or whose address for this client_id) is throttled, with 429 and Retry-After. */
export const CLIENT_THROTTLED: OAuthErrorBody = oauthError('slow_down', 'Too many failed client authentications');
