import { randomBytes } from 'node:crypto';
import type { ConsoleLabels } from '../../../domain/profile.ts';
import type { Context } from 'koa';
import type { SessionOrganization } from '../../../services/sessions/session-service.ts';
import { pageSecurityHeaders, SECURITY_HEADERS } from '../../middleware/security-headers.ts';
import { html, raw, type Html } from '../../views/html.ts';

/** How a deployment's console looks: its product's name, logo (served at /console/logo) and colour. */
export interface Brand {
  name: string;
  /** #rrggbb */
  color: string;
  hasLogo: boolean;
  /** The product's words for its buttons (the profile's `console`). */
  labels: ConsoleLabels;
}

/** Who is signed in, for the header: their email, their organizations, the current one, the form token. */
export interface Viewer {
  email: string;
  orgId: string;
  role: string;
  organizations: SessionOrganization[];
  csrf: string;
  /** Where the organization switcher returns to. */
  path: string;
}

export type Section = 'api-keys' | 'connected-apps' | 'audit-log';

export interface ConsolePage {
  title: string;
  status?: number;
  body: Html;
  /** Absent on the sign-in page and on errors shown before sign-in. */
  viewer?: Viewer;
  section?: Section;
}

/** Relative luminance (WCAG 2.1 §1.4.3) of #rrggbb. */
function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

const contrast = (a: number, b: number): number => (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);

/** `hex` mixed toward white (t > 0) or black (t < 0). */
function mix(hex: string, t: number): string {
  const target = t > 0 ? 255 : 0;
  const parts = [1, 3, 5].map((i) => Math.round(parseInt(hex.slice(i, i + 2), 16) + (target - parseInt(hex.slice(i, i + 2), 16)) * Math.abs(t)));
  return `#${parts.map((p) => p.toString(16).padStart(2, '0')).join('')}`;
}

/** The brand colour moved toward `toward` until text of it reads on `background` at 4.5:1 (WCAG AA). */
function readableOn(color: string, background: string, toward: 1 | -1): string {
  const bg = luminance(background);
  for (let t = 0; t <= 1; t += 0.05) {
    const candidate = mix(color, t * toward);
    if (contrast(luminance(candidate), bg) >= 4.5) return candidate;
  }
  return toward > 0 ? '#ffffff' : '#000000';
}

/** The page's colours: the brand's where they read well, in light and dark mode. */
function palette(brand: Brand): string {
  const accent = readableOn(brand.color, '#ffffff', -1);
  const onAccent = contrast(luminance(accent), 1) >= contrast(luminance(accent), 0) ? '#ffffff' : '#000000';
  const accentDark = readableOn(brand.color, '#171b23', 1);
  const onAccentDark = contrast(luminance(accentDark), 1) >= contrast(luminance(accentDark), 0) ? '#ffffff' : '#000000';
  return `:root { --accent: ${accent}; --on-accent: ${onAccent}; }
  @media (prefers-color-scheme: dark) { :root { --accent: ${accentDark}; --on-accent: ${onAccentDark}; } }`;
}

const STYLE = `
  :root { color-scheme: light dark; --bg: #f4f5f7; --fg: #1d2330; --card: #ffffff; --muted: #4d5566; --border: #d5d9e0; --danger: #b42318; --on-danger: #ffffff; --ok-bg: #e7f6ec; --ok-fg: #125c2b; --warn-bg: #fff4e0; --warn-fg: #6b4400; --err-bg: #fdecec; --err-fg: #8a1c1c; }
  @media (prefers-color-scheme: dark) { :root { --bg: #0f1218; --fg: #e6e8ee; --card: #171b23; --muted: #a9b1c2; --border: #343b49; --danger: #f97066; --on-danger: #1b0b0a; --ok-bg: #12301d; --ok-fg: #9be5b4; --warn-bg: #3a2a0c; --warn-fg: #ffd892; --err-bg: #3b1514; --err-fg: #ffb4ab; } }
  * { box-sizing: border-box; }
  body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--fg); margin: 0; }
  a { color: var(--accent); }
  .skip { position: absolute; left: -9999px; } .skip:focus { left: 1rem; top: 1rem; background: var(--card); padding: .5rem; z-index: 2; }
  header.top { background: var(--card); border-bottom: 1px solid var(--border); padding: .75rem 1.25rem; display: flex; flex-wrap: wrap; gap: .75rem 1.5rem; align-items: center; }
  .brand { display: flex; align-items: center; gap: .5rem; font-weight: 700; font-size: 1.1rem; color: var(--fg); text-decoration: none; }
  .brand img { height: 28px; width: auto; }
  nav.sections ul { list-style: none; display: flex; flex-wrap: wrap; gap: .25rem; margin: 0; padding: 0; }
  nav.sections a { display: block; padding: .4rem .7rem; border-radius: 8px; color: var(--fg); text-decoration: none; }
  nav.sections a[aria-current="page"] { background: var(--accent); color: var(--on-accent); }
  .account { margin-left: auto; display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1rem; }
  .account form { display: flex; flex-wrap: wrap; align-items: center; gap: .4rem; margin: 0; max-width: 100%; }
  main { max-width: 70rem; margin: 1.5rem auto; padding: 0 1.25rem; }
  main.narrow { max-width: 28rem; margin-top: 4rem; }
  .card { background: var(--card); border: 1px solid var(--border); border-radius: 12px; padding: 1.25rem; margin-bottom: 1.25rem; }
  h1 { font-size: 1.5rem; margin: 0 0 1rem; } h2 { font-size: 1.15rem; margin: 0 0 .75rem; }
  .headline { display: flex; flex-wrap: wrap; justify-content: space-between; align-items: center; gap: .75rem; margin-bottom: 1rem; } .headline h1 { margin: 0; }
  label { display: block; margin: .8rem 0 .3rem; font-weight: 600; }
  input[type=text], input[type=email], input[type=password], input[type=number], input[type=date], select { width: 100%; max-width: 28rem; padding: .55rem .6rem; border: 1px solid var(--border); border-radius: 8px; font: inherit; background: var(--card); color: var(--fg); }
  .account select { width: auto; max-width: 100%; min-width: 0; }
  fieldset { border: 1px solid var(--border); border-radius: 8px; padding: .5rem 1rem 1rem; margin: 1rem 0; } legend { font-weight: 600; padding: 0 .3rem; }
  label.check { display: flex; gap: .5rem; align-items: center; font-weight: normal; margin: .35rem 0; }
  .hint { color: var(--muted); font-size: .9rem; margin: .2rem 0 0; }
  button, .button { display: inline-block; padding: .55rem 1rem; border: 1px solid transparent; border-radius: 8px; font: inherit; font-weight: 600; cursor: pointer; background: var(--accent); color: var(--on-accent); text-decoration: none; }
  button.secondary, .button.secondary { background: transparent; color: var(--fg); border-color: var(--border); }
  button.danger, .button.danger { background: var(--danger); color: var(--on-danger); }
  button.link { background: none; border: 0; padding: 0; color: var(--accent); text-decoration: underline; font-weight: normal; }
  :focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
  .actions { display: flex; flex-wrap: wrap; gap: .6rem; margin-top: 1rem; align-items: center; } .actions form { margin: 0; }
  table { width: 100%; border-collapse: collapse; } th, td { text-align: left; padding: .6rem .5rem; border-bottom: 1px solid var(--border); vertical-align: top; }
  th { font-size: .85rem; color: var(--muted); font-weight: 600; } caption { text-align: left; padding-bottom: .4rem; }
  .table-wrap { overflow-x: auto; }
  code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9rem; overflow-wrap: anywhere; }
  .muted { color: var(--muted); }
  .badge { display: inline-block; padding: .05rem .5rem; border-radius: 999px; font-size: .8rem; border: 1px solid var(--border); white-space: nowrap; }
  .notice { padding: .7rem 1rem; border-radius: 8px; margin-bottom: 1rem; }
  .notice.ok { background: var(--ok-bg); color: var(--ok-fg); } .notice.warn { background: var(--warn-bg); color: var(--warn-fg); } .notice.error { background: var(--err-bg); color: var(--err-fg); }
  .secret { display: flex; flex-wrap: wrap; gap: .6rem; align-items: center; } .secret code { padding: .6rem; border: 1px dashed var(--border); border-radius: 8px; background: var(--bg); }
  dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .35rem 1rem; margin: 0; } dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
  ul.plain { margin: .3rem 0; padding-left: 1.2rem; }
  svg.chart { width: 100%; height: auto; max-height: 14rem; } svg.chart .bar { fill: var(--accent); } svg.chart text { fill: var(--muted); font-size: 11px; }
  .filters { display: flex; flex-wrap: wrap; gap: .75rem; align-items: flex-end; } .filters label { margin-top: 0; } .filters select { width: auto; }
  @media (max-width: 640px) {
    header.top { padding: .6rem .9rem; } .account { margin-left: 0; } main { padding: 0 .75rem; }
    table.responsive thead { position: absolute; left: -9999px; }
    table.responsive tr { display: block; border-bottom: 1px solid var(--border); padding: .4rem 0; }
    table.responsive td { display: block; border: 0; padding: .2rem 0; }
    table.responsive td[data-label]::before { content: attr(data-label) ": "; color: var(--muted); font-size: .85rem; }
  }
`;

/**
 * Copy buttons (`data-copy` names the element whose text they copy) and the organization
 * switcher's submit on change: enhancements, since every form works without a script.
 */
const SCRIPT = `
document.querySelectorAll('[data-copy]').forEach(function (button) {
  button.hidden = false;
  button.addEventListener('click', function () {
    var text = document.getElementById(button.getAttribute('data-copy')).textContent;
    navigator.clipboard.writeText(text).then(function () {
      button.textContent = 'Copied';
      var status = document.getElementById(button.getAttribute('data-copy') + '-status');
      if (status) status.textContent = 'Copied to the clipboard.';
    });
  });
});
document.querySelectorAll('select[data-submit]').forEach(function (select) {
  select.addEventListener('change', function () { select.form.submit(); });
});
`;

const SECTIONS: Array<{ id: Section; label: string; path: string; admins?: boolean }> = [
  { id: 'api-keys', label: 'API keys', path: '/settings/api-keys' },
  { id: 'connected-apps', label: 'Connected apps', path: '/settings/connected-apps' },
  { id: 'audit-log', label: 'Audit log', path: '/settings/audit-log', admins: true },
];

function header(brand: Brand, viewer: Viewer | undefined, section: Section | undefined): Html {
  const logo = brand.hasLogo ? html`<img src="/console/logo" alt="">` : html``;
  const home = html`<a class="brand" href="/settings/api-keys">${logo}<span>${brand.name}</span></a>`;
  if (!viewer) return html`<header class="top">${home}</header>`;
  const admin = viewer.role === 'owner' || viewer.role === 'admin';
  const links = SECTIONS.filter((s) => !s.admins || admin).map(
    (s) => html`<li><a href="${s.path}"${s.id === section ? raw(' aria-current="page"') : raw('')}>${s.label}</a></li>`,
  );
  const switcher =
    viewer.organizations.length > 1
      ? html`<form method="post" action="/settings/organization">
    <input type="hidden" name="csrf" value="${viewer.csrf}"><input type="hidden" name="return_to" value="${viewer.path}">
    <label for="org-switch" class="muted">Organization</label>
    <select id="org-switch" name="org_id" data-submit>${viewer.organizations.map((o) => html`<option value="${o.id}"${o.id === viewer.orgId ? raw(' selected') : raw('')}>${o.name} (${o.role})</option>`)}</select>
    <button type="submit" class="secondary">Switch</button>
  </form>`
      : html`<span class="muted">${viewer.organizations[0]?.name ?? ''} (${viewer.role})</span>`;
  return html`<header class="top">${home}
  <nav class="sections" aria-label="Settings"><ul>${links}</ul></nav>
  <div class="account">${switcher}
    <span class="muted">${viewer.email}</span>
    <form method="post" action="/sign-out"><input type="hidden" name="csrf" value="${viewer.csrf}"><button type="submit" class="secondary">Sign out</button></form>
  </div>
</header>`;
}

/**
 * Sends a console page: server-rendered, loading nothing from anywhere else (its style and its
 * script allowed by per-response nonces, its logo served by Tessera), posting forms only to
 * Tessera, unframeable, never cached, leaking no Referer (security-headers.ts).
 */
export function sendConsolePage(ctx: Context, brand: Brand, page: ConsolePage): void {
  const styleNonce = randomBytes(16).toString('base64');
  const scriptNonce = randomBytes(16).toString('base64');
  ctx.status = page.status ?? 200;
  ctx.type = 'text/html; charset=utf-8';
  ctx.set({ ...SECURITY_HEADERS, ...pageSecurityHeaders({ styleNonce, scriptNonce, selfImages: brand.hasLogo, selfFormsOnly: true }) });
  ctx.body = html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${page.title} · ${brand.name}</title><style nonce="${styleNonce}">${raw(palette(brand))}${raw(STYLE)}</style></head>
<body><a class="skip" href="#main">Skip to content</a>
${header(brand, page.viewer, page.section)}
<main id="main"${page.viewer ? raw('') : raw(' class="narrow"')}>${page.body}</main>
<script nonce="${scriptNonce}">${raw(SCRIPT)}</script></body></html>`.html;
}
