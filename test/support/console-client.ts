/**
 * A browser for the console at the HTTP level: a cookie jar, redirects followed on Tessera, and
 * forms submitted with the CSRF token of the page they are on — so that the console's rules
 * (sessions, CSRF, redirects, statuses, headers) can be checked on both store kinds without a
 * real browser. The real one drives the same pages in test/e2e/browser/.
 */
import { recordSecret } from './log-capture.ts';

export interface ConsolePage {
  status: number;
  url: URL;
  headers: Headers;
  body: string;
}

export class ConsoleClient {
  private readonly base: string;
  readonly cookies = new Map<string, string>();
  /** Set-Cookie headers as received, for assertions on their attributes. */
  readonly setCookies: string[] = [];
  page: ConsolePage | null = null;

  constructor(base: string) {
    this.base = base;
  }

  async get(path: string): Promise<ConsolePage> {
    return this.go(new URL(path, this.base), { method: 'GET' });
  }

  /** Posts a form; its CSRF token is the current page's unless `csrf` says otherwise (null: none). */
  async post(path: string, fields: Record<string, string | string[]> = {}, csrf?: string | null): Promise<ConsolePage> {
    const token = csrf === undefined ? this.csrf() : csrf;
    const form = new URLSearchParams();
    if (token !== null) form.append('csrf', token);
    for (const [name, value] of Object.entries(fields)) for (const v of Array.isArray(value) ? value : [value]) form.append(name, v);
    return this.go(new URL(path, this.base), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
  }

  async signIn(email: string, password: string, path = '/sign-in'): Promise<ConsolePage> {
    await this.get(path);
    const returnTo = /name="return_to" value="([^"]*)"/.exec(this.page!.body)?.[1] ?? '';
    return this.post('/sign-in', { email, password: recordSecret(password), return_to: decode(returnTo) });
  }

  /** The CSRF token of the current page's first form. */
  csrf(): string {
    const match = /name="csrf" value="([^"]+)"/.exec(this.page?.body ?? '');
    if (!match) throw new Error(`no CSRF token on ${this.page?.url.pathname ?? 'no page'}`);
    return match[1]!;
  }

  private async go(start: URL, init: RequestInit): Promise<ConsolePage> {
    let url = start;
    let request = init;
    for (let hop = 0; hop < 10; hop++) {
      const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
      const res = await fetch(url, { ...request, redirect: 'manual', headers: { ...(request.headers as Record<string, string> | undefined), ...(cookie ? { cookie } : {}) } });
      for (const line of res.headers.getSetCookie()) {
        this.setCookies.push(line);
        const [pair] = line.split(';');
        const at = pair!.indexOf('=');
        const name = pair!.slice(0, at);
        const value = pair!.slice(at + 1);
        if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name);
        else this.cookies.set(name, recordSecret(value));
      }
      const body = await res.text();
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        const next = new URL(location, url);
        if (next.origin !== new URL(this.base).origin) {
          this.page = { status: res.status, url, headers: res.headers, body };
          return this.page;
        }
        url = next;
        request = { method: 'GET' };
        continue;
      }
      this.page = { status: res.status, url, headers: res.headers, body };
      return this.page;
    }
    throw new Error('too many redirects');
  }
}

function decode(attribute: string): string {
  return attribute.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
}
