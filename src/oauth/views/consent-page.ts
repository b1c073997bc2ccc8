import type { Context } from 'koa';
import { html, sendPage } from './html.ts';

export interface ConsentView {
  uid: string;
  csrf: string;
  clientName: string;
  userEmail: string;
  organizations: Array<{ id: string; name: string }>;
  /** What the connector asks for, in words. */
  permissions: string[];
  error?: string;
  status?: number;
}

export function renderConsentPage(ctx: Context, view: ConsentView): void {
  const single = view.organizations.length === 1 ? view.organizations[0] : undefined;
  sendPage(
    ctx,
    view.status ?? 200,
    'Allow access',
    html`<h1>${view.clientName} wants to access your account</h1>
<p class="muted">Signed in as ${view.userEmail}</p>
${view.error ? html`<p class="error" role="alert">${view.error}</p>` : html``}
<form method="post" action="/interaction/${view.uid}/confirm">
  <input type="hidden" name="csrf" value="${view.csrf}">
  ${
    single
      ? html`<p>Organization: <strong>${single.name}</strong></p><input type="hidden" name="org_id" value="${single.id}">`
      : html`<label for="org_id">Organization</label>
  <select id="org_id" name="org_id" required>
    <option value="">Choose an organization…</option>
    ${view.organizations.map((o) => html`<option value="${o.id}">${o.name}</option>`)}
  </select>`
  }
  <p>${view.clientName} will be able to:</p>
  <ul class="scopes">${view.permissions.map((p) => html`<li>${p}</li>`)}</ul>
  <div class="actions"><button type="submit">Allow</button></div>
</form>
<form method="post" action="/interaction/${view.uid}/abort">
  <input type="hidden" name="csrf" value="${view.csrf}">
  <button type="submit" class="secondary">Deny</button>
</form>`,
  );
}
