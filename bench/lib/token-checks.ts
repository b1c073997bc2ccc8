/**
 * The answers the token cases check before timing: a token response must be HTTP 200 with
 * token_type Bearer, an access token and a refresh token unlike the one presented; the new access
 * token must be active at the server's introspection endpoint. A wrong answer fails the benchmark.
 */

export interface TokenEndpoint {
  /** http://127.0.0.1:<port> */
  url: string;
  tokenPath: string;
  introspectionPath: string;
  /** client_secret_basic of the connector, and of a client allowed to introspect. */
  connectorAuth: string;
  introspectorAuth: string;
}

export interface TokenAnswer {
  access_token: string;
  refresh_token: string;
}

export const REFRESH_PREFIX = 'grant_type=refresh_token&refresh_token=';

async function post(url: string, authorization: string, body: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method: 'POST', headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' }, body });
  return { status: res.status, text: await res.text() };
}

/** One token request (a code exchange or a refresh), its answer checked, its new access token introspected. */
export async function checkedTokenRequest(endpoint: TokenEndpoint, body: string, what: string, presented?: string): Promise<TokenAnswer> {
  const { status, text } = await post(`${endpoint.url}${endpoint.tokenPath}`, endpoint.connectorAuth, body);
  let answer: Record<string, unknown>;
  try {
    answer = JSON.parse(text) as Record<string, unknown>;
  } catch {
    answer = {};
  }
  const problem =
    status !== 200
      ? 'expected HTTP 200'
      : answer['token_type'] !== 'Bearer'
        ? 'expected token_type Bearer'
        : typeof answer['access_token'] !== 'string'
          ? 'expected an access token'
          : typeof answer['refresh_token'] !== 'string'
            ? 'expected a refresh token'
            : answer['refresh_token'] === presented
              ? 'expected a new refresh token, got the one presented'
              : null;
  if (problem) throw new Error(`${what}: wrong answer (HTTP ${status}): ${problem}\n${text.slice(0, 500)}`);
  const tokens = answer as unknown as TokenAnswer;
  const introspected = await post(`${endpoint.url}${endpoint.introspectionPath}`, endpoint.introspectorAuth, new URLSearchParams({ token: tokens.access_token }).toString());
  if (introspected.status !== 200 || (JSON.parse(introspected.text) as { active?: unknown }).active !== true) {
    throw new Error(`${what}: the new access token is not active at ${endpoint.introspectionPath} (HTTP ${introspected.status}): ${introspected.text.slice(0, 300)}`);
  }
  return tokens;
}

/** Each chain's first refresh, checked; resolves with the chains' next refresh tokens. */
export async function checkedFirstRefreshes(endpoint: TokenEndpoint, tokens: string[], what: string): Promise<string[]> {
  return inTurns(tokens, 4, async (token) => (await checkedTokenRequest(endpoint, `${REFRESH_PREFIX}${token}`, `${what}: a chain's first refresh`, token)).refresh_token);
}

/** `work` over `items`, `parallel` at a time, results in the items' order. */
export async function inTurns<T, R>(items: T[], parallel: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await work(items[i]!);
      }
    }),
  );
  return out;
}
