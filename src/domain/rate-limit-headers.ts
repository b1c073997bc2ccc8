/**
 * Rate-limit response headers, as Tessera's own API and the resource-server kit both send them:
 * - `X-RateLimit-Limit`, `-Remaining`, `-Reset` (epoch seconds): the most constrained window, the
 *   de-facto fields clients read;
 * - `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers): every window's
 *   quota (`q`) and length (`w`), and what is left (`r`) and when it resets (`t`, seconds from now)
 *   of the most constrained.
 */
export interface RateLimitWindow {
  /** `minute`, `day`, `org-minute`, `org-day`. */
  name: string;
  limit: number;
  remaining: number;
  /** When the window ends, in seconds since the epoch. */
  reset: number;
  /** The window's length in seconds. */
  window: number;
}

/** The window closest to refusing: the least remaining, and of those the one that resets last. */
export function mostConstrained(windows: readonly RateLimitWindow[]): RateLimitWindow | null {
  let most: RateLimitWindow | null = null;
  for (const w of windows) {
    if (!most || w.remaining < most.remaining || (w.remaining === most.remaining && w.reset > most.reset)) most = w;
  }
  return most;
}

export function rateLimitHeaders(windows: readonly RateLimitWindow[], nowSeconds: number): Record<string, string> {
  const most = mostConstrained(windows);
  if (!most) return {};
  return {
    'X-RateLimit-Limit': String(most.limit),
    'X-RateLimit-Remaining': String(most.remaining),
    'X-RateLimit-Reset': String(most.reset),
    'RateLimit-Policy': windows.map((w) => `"${w.name}";q=${w.limit};w=${w.window}`).join(', '),
    RateLimit: `"${most.name}";r=${most.remaining};t=${Math.max(0, most.reset - nowSeconds)}`,
  };
}
