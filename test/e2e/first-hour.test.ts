/**
 * A newcomer's first hour, as written: `npm start`'s embedded Tessera (as a real process, in
 * development as `npm start` runs it), the export line its banner prints, pasted; then every shell
 * block of README.md and examples/README.md that talks to a local server, run by bash as written,
 * in order. What a person does in a browser (sign in, choose the organization, allow) the test's
 * browser does; the values a person copies from one answer into the next (`CODE=…`) the test
 * copies.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { recordSecret } from '../support/log-capture.ts';
import { OAuthBrowser } from '../support/oauth-browser.ts';
import { startTessera, type TesseraProcess } from '../support/tessera-process.ts';

const ROOT = resolve(import.meta.dirname, '../..');

/** The ```sh blocks of a markdown file that talk to a local server, in order. */
function runnableBlocks(file: string): string[] {
  const text = readFileSync(resolve(ROOT, file), 'utf8');
  return [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((block) => block.includes('$TESSERA') || block.includes('localhost:4000'));
}

/** Values a person copies from one answer into the next: `NAME=…   # where from` lines. */
const PLACEHOLDER = /^([A-Z_]+)=….*$/;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('the first hour: the README as written, against npm start’s Tessera', () => {
  let tessera: TesseraProcess;
  const env: Record<string, string> = {};
  const background: ChildProcess[] = [];

  beforeAll(async () => {
    tessera = await startTessera({ NODE_ENV: 'development' }, 'first-hour', 'memory');
    const exported = /^ {4}export (.+)$/m.exec(tessera.output());
    if (!exported) throw new Error(`no export line in the banner:\n${tessera.output()}`);
    for (const pair of exported[1]!.split(' ')) {
      const at = pair.indexOf('=');
      env[pair.slice(0, at)] = pair.slice(at + 1);
    }
    for (const name of ['KEY', 'RS_SECRET', 'CONNECTOR_SECRET', 'VERIFIER']) recordSecret(env[name]!);
    recordSecret(/with password (\S+)/.exec(tessera.output())![1]!);
  }, 60_000);

  afterAll(async () => {
    for (const child of background) child.kill('SIGTERM');
    await tessera?.stop();
  });

  /** Runs a block in bash from the repository root, with the exported line and the copied values. */
  function bash(block: string, wait = true): { child: ChildProcess; done: Promise<Run> } {
    const script = block
      .split('\n')
      .filter((line) => {
        const placeholder = PLACEHOLDER.exec(line);
        if (placeholder && env[placeholder[1]!] === undefined) throw new Error(`${placeholder[1]} is copied from an earlier answer, and none gave it yet`);
        return !placeholder;
      })
      .join('\n');
    const child = spawn('bash', ['-e', '-o', 'pipefail', '-c', script], { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const done = new Promise<Run>((resolvePromise) => child.once('exit', (code) => resolvePromise({ code, stdout, stderr })));
    if (!wait) background.push(child);
    return { child, done };
  }

  /** What the person does in the browser: open the URL, sign in as the demo owner, allow for org_demo. */
  async function allowInBrowser(url: string): Promise<URL> {
    const browser = new OAuthBrowser();
    const login = await browser.open(url);
    expect(login.status).toBe(200);
    const password = /with password (\S+)/.exec(tessera.output())![1]!;
    expect((await browser.signIn('demo@tessera.local', password)).status).toBe(200);
    const done = await browser.consent('org_demo');
    expect(done.redirect?.href.startsWith(env.REDIRECT_URI!)).toBe(true);
    return done.redirect!;
  }

  async function untilListening(port: number, withinMs: number): Promise<void> {
    const until = Date.now() + withinMs;
    for (;;) {
      const open = await new Promise<boolean>((ok) => {
        const socket = connect(port, '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          ok(true);
        });
        socket.once('error', () => ok(false));
      });
      if (open) return;
      if (Date.now() > until) throw new Error(`nothing listens on ${port}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('runs every block of README.md and examples/README.md that talks to a local server', async () => {
    const blocks = [...runnableBlocks('README.md'), ...runnableBlocks('examples/README.md')];
    const ran: string[] = [];
    for (const block of blocks) {
      const first = block.split('\n')[0]!;
      if (block.includes('tessera -- demo')) {
        // The connector in the terminal; the person opens the URL it prints.
        const { done } = bash(block, false);
        const child = background.at(-1)!;
        const url = await new Promise<string>((ok, fail) => {
          let seen = '';
          child.stderr!.on('data', (chunk: Buffer) => {
            seen += chunk.toString();
            const match = /(http:\/\/\S+\/oauth\/auth\?\S+)/.exec(seen);
            if (match) ok(match[1]!);
          });
          child.once('exit', () => fail(new Error(`the demo connector ended before printing a URL:\n${seen}`)));
          setTimeout(() => fail(new Error(`no URL within 20 s:\n${seen}`)), 20_000).unref();
        });
        // The browser then follows the redirect to the connector, which listens on it.
        const callback = await fetch(await allowInBrowser(url));
        expect(callback.status).toBe(200);
        const run = await done;
        expect({ block: first, code: run.code, stderr: run.code === 0 ? '' : run.stderr }).toEqual({ block: first, code: 0, stderr: '' });
        // After npm's own lines (`> tessera@… tessera`), the demo's JSON.
        const result = JSON.parse(run.stdout.slice(run.stdout.indexOf('\n{') + 1)) as { token: { access_token: string; refresh_token: string }; me: { kind: string; org_id: string } };
        recordSecret(result.token.access_token);
        recordSecret(result.token.refresh_token);
        expect(result.me).toMatchObject({ kind: 'oauth', org_id: 'org_demo' });
      } else if (block.includes('examples/resource-server.ts')) {
        // A server: it runs on while the next blocks call it.
        bash(block, false);
        await untilListening(4000, 30_000);
      } else {
        if (block.includes('CODE=…')) {
          // By hand: the authorization URL npm start printed, in a browser; the code from the address bar.
          const printed = /^ {7}(http:\/\/\S+\/oauth\/auth\?\S+)$/m.exec(tessera.output())![1]!;
          env.CODE = recordSecret((await allowInBrowser(printed)).searchParams.get('code')!);
        }
        const run = await bash(block).done;
        expect({ block: first, code: run.code, stderr: run.code === 0 ? '' : run.stderr }).toEqual({ block: first, code: 0, stderr: '' });
        if (block.includes('CODE=…')) {
          const token = JSON.parse(run.stdout) as { access_token: string; refresh_token: string };
          env.ACCESS_TOKEN = recordSecret(token.access_token);
          recordSecret(token.refresh_token);
        } else if (block.includes('ACCESS_TOKEN=…')) {
          const me = JSON.parse(run.stdout) as { kind: string; grant_id: string };
          expect(me.kind).toBe('oauth');
          env.GRANT_ID = me.grant_id;
        } else if (block.includes('GRANT_ID=…')) {
          expect(run.stdout.trim().split('\n').at(-1)).toBe('401');
        } else if (block.includes('localhost:4000')) {
          expect(run.stdout).toContain('Grace');
          expect(run.stdout).toMatch(/HTTP\/1\.1 401/);
          expect(run.stdout).toContain('"FORBIDDEN"');
        } else if (block.includes('/oauth/introspect')) {
          expect(JSON.parse(run.stdout)).toMatchObject({ active: true, kind: 'api_key', org_id: 'org_demo' });
        } else {
          expect(run.stdout).not.toContain('"error"');
        }
      }
      ran.push(first);
    }
    // The walkthrough's steps all ran: the key, introspection, the connector, by hand, the token, revocation, the example.
    expect(ran.length).toBeGreaterThanOrEqual(9);
    expect(ran.some((line) => line.includes('tessera -- demo'))).toBe(true);
  }, 180_000);
});
