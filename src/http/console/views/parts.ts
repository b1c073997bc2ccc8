import { html, raw, type Html } from '../../views/html.ts';

/** A time as people read it, in UTC, with the machine-readable value beside it. */
export function when(date: Date | null, never = 'Never'): Html {
  if (date === null) return html`<span class="muted">${never}</span>`;
  const iso = date.toISOString();
  return html`<time datetime="${iso}">${iso.slice(0, 16).replace('T', ' ')} UTC</time>`;
}

export function hiddenCsrf(csrf: string): Html {
  return html`<input type="hidden" name="csrf" value="${csrf}">`;
}

/** A one-button form: the way to POST an action (disable, revoke…) without a script. */
export function actionForm(action: string, csrf: string, label: string, style: 'primary' | 'secondary' | 'danger' = 'secondary', extra: Html = html``): Html {
  const cls = style === 'primary' ? '' : ` class="${style}"`;
  return html`<form method="post" action="${action}">${hiddenCsrf(csrf)}${extra}<button type="submit"${raw(cls)}>${label}</button></form>`;
}

export type NoticeKind = 'ok' | 'warn' | 'error';

export function notice(kind: NoticeKind, text: string | Html): Html {
  const role = kind === 'error' ? 'alert' : 'status';
  return html`<p class="notice ${kind}" role="${role}">${text}</p>`;
}

/** What a redirect's `?notice=` may say: a closed set, so that a link cannot make the page say anything else. */
export const NOTICES = {
  'key-deleted': 'The API key was deleted. Requests with it are refused from now on.',
  'key-updated': 'The API key was saved.',
  'key-disabled': 'The API key was disabled. Requests with it are refused until it is enabled again.',
  'key-enabled': 'The API key was enabled.',
  'app-revoked': 'The app was disconnected. It lost access at once.',
  'signed-out-everywhere': 'You were signed out everywhere else.',
  'org-switched': 'You switched organization.',
} as const;
export type NoticeCode = keyof typeof NOTICES;

export function noticeFromQuery(code: unknown): Html {
  return typeof code === 'string' && code in NOTICES ? notice('ok', NOTICES[code as NoticeCode]) : html``;
}
