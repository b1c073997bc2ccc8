/**
 * `npm start` on a fresh machine: embedded stores, demo seed, seed files, bad configuration.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recordSecret } from '../support/log-capture.ts';
import { runToExit, startTessera, type TesseraProcess } from '../support/tessera-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'tessera-seed-'));

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

  it('seeds a demo organization and prints how to sign in', () => {
    expect(tessera.output()).toMatch(/sign in as: +demo@tessera\.local/);
    expect(tessera.output()).toMatch(/password: +[A-Za-z0-9]{20}/);
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
