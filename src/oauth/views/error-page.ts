import type { Context } from 'koa';
import { html, sendPage } from '../../http/views/html.ts';

/**
 * An OAuth error shown to the user instead of a redirect: for an unknown client or a redirect URI
 * that is not registered exactly, nothing is sent anywhere (RFC 6749 §4.1.2.1).
 */
export function renderErrorPage(ctx: Context, error: string, description: string): void {
  const status = ctx.status >= 400 ? ctx.status : 400;
  sendPage(
    ctx,
    status,
    'Cannot continue',
    html`<h1>This connection cannot continue</h1>
<p class="error">${description}</p>
<p class="muted">Error: ${error}. Close this window and try connecting again from the app.</p>`,
  );
}
