import { createHash } from 'node:crypto';
import type { Middleware } from 'koa';

/**
 * Headers for every API response: they carry identity data, so no cache may keep them, and no
 * browser may sniff them into something executable.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-store',
  'Referrer-Policy': 'no-referrer',
};

export interface PageSources {
  /** The nonce of the page's own style block. */
  styleNonce?: string;
  /** Inline scripts the page may run, by their SHA-256 (CSP Level 3 §8.3). */
  scriptHashes?: string[];
  /** The nonce of the page's own script. */
  scriptNonce?: string;
  /** Whether the page shows images Tessera serves itself (the console's logo). */
  selfImages?: boolean;
  /** Whether its forms may post only to Tessera itself (pages whose forms all do). */
  selfFormsOnly?: boolean;
}

/**
 * What every HTML page carries beyond SECURITY_HEADERS: a policy that loads nothing from anywhere
 * but the page's own style and scripts as named, and no framing by anyone (clickjacking).
 */
export function pageSecurityHeaders(sources: PageSources = {}): Record<string, string> {
  const directives = ["default-src 'none'"];
  if (sources.styleNonce) directives.push(`style-src 'nonce-${sources.styleNonce}'`);
  const scripts = [...(sources.scriptHashes ?? []).map((h) => `'sha256-${h}'`), ...(sources.scriptNonce ? [`'nonce-${sources.scriptNonce}'`] : [])];
  if (scripts.length > 0) directives.push(`script-src ${scripts.join(' ')}`);
  if (sources.selfImages) directives.push("img-src 'self'");
  if (sources.selfFormsOnly) directives.push("form-action 'self'");
  directives.push("base-uri 'none'", "frame-ancestors 'none'");
  return { 'Content-Security-Policy': directives.join('; '), 'X-Frame-Options': 'DENY' };
}

/**
 * SECURITY_HEADERS on every response; and on an HTML page that set no policy of its own — one a
 * library renders, such as oidc-provider's form_post page — the page headers, allowing exactly
 * the inline scripts it carries.
 */
export function securityHeaders(): Middleware {
  return async (ctx, next) => {
    ctx.set(SECURITY_HEADERS);
    await next();
    if (ctx.response.is('html') && !ctx.response.get('Content-Security-Policy')) {
      ctx.set(pageSecurityHeaders({ scriptHashes: typeof ctx.body === 'string' ? inlineScriptHashes(ctx.body) : [] }));
    }
  };
}

/** The SHA-256 (base64) of each inline <script> element's text. */
function inlineScriptHashes(html: string): string[] {
  return [...html.matchAll(/<script>([\s\S]*?)<\/script>/gi)].map((m) => createHash('sha256').update(m[1]!).digest('base64'));
}
