import type { Context } from 'koa';
import { html, sendPage } from '../../http/views/html.ts';

export interface LoginView {
  uid: string;
  clientName: string;
  csrf: string;
  email?: string;
  error?: string;
  status?: number;
}

export function renderLoginPage(ctx: Context, view: LoginView): void {
  sendPage(
    ctx,
    view.status ?? 200,
    'Sign in',
    html`<h1>Sign in to connect ${view.clientName}</h1>
${view.error ? html`<p class="error" role="alert">${view.error}</p>` : html``}
<form method="post" action="/interaction/${view.uid}/login" autocomplete="on">
  <input type="hidden" name="csrf" value="${view.csrf}">
  <label for="email">Email</label>
  <input id="email" type="email" name="email" required autofocus value="${view.email ?? ''}">
  <label for="password">Password</label>
  <input id="password" type="password" name="password" required>
  <div class="actions"><button type="submit">Sign in</button></div>
</form>
<form method="post" action="/interaction/${view.uid}/abort">
  <input type="hidden" name="csrf" value="${view.csrf}">
  <button type="submit" class="secondary">Cancel</button>
</form>`,
  );
}
