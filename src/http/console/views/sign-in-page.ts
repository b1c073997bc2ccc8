import { html, type Html } from '../../views/html.ts';
import { notice } from './parts.ts';

export interface SignInView {
  csrf: string;
  returnTo: string;
  email?: string;
  error?: string;
  brandName: string;
}

export function signInBody(view: SignInView): Html {
  return html`<div class="card">
<h1>Sign in to ${view.brandName}</h1>
${view.error ? notice('error', view.error) : html``}
<form method="post" action="/sign-in" autocomplete="on">
  <input type="hidden" name="csrf" value="${view.csrf}">
  <input type="hidden" name="return_to" value="${view.returnTo}">
  <label for="email">Email</label>
  <input id="email" type="email" name="email" required autocomplete="username" value="${view.email ?? ''}">
  <label for="password">Password</label>
  <input id="password" type="password" name="password" required autocomplete="current-password">
  <div class="actions"><button type="submit">Sign in</button></div>
</form>
</div>`;
}
