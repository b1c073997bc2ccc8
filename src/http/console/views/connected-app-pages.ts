import { describeScope } from '../../../domain/scope-words.ts';
import type { ConnectedAppView } from '../../../services/oauth-apps/connected-apps-service.ts';
import { html, type Html } from '../../views/html.ts';
import { when } from './parts.ts';

export interface AppListView {
  apps: ConnectedAppView[];
  orgName: string;
  /** Owners and admins may see every member's apps: whether they are, and the members' emails. */
  canSeeAll: boolean;
  all: boolean;
  emails: Map<string, string>;
  notice: Html;
}

export function appListBody(view: AppListView): Html {
  const cards = view.apps.map(
    ({ app, client }) => html`<article class="card" aria-labelledby="app-${app.id}">
  <div class="headline"><h2 id="app-${app.id}">${client.name}</h2><a class="button danger" href="/settings/connected-apps/${app.id}/revoke" aria-label="Revoke ${client.name}">Revoke…</a></div>
  <dl class="facts">
    ${view.all ? html`<dt>Member</dt><dd>${view.emails.get(app.userId) ?? app.userId}</dd>` : html``}
    <dt>Organization</dt><dd>${view.orgName}</dd>
    <dt>Can</dt><dd>${app.scopes.length === 0 ? html`<span class="muted">nothing beyond knowing who you are</span>` : html`<ul class="plain">${app.scopes.map((s) => html`<li>${describeScope(s)}</li>`)}</ul>`}</dd>
    <dt>Connected</dt><dd>${when(app.createdAt)}</dd>
    <dt>Last used</dt><dd>${when(app.lastUsedAt)}</dd>
  </dl>
</article>`,
  );
  const toggle = view.canSeeAll
    ? view.all
      ? html`<a href="/settings/connected-apps">Show only mine</a>`
      : html`<a href="/settings/connected-apps?all=true">Show every member’s</a>`
    : html``;
  return html`<div class="headline"><h1>Connected apps</h1>${toggle}</div>
${view.notice}
<p class="muted">${view.all ? 'Apps every member of the organization connected' : 'Apps you connected to your account in this organization'} (such as Zapier or Make). Revoking one takes away its access at once.</p>
${view.apps.length === 0 ? html`<div class="card"><p>No connected apps.</p></div>` : html`${cards}`}`;
}
