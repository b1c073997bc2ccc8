import { AUDIT_ACTIONS, type AuditEvent } from '../../../domain/audit.ts';
import { CREDENTIAL_KINDS } from '../../../domain/principal.ts';
import { html, raw, type Html } from '../../views/html.ts';
import { credentialWords } from './api-key-pages.ts';
import { when } from './parts.ts';

export interface AuditLogView {
  events: AuditEvent[];
  members: Array<{ id: string; email: string }>;
  filter: { actor?: string; credential?: string; action?: string };
  /** The query of the next page, or null on the last. */
  next: string | null;
  error?: string;
}

function option(value: string, label: string, selected: string | undefined): Html {
  return html`<option value="${value}"${value === selected ? raw(' selected') : raw('')}>${label}</option>`;
}

function detailsText(details: Record<string, unknown>): string {
  return Object.entries(details)
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(' ') : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`)
    .join('; ');
}

export function auditLogBody(view: AuditLogView): Html {
  const emails = new Map(view.members.map((m) => [m.id, m.email]));
  const rows = view.events.map(
    (e) => html`<tr>
  <td data-label="When">${when(e.at)}</td>
  <td data-label="Action"><code>${e.action}</code></td>
  <td data-label="Who">${e.actorUserId ? (emails.get(e.actorUserId) ?? e.actorUserId) : 'an operator'}</td>
  <td data-label="With">${credentialWords(e.credential.kind)}</td>
  <td data-label="Target"><code>${e.targetId}</code></td>
  <td data-label="Details" class="mono">${detailsText(e.details)}</td>
</tr>`,
  );
  return html`<h1>Audit log</h1>
<form method="get" action="/settings/audit-log" class="card filters" aria-label="Filter the audit log">
  <div><label for="actor">Who</label><select id="actor" name="actor">${option('', 'Anyone', view.filter.actor)}${view.members.map((m) => option(m.id, m.email, view.filter.actor))}</select></div>
  <div><label for="credential">With</label><select id="credential" name="credential">${option('', 'Any credential', view.filter.credential)}${CREDENTIAL_KINDS.map((k) => option(k, credentialWords(k), view.filter.credential))}</select></div>
  <div><label for="action">Action</label><select id="action" name="action">${option('', 'Any action', view.filter.action)}${AUDIT_ACTIONS.map((a) => option(a, a, view.filter.action))}</select></div>
  <div><button type="submit" class="secondary">Filter</button></div>
</form>
${view.error ? html`<p class="notice error" role="alert">${view.error}</p>` : html``}
${
  view.events.length === 0
    ? html`<div class="card"><p>No events${view.filter.actor || view.filter.credential || view.filter.action ? ' match these filters' : ''}.</p></div>`
    : html`<div class="card table-wrap"><table class="responsive"><thead><tr><th scope="col">When</th><th scope="col">Action</th><th scope="col">Who</th><th scope="col">With</th><th scope="col">Target</th><th scope="col">Details</th></tr></thead><tbody>${rows}</tbody></table></div>`
}
${view.next ? html`<p><a href="/settings/audit-log?${view.next}">Older events →</a></p>` : html``}`;
}
