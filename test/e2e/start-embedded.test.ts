/**
 * `npm start` on a fresh machine: embedded stores, demo seed, seed files, bad configuration.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../support/free-port.ts';
import { recordSecret } from '../support/log-capture.ts';
import { runToExit, startTessera, type TesseraProcess } from '../support/tessera-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'tessera-seed-'));
const ROOT = resolve(import.meta.dirname, '../..');

function seedFile(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(content));
  return path;
}

describe('start on the embedded default', () => {
  let tessera: TesseraProcess;
  beforeAll(async () => {
    tessera = await startTessera({}, 'embedded');
  });
  afterAll(async () => {
    await tessera.stop();
  });

  it('answers liveness and readiness with 200', async () => {
    const alive = await fetch(`${tessera.url}/health/alive`);
    expect(alive.status).toBe(200);
    expect(await alive.json()).toEqual({ status: 'alive' });
    const ready = await fetch(`${tessera.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', stores: 'embedded', checks: { memory: 'up' } });
  });

  it('warns once, loudly, that nothing is persisted, and that secrets were generated', () => {
    expect(tessera.output().match(/EMBEDDED MODE/g)).toHaveLength(1);
    expect(tessera.output()).toContain('TESSERA_COOKIE_KEYS is not set: generated a random value');
  });

  it('seeds a demo organization and prints how to sign in, and the walkthrough’s credentials on one export line', () => {
    expect(tessera.output()).toMatch(/Sign in as demo@tessera\.local with password [A-Za-z0-9]{20} \(owner of org_demo\),\n {2}in the console at http:\/\/\S+\/settings /);
    expect(tessera.output()).toMatch(/^ {4}export TESSERA=\S+ KEY=tsr_live_\S+ RS_ID=demo-resource-server RS_SECRET=\S+ CONNECTOR_ID=demo-connector CONNECTOR_SECRET=\S+ REDIRECT_URI=\S+ VERIFIER=\S+$/m);
  });

  it('writes structured JSON logs on stdout', () => {
    const listening = tessera
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => String(l.msg).startsWith('Tessera listening'));
    expect(listening).toMatchObject({ level: 'info', service: 'tessera', port: tessera.port });
  });
});

describe('start with a seed file', () => {
  it('loads the seed file instead of the demo', async () => {
    const path = seedFile('good.json', {
      users: [{ id: 'u_alice', email: 'alice@example.com', password: recordSecret('alice-seed-password-1'), name: 'Alice' }],
      organizations: [{ id: 'o_acme', name: 'Acme' }],
      memberships: [{ user: 'u_alice', org: 'o_acme', role: 'owner' }],
    });
    const tessera = await startTessera({ TESSERA_SEED: path }, 'seeded');
    try {
      expect(tessera.output()).toContain('"msg":"seed file loaded"');
      expect(tessera.output()).toContain('"users":{"created":1,"updated":0,"unchanged":0}');
      expect(tessera.output()).not.toContain('demo@tessera.local');
    } finally {
      await tessera.stop();
    }
  });

  it('refuses to start on a bad seed file, naming the bad entry', async () => {
    const path = seedFile('bad.json', { users: [{ email: 'ok@example.com' }, { email: 'broken' }] });
    const { code, output } = await runToExit('src/main.ts', [], { TESSERA_SEED: path }, 'bad-seed');
    expect(code).toBe(1);
    expect(output).toContain(`cannot load seed file ${path}: users[1].email: must be a valid email address`);
  });

  it('refuses to start on a seed file that is not JSON', async () => {
    const path = join(dir, 'not-json.json');
    writeFileSync(path, '{ users: ');
    const { code, output } = await runToExit('src/main.ts', [], { TESSERA_SEED: path }, 'bad-json-seed');
    expect(code).toBe(1);
    expect(output).toContain('is not valid JSON');
  });
});

describe('start with bad configuration', () => {
  it.each([
    [{ PORT: 'eighty' }, 'PORT: '],
    [{ LOG_LEVEL: 'chatty' }, 'LOG_LEVEL: '],
    [{ MONGODB_URI: 'mongodb://127.0.0.1:1/x' }, 'MONGODB_URI and REDIS_URL: set both'],
    [{ NODE_ENV: 'production' }, 'TESSERA_COOKIE_KEYS: required when NODE_ENV=production'],
  ])('exits 1 on %j with a message naming the setting', async (env, message) => {
    const { code, output } = await runToExit('src/main.ts', [], env, 'bad-config');
    expect(code).toBe(1);
    expect(output).toContain('tessera: Invalid configuration:');
    expect(output).toContain(message);
  });
});

describe('the start command and its port', () => {
  it('says in one line that the port is in use, before anything else, and exits 1', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const { code, output } = await runToExit('src/main.ts', [], { PORT: String(port) }, 'port-in-use');
      expect(code).toBe(1);
      expect(output.trim()).toBe(`tessera: port ${port} on 127.0.0.1 is in use; set PORT to another`);
    } finally {
      taken.close();
    }
  });

  it('npm start: SIGTERM to the npm process stops the server, and its port is free after', async () => {
    const port = await freePort();
    const npm = spawn('npm', ['start'], { cwd: ROOT, env: { ...process.env, MONGODB_URI: '', REDIS_URL: '', PORT: String(port), HOST: '127.0.0.1', NODE_ENV: 'test' }, stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 30_000;
    while (!(await fetch(`http://127.0.0.1:${port}/health/ready`).then((r) => r.ok, () => false))) {
      if (Date.now() > deadline) throw new Error('npm start did not get ready');
      await new Promise((r) => setTimeout(r, 100));
    }
    npm.kill('SIGTERM');
    await exited;
    const stillListening = async () => new Promise<boolean>((resolve) => connect(port, '127.0.0.1').once('connect', function (this: Socket) { this.destroy(); resolve(true); }).once('error', () => resolve(false)));
    const until = Date.now() + 5_000;
    while ((await stillListening()) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    expect(await stillListening()).toBe(false);
  }, 60_000);
});
