import type { Context } from 'koa';
import type { Role } from '../../domain/accounts.ts';
import { html, sendPage, type Html } from '../../http/views/html.ts';

export interface ConsentOrganization {
  id: string;
  name: string;
  role: Role;
  /** What the connector will be able to do in this organization, in words. */
  granted: string[];
  /** What it asked for and will not get there, because the user's role does not allow it. */
  refused: string[];
}

export interface ConsentView {
  uid: string;
  csrf: string;
  clientName: string;
  userEmail: string;
  organizations: ConsentOrganization[];
  error?: string;
  status?: number;
}

/**
 * Consent with the choice of organization. What is granted depends on the user's role in each,
 * so each organization shows its own list — and what will be left out, and why — before the user
 * picks one. Radio choices rather than a select: the lists stay readable without a script.
 */
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
      ? html`<input type="hidden" name="org_id" value="${single.id}">
  ${organizationSection(view.clientName, single, html`<p>Organization: <strong>${single.name}</strong> <span class="muted">(you are ${article(single.role)})</span></p>`)}`
      : html`<fieldset>
    <legend>Choose the organization ${view.clientName} will act in</legend>
    ${view.organizations.map((o) =>
      organizationSection(
        view.clientName,
        o,
        html`<label class="choice"><input type="radio" name="org_id" value="${o.id}" required> <strong>${o.name}</strong> <span class="muted">(you are ${article(o.role)})</span></label>`,
      ),
    )}
  </fieldset>`
  }
  <div class="actions"><button type="submit">Allow</button></div>
</form>
<form method="post" action="/interaction/${view.uid}/abort">
  <input type="hidden" name="csrf" value="${view.csrf}">
  <button type="submit" class="secondary">Deny</button>
</form>`,
  );
}

function organizationSection(clientName: string, org: ConsentOrganization, heading: Html): Html {
  return html`<section class="org" data-org="${org.id}">
    ${heading}
    ${
      org.granted.length > 0
        ? html`<p>${clientName} will be able to:</p>
    <ul class="scopes">${org.granted.map((p) => html`<li>${p}</li>`)}</ul>`
        : html`<p>${clientName} will get no access to your data here.</p>`
    }
    ${
      org.refused.length > 0
        ? html`<p class="muted">Asked for but not granted, because ${article(org.role)} may not:</p>
    <ul class="scopes muted">${org.refused.map((p) => html`<li>${p}</li>`)}</ul>`
        : html``
    }
  </section>`;
}

function article(role: Role): string {
  return role === 'viewer' ? 'a viewer' : `an ${role}`;
}
