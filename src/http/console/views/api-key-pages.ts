import type { KeyEnv } from '../../../domain/api-key-format.ts';
import type { ApiKey } from '../../../domain/api-key.ts';
import type { AuditEvent } from '../../../domain/audit.ts';
import type { ConsoleLabels } from '../../../domain/profile.ts';
import { describeScope } from '../../../domain/scope-words.ts';
import type { DailyUsage } from '../../../ports.ts';
import { html, raw, type Html } from '../../views/html.ts';
import type { Brand } from './console-page.ts';
import { actionForm, hiddenCsrf, notice, when } from './parts.ts';
import { usageChart, usageTable } from './usage-chart.ts';

export type KeyStatus = 'active' | 'disabled' | 'expired' | 'rotating';

export function keyStatus(key: ApiKey, now: Date): KeyStatus {
  if (!key.active) return 'disabled';
  if (key.expiresAt !== null && key.expiresAt.getTime() <= now.getTime()) return 'expired';
  if (key.rotatedTo !== null) return 'rotating';
  return 'active';
}

const STATUS_WORDS: Record<KeyStatus, string> = { active: 'Active', disabled: 'Disabled', expired: 'Expired', rotating: 'Replaced, until it expires' };

function keyName(key: ApiKey): string {
  return key.name ?? 'Unnamed key';
}

function maskedStart(key: ApiKey): Html {
  return key.start ? html`<code>${key.start}…</code>` : html`<span class="muted">imported</span>`;
}

export interface KeyListView {
  keys: ApiKey[];
  now: Date;
  /** Owners and admins see the organization's keys, with whose each is. */
  members: Map<string, string> | null;
  canCreate: boolean;
  notice: Html;
  labels: ConsoleLabels;
}

export function keyListBody(view: KeyListView): Html {
  const owner = view.members !== null;
  const rows = view.keys.map((key) => {
    const status = keyStatus(key, view.now);
    return html`<tr>
  <td data-label="Name"><a href="/settings/api-keys/${key.id}">${keyName(key)}</a></td>
  <td data-label="Key">${maskedStart(key)}</td>
  <td data-label="Scopes">${key.scopes.length === 0 ? html`<span class="muted">none</span>` : html`<span class="mono">${key.scopes.join(' ')}</span>`}</td>
  <td data-label="Environment"><span class="badge">${key.env}</span></td>
  ${owner ? html`<td data-label="Member">${view.members!.get(key.userId) ?? key.userId}</td>` : html``}
  <td data-label="Created">${when(key.createdAt)}</td>
  <td data-label="Last used">${when(key.lastUsedAt)}</td>
  <td data-label="Expires">${when(key.expiresAt, 'Never')}</td>
  <td data-label="Status"><span class="badge">${STATUS_WORDS[status]}</span></td>
</tr>`;
  });
  return html`<div class="headline"><h1>API keys</h1>${view.canCreate ? html`<a class="button" href="/settings/api-keys/new">${view.labels.createKey}</a>` : html``}</div>
${view.notice}
<p class="muted">${owner ? 'Every key of the organization.' : 'Your keys in this organization.'} A key acts for the member who made it, with at most their role’s scopes.</p>
${
  view.keys.length === 0
    ? html`<div class="card"><p>No API keys yet.</p></div>`
    : html`<div class="card table-wrap"><table class="responsive"><caption class="muted">${view.keys.length} key${view.keys.length === 1 ? '' : 's'}</caption><thead><tr>
  <th scope="col">Name</th><th scope="col">Key</th><th scope="col">Scopes</th><th scope="col">Environment</th>${owner ? html`<th scope="col">Member</th>` : html``}<th scope="col">Created</th><th scope="col">Last used</th><th scope="col">Expires</th><th scope="col">Status</th>
</tr></thead><tbody>${rows}</tbody></table></div>`
}`;
}

export interface KeyFormView {
  csrf: string;
  /** The scopes the member may grant, and those checked. */
  grantable: string[];
  checked: string[];
  envs: KeyEnv[];
  values: { name?: string; env?: string; expires?: string; perMinute?: string; perDay?: string; spendCap?: string };
  error?: string;
  labels: ConsoleLabels;
}

/** A key's own limits as form fields; empty: the organization's plan decides. */
function limitFields(section: string, v: { perMinute?: string; perDay?: string; spendCap?: string }, open = false): Html {
  return html`<details${open ? raw(' open') : raw('')}><summary>${section}</summary>
    <p class="hint">A rate limit and a daily spend cap of the key's own. Empty: the organization’s plan decides.</p>
    <label for="per-minute">Requests per minute</label><input id="per-minute" type="number" min="1" max="1000000000" name="rate_limit_per_minute" value="${v.perMinute ?? ''}">
    <label for="per-day">Requests per day</label><input id="per-day" type="number" min="1" max="1000000000" name="rate_limit_per_day" value="${v.perDay ?? ''}">
    <label for="spend-cap">Daily spend cap (credits)</label><input id="spend-cap" type="number" min="0" max="1000000000" name="daily_spend_cap" value="${v.spendCap ?? ''}">
  </details>`;
}

function scopeChoices(grantable: string[], checked: string[]): Html {
  return html`<fieldset><legend>Scopes</legend>
<p class="hint">What the key may do — never more than your role allows.</p>
${grantable.map(
  (scope, i) =>
    html`<label class="check" for="scope-${i}"><input type="checkbox" id="scope-${i}" name="scopes" value="${scope}"${checked.includes(scope) ? raw(' checked') : raw('')}> <span>${describeScope(scope)} <code class="muted">${scope}</code></span></label>`,
)}
</fieldset>`;
}

export function newKeyBody(view: KeyFormView): Html {
  const v = view.values;
  return html`<h1>Create an API key</h1>
${view.error ? notice('error', view.error) : html``}
<form method="post" action="/settings/api-keys" class="card">
  ${hiddenCsrf(view.csrf)}
  <label for="name">Name</label>
  <input id="name" type="text" name="name" maxlength="100" value="${v.name ?? ''}" aria-describedby="name-hint">
  <p class="hint" id="name-hint">What the key is for, e.g. the integration that uses it.</p>
  ${scopeChoices(view.grantable, view.checked)}
  ${
    view.envs.length > 1
      ? html`<fieldset><legend>Environment</legend>${view.envs.map((env) => html`<label class="check" for="env-${env}"><input type="radio" id="env-${env}" name="env" value="${env}"${(v.env ?? 'live') === env ? raw(' checked') : raw('')}> ${env === 'live' ? 'Live' : 'Test'}</label>`)}</fieldset>`
      : html`<input type="hidden" name="env" value="${view.envs[0] ?? 'live'}">`
  }
  <label for="expires">Expires on (optional)</label>
  <input id="expires" type="date" name="expires" value="${v.expires ?? ''}" aria-describedby="expires-hint">
  <p class="hint" id="expires-hint">The key stops working at 00:00 UTC that day. Leave empty for a key that does not expire.</p>
  ${limitFields(view.labels.limitsSection, v)}
  <div class="actions"><button type="submit">Create key</button><a href="/settings/api-keys">Cancel</a></div>
</form>`;
}

/** The one page that shows a new key: copy it now, it is never shown again. */
export function issuedKeyBody(key: ApiKey, secret: string, rotated: boolean, brand: Pick<Brand, 'name'>): Html {
  return html`<h1>${rotated ? 'Your new key' : 'Your API key'}</h1>
<div class="card">
${notice('warn', html`<strong>Copy this key now.</strong> It is shown only once: ${brand.name} keeps only a hash of it. If you lose it, make a new one.`)}
<div class="secret"><code id="new-key">${secret}</code><button type="button" class="secondary" data-copy="new-key" hidden>Copy</button></div>
<p id="new-key-status" class="muted" role="status"></p>
<dl class="facts"><dt>Name</dt><dd>${keyName(key)}</dd><dt>Scopes</dt><dd class="mono">${key.scopes.join(' ') || 'none'}</dd><dt>Environment</dt><dd>${key.env}</dd><dt>Expires</dt><dd>${when(key.expiresAt, 'Never')}</dd></dl>
${rotated ? html`<p>The key it replaces ${key.rotatedFrom ? html`keeps working until its grace period ends, then is refused.` : html``}</p>` : html``}
<div class="actions"><a class="button" href="/settings/api-keys/${key.id}">Done</a></div>
</div>`;
}

export interface KeyDetailView {
  key: ApiKey;
  now: Date;
  csrf: string;
  memberEmail: string | null;
  grantable: string[];
  /** May the viewer edit, disable and delete it (its own user, or an owner or admin), and rotate it (its own user only)? */
  canEdit: boolean;
  canRotate: boolean;
  usage: DailyUsage[];
  history: AuditEvent[];
  emails: Map<string, string>;
  notice: Html;
  error?: string;
  labels: ConsoleLabels;
}

const numberText = (value: number | null): string => (value === null ? '' : String(value));

function limitsList(key: ApiKey): Html {
  const l = key.limits;
  const item = (label: string, value: number | null) => html`<li>${label}: ${value === null ? html`<span class="muted">the plan’s</span>` : String(value)}</li>`;
  return html`<ul class="plain">${item('Requests per minute', l.rateLimitPerMinute)}${item('Requests per day', l.rateLimitPerDay)}${item('Daily spend cap', l.dailySpendCap)}</ul>`;
}

function historyRows(history: AuditEvent[], emails: Map<string, string>): Html {
  if (history.length === 0) return html`<p class="muted">No events.</p>`;
  return html`<div class="table-wrap"><table class="responsive"><thead><tr><th scope="col">When</th><th scope="col">What</th><th scope="col">Who</th><th scope="col">With</th></tr></thead><tbody>${history.map(
    (e) =>
      html`<tr><td data-label="When">${when(e.at)}</td><td data-label="What"><code>${e.action}</code></td><td data-label="Who">${e.actorUserId ? (emails.get(e.actorUserId) ?? e.actorUserId) : 'an operator'}</td><td data-label="With">${credentialWords(e.credential.kind)}</td></tr>`,
  )}</tbody></table></div>`;
}

export function credentialWords(kind: string): string {
  return ({ api_key: 'an API key', oauth: 'a connected app', session: 'the console', cli: 'the command line', import: 'an import', oauth_client: 'an OAuth client' } as Record<string, string>)[kind] ?? kind;
}

export function keyDetailBody(view: KeyDetailView): Html {
  const { key, csrf } = view;
  const status = keyStatus(key, view.now);
  const credits = view.usage.some((d) => d.credits > 0);
  return html`<p><a href="/settings/api-keys">← API keys</a></p>
<div class="headline"><h1>${keyName(key)}</h1><span class="badge">${STATUS_WORDS[status]}</span></div>
${view.notice}${view.error ? notice('error', view.error) : html``}
<div class="card"><dl class="facts">
  <dt>Key</dt><dd>${maskedStart(key)}</dd>
  <dt>Environment</dt><dd>${key.env}</dd>
  <dt>Member</dt><dd>${view.memberEmail ?? key.userId}</dd>
  <dt>Scopes</dt><dd>${key.scopes.length === 0 ? html`<span class="muted">none</span>` : html`<ul class="plain">${key.scopes.map((s) => html`<li>${describeScope(s)} <code class="muted">${s}</code></li>`)}</ul>`}</dd>
  <dt>Created</dt><dd>${when(key.createdAt)}</dd>
  <dt>Last used</dt><dd>${when(key.lastUsedAt)}${key.lastUsedFrom ? html` <span class="muted">${key.lastUsedFrom.startsWith('via ') ? key.lastUsedFrom : `from ${key.lastUsedFrom}`}</span>` : html``}</dd>
  <dt>Expires</dt><dd>${when(key.expiresAt, 'Never')}</dd>
  <dt>Limits</dt><dd>${limitsList(key)}</dd>
</dl></div>
<section class="card" aria-labelledby="usage-title"><h2 id="usage-title">Usage, last 30 days</h2>
${usageChart(view.usage, 'requests', 'Requests')}${credits ? usageChart(view.usage, 'credits', 'Credits') : html``}${usageTable(view.usage, credits)}
</section>
${
  view.canEdit
    ? html`<section class="card" aria-labelledby="edit-title"><h2 id="edit-title">Edit</h2>
<form method="post" action="/settings/api-keys/${key.id}">${hiddenCsrf(csrf)}
  <label for="name">Name</label><input id="name" type="text" name="name" maxlength="100" value="${key.name ?? ''}">
  ${scopeChoices([...new Set([...view.grantable, ...key.scopes])], key.scopes)}
  ${limitFields(view.labels.limitsSection, { perMinute: numberText(key.limits.rateLimitPerMinute), perDay: numberText(key.limits.rateLimitPerDay), spendCap: numberText(key.limits.dailySpendCap) })}
  <div class="actions"><button type="submit">Save</button></div>
</form></section>
<section class="card" aria-labelledby="manage-title"><h2 id="manage-title">Manage</h2>
<div class="actions">
  ${key.active ? actionForm(`/settings/api-keys/${key.id}/disable`, csrf, 'Disable') : actionForm(`/settings/api-keys/${key.id}/enable`, csrf, 'Enable')}
  <a class="button danger" href="/settings/api-keys/${key.id}/delete">${view.labels.revokeKey}…</a>
</div>
${
  view.canRotate && key.active && key.rotatedTo === null
    ? html`<form method="post" action="/settings/api-keys/${key.id}/rotate">${hiddenCsrf(csrf)}
  <label for="grace">Rotate: keep the old key working for</label>
  <select id="grace" name="grace_period_seconds"><option value="0">No time: refuse it at once</option><option value="3600">1 hour</option><option value="86400" selected>1 day</option><option value="604800">7 days</option></select>
  <div class="actions"><button type="submit" class="secondary">Rotate key</button></div>
</form>`
    : html``
}
</section>`
    : html``
}
<section class="card" aria-labelledby="history-title"><h2 id="history-title">History</h2>${historyRows(view.history, view.emails)}</section>`;
}

/** A confirmation that names what is about to happen, and to what. */
export function confirmBody(view: { title: string; text: Html; action: string; csrf: string; button: string; back: string }): Html {
  return html`<h1>${view.title}</h1>
<div class="card">
<p>${view.text}</p>
<div class="actions">${actionForm(view.action, view.csrf, view.button, 'danger')}<a href="${view.back}">Cancel</a></div>
</div>`;
}
