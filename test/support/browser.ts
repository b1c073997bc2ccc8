/**
 * A real browser for the web pages' tests: Debian's Chromium (/usr/bin/chromium, which
 * scripts/provision.sh installs — Playwright cannot download its own builds here) driven by
 * playwright-core.
 *
 *   const web = useBrowser();          // at the top of a file: one Chromium for the file,
 *   it('…', async () => {              // a fresh context (cookies, storage, permissions) per test
 *     await web.page.goto(url);
 *     await checkAccessibility(web.page, 'sign-in');
 *     await screenshot(web.page, 'sign-in');
 *   });
 *
 * After each test the fixture fails it if any page of its context logged a console error or threw
 * (a CSP violation is a console error), then closes the context; after the file it closes the
 * browser, whether the tests passed or not. Helpers: axe-core (WCAG 2.1 A/AA, serious and critical
 * violations fail), full-page screenshots at 1280 and 375 px, the clipboard after a copy button,
 * keyboard navigation.
 *
 * Found out on this machine (Chromium 156, headless): the sandbox works for an ordinary user but
 * Chromium refuses to start as root without --no-sandbox ("Running as root without --no-sandbox
 * is not supported"), so the sandbox is off only as root. The clipboard works headless — writes
 * from a click need no permission, reads need `clipboard-read` (granted) and a secure context
 * (http://127.0.0.1 or localhost is one) — and it is one per browser, shared by its contexts: the
 * copy helper therefore puts a marker in it before the click.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach } from '@jest/globals';
import { AxeBuilder } from '@axe-core/playwright';
import type { AxeResults, Result } from 'axe-core';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type ConsoleMessage, type Locator, type Page } from 'playwright-core';
import { recordSecret, testLogDir } from './log-capture.ts';

/** The browser's executable: Debian's package, or TESSERA_CHROMIUM (another Chromium build). */
export const CHROMIUM = process.env.TESSERA_CHROMIUM || '/usr/bin/chromium';

/** Chromium's sandbox needs an unprivileged user: as root it will not start with it. */
const RUNNING_AS_ROOT = process.getuid?.() === 0;

/** Waits inside one test step (a click, a navigation); generous, for a loaded 2-core machine. */
const ACTION_TIMEOUT_MS = 20_000;
const NAVIGATION_TIMEOUT_MS = 30_000;

/** What the pages are looked at with, the same in every test: screenshots compare across runs. */
export const CONTEXT_DEFAULTS: BrowserContextOptions = {
  viewport: { width: 1280, height: 800 },
  locale: 'en-US',
  timezoneId: 'UTC',
  colorScheme: 'light',
  reducedMotion: 'reduce',
  permissions: ['clipboard-read', 'clipboard-write'],
};

/** Launches headless Chromium; fails with what to do when it is not installed. */
export async function launchChromium(): Promise<Browser> {
  try {
    return await chromium.launch({ executablePath: CHROMIUM, headless: true, chromiumSandbox: !RUNNING_AS_ROOT, timeout: 60_000 });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/doesn't exist|ENOENT/.test(message)) {
      throw new Error(`no browser at ${CHROMIUM}: run scripts/provision.sh (as root it installs Debian's chromium package), or set TESSERA_CHROMIUM to a Chromium\n${message}`);
    }
    throw error;
  }
}

/** A fresh context with the defaults (clipboard permissions granted for every origin). */
export async function newContext(browser: Browser, options: BrowserContextOptions = {}): Promise<BrowserContext> {
  const context = await browser.newContext({ ...CONTEXT_DEFAULTS, ...options });
  context.setDefaultTimeout(ACTION_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(NAVIGATION_TIMEOUT_MS);
  return context;
}

// ---------------------------------------------------------------------------------------------
// Console errors, uncaught exceptions and CSP violations

export interface PageProblems {
  /** Every console error and uncaught exception so far, with where it happened (no query). */
  readonly errors: string[];
  /** Console warnings (not failures; CSP report-only violations show here). */
  readonly warnings: string[];
  /** Errors matching `pattern` are expected by this test: they no longer count. */
  allow(pattern: RegExp): void;
  /** The errors that count: not allowed, and not a document's own error status (see below). */
  unexpected(): string[];
  /** Throws with the list when any error counts. */
  expectNone(label?: string): void;
}

/** Where a message comes from, without its query (which may hold a code or a token). */
function where(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return url.split('?')[0]!;
  }
}

const STATUS_MESSAGE = /^Failed to load resource: the server responded with a status of \d+/;

/** The browser's own request for a page without an icon: not the page's doing. */
const isFavicon = (url: string): boolean => {
  try {
    return new URL(url).pathname === '/favicon.ico';
  } catch {
    return false;
  }
};

/**
 * Records the console errors and uncaught exceptions of `page`, and of every page later opened in
 * the context when given one (popups, new tabs). A violated Content-Security-Policy is a console
 * error ("Executing inline script violates the following Content Security Policy directive …"),
 * as is a resource that failed to load (a 404 stylesheet, a blocked image).
 *
 * Not counted: Chromium's "Failed to load resource: … status of 401" for a page that was itself
 * sent with an error status (the sign-in page after a wrong password, an error page) — that is the
 * document's status, which the test asserts, not something wrong on the page — and for
 * /favicon.ico, which Chromium asks for by itself now and then. The same message for anything the
 * page loads does count.
 */
export function watchProblems(target: Page | BrowserContext): PageProblems {
  const entries: Array<{ line: string; url: string; text: string }> = [];
  const errors: string[] = [];
  const warnings: string[] = [];
  const allowed: RegExp[] = [];
  /** Documents (main frame or frames) that came with a status >= 400. */
  const erroredDocuments = new Set<string>();
  const watched = new WeakSet<Page>();
  const watch = (page: Page): void => {
    if (watched.has(page)) return;
    watched.add(page);
    page.on('console', (message: ConsoleMessage) => {
      const url = message.location().url || page.url();
      const line = `console.${message.type()}: ${message.text()} (at ${where(url)})`;
      if (message.type() === 'error') {
        entries.push({ line, url, text: message.text() });
        errors.push(line);
      } else if (message.type() === 'warning') warnings.push(line);
    });
    page.on('response', (response) => {
      if (response.status() >= 400 && response.request().isNavigationRequest()) erroredDocuments.add(response.url());
    });
    page.on('pageerror', (error) => {
      const line = `uncaught ${error.name}: ${error.message} (at ${where(page.url())})`;
      entries.push({ line, url: page.url(), text: error.message });
      errors.push(line);
    });
    page.on('crash', () => {
      const line = `the page crashed (at ${where(page.url())})`;
      entries.push({ line, url: page.url(), text: 'crash' });
      errors.push(line);
    });
  };
  if ('newPage' in target) {
    target.pages().forEach(watch);
    target.on('page', watch);
  } else {
    watch(target);
  }
  const unexpected = (): string[] =>
    entries
      .filter((e) => !(STATUS_MESSAGE.test(e.text) && (erroredDocuments.has(e.url) || isFavicon(e.url))))
      .map((e) => e.line)
      .filter((line) => !allowed.some((pattern) => pattern.test(line)));
  return {
    errors,
    warnings,
    allow: (pattern) => void allowed.push(pattern),
    unexpected,
    expectNone: (label = 'the pages') => {
      const found = unexpected();
      if (found.length > 0) throw new Error(`${label}: ${found.length} browser console error(s):\n${found.map((e) => `  - ${e}`).join('\n')}`);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The Jest fixture

export interface BrowserFixture {
  /** The file's browser. */
  readonly browser: Browser;
  /** This test's context: its own cookies, storage and permissions. */
  readonly context: BrowserContext;
  /** This test's first page. */
  readonly page: Page;
  /** Console errors and exceptions of this test's pages; checked after the test. */
  readonly problems: PageProblems;
}

export interface BrowserFixtureOptions {
  /**
   * Options of every test's context, over CONTEXT_DEFAULTS; a function is called before each test
   * (after the describe blocks' beforeAll), for options known only then (a proxy for a server
   * started there, say).
   */
  context?: BrowserContextOptions | (() => BrowserContextOptions);
}

/**
 * Registers the hooks of a describe block (or of the file, at top level): one Chromium launched
 * before its tests and closed after them, even when they fail; a fresh context and page before
 * each test, closed after it; a test fails when its pages logged a console error it did not
 * `problems.allow()`.
 */
export function useBrowser(options: BrowserFixtureOptions = {}): BrowserFixture {
  let browser: Browser | undefined;
  let current: { context: BrowserContext; page: Page; problems: PageProblems } | undefined;
  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`no ${what}: use the browser fixture inside a test (useBrowser() registers the hooks)`);
    return value;
  };

  beforeAll(async () => {
    browser = await launchChromium();
  }, 90_000);

  afterAll(async () => {
    const closing = browser;
    browser = undefined;
    await closing?.close();
  }, 30_000);

  beforeEach(async () => {
    const contextOptions = typeof options.context === 'function' ? options.context() : options.context;
    const context = await newContext(need(browser, 'browser (Chromium did not start)'), contextOptions);
    const problems = watchProblems(context);
    const page = await context.newPage();
    current = { context, page, problems };
  }, 30_000);

  afterEach(async () => {
    const ending = current;
    current = undefined;
    if (!ending) return;
    try {
      ending.problems.expectNone('this test’s pages');
    } finally {
      await ending.context.close();
    }
  }, 30_000);

  return {
    get browser() {
      return need(browser, 'browser');
    },
    get context() {
      return need(current, 'context').context;
    },
    get page() {
      return need(current, 'page').page;
    },
    get problems() {
      return need(current, 'page').problems;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Accessibility

export const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const FAILING_IMPACTS = new Set(['serious', 'critical']);

export interface AccessibilityOptions {
  /** CSS selectors left out of the check. */
  exclude?: string[];
  /** axe rules not run (name why in the test). */
  disableRules?: string[];
}

/** One violation as lines a person can act on: rule, impact, what to do, and each element. */
export function describeViolation(violation: Result): string {
  const lines = [`${violation.id} (${violation.impact ?? 'no impact'}): ${violation.help} — ${violation.helpUrl.split('?')[0]}`];
  for (const node of violation.nodes) {
    const summary = (node.failureSummary ?? '').replace(/\s*\n\s*/g, ' ').trim();
    lines.push(`    at ${node.target.join(' ')}: ${node.html.replace(/\s+/g, ' ').slice(0, 160)}`);
    if (summary) lines.push(`       ${summary}`);
  }
  return lines.join('\n');
}

/**
 * Runs axe-core on the page as it is now (WCAG 2.0/2.1, levels A and AA). Throws with a readable
 * list when any violation is serious or critical; returns the results otherwise (minor and
 * moderate violations are in `violations`, for a test to report or assert on).
 */
export async function checkAccessibility(page: Page, label: string, options: AccessibilityOptions = {}): Promise<AxeResults> {
  let builder = new AxeBuilder({ page }).withTags(AXE_TAGS);
  for (const selector of options.exclude ?? []) builder = builder.exclude(selector);
  if (options.disableRules?.length) builder = builder.disableRules(options.disableRules);
  const results = await builder.analyze();
  const failing = results.violations.filter((v) => FAILING_IMPACTS.has(v.impact ?? ''));
  if (failing.length > 0) {
    throw new Error(
      `${label}: ${failing.length} serious or critical accessibility violation(s) (axe-core ${results.testEngine.version}, ${AXE_TAGS.join(', ')}) on ${where(results.url)}:\n` +
        failing.map((v) => `  - ${describeViolation(v)}`).join('\n'),
    );
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// Screenshots

export const SCREENSHOT_WIDTHS = [
  { width: 1280, height: 800 },
  { width: 375, height: 812 },
] as const;

/**
 * Where screenshots go: TESSERA_SCREENSHOT_DIR when set (to look at them), else screenshots/ in
 * the run's log directory (test-logs/, ignored by git; the leak scan reads only the files directly
 * in it).
 */
export function screenshotDir(): string {
  const dir = process.env.TESSERA_SCREENSHOT_DIR || join(testLogDir(), 'screenshots');
  mkdirSync(dir, { recursive: true });
  return dir;
}

export interface Screenshot {
  width: number;
  file: string;
  /** The document's width at that viewport: more than `width` means the page scrolls sideways. */
  scrollWidth: number;
  /** The full page's height, as captured. */
  scrollHeight: number;
}

export interface ScreenshotOptions {
  /** Where the files go instead of screenshotDir() (created when missing). */
  dir?: string;
  /**
   * Elements painted over with a plain box (Playwright's `mask`): a secret on the page, say, in a
   * screenshot that is kept (docs/screenshots/ is committed).
   */
  mask?: Locator[];
}

/** The mask's paint: a neutral grey, legible as "hidden" in light and dark pages. */
const MASK_COLOR = '#9aa3b2';

/**
 * Full-page screenshots at 1280 and 375 CSS pixels wide, as `<name>-1280.png` and
 * `<name>-375.png`; the page's viewport is put back afterwards. Returns the files and each
 * width's document size.
 */
export async function screenshot(page: Page, name: string, options: ScreenshotOptions = {}): Promise<Screenshot[]> {
  const dir = options.dir ?? screenshotDir();
  if (options.dir) mkdirSync(dir, { recursive: true });
  const safe = name.replace(/[^A-Za-z0-9_.-]+/g, '-');
  const before = page.viewportSize();
  const shots: Screenshot[] = [];
  try {
    for (const size of SCREENSHOT_WIDTHS) {
      await page.setViewportSize(size);
      await page.evaluate(() => (globalThis as unknown as { document: { fonts: { ready: Promise<unknown> } } }).document.fonts.ready);
      const file = join(dir, `${safe}-${size.width}.png`);
      await page.screenshot({ path: file, fullPage: true, animations: 'disabled', caret: 'hide', ...(options.mask?.length ? { mask: options.mask, maskColor: MASK_COLOR } : {}) });
      const { scrollWidth, scrollHeight } = await page.evaluate(() => {
        const root = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; scrollHeight: number } } }).document.documentElement;
        return { scrollWidth: root.scrollWidth, scrollHeight: root.scrollHeight };
      });
      shots.push({ width: size.width, file, scrollWidth, scrollHeight });
    }
  } finally {
    if (before) await page.setViewportSize(before);
  }
  return shots;
}

// ---------------------------------------------------------------------------------------------
// Clipboard

interface ClipboardWindow {
  navigator: { clipboard: { readText(): Promise<string>; writeText(text: string): Promise<void> } };
}

/** The browser's clipboard text (the page must be on a secure origin: http://127.0.0.1 is one). */
export async function readClipboard(page: Page): Promise<string> {
  await page.bringToFront();
  return page.evaluate(() => (globalThis as unknown as ClipboardWindow).navigator.clipboard.readText());
}

export async function writeClipboard(page: Page, text: string): Promise<void> {
  await page.bringToFront();
  await page.evaluate((value) => (globalThis as unknown as ClipboardWindow).navigator.clipboard.writeText(value), text);
}

/**
 * Clicks a "copy" control and returns what it put on the clipboard. A marker is written first
 * (the clipboard is shared by every context of the browser, so it may hold an earlier test's
 * text) and the clipboard is read until the copy (asynchronous in the page) has replaced it.
 * The copied text is recorded as a secret for the leak scan (copy buttons copy keys).
 */
export async function copyToClipboard(page: Page, control: Locator, timeoutMs = 5_000): Promise<string> {
  const marker = `clipboard-marker-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  await writeClipboard(page, marker);
  await control.click();
  const until = Date.now() + timeoutMs;
  for (;;) {
    const text = await readClipboard(page);
    if (text !== marker) return recordSecret(text);
    if (Date.now() > until) throw new Error(`nothing was copied to the clipboard within ${timeoutMs} ms of clicking ${control}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ---------------------------------------------------------------------------------------------
// Keyboard

export interface FocusedElement {
  tag: string;
  id: string;
  type: string;
  /** Its text (an input button's label; never an input's value). */
  text: string;
}

/** What has the keyboard focus. */
export async function focused(page: Page): Promise<FocusedElement | null> {
  return page.evaluate(() => {
    interface El {
      tagName: string;
      id: string;
      textContent: string | null;
      getAttribute(name: string): string | null;
    }
    const { activeElement: el, body } = (globalThis as unknown as { document: { activeElement: El | null; body: El } }).document;
    if (!el || el === body) return null;
    const type = el.getAttribute('type') ?? '';
    // Never an input's value (a password): the label of an input button only.
    const text = el.tagName === 'INPUT' ? (['submit', 'button', 'reset'].includes(type) ? (el.getAttribute('value') ?? '') : '') : (el.textContent ?? '').trim().replace(/\s+/g, ' ');
    return { tag: el.tagName.toLowerCase(), id: el.id, type, text };
  });
}

/**
 * Waits until `target` has the keyboard focus (an `autofocus` is applied at the next rendering
 * update after the load, not at once); fails after `timeoutMs` saying what has it instead.
 */
export async function waitForFocus(page: Page, target: Locator, what: string, timeoutMs = 5_000): Promise<void> {
  const handle = await target.elementHandle();
  try {
    await page.waitForFunction((el) => el === (globalThis as unknown as { document: { activeElement: unknown } }).document.activeElement, handle, { timeout: timeoutMs });
  } catch {
    const el = await focused(page);
    throw new Error(`${what} did not get the focus within ${timeoutMs} ms; it is on ${el ? `${el.tag}${el.id ? `#${el.id}` : ''}` : 'nothing'}`);
  } finally {
    await handle?.dispose();
  }
}

/**
 * Presses Tab (Shift+Tab when `backwards`) until `matches` holds for the focused element; fails
 * after `maxPresses`, listing where the focus went. Returns the number of presses.
 */
export async function tabUntil(page: Page, matches: (el: FocusedElement) => boolean, what: string, options: { maxPresses?: number; backwards?: boolean } = {}): Promise<number> {
  const max = options.maxPresses ?? 15;
  const path: string[] = [];
  for (let presses = 1; presses <= max; presses++) {
    await page.keyboard.press(options.backwards ? 'Shift+Tab' : 'Tab');
    const el = await focused(page);
    path.push(el ? `${el.tag}${el.id ? `#${el.id}` : ''}${el.text ? ` "${el.text}"` : ''}` : '(nothing)');
    if (el && matches(el)) return presses;
  }
  throw new Error(`${what} was not reached with ${max} Tab presses; the focus went: ${path.join(' → ')}`);
}
