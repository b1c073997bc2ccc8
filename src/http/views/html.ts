import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import { pageSecurityHeaders, SECURITY_HEADERS } from '../middleware/security-headers.ts';

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A value already escaped (or markup built from escaped values). */
export interface Html {
  readonly html: string;
}

export function raw(html: string): Html {
  return { html };
}

/** Tagged template: interpolated strings are escaped; Html values are inserted as they are. */
export function html(strings: TemplateStringsArray, ...values: Array<string | number | Html | Html[]>): Html {
  let out = strings[0]!;
  values.forEach((value, i) => {
    const part = Array.isArray(value) ? value.map((v) => v.html).join('') : typeof value === 'object' ? value.html : escapeHtml(String(value));
    out += part + strings[i + 1]!;
  });
  return raw(out);
}

const STYLE = `
  body { font: 16px/1.5 system-ui, sans-serif; background: #f4f5f7; color: #1d2330; margin: 0; }
  main { max-width: 26rem; margin: 4rem auto; background: #fff; border-radius: 12px; padding: 2rem; box-shadow: 0 2px 12px rgba(0,0,0,.08); }
  h1 { font-size: 1.3rem; margin: 0 0 1rem; }
  label { display: block; margin: .8rem 0 .3rem; font-weight: 600; }
  input[type=email], input[type=password], select { width: 100%; box-sizing: border-box; padding: .6rem; border: 1px solid #c5cad3; border-radius: 8px; font: inherit; }
  button { margin-top: 1.2rem; padding: .65rem 1.2rem; border: 0; border-radius: 8px; font: inherit; cursor: pointer; background: #2b59c3; color: #fff; }
  button.secondary { background: #e4e7ec; color: #1d2330; }
  .error { background: #fdecec; color: #8a1c1c; padding: .6rem .8rem; border-radius: 8px; }
  ul.scopes { padding-left: 1.2rem; } .muted { color: #5b6475; font-size: .9rem; }
  fieldset { border: 0; padding: 0; margin: 0; } legend { font-weight: 600; margin-bottom: .4rem; }
  section.org { border: 1px solid #e4e7ec; border-radius: 8px; padding: .2rem .8rem; margin: .6rem 0; }
  label.choice { display: block; margin: .6rem 0; font-weight: normal; }
  .actions { display: flex; gap: .6rem; }
  @media (max-width: 30rem) { main { margin: 1rem; padding: 1.25rem; } }
`;

/**
 * Sends a server-rendered page that loads nothing from anywhere (its one style block is allowed
 * by a per-response nonce), cannot be framed (clickjacking), leaks no Referer and is never cached.
 */
export function sendPage(ctx: Context, status: number, title: string, body: Html): void {
  const nonce = randomBytes(16).toString('base64');
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.set({ ...SECURITY_HEADERS, ...pageSecurityHeaders({ styleNonce: nonce }) });
  ctx.body = html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Tessera</title><style nonce="${nonce}">${raw(STYLE)}</style></head>
<body><main>${body}</main></body></html>`.html;
}
