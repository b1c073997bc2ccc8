/**
 * `npm run tessera -- keys create` against MongoDB + Redis: the first key of a fresh deployment,
 * printed once on stdout (alone, so that scripts can capture it), usable at once by a Tessera
 * process on the same stores, and refused with a clear message for unknown users, non-members,
 * missing arguments and scopes beyond the member's role.
 *
 * The key on stdout is the command's product, not a log line: those runs capture stdout in
 * memory only and write stderr to the captured logs, so that the leak scan proves the key never
 * reaches stderr (or the server's logs when it is used).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mongoose, { type Connection } from 'mongoose';
import { recordSecret, testLogFile } from '../support/log-capture.ts';
import { runToExit, startTessera } from '../support/tessera-process.ts';
import { mongoUriFor, redisUrl, uniqueName } from '../support/unique.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const KEY_PATTERN = /^tsr_live_[0-9A-Za-z]{38}$/;

const dir = mkdtempSync(join(tmpdir(), 'tessera-cli-keys-'));
let env: Record<string, string>;
let db: Connection;

const SEED = {
  users: [
    { id: 'u_owner', email: 'owner@example.com', name: 'Owner' },
    { id: 'u_editor', email: 'editor@example.com' },
    { id: 'u_viewer', email: 'viewer@example.com' },
    { id: 'u_outsider', email: 'outsider@example.com' },
  ],
  organizations: [{ id: 'o_cli', name: 'CLI Co' }],
  memberships: [
    { user: 'u_owner', org: 'o_cli', role: 'owner' },
    { user: 'u_editor', org: 'o_cli', role: 'editor' },
    { user: 'u_viewer', org: 'o_cli', role: 'viewer' },
  ],
};

/** `tessera keys create …` with stdout and stderr apart; stderr goes to the captured logs. */
async function keysCreate(args: string[], label: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', 'src/cli.ts', 'keys', 'create', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(testLogFile(label));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    log.write(chunk);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((done) => child.on('close', (exitCode) => done(exitCode)));
  clearTimeout(timer);
  await new Promise<void>((done) => log.end(done));
  return { code, stdout, stderr };
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

async function storedKey(key: string): Promise<Record<string, unknown> | null> {
  return db.collection('api_keys').findOne({ _id: sha256(key) as never });
}

beforeAll(async () => {
  const uri = mongoUriFor(uniqueName('e2e_cli_keys'));
  env = { MONGODB_URI: uri, REDIS_URL: redisUrl(), TESSERA_REDIS_PREFIX: `${uniqueName('clikeys')}:` };
  db = await mongoose.createConnection(uri).asPromise();
  const seed = join(dir, 'seed.json');
  writeFileSync(seed, JSON.stringify(SEED));
  const imported = await runToExit('src/cli.ts', ['import', seed], env, 'cli-keys-import');
  if (imported.code !== 0) throw new Error(`tessera import failed (${imported.code}):\n${imported.output}`);
  expect(imported.output).toContain('memberships: 3 created');
});

afterAll(async () => {
  await db.dropDatabase();
  await db.close();
});

describe('tessera keys create', () => {
  let first: { key: string; id: string };

  it('prints the new key alone on stdout and, on stderr, its id and that it is shown once', async () => {
    const { code, stdout, stderr } = await keysCreate(['--user', 'u_owner', '--org', 'o_cli', '--scopes', 'keys:read', '--name', 'first'], 'cli-keys-create');
    expect(stderr).not.toContain('tessera: warning');
    expect(code).toBe(0);
    const lines = stdout.split('\n');
    const key = recordSecret(lines[0]!);
    expect(key).toMatch(KEY_PATTERN);
    expect(stdout).toBe(`${key}\n`);

    const stored = await storedKey(key);
    expect(stored).toMatchObject({ userId: 'u_owner', orgId: 'o_cli', name: 'first', scopes: ['keys:read'], env: 'live', active: true, revokedAt: null });
    expect(JSON.stringify(stored)).not.toContain(key);
    const id = String(stored!.keyId);
    expect(stderr).toContain(id);
    expect(stderr).toContain('shown once');
    expect(stderr).toContain('scopes: keys:read');
    expect(stderr).not.toContain(key);
    first = { key, id };
  });

  it('makes a key that a Tessera process on the same stores accepts, with the scopes asked for', async () => {
    expect(first).toBeDefined();
    const tessera = await startTessera(env, 'cli-keys-server');
    try {
      const me = await fetch(`${tessera.url}/api/v1/me`, { headers: { Authorization: `Bearer ${first.key}` } });
      expect(me.status).toBe(200);
      expect(await me.json()).toEqual({ id: 'u_owner', org_id: 'o_cli', scopes: ['keys:read'], kind: 'api_key', key_id: first.id, env: 'live' });
      // keys:read lists; it does not create.
      const list = await fetch(`${tessera.url}/api/v1/api-keys`, { headers: { Authorization: `Bearer ${first.key}` } });
      expect(list.status).toBe(200);
      const created = await fetch(`${tessera.url}/api/v1/api-keys`, { method: 'POST', headers: { Authorization: `Bearer ${first.key}` } });
      expect(created.status).toBe(403);
      expect(await created.json()).toEqual({ error: { code: 'FORBIDDEN', message: 'This credential lacks the keys:write scope' } });
    } finally {
      await tessera.stop();
    }
  });

  it('takes the user by email, and defaults the scopes to everything the member’s role allows', async () => {
    const { code, stdout, stderr } = await keysCreate(['--user', 'owner@example.com', '--org', 'o_cli'], 'cli-keys-email');
    expect(stderr).toContain('shown once');
    expect(code).toBe(0);
    const key = recordSecret(stdout.split('\n')[0]!);
    expect(key).toMatch(KEY_PATTERN);
    expect(key).not.toBe(first.key);
    expect(await storedKey(key)).toMatchObject({ userId: 'u_owner', orgId: 'o_cli', name: null, scopes: ['apps:read', 'apps:write', 'audit:read', 'billing:read', 'billing:write', 'keys:read', 'keys:write'] });
  });

  describe('refuses, creating nothing', () => {
    let keysBefore: number;
    beforeAll(async () => {
      keysBefore = await db.collection('api_keys').countDocuments();
    });

    it('an unknown user, naming it (exit 1)', async () => {
      const { code, output } = await runToExit('src/cli.ts', ['keys', 'create', '--user', 'u_nobody', '--org', 'o_cli'], env, 'cli-keys-unknown');
      expect(code).toBe(1);
      expect(output).toContain('tessera: no user "u_nobody"');
      expect(output).not.toMatch(/tsr_live_/);
      const byEmail = await runToExit('src/cli.ts', ['keys', 'create', '--user', 'nobody@example.com', '--org', 'o_cli'], env, 'cli-keys-unknown-email');
      expect(byEmail.code).toBe(1);
      expect(byEmail.output).toContain('no user "nobody@example.com"');
    });

    it('a user who is not a member of the organization (exit 1)', async () => {
      const { code, output } = await runToExit('src/cli.ts', ['keys', 'create', '--user', 'u_outsider', '--org', 'o_cli'], env, 'cli-keys-outsider');
      expect(code).toBe(1);
      expect(output).toContain('tessera: user u_outsider is not a member of organization "o_cli"');
      expect(output).not.toMatch(/tsr_live_/);
      const noOrg = await runToExit('src/cli.ts', ['keys', 'create', '--user', 'u_owner', '--org', 'o_missing'], env, 'cli-keys-no-org');
      expect(noOrg.code).toBe(1);
      expect(noOrg.output).toContain('not a member of organization "o_missing"');
    });

    it('a missing --org, with the usage (exit 2)', async () => {
      const { code, output } = await runToExit('src/cli.ts', ['keys', 'create', '--user', 'u_owner'], env, 'cli-keys-usage');
      expect(code).toBe(2);
      expect(output).toContain('tessera: keys create needs --user and --org');
      expect(output).toContain('usage: npm run tessera -- <command>');
      expect(output).toContain('keys create --user <id|email> --org <org id>');
    });

    it('an unknown option, with the usage (exit 2)', async () => {
      const { code, output } = await runToExit('src/cli.ts', ['keys', 'create', '--user', 'u_owner', '--org', 'o_cli', '--role', 'owner'], env, 'cli-keys-bad-option');
      expect(code).toBe(2);
      expect(output).toContain('--role');
      expect(output).toContain('usage: npm run tessera -- <command>');
    });

    it('a viewer, who may create no key at all (exit 1)', async () => {
      const { code, output } = await runToExit('src/cli.ts', ['keys', 'create', '--user', 'u_viewer', '--org', 'o_cli', '--scopes', 'keys:read keys:write'], env, 'cli-keys-viewer');
      expect(code).toBe(1);
      expect(output).toMatch(/^tessera: Viewers cannot create API keys$/m);
      expect(output).not.toMatch(/tsr_live_/);
    });

    it('scopes beyond an editor’s role, naming the scope (exit 1)', async () => {
      const { code, output } = await runToExit('src/cli.ts', ['keys', 'create', '--user', 'u_editor', '--org', 'o_cli', '--scopes', 'keys:read,audit:read'], env, 'cli-keys-editor');
      expect(code).toBe(1);
      expect(output).toContain('tessera: You cannot grant scopes beyond your own: audit:read');
      expect(output).not.toMatch(/tsr_live_/);
    });

    it('and none of the refusals above stored a key', async () => {
      expect(keysBefore).toBe(2);
      expect(await db.collection('api_keys').countDocuments()).toBe(keysBefore);
    });
  });
});

describe('tessera balance credit', () => {
  it('adds credits to an organization’s balance, prints it, and records it in the audit log', async () => {
    const first = await runToExit('src/cli.ts', ['balance', 'credit', '--org', 'o_cli', '--credits', '25'], env, 'cli-balance-credit');
    expect(first.code).toBe(0);
    expect(first.output).toContain('{"org_id":"o_cli","credited":25,"spent":0,"available":25}');
    const second = await runToExit('src/cli.ts', ['balance', 'credit', '--org', 'o_cli', '--credits', '5'], env, 'cli-balance-credit-2');
    expect(second.output).toContain('"credited":30');
    const events = await db.collection('audit_events').find({ orgId: 'o_cli', action: 'organization.credited' }).toArray();
    expect(events.map((e) => e.details)).toEqual(expect.arrayContaining([{ credits: 25 }, { credits: 5 }]));
    expect(events.every((e) => (e.credential as { kind: string }).kind === 'cli' && e.actorUserId === null)).toBe(true);
  });

  // One launch of the CLI a case (each a Node process, ~0.5–1.2 s on a quiet machine).
  describe('refuses', () => {
    it('an unknown organization (exit 1)', async () => {
      const unknown = await runToExit('src/cli.ts', ['balance', 'credit', '--org', 'o_missing', '--credits', '5'], env, 'cli-balance-unknown');
      expect({ code: unknown.code, said: /Organization not found/.test(unknown.output) }).toEqual({ code: 1, said: true });
    });

    it.each(['-1', '1.5', 'ten'])('a count that is not a whole number: %s (exit 2)', async (credits) => {
      const bad = await runToExit('src/cli.ts', ['balance', 'credit', '--org', 'o_cli', `--credits=${credits}`], env, 'cli-balance-bad');
      expect({ code: bad.code, said: bad.output.includes('--credits must be a whole number') }).toEqual({ code: 2, said: true });
    });

    it('no credits at all (exit 1)', async () => {
      const zero = await runToExit('src/cli.ts', ['balance', 'credit', '--org', 'o_cli', '--credits', '0'], env, 'cli-balance-zero');
      expect({ code: zero.code, said: /credits must be 1–/.test(zero.output) }).toEqual({ code: 1, said: true });
    });

    it('and none of the refusals above credited anything', async () => {
      const balances = await db.collection('org_balances').find({ _id: 'o_cli' as never }).toArray();
      expect(balances.map((b) => b.credited)).toEqual([30]);
    });
  });
});
