/**
 * The browser tests' own tools (test/support/browser.ts), proved on small pages served here, so
 * that a clean result of the page tests means something: axe-core finds planted violations and
 * says where; console errors, CSP violations and uncaught exceptions are collected (and fail the
 * test unless allowed); screenshots are full-page at both widths and go where they should; the
 * clipboard can be read after a copy button in headless Chromium; and the browser is closed when
 * a test fails (a failing file run in a child Jest).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { checkAccessibility, copyToClipboard, newContext, readClipboard, screenshot, screenshotDir, useBrowser, writeClipboard } from '../../support/browser.ts';
import { testLogDir } from '../../support/log-capture.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const TEST_TIMEOUT = 60_000;

const sha256 = (text: string): string => createHash('sha256').update(text).digest('base64');
const COPY_SCRIPT = "document.getElementById('copy').addEventListener('click', () => navigator.clipboard.writeText(document.getElementById('key').textContent));";
const THROW_SCRIPT = "throw new Error('boom from the page');";
const page = (title: string, body: string): string =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title></head><body><main>${body}</main></body></html>`;
const GIF = 'data:image/gif;base64,R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==';

/** Tessera's kind of policy: nothing from anywhere, only the inline scripts named by hash. */
const policy = (...scripts: string[]): string => ["default-src 'none'", ...(scripts.length ? [`script-src ${scripts.map((s) => `'sha256-${sha256(s)}'`).join(' ')}`] : [])].join('; ');

function handler(url: URL): { status: number; csp?: string; body: string } {
  switch (url.pathname) {
    case '/copy':
      return {
        status: 200,
        csp: policy(COPY_SCRIPT),
        body: page('Copy', `<h1>Your key</h1><p><code id="key">${url.searchParams.get('key') ?? ''}</code></p><button id="copy" type="button">Copy</button><script>${COPY_SCRIPT}</script>`),
      };
    case '/csp-violation':
      return { status: 200, csp: policy(), body: page('CSP', `<h1>Inline script</h1><script>document.title = 'ran';</script>`) };
    case '/throws':
      return { status: 200, csp: policy(THROW_SCRIPT), body: page('Throws', `<h1>Throws</h1><script>${THROW_SCRIPT}</script>`) };
    case '/inaccessible':
      return {
        status: 200,
        body: page('Inaccessible', `<h1>Inaccessible</h1><img src="${GIF}" width="20" height="20"><p style="color:#c8c8c8;background:#fff">Faint text</p><input type="text" name="nameless">`),
      };
    case '/missing-image':
      return { status: 200, body: page('Missing image', `<h1>Missing image</h1><img src="/nope.png" alt="nothing">`) };
    case '/wide':
      return { status: 200, body: page('Wide', `<h1>Wide and tall</h1><div style="width:600px;height:2000px;background:#eef">600 × 2000</div>`) };
    default:
      return { status: 404, body: page('Not found', '<h1>Not found</h1>') };
  }
}

/** The width and height of a PNG file (its IHDR chunk). */
function pngSize(file: string): { width: number; height: number } {
  const bytes = readFileSync(file);
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

const web = useBrowser();
let server: Server;
let origin: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const { status, csp, body } = handler(url);
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...(csp ? { 'content-security-policy': csp } : {}) });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
});

describe('accessibility: checkAccessibility', () => {
  it(
    'fails on serious and critical violations, naming each rule and element',
    async () => {
      await web.page.goto(`${origin}/inaccessible`);
      const failure = await checkAccessibility(web.page, 'the planted page').then(
        () => null,
        (error: Error) => error.message,
      );
      expect(failure).toMatch(/^the planted page: 3 serious or critical accessibility violation\(s\)/);
      expect(failure).toMatch(/- color-contrast \(serious\): .*\n\s+at p: <p style="color:#c8c8c8;background:#fff">Faint text<\/p>/);
      expect(failure).toMatch(/- image-alt \(critical\): Images must have alternative text/);
      expect(failure).toMatch(/- label \(critical\): .*\n\s+at input: <input type="text" name="nameless">/);
    },
    TEST_TIMEOUT,
  );

  it(
    'passes a page without violations, and can leave a rule out',
    async () => {
      await web.page.goto(`${origin}/copy?key=k`);
      const results = await checkAccessibility(web.page, 'the copy page');
      expect(results.violations).toEqual([]);
      expect(results.passes.length).toBeGreaterThan(3);
      await web.page.goto(`${origin}/inaccessible`);
      await expect(checkAccessibility(web.page, 'the planted page', { disableRules: ['color-contrast', 'image-alt', 'label'] })).resolves.toBeDefined();
    },
    TEST_TIMEOUT,
  );
});

describe('console errors: the fixture collects them and fails the test unless allowed', () => {
  it(
    'a CSP violation is a console error',
    async () => {
      await web.page.goto(`${origin}/csp-violation`);
      expect(await web.page.title()).toBe('CSP'); // the inline script did not run
      expect(web.problems.unexpected()).toEqual([
        expect.stringMatching(/^console\.error: Executing inline script violates the following Content Security Policy directive 'default-src 'none''.* \(at http:\/\/127\.0\.0\.1:\d+\/csp-violation\)$/),
      ]);
      expect(() => web.problems.expectNone('the CSP page')).toThrow(/the CSP page: 1 browser console error\(s\):\n {2}- console\.error: Executing inline script/);
      web.problems.allow(/Content Security Policy/);
      expect(web.problems.unexpected()).toEqual([]);
    },
    TEST_TIMEOUT,
  );

  it(
    'an uncaught exception is one too',
    async () => {
      await web.page.goto(`${origin}/throws`);
      await web.page.waitForFunction(() => true);
      expect(web.problems.unexpected()).toEqual([expect.stringMatching(/^uncaught Error: boom from the page \(at http:\/\/127\.0\.0\.1:\d+\/throws\)$/)]);
      web.problems.allow(/boom from the page/);
    },
    TEST_TIMEOUT,
  );

  it(
    'a resource that fails to load counts; a page that is itself sent with an error status does not',
    async () => {
      const response = await web.page.goto(`${origin}/no-such-page`);
      expect(response?.status()).toBe(404);
      expect(web.problems.unexpected()).toEqual([]);
      await web.page.goto(`${origin}/missing-image`);
      await web.page.waitForLoadState('load');
      expect(web.problems.unexpected()).toEqual([expect.stringMatching(/^console\.error: Failed to load resource: the server responded with a status of 404 \(Not Found\) \(at http:\/\/127\.0\.0\.1:\d+\/nope\.png\)$/)]);
      web.problems.allow(/nope\.png/);
    },
    TEST_TIMEOUT,
  );
});

describe('screenshots', () => {
  it(
    'full page at 1280 and 375 px, in the log directory by default, telling whether the page scrolls sideways',
    async () => {
      await web.page.goto(`${origin}/wide`);
      const shots = await screenshot(web.page, 'support wide/page');
      expect(shots.map((s) => s.file)).toEqual([join(testLogDir(), 'screenshots', 'support-wide-page-1280.png'), join(testLogDir(), 'screenshots', 'support-wide-page-375.png')]);
      const [wide, narrow] = shots;
      expect(pngSize(wide!.file)).toEqual({ width: 1280, height: wide!.scrollHeight });
      expect(wide!.scrollHeight).toBeGreaterThan(2000);
      // The 600 px block overflows 375: the page scrolls sideways, and the full-page capture shows it all.
      expect(narrow!.scrollWidth).toBeGreaterThan(600);
      expect(pngSize(narrow!.file)).toEqual({ width: narrow!.scrollWidth, height: narrow!.scrollHeight });
      expect(wide!.scrollWidth).toBe(1280);
      expect(web.page.viewportSize()).toEqual({ width: 1280, height: 800 }); // put back
    },
    TEST_TIMEOUT,
  );

  it(
    'into TESSERA_SCREENSHOT_DIR when it is set',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tessera-shots-'));
      const before = process.env.TESSERA_SCREENSHOT_DIR;
      process.env.TESSERA_SCREENSHOT_DIR = dir;
      try {
        expect(screenshotDir()).toBe(dir);
        await web.page.goto(`${origin}/copy?key=k`);
        await screenshot(web.page, 'copy');
        expect(readdirSync(dir).sort()).toEqual(['copy-1280.png', 'copy-375.png']);
      } finally {
        if (before === undefined) delete process.env.TESSERA_SCREENSHOT_DIR;
        else process.env.TESSERA_SCREENSHOT_DIR = before;
      }
    },
    TEST_TIMEOUT,
  );
});

describe('the clipboard in headless Chromium', () => {
  it(
    'reads what a copy button wrote (navigator.clipboard under a CSP like Tessera’s)',
    async () => {
      await web.page.goto(`${origin}/copy?key=tsr_test_first_copied_value`);
      expect(await copyToClipboard(web.page, web.page.getByRole('button', { name: 'Copy' }))).toBe('tsr_test_first_copied_value');
      expect(await readClipboard(web.page)).toBe('tsr_test_first_copied_value');
    },
    TEST_TIMEOUT,
  );

  it(
    'is one per browser, shared by the contexts: a copy is told apart from what an earlier test left',
    async () => {
      const other = await newContext(web.browser);
      try {
        const otherPage = await other.newPage();
        await otherPage.goto(`${origin}/copy?key=x`);
        await writeClipboard(otherPage, 'left by another context');
        await web.page.goto(`${origin}/copy?key=x`);
        expect(await readClipboard(web.page)).toBe('left by another context');
      } finally {
        await other.close();
      }
      await web.page.goto(`${origin}/copy?key=tsr_test_second_copied_value`);
      expect(await copyToClipboard(web.page, web.page.locator('#copy'))).toBe('tsr_test_second_copied_value');
    },
    TEST_TIMEOUT,
  );

  it(
    'fails in time when the control copies nothing',
    async () => {
      await web.page.goto(`${origin}/copy?key=k`);
      await expect(copyToClipboard(web.page, web.page.getByRole('heading'), 500)).rejects.toThrow(/nothing was copied to the clipboard within 500 ms/);
    },
    TEST_TIMEOUT,
  );
});

describe('the browser is closed when tests fail', () => {
  /** Whether a process is still there (a zombie is gone). */
  const alive = (pid: number): boolean => {
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  };

  it(
    'a file whose test fails and whose other block fails in beforeAll: Jest exits, and no Chromium process of it is left',
    async () => {
      const pidsFile = join(mkdtempSync(join(tmpdir(), 'tessera-browser-pids-')), 'pids.json');
      const config = {
        rootDir: ROOT,
        testMatch: ['<rootDir>/test/e2e/browser/fixtures/failing.fixture.ts'],
        extensionsToTreatAsEsm: ['.ts'],
        transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2023' }, module: { type: 'es6' } }] },
        testEnvironment: 'node',
        moduleFileExtensions: ['ts', 'js', 'json'],
      };
      const child = spawn(process.execPath, ['node_modules/jest/bin/jest.js', '--config', JSON.stringify(config), '--runInBand', '--ci'], {
        cwd: ROOT,
        env: { ...process.env, NODE_OPTIONS: '--experimental-vm-modules --no-warnings=ExperimentalWarning', TESSERA_FIXTURE_PIDS: pidsFile },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
      const code = await new Promise<number | null>((r) => child.once('exit', r));
      clearTimeout(timer);

      expect({ code, output }).toEqual({ code: 1, output: expect.stringContaining('deliberate failure with the browser open') });
      expect(output).toContain('deliberate failure in beforeAll');
      expect(existsSync(pidsFile)).toBe(true);
      const pids = JSON.parse(readFileSync(pidsFile, 'utf8')) as number[];
      expect(pids.length).toBeGreaterThan(0); // Chromium's processes, seen while the test ran
      expect(pids.filter(alive)).toEqual([]);
    },
    TEST_TIMEOUT,
  );
});
